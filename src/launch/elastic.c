/*
 * elastic.c - the agent's side of elastic jobs (elastic.h): the rounds
 * of rdzv/round.h kept in the job's tcp store, whose compare_set is the
 * compare-and-set they need.
 */
#include "launch/elastic.h"
#include "rdzv/rdzv_etcd.h"
#include "rdzv/round.h"
#include "rdzv/store.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

bool lt_elastic(const struct lt_topology *t)
{
	return !t->external && t->min_nodes > 0 && t->min_nodes < t->num_nodes;
}

bool lt_elastic_hosts_store(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	bool local = false;

	if (getaddrinfo(host, NULL, &hints, &res))
		return false;
	/* An address binds only on the host that holds it (port 0: any). */
	for (ai = res; ai && !local; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		local = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
		if (fd >= 0)
			close(fd);
	}
	freeaddrinfo(res);
	return local;
}

void lt_elastic_failure_key(int round, char *key, size_t len)
{
	snprintf(key, len, "r%d/failed", round);
}

static int store_cas(void *ctx, const char *key, const char *expected, const char *desired,
		     bool *swapped, char **actual, struct lt_err *err)
{
	void *value = NULL;
	size_t len;
	int did;

	if (lt_store_compare_set(ctx, key, expected, strlen(expected), desired, strlen(desired),
				 &did, &value, &len, err))
		return -1;
	*swapped = did;
	*actual = value ? value : strdup("");
	return *actual ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
}

struct asking {
	struct lt_store *store;
	char host[256];
};

/* Waiting in round r while round r-1 runs: tells its agents (once) that
 * this node asks to join, through round r-1's failure key. */
static void ask_room(void *arg, int round)
{
	struct asking *ask = arg;
	char key[64], msg[384];
	struct lt_err ignored;
	void *now = NULL;
	size_t len;
	int did;

	lt_elastic_failure_key(round - 1, key, sizeof(key));
	snprintf(msg, sizeof(msg), "node %s asks to join the job (rendezvous round %d)", ask->host,
		 round);
	if (lt_store_compare_set(ask->store, key, "", 0, msg, strlen(msg), &did, &now, &len,
				 &ignored) == 0)
		free(now);
}

/* "host:pid:random": unique among the agents of a job. */
static void agent_id(char *id, size_t len, const char *host)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)getpid();
	snprintf(id, len, "%.64s:%ld:%08x", host, (long)getpid(), r);
	for (char *p = id; *p; p++)
		if (*p == ',' || *p == ';')
			*p = '_';
}

int lt_elastic_join(struct lt_topology *t, int max, const struct lt_config *cfg,
		    const uint8_t token[LT_STORE_TOKEN_BYTES], const char *run_id, int first,
		    int *round, struct lt_err *err)
{
	struct asking ask = { 0 };
	struct lt_round_kv kv = { .cas = store_cas };
	struct lt_etcd_rounds *etcd = NULL;
	struct lt_round_spec spec = { .min = t->min_nodes, .max = max,
				      .last_call_ms = cfg->rdzv_last_call * 1000,
				      .timeout_ms = cfg->rdzv_timeout * 1000, .first = first };
	struct lt_round r;
	char id[128];
	int rc;

	if (gethostname(ask.host, sizeof(ask.host) - 1))
		snprintf(ask.host, sizeof(ask.host), "?");
	agent_id(id, sizeof(id), ask.host);
	spec.id = id;
	/* The store tells the running round that this node waits (ask_room). */
	if (lt_store_connect(t->main_addr, t->main_port, token, "agent joining the rendezvous",
			     spec.timeout_ms, &ask.store, err))
		return -1;
	kv.ctx = ask.store;
	rc = !strcmp(cfg->rdzv, "etcd") &&
	     lt_etcd_rounds_open(cfg->rdzv_endpoint, run_id, id, &kv, &etcd, err);
	if (!rc)
		rc = lt_round_join(&kv, &spec, ask_room, &ask, &r, err);
	lt_etcd_rounds_close(etcd);
	lt_store_close(ask.store);
	if (rc)
		return -1;
	t->num_nodes = r.num_nodes;
	t->node_rank = r.node_rank;
	t->world_size = r.num_nodes * t->local_world_size;
	t->first_rank = r.node_rank * t->local_world_size;
	*round = r.number;
	return 0;
}
