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
	const struct lt_round_kv *kv;
	int max_restarts;
	char host[256];
};

/* The start of what ask_room writes: a join request, not a failure. */
#define ASKS "asks to join"

/* The nodes of closed round `round` (read through kv), 0 if none. */
static int nodes_of(const struct asking *ask, int round)
{
	char key[64], *state = NULL;
	struct lt_err ignored;
	bool swapped;
	int count = 0;

	snprintf(key, sizeof(key), "elastic/%d", round);
	/* no state is "-": a read */
	if (ask->kv->cas(ask->kv->ctx, key, "-", "-", &swapped, &state, &ignored) == 0 &&
	    state[0] == 'c')
		lt_round_find(state, "", &count);
	free(state);
	return count;
}

/* Waiting in round r while round r-1 runs: tells its agents (once) that
 * this node asks to join, through round r-1's failure key (-1 when that
 * job has no restarts left to let it in).  Once a node asked, round r waits for round r-1's
 * nodes and one more before its last call may close it. */
static int ask_room(void *arg, int round)
{
	struct asking *ask = arg;
	char key[64], msg[384];
	struct lt_err ignored;
	void *now = NULL;
	size_t len;
	int did, wanted = 0;

	lt_elastic_failure_key(round - 1, key, sizeof(key));
	snprintf(msg, sizeof(msg), "node %s " ASKS " the job (rendezvous round %d)", ask->host,
		 round);
	if (round - 1 >= ask->max_restarts)
		return -1;
	if (lt_store_compare_set(ask->store, key, "", 0, msg, strlen(msg), &did, &now, &len,
				 &ignored) == 0) {
		if (now && strstr(now, ASKS))
			wanted = nodes_of(ask, round - 1) + 1;
		free(now);
	}
	return wanted;
}

/* The store key agent `id` holds while it lives (lt_store_hold). */
static void presence_key(const char *id, char *key, size_t len)
{
	snprintf(key, len, "elastic/alive/%s", id);
}

/* lt_round_kv.present: whether agent id's key is still held. */
static bool store_present(void *ctx, const char *id)
{
	char key[192];
	void *now = NULL;
	size_t len = 0;
	struct lt_err ignored;
	int swapped;

	presence_key(id, key, sizeof(key));
	/* no value is "-": a read; a failed read counts as there (wait) */
	if (lt_store_compare_set(ctx, key, "-", 1, "-", 1, &swapped, &now, &len, &ignored))
		return true;
	free(now);
	return len > 0;
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

/* This agent's id, one for its life, and its presence: a connection to
 * the job's store, kept open until the process ends (by exit, a kill or a
 * host going down), that holds "elastic/alive/<id>".  The survivors of a
 * lost host see its key go at once and meet without the last call. */
static char my_id[128];
static struct lt_store *presence;

static int be_present(const struct lt_topology *t, const uint8_t token[LT_STORE_TOKEN_BYTES],
		      const char *host, int timeout_ms, struct lt_err *err)
{
	char key[192];

	if (presence)
		return 0;
	presence_key(my_id, key, sizeof(key));
	if (lt_store_connect(t->main_addr, t->main_port, token, "agent's presence", timeout_ms,
			     &presence, err))
		return -1;
	if (lt_store_hold(presence, key, host, strlen(host), err)) {
		lt_store_close(presence);
		presence = NULL;
		return -1;
	}
	return 0;
}

int lt_elastic_join(struct lt_topology *t, int max, const struct lt_config *cfg,
		    const uint8_t token[LT_STORE_TOKEN_BYTES], const char *run_id, int first,
		    int *round, struct lt_err *err)
{
	struct asking ask = { .max_restarts = cfg->max_restarts };
	struct lt_round_kv kv = { .cas = store_cas };
	struct lt_etcd_rounds *etcd = NULL;
	struct lt_round_spec spec = { .min = t->min_nodes, .max = max,
				      .last_call_ms = cfg->rdzv_last_call * 1000,
				      .timeout_ms = cfg->rdzv_timeout * 1000, .first = first };
	struct lt_round r;
	int rc;

	if (gethostname(ask.host, sizeof(ask.host) - 1))
		snprintf(ask.host, sizeof(ask.host), "?");
	if (!my_id[0])
		agent_id(my_id, sizeof(my_id), ask.host);
	spec.id = my_id;
	/* The store tells the running round that this node waits (ask_room). */
	if (lt_store_connect(t->main_addr, t->main_port, token, "agent joining the rendezvous",
			     spec.timeout_ms, &ask.store, err))
		return -1;
	kv.ctx = ask.store;
	ask.kv = &kv;
	rc = be_present(t, token, ask.host, spec.timeout_ms, err) ||
	     (!strcmp(cfg->rdzv, "etcd") &&
	      lt_etcd_rounds_open(cfg->rdzv_endpoint, run_id, my_id, &kv, &etcd, err));
	/* presence is the job's store's, whichever store holds the rounds */
	kv.present = store_present;
	kv.present_ctx = ask.store;
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
