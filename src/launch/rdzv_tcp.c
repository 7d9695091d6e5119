/*
 * rdzv_tcp.c - the `tcp` rendezvous: the embedded store (store.h).
 *
 * A barrier is a counter every rank adds one to; the last to arrive sets
 * the barrier's "done" key, which the others wait for.  Keys are
 * "r<restart count>/<name>".  Rank 0 of adopted ranks hosts the store in
 * this process (on loopback only when every rank is on its node) and, at
 * close, waits until every rank has left.
 */
#include "launch/rdzv.h"
#include "launch/rank.h"
#include "launch/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcp {
	struct lt_store *store;
	struct lt_store_server *server;
};

static void scoped(const struct lt_rdzv *rz, const char *name, char *key, size_t len)
{
	snprintf(key, len, "r%d/%s", rz->info->restart_count, name);
}

static int tcp_open(struct lt_rdzv *rz, const struct lt_rank_info *info,
		    const char *who, struct lt_err *err)
{
	struct tcp *t = calloc(1, sizeof(*t));
	/* Every rank on this node: the store needs no other interface. */
	bool one_node = info->local_world_size == info->world_size;
	const char *host = one_node ? "127.0.0.1" : info->store_host;
	int bound;

	if (!t)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	rz->state = t;
	if (info->host_store &&
	    lt_store_server_start(one_node ? host : NULL, info->store_port, info->token, stderr,
				  &t->server, &bound, err))
		return -1;
	return lt_store_connect(host, info->store_port, info->token, who, rz->timeout_ms,
				&t->store, err);
}

/* Adds one to counter `key`; the rank that completes it (to `total`) sets
 * "<key>/done"; with `wait`, every rank waits for that mark. */
static int count_in(struct lt_rdzv *rz, const char *key, int total, bool wait,
		    struct lt_err *err)
{
	struct tcp *t = rz->state;
	char done[LT_STORE_MAX_KEY], from[64];
	int64_t arrived;

	snprintf(done, sizeof(done), "%s/done", key);
	if (lt_store_add(t->store, key, 1, &arrived, err))
		return -1;
	if (arrived == total)
		return lt_store_set(t->store, done, "1", 1, err);
	if (!wait)
		return 0;
	snprintf(from, sizeof(from), "the other %d ranks", total - 1);
	if (lt_store_wait(t->store, (const char *const[]){ done }, 1, rz->timeout_ms, from,
			  err)) {
		int64_t now;
		struct lt_err ignored;
		size_t n = strlen(err->msg);
		if (!lt_store_add(t->store, key, 0, &now, &ignored))
			snprintf(err->msg + n, sizeof(err->msg) - n,
				 " (%lld of %d ranks arrived)", (long long)now, total);
		return -1;
	}
	return 0;
}

static int tcp_barrier(struct lt_rdzv *rz, const char *name, struct lt_err *err)
{
	char key[LT_STORE_MAX_KEY];

	scoped(rz, name, key, sizeof(key));
	return count_in(rz, key, rz->info->world_size, true, err);
}

static int tcp_put(struct lt_rdzv *rz, const char *name, const void *value, size_t len,
		   struct lt_err *err)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY];

	scoped(rz, name, key, sizeof(key));
	return lt_store_set(t->store, key, value, len, err);
}

static int tcp_get(struct lt_rdzv *rz, const char *name, int from, void **value,
		   size_t *len, struct lt_err *err)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY], who[32];

	scoped(rz, name, key, sizeof(key));
	snprintf(who, sizeof(who), "rank %d", from);
	return lt_store_get(t->store, key, rz->timeout_ms, who, value, len, err);
}

static int tcp_close(struct lt_rdzv *rz, struct lt_err *err)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY];
	int rc = 0;

	if (!t)
		return 0;
	/* Only when rank 0 serves the store must the others check out. */
	if (t->store && rz->info->adopted) {
		scoped(rz, "exit", key, sizeof(key));
		rc = count_in(rz, key, rz->info->world_size, t->server != NULL, err);
	}
	if (t->store)
		lt_store_close(t->store);
	if (t->server)
		lt_store_server_stop(t->server);
	free(t);
	rz->state = NULL;
	return rc;
}

const struct lt_rdzv_ops lt_rdzv_tcp = {
	.name = "tcp",
	.open = tcp_open,
	.barrier = tcp_barrier,
	.put = tcp_put,
	.get = tcp_get,
	.close = tcp_close,
};
