/*
 * env_cases.h - the table-driven harness shared by the cluster
 * environments' unit tests: a case is the variables a launcher sets, a
 * request, and the topology resolve() must derive (or the error it must
 * give); check_resolve() and check_detect() run one case.  Every error
 * must be one line with status LT_EXIT_FAILURE, and every topology must
 * say where its main address and port came from.
 */
#ifndef LT_TESTS_ENV_CASES_H
#define LT_TESTS_ENV_CASES_H

#include <stdbool.h>

#include "ltrun/cluster.h"

#define VARS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_VARS ((const char *const[]){ NULL })

/* A request: LT_AUTO / NULL / 0 where the user said nothing. */
#define REQ(dev, nodes, node, addr, port) \
	{ .devices = (dev), .num_nodes = (nodes), .node_rank = (node), \
	  .main_addr = (addr), .main_port = (port), .auto_devices = 1 }
#define AUTO_REQ REQ(LT_AUTO, LT_AUTO, LT_AUTO, NULL, 0)

/* Expected topologies: ranks ltrun creates (world, nodes, node, ranks on
 * node, first rank), and ranks a launcher created (plus this rank, its
 * local rank and the launcher's name). */
#define OWN(w, n, nr, lw, fr) \
	.world_size = (w), .num_nodes = (n), .node_rank = (nr), \
	.local_world_size = (lw), .first_rank = (fr), .external = false, \
	.rank = -1, .local_rank = -1, .launcher = ""
#define ADOPTED(w, n, nr, lw, fr, r, lr, by) \
	.world_size = (w), .num_nodes = (n), .node_rank = (nr), \
	.local_world_size = (lw), .first_rank = (fr), .external = true, \
	.rank = (r), .local_rank = (lr), .launcher = by

/* main_port 0 in want: any port, free on this host when resolved. */
#define FREE_PORT 0

struct resolve_case {
	const char *name;
	const char *const *vars;
	struct lt_request req;
	struct lt_topology want; /* addr_from/port_from: substrings */
	const char *error;       /* expected substring, or NULL for success */
	const char *hostname;    /* NULL: "testhost" */
};

/* A variable naming a file (a rankfile, a hostfile) that holds text: in
 * vars, check_resolve() writes text to a temporary file and sets name to
 * its path.  (A value that starts with '@' is taken for such a file.) */
#define FILE_VAR(name, text) name "=@" text

struct detect_case {
	const char *name;
	const char *const *vars;
	bool want;
	const char *why; /* substring */
};

void check_topology(const char *name, const struct lt_topology *t, const struct lt_topology *w);
void check_resolve(const struct lt_plugin *p, const struct resolve_case *c);
void check_detect(const struct lt_plugin *p, const struct detect_case *c);

#endif
