/*
 * elastic.h - the agent's side of elastic jobs (--num-nodes MIN:MAX):
 * before each attempt, the agents meet in a rendezvous round (rdzv/
 * round.h) through the job's store, and the round says how many nodes
 * the attempt has and which one this is.
 */
#ifndef LT_LAUNCH_ELASTIC_H
#define LT_LAUNCH_ELASTIC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/contract.h"
#include "core/error.h"
#include "ltrun/cluster.h"

/* Whether t is an elastic job's: from min_nodes to num_nodes nodes, and
 * ltrun starts the ranks. */
bool lt_elastic(const struct lt_topology *t);

/* Whether this host holds address `host` (a name is resolved): the agent
 * that does serves the store of an elastic job. */
bool lt_elastic_hosts_store(const char *host);

/* Joins the first open round from round `first` on, kept in the store at
 * t->main_addr:main_port, or in etcd for --rdzv etcd (under run_id), and
 * waits until it closes;
 * then sets t's node_rank, num_nodes, world_size and first_rank from it
 * (t->local_world_size ranks a node) and *round to its number.  max is
 * the most nodes.  While it waits in a round after a running one, it
 * asks that job to make room (the failure key of the running round).
 * Returns 0, or -1 with err set. */
int lt_elastic_join(struct lt_topology *t, int max, const struct lt_config *cfg,
		    const uint8_t token[LT_STORE_TOKEN_BYTES], const char *run_id, int first,
		    int *round, struct lt_err *err);

/* The key through which round `round`'s agents tell each other that a
 * node failed (or asks to join). */
void lt_elastic_failure_key(int round, char *key, size_t len);

#endif
