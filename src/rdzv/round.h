/*
 * round.h - the rendezvous rounds of elastic jobs (--num-nodes MIN:MAX):
 * how the agents of the nodes agree on who is in the job, and in which
 * order, like torchrun's c10d rendezvous.
 *
 * Round r's state is one value under key "elastic/<r>" in a key-value
 * store that can compare-and-set (the embedded tcp store, or etcd):
 *
 *   "o;ID,ID,..."   open: these agents joined, in this order
 *   "c;ID,ID,..."   closed: these are the round's nodes, node rank = index
 *
 * An agent joins the first round that is absent or open (a closed one
 * without it is over: it tries the next).  The round closes when MAX
 * agents joined, or when MIN did and no other joined for the last call,
 * or, in a round after a failure that no new node asked to join, as soon
 * as MIN did and every agent of the round before is back in it or gone
 * (lt_round_kv.present): the survivors of a lost host do not wait for
 * the last call.
 * Agents that died while waiting are taken out before it closes, where
 * the store can tell (lt_round_kv.alive).
 * Every change is one compare-and-set of the whole value, so two agents
 * never both think they joined at one place.
 */
#ifndef LT_RDZV_ROUND_H
#define LT_RDZV_ROUND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* A store that can compare-and-set: sets key to desired when its value is
 * expected ("" matches a missing key); *swapped says whether it did, and
 * *actual (malloc'ed, NUL-terminated; "" for a missing key) gets the value
 * after the operation.  Returns 0, or -1 with err set. */
struct lt_round_kv {
	void *ctx;
	int (*cas)(void *ctx, const char *key, const char *expected, const char *desired,
		   bool *swapped, char **actual, struct lt_err *err);
	/* Optional: whether agent `id` is still alive (etcd: its leased key is
	 * there).  Before a round closes on its last call, the agents that
	 * died while waiting in it are taken out. */
	bool (*alive)(void *ctx, const char *id);
	/* Optional: whether agent `id` is still there, seen at once when its
	 * process ends (a key it holds in the job's store: lt_store_hold),
	 * with present_ctx. */
	bool (*present)(void *present_ctx, const char *id);
	void *present_ctx;
};

struct lt_round_spec {
	int min, max;       /* nodes */
	int last_call_ms;
	int timeout_ms;     /* for MIN nodes to join */
	int first;          /* the first round to try */
	const char *id;     /* this agent's, unique in the job; no ',' or ';' */
};

struct lt_round {
	int number;
	int node_rank;
	int num_nodes;
};

/* Joins a round as spec says and waits until it closes.  `on_wait`, when
 * non-NULL, is called each time the agent waits in an open round r > 0
 * (the running job of round r-1 may have to make room for it); it
 * returns how many nodes the round must hold before its last call may
 * close it (0: MIN is enough), so that a node that asked the running job
 * for room does not start without it, or -1 when that job cannot make
 * room (the join then fails).  Returns 0 with *out set, or -1
 * with err (too few nodes within the timeout, the store failing). */
int lt_round_join(const struct lt_round_kv *kv, const struct lt_round_spec *spec,
		  int (*on_wait)(void *arg, int round), void *arg, struct lt_round *out,
		  struct lt_err *err);

/* The index of id in a state's list, or -1; *count gets the list's length. */
int lt_round_find(const char *state, const char *id, int *count);

#endif
