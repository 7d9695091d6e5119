/*
 * rdzv_tcp.c - the `tcp` rendezvous: the embedded store (store.h).
 *
 * A barrier is a counter every rank adds one to; the last to arrive sets
 * the barrier's "done" key, which the others wait for.  Keys are
 * "r<restart count>/<name>".  Rank 0 of adopted ranks hosts the store in
 * this process (on loopback only when every rank is on its node) and, at
 * close, waits until every rank has left.
 *
 * A rank that closes (its model returned) says so in "r<n>/left" before it
 * goes.  A barrier that is not done while some rank has left can never be
 * done: that rank never arrived, since arriving means waiting for "done".
 * So waiters look at "left" every LEFT_CHECK_MS and fail at once, naming
 * the rank, rather than at --rdzv-timeout.
 */
#include "rdzv/rdzv.h"
#include "core/contract.h"
#include "rdzv/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a barrier's waiters look whether a rank has left. */
#define LEFT_CHECK_MS 1000

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
	/* Rank 0 of adopted ranks serves on loopback then; ltrun's agent
	 * says where its store is (an elastic job's one node may not hold it). */
	const char *host = one_node && info->adopted ? "127.0.0.1" : info->store_host;
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

/* Whether some rank has left the job while the barrier whose "done" mark
 * is `done` is still open: 1 with err naming it, 0 when none has (or the
 * barrier completed after all), or -1 with err when the store fails. */
static int someone_left(struct lt_rdzv *rz, const char *done, int barrier_total,
			struct lt_err *err)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY];
	int64_t left;
	void *who = NULL;
	size_t len;
	struct lt_err ignored;
	int passed;

	scoped(rz, "left", key, sizeof(key));
	if (lt_store_add(t->store, key, 0, &left, err))
		return -1;
	if (left == 0)
		return 0;
	/* It left after the barrier completed (the store orders the two). */
	passed = lt_store_wait(t->store, (const char *const[]){ done }, 1, 1, NULL, &ignored) == 0;
	if (passed)
		return 0;
	scoped(rz, "left/by", key, sizeof(key));
	if (lt_store_get(t->store, key, 1000, NULL, &who, &len, &ignored))
		who = NULL;
	lt_err_set(err, LT_EXIT_FAILURE,
		   "%s: rank %s left the job (its model returned) before this barrier of %d ranks: every rank must pass the same barriers",
		   rz->who, who ? (char *)who : "?", barrier_total);
	free(who);
	return 1;
}

/* Completes a barrier's timeout message with how many ranks arrived;
 * `sliced` says the store's own message gave only the last slice of the
 * wait, so it is written anew with the whole --rdzv-timeout.  Returns -1. */
static int timed_out_at(struct lt_rdzv *rz, const char *key, int total, bool sliced,
			struct lt_err *err)
{
	struct tcp *t = rz->state;
	struct lt_err ignored;
	int64_t now;
	size_t n;

	if (lt_store_add(t->store, key, 0, &now, &ignored))
		return -1;
	if (sliced)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: timed out after %g s at barrier '%s' waiting for the other %d ranks (%lld of %d ranks arrived)",
				  rz->who, rz->timeout_ms / 1000.0, key, total - 1, (long long)now,
				  total);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, " (%lld of %d ranks arrived)", (long long)now,
		 total);
	return -1;
}

/* Adds one to counter `key`; the rank that completes it (to `total`) sets
 * "<key>/done"; with `wait`, every rank waits for that mark, and with
 * `watch_left` gives up as soon as a rank has left without arriving. */
static int count_in(struct lt_rdzv *rz, const char *key, int total, bool wait,
		    bool watch_left, struct lt_err *err)
{
	struct tcp *t = rz->state;
	char done[LT_STORE_MAX_KEY], from[64];
	int64_t arrived;
	int slice, rc;

	snprintf(done, sizeof(done), "%s/done", key);
	if (lt_store_add(t->store, key, 1, &arrived, err))
		return -1;
	if (arrived == total)
		return lt_store_set(t->store, done, "1", 1, err);
	if (!wait)
		return 0;
	snprintf(from, sizeof(from), "the other %d ranks", total - 1);
	if (!watch_left)
		return lt_store_wait(t->store, (const char *const[]){ done }, 1, rz->timeout_ms, from,
				     err) ? timed_out_at(rz, key, total, false, err) : 0;
	for (long waited = 0; waited < rz->timeout_ms; waited += slice) {
		slice = (int)(rz->timeout_ms - waited < LEFT_CHECK_MS ? rz->timeout_ms - waited
								       : LEFT_CHECK_MS);
		if (lt_store_wait(t->store, (const char *const[]){ done }, 1, slice, from, err) == 0)
			return 0;
		rc = someone_left(rz, done, total, err);
		if (rc < 0 || rc == 1)
			return -1;
	}
	return timed_out_at(rz, key, total, true, err);
}

static int tcp_barrier(struct lt_rdzv *rz, const char *name, struct lt_err *err)
{
	char key[LT_STORE_MAX_KEY];

	scoped(rz, name, key, sizeof(key));
	return count_in(rz, key, rz->info->world_size, true, true, err);
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

/* Tells the barriers' waiters that this rank is gone (best effort: a
 * store that fails here only costs them --rdzv-timeout). */
static void say_left(struct lt_rdzv *rz)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY], me[16];
	struct lt_err ignored;
	int64_t n;

	snprintf(me, sizeof(me), "%d", rz->info->rank);
	scoped(rz, "left/by", key, sizeof(key));
	if (lt_store_set(t->store, key, me, strlen(me), &ignored))
		return;
	scoped(rz, "left", key, sizeof(key));
	lt_store_add(t->store, key, 1, &n, &ignored);
}

static int tcp_close(struct lt_rdzv *rz, struct lt_err *err)
{
	struct tcp *t = rz->state;
	char key[LT_STORE_MAX_KEY];
	int rc = 0;

	if (!t)
		return 0;
	if (t->store)
		say_left(rz);
	/* Only when rank 0 serves the store must the others check out. */
	if (t->store && rz->info->adopted) {
		scoped(rz, "exit", key, sizeof(key));
		rc = count_in(rz, key, rz->info->world_size, t->server != NULL, false, err);
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
	.store = true,
	.open = tcp_open,
	.barrier = tcp_barrier,
	.put = tcp_put,
	.get = tcp_get,
	.close = tcp_close,
};
