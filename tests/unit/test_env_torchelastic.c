/*
 * test_env_torchelastic.c - the `torchelastic` cluster environment, fed
 * the variables torchrun exports to each rank.  Table-driven: each case is
 * an environment, a request and the topology (or error) it must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "params.h"
#include "env/env.h"

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

struct detect_case {
	const char *name;
	const char *const *vars;
	bool want;
	const char *why; /* substring */
};

/* Criterion copies parameters into a separately started worker, where
 * the tables' pointers would dangle: tests take an index into them. */
static void check_topology(const char *name, const struct lt_topology *t,
			   const struct lt_topology *w)
{
	cr_expect_eq(t->world_size, w->world_size, "%s: world_size %d", name, t->world_size);
	cr_expect_eq(t->num_nodes, w->num_nodes, "%s: num_nodes %d", name, t->num_nodes);
	cr_expect_eq(t->node_rank, w->node_rank, "%s: node_rank %d", name, t->node_rank);
	cr_expect_eq(t->local_world_size, w->local_world_size, "%s: local_world_size %d",
		     name, t->local_world_size);
	cr_expect_eq(t->first_rank, w->first_rank, "%s: first_rank %d", name, t->first_rank);
	cr_expect_eq(t->external, w->external, "%s: external %d", name, t->external);
	cr_expect_eq(t->rank, w->rank, "%s: rank %d", name, t->rank);
	cr_expect_eq(t->local_rank, w->local_rank, "%s: local_rank %d", name, t->local_rank);
	cr_expect_str_eq(t->launcher, w->launcher, "%s: launcher '%s'", name, t->launcher);
	cr_expect_str_eq(t->main_addr, w->main_addr, "%s: main_addr '%s'", name, t->main_addr);
	if (w->main_port == FREE_PORT)
		cr_expect(t->main_port > 0 && t->main_port < 65536, "%s: main_port %d", name,
			  t->main_port);
	else
		cr_expect_eq(t->main_port, w->main_port, "%s: main_port %d", name, t->main_port);
	cr_expect_str_eq(t->job_id, w->job_id, "%s: job_id '%s'", name, t->job_id);
	cr_expect_not_null(strstr(t->addr_from, w->addr_from), "%s: addr_from '%s'", name,
			   t->addr_from);
	cr_expect_not_null(strstr(t->port_from, w->port_from), "%s: port_from '%s'", name,
			   t->port_from);
}

static void check_resolve(const struct lt_plugin *p, const struct resolve_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars,
				 .hostname = c->hostname ? c->hostname : "testhost" };
	struct lt_err err = { 0 };
	struct lt_topology t;
	int rc;

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	rc = ops->resolve(&env, &c->req, &t, &err);
	if (c->error) {
		cr_assert_eq(rc, -1, "%s: resolved, but should fail with '%s'", c->name, c->error);
		cr_assert_not_null(strstr(err.msg, c->error), "%s: error '%s' lacks '%s'",
				   c->name, err.msg, c->error);
		cr_assert_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name, err.status);
		return;
	}
	cr_assert_eq(rc, 0, "%s: failed: %s", c->name, err.msg);
	check_topology(c->name, &t, &c->want);
}

static void check_detect(const struct lt_plugin *p, const struct detect_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };
	char why[256] = "";

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	cr_assert_eq(ops->detect(&env, why, sizeof(why)), c->want, "%s: detect says %s (%s)",
		     c->name, c->want ? "no" : "yes", why);
	cr_assert_not_null(strstr(why, c->why), "%s: why '%s' lacks '%s'", c->name, why,
			   c->why);
}

/* What torchrun --nnodes 2 --nproc-per-node 4 gives rank 5 (node 1). */
#define TR_NODE1_RANK5 \
	"TORCHELASTIC_RUN_ID=job-42", "RANK=5", "LOCAL_RANK=1", "WORLD_SIZE=8", \
	"LOCAL_WORLD_SIZE=4", "GROUP_RANK=1", "GROUP_WORLD_SIZE=2", \
	"MASTER_ADDR=node0", "MASTER_PORT=29400"
#define TR_FROM .addr_from = "MASTER_ADDR", .port_from = "MASTER_PORT"

static const struct resolve_case resolve_cases[] = {
	{ "one node, rank 2 of 4",
	  VARS("TORCHELASTIC_RUN_ID=none", "RANK=2", "LOCAL_RANK=2", "WORLD_SIZE=4",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=0", "GROUP_WORLD_SIZE=1",
	       "MASTER_ADDR=127.0.0.1", "MASTER_PORT=29500"),
	  AUTO_REQ,
	  { ADOPTED(4, 1, 0, 4, 0, 2, 2, "torchrun"), .main_addr = "127.0.0.1",
	    .main_port = 29500, .job_id = "none", TR_FROM },
	  NULL, NULL },
	{ "two nodes, rank 5 on node 1",
	  VARS(TR_NODE1_RANK5), AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "torchrun"), .main_addr = "node0",
	    .main_port = 29400, .job_id = "job-42", TR_FROM },
	  NULL, NULL },
	{ "nodes from WORLD_SIZE / LOCAL_WORLD_SIZE without GROUP_WORLD_SIZE",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=7", "LOCAL_RANK=1", "WORLD_SIZE=8",
	       "LOCAL_WORLD_SIZE=2", "GROUP_RANK=3", "MASTER_ADDR=10.0.0.1",
	       "MASTER_PORT=1234"),
	  AUTO_REQ,
	  { ADOPTED(8, 4, 3, 2, 6, 7, 1, "torchrun"), .main_addr = "10.0.0.1",
	    .main_port = 1234, .job_id = "r", TR_FROM },
	  NULL, NULL },
	{ "uneven nodes with GROUP_WORLD_SIZE",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=4", "LOCAL_RANK=0", "WORLD_SIZE=6",
	       "LOCAL_WORLD_SIZE=2", "GROUP_RANK=1", "GROUP_WORLD_SIZE=2",
	       "MASTER_ADDR=n0", "MASTER_PORT=29500"),
	  AUTO_REQ,
	  { ADOPTED(6, 2, 1, 2, 4, 4, 0, "torchrun"), .main_addr = "n0",
	    .main_port = 29500, .job_id = "r", TR_FROM },
	  NULL, NULL },
	{ "--devices and --num-nodes that agree",
	  VARS(TR_NODE1_RANK5), REQ(4, 2, 1, NULL, 0),
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "torchrun"), .main_addr = "node0",
	    .main_port = 29400, .job_id = "job-42", TR_FROM },
	  NULL, NULL },
	{ "--main-addr and --main-port override torchrun's",
	  VARS(TR_NODE1_RANK5), REQ(LT_AUTO, LT_AUTO, LT_AUTO, "10.9.9.9", 4242),
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "torchrun"), .main_addr = "10.9.9.9",
	    .main_port = 4242, .job_id = "job-42", .addr_from = "--main-addr",
	    .port_from = "--main-port" },
	  NULL, NULL },
	{ "uneven nodes without GROUP_WORLD_SIZE",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=4", "LOCAL_RANK=0", "WORLD_SIZE=6",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=1", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 },
	  "WORLD_SIZE=6 is not a multiple of LOCAL_WORLD_SIZE=4", NULL },
	{ "MASTER_PORT missing",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=1",
	       "LOCAL_WORLD_SIZE=1", "GROUP_RANK=0", "MASTER_ADDR=n0"),
	  AUTO_REQ, { 0 }, "MASTER_PORT is not set", NULL },
	{ "MASTER_ADDR missing",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=1",
	       "LOCAL_WORLD_SIZE=1", "GROUP_RANK=0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "MASTER_ADDR is not set", NULL },
	{ "GROUP_RANK missing",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=1",
	       "LOCAL_WORLD_SIZE=1", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "GROUP_RANK is not set", NULL },
	{ "RANK missing",
	  VARS("TORCHELASTIC_RUN_ID=r"), AUTO_REQ, { 0 }, "RANK is not set", NULL },
	{ "RANK not a number",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=two", "LOCAL_RANK=0", "WORLD_SIZE=4",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=0", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "invalid RANK='two'", NULL },
	{ "WORLD_SIZE zero",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=0",
	       "LOCAL_WORLD_SIZE=1", "GROUP_RANK=0", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "invalid WORLD_SIZE='0'", NULL },
	{ "MASTER_PORT out of range",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=1",
	       "LOCAL_WORLD_SIZE=1", "GROUP_RANK=0", "MASTER_ADDR=n0",
	       "MASTER_PORT=70000"),
	  AUTO_REQ, { 0 }, "invalid MASTER_PORT='70000'", NULL },
	{ "MASTER_ADDR not a host",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=1",
	       "LOCAL_WORLD_SIZE=1", "GROUP_RANK=0", "MASTER_ADDR=no host!",
	       "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "invalid MASTER_ADDR", NULL },
	{ "--devices disagrees with LOCAL_WORLD_SIZE",
	  VARS(TR_NODE1_RANK5), REQ(2, LT_AUTO, LT_AUTO, NULL, 0), { 0 },
	  "--devices 2 disagrees with torchrun, which started 4 ranks on this node", NULL },
	{ "--num-nodes disagrees with GROUP_WORLD_SIZE",
	  VARS(TR_NODE1_RANK5), REQ(LT_AUTO, 3, LT_AUTO, NULL, 0), { 0 },
	  "--num-nodes 3 disagrees with torchrun", NULL },
	{ "--node-rank disagrees with GROUP_RANK",
	  VARS(TR_NODE1_RANK5), REQ(LT_AUTO, LT_AUTO, 0, NULL, 0), { 0 },
	  "--node-rank 0 disagrees with torchrun", NULL },
	{ "RANK beyond WORLD_SIZE",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=8", "LOCAL_RANK=0", "WORLD_SIZE=8",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=1", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "gave rank 8 of a world of 8", NULL },
	{ "GROUP_RANK beyond the nodes",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=4", "LOCAL_RANK=0", "WORLD_SIZE=8",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=2", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "gave node 2 of 2 nodes", NULL },
	{ "RANK below LOCAL_RANK",
	  VARS("TORCHELASTIC_RUN_ID=r", "RANK=1", "LOCAL_RANK=3", "WORLD_SIZE=8",
	       "LOCAL_WORLD_SIZE=4", "GROUP_RANK=0", "MASTER_ADDR=n0", "MASTER_PORT=1"),
	  AUTO_REQ, { 0 }, "RANK=1 below LOCAL_RANK=3", NULL },
};

ParameterizedTestParameters(torchelastic, resolve)
{
	return LT_TABLE_PARAMS(resolve_cases);
}

ParameterizedTest(size_t *i, torchelastic, resolve)
{
	check_resolve(&lt_env_torchelastic, &resolve_cases[*i]);
}

static const struct detect_case detect_cases[] = {
	{ "torchrun's run id", VARS(TR_NODE1_RANK5), true,
	  "TORCHELASTIC_RUN_ID is set" },
	{ "default run id 'none'", VARS("TORCHELASTIC_RUN_ID=none"), true,
	  "TORCHELASTIC_RUN_ID is set" },
	{ "torch variables without torchrun",
	  VARS("RANK=0", "LOCAL_RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=n0"), false,
	  "TORCHELASTIC_RUN_ID is not set" },
	{ "empty environment", NO_VARS, false, "TORCHELASTIC_RUN_ID is not set" },
};

ParameterizedTestParameters(torchelastic, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, torchelastic, detect)
{
	check_detect(&lt_env_torchelastic, &detect_cases[*i]);
}

Test(torchelastic, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_torchelastic.ops;

	cr_assert_eq(lt_env_torchelastic.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_torchelastic.name, "torchelastic");
	cr_assert_eq(ops->priority, LT_PRIO_TORCHELASTIC);
	cr_assert_gt(ops->priority, LT_PRIO_MPI, "torchrun is the innermost launcher");
	cr_assert_not_null(lt_env_torchelastic.description);
	cr_assert_not_null(lt_env_torchelastic.recommended_when);
}
