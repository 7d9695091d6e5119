/*
 * heartbeat.h - keep-alives between the agents of a several-node job,
 * through the store (--heartbeat-interval, --heartbeat-timeout).
 *
 * Each agent's watcher process (agent.c) writes "hb/<node>" every
 * interval ("<attempt> <count> <host>", a value that changes each time)
 * and waits an interval for the attempt's failure key.  The watcher of
 * the node whose agent hosts the store (node 0; in an elastic job the
 * --main-addr node, whatever rank its round gave it) also reads every
 * other node's key: a node
 * whose key has not changed for the timeout, by the watcher's own clock
 * (no clock is shared), is lost: the watcher says so ("node 1 (host h2)
 * was last heard from 31.0 s ago (at 12:01:07)"), puts that line under the
 * failure key, so that every node stops with the same report, and hands
 * it to its agent.  On the other nodes, a store that stays silent for the
 * timeout (node 0's host vanished, its connections left open) ends the
 * watch the same way, naming the store's address, node 0 and its host.  A node that finished its attempt writes
 * "<attempt> done <host>" and is watched no more; a connection the store
 * closed (node 0 finished) ends the watch quietly.
 */
#ifndef LT_LAUNCH_HEARTBEAT_H
#define LT_LAUNCH_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/contract.h"

struct lt_heartbeat {
	const char *store_host;      /* the store's address, as the nodes reach it */
	int store_port;
	const uint8_t *token;        /* LT_STORE_TOKEN_BYTES */
	int node, num_nodes;         /* this node's rank, the job's node count */
	bool serves_store;           /* this node's agent hosts the store: it reads every node's */
	int store_node;              /* the node that hosts it, or -1 when unknown (elastic) */
	int attempt;                 /* the restart count */
	const char *failure_key;     /* this attempt's: another node's failure */
	double interval_s, timeout_s;
	int connect_timeout_ms;      /* for the first connection (--rdzv-timeout) */
};

/* The watcher process's work: keeps this node's heartbeat and watches the
 * others' and the failure key until something ends the attempt, then
 * writes one line (no control characters) to fd.  Returns 0 when it wrote
 * one, 1 when the watch ended with nothing to say (the store closed, or
 * could not be reached at first). */
int lt_heartbeat_watch(const struct lt_heartbeat *hb, int fd);

/* Marks this node's attempt finished, so that the others stop watching
 * it: its agent calls it once its ranks ended well.  Cannot fail (a store
 * already gone has nobody left to tell). */
void lt_heartbeat_done(const struct lt_heartbeat *hb);

#endif
