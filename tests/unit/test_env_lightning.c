/*
 * test_env_lightning.c - the `lightning` cluster environment: a bare node,
 * nodes lined up by hand (--num-nodes, --node-rank, MASTER_ADDR,
 * NODE_RANK), and ranks the user's own launcher started (LOCAL_RANK set).
 * Table-driven: each case is an environment, a request and the topology
 * (or error) it must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

#define LOOPBACK .main_addr = "127.0.0.1", .addr_from = "single node: loopback"
#define FREE .main_port = FREE_PORT, .port_from = "a port free on this host"
#define MULTI_PORT .main_port = 29500, .port_from = "default for several nodes"
#define USER_PORT .main_port = 29500, .port_from = "default for ranks your launcher started"

static const struct resolve_case resolve_cases[] = {
	/* ltrun creates the ranks */
	{ "bare node, all auto", NO_VARS, AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0), LOOPBACK, FREE }, NULL, NULL },
	{ "bare node with 4 GPUs",
	  NO_VARS,
	  { .devices = LT_AUTO, .num_nodes = LT_AUTO, .node_rank = LT_AUTO, .auto_devices = 4 },
	  { OWN(4, 1, 0, 4, 0), LOOPBACK, FREE }, NULL, NULL },
	{ "--devices 3", NO_VARS, REQ(3, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(3, 1, 0, 3, 0), LOOPBACK, FREE }, NULL, NULL },
	{ "--main-port on one node", NO_VARS, REQ(2, LT_AUTO, LT_AUTO, NULL, 4000),
	  { OWN(2, 1, 0, 2, 0), LOOPBACK, .main_port = 4000, .port_from = "--main-port" },
	  NULL, NULL },
	{ "MASTER_ADDR and MASTER_PORT on one node",
	  VARS("MASTER_ADDR=10.0.0.2", "MASTER_PORT=6000"), AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0), .main_addr = "10.0.0.2", .addr_from = "MASTER_ADDR",
	    .main_port = 6000, .port_from = "MASTER_PORT" },
	  NULL, NULL },
	{ "node 1 of 2 by flags",
	  NO_VARS, REQ(2, 2, 1, "node0", 0),
	  { OWN(4, 2, 1, 2, 2), .main_addr = "node0", .addr_from = "--main-addr", MULTI_PORT },
	  NULL, NULL },
	{ "node 0 of 2 uses its own short name",
	  NO_VARS, REQ(2, 2, 0, NULL, 0),
	  { OWN(4, 2, 0, 2, 0), .main_addr = "node0", .addr_from = "this host (node 0)",
	    MULTI_PORT },
	  NULL, "node0.cluster.example.org" },
	{ "node 1 of 2 from NODE_RANK and MASTER_ADDR",
	  VARS("NODE_RANK=1", "MASTER_ADDR=10.1.1.1", "MASTER_PORT=1234"),
	  REQ(4, 2, LT_AUTO, NULL, 0),
	  { OWN(8, 2, 1, 4, 4), .main_addr = "10.1.1.1", .addr_from = "MASTER_ADDR",
	    .main_port = 1234, .port_from = "MASTER_PORT" },
	  NULL, NULL },
	{ "NODE_RANK and --node-rank that agree",
	  VARS("NODE_RANK=1", "MASTER_ADDR=n0"), REQ(1, 2, 1, NULL, 0),
	  { OWN(2, 2, 1, 1, 1), .main_addr = "n0", .addr_from = "MASTER_ADDR", MULTI_PORT },
	  NULL, NULL },
	{ "WORLD_SIZE that agrees", VARS("WORLD_SIZE=4"), REQ(2, 2, 0, NULL, 0),
	  { OWN(4, 2, 0, 2, 0), .main_addr = "testhost", .addr_from = "this host",
	    MULTI_PORT },
	  NULL, NULL },
	{ "node 1 of 2 without an address", NO_VARS, REQ(2, 2, 1, NULL, 0), { 0 },
	  "--num-nodes 2 needs --main-addr (the address of node 0) on node 1", NULL },
	{ "NODE_RANK disagrees with --node-rank", VARS("NODE_RANK=1"),
	  REQ(1, 2, 0, "n0", 0), { 0 }, "--node-rank 0 disagrees with NODE_RANK=1", NULL },
	{ "NODE_RANK beyond one node", VARS("NODE_RANK=1"), AUTO_REQ, { 0 },
	  "node rank 1 is out of range for 1 node", NULL },
	{ "NODE_RANK not a number", VARS("NODE_RANK=first"), AUTO_REQ, { 0 },
	  "invalid NODE_RANK='first'", NULL },
	{ "WORLD_SIZE disagrees with the ranks ltrun starts", VARS("WORLD_SIZE=8"),
	  AUTO_REQ, { 0 }, "WORLD_SIZE=8 disagrees with the 1 rank ltrun starts", NULL },
	{ "WORLD_SIZE negative", VARS("WORLD_SIZE=-2"), AUTO_REQ, { 0 },
	  "invalid WORLD_SIZE='-2'", NULL },
	{ "MASTER_PORT not a number", VARS("MASTER_PORT=http"), AUTO_REQ, { 0 },
	  "invalid MASTER_PORT='http'", NULL },

	/* the user's launcher created the ranks (LOCAL_RANK is set) */
	{ "user launcher, one node",
	  VARS("LOCAL_RANK=1", "RANK=1", "WORLD_SIZE=2"), AUTO_REQ,
	  { ADOPTED(2, 1, 0, 2, 0, 1, 1, "user"), LOOPBACK, USER_PORT }, NULL, NULL },
	{ "user launcher, rank 5 of 2 x 4: node from RANK",
	  VARS("LOCAL_RANK=1", "RANK=5", "WORLD_SIZE=8", "LOCAL_WORLD_SIZE=4",
	       "MASTER_ADDR=n0", "MASTER_PORT=29501"),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "user"), .main_addr = "n0",
	    .addr_from = "MASTER_ADDR", .main_port = 29501, .port_from = "MASTER_PORT" },
	  NULL, NULL },
	{ "user launcher, RANK from NODE_RANK",
	  VARS("LOCAL_RANK=3", "NODE_RANK=1", "WORLD_SIZE=8", "LOCAL_WORLD_SIZE=4",
	       "MASTER_ADDR=n0"),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 7, 3, "user"), .main_addr = "n0",
	    .addr_from = "MASTER_ADDR", MULTI_PORT },
	  NULL, NULL },
	{ "user launcher, ranks per node from --devices",
	  VARS("LOCAL_RANK=1", "RANK=3", "WORLD_SIZE=4", "MASTER_ADDR=n0"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "user"), .main_addr = "n0",
	    .addr_from = "MASTER_ADDR", MULTI_PORT },
	  NULL, NULL },
	{ "user launcher, ranks per node from --num-nodes",
	  VARS("LOCAL_RANK=0", "RANK=0", "WORLD_SIZE=6"), REQ(LT_AUTO, 2, LT_AUTO, NULL, 0),
	  { ADOPTED(6, 2, 0, 3, 0, 0, 0, "user"), .main_addr = "testhost",
	    .addr_from = "this host (node 0)", MULTI_PORT },
	  NULL, NULL },
	{ "NODE_RANK beyond the nodes of a user launcher",
	  VARS("LOCAL_RANK=0", "NODE_RANK=9", "WORLD_SIZE=8", "LOCAL_WORLD_SIZE=4",
	       "MASTER_ADDR=n0"),
	  AUTO_REQ, { 0 }, "node 9 is out of range for WORLD_SIZE=8 at 4 ranks per node",
	  NULL },
	{ "user launcher without WORLD_SIZE", VARS("LOCAL_RANK=0", "RANK=0"), AUTO_REQ,
	  { 0 }, "LOCAL_RANK is set, so your own launcher started the ranks, but WORLD_SIZE is not: set WORLD_SIZE, or pass --num-nodes N and --devices D",
	  NULL },
	/* manual multi-node: WORLD_SIZE from --devices x --num-nodes */
	{ "LOCAL_RANK and NODE_RANK, world from --devices x --num-nodes",
	  VARS("LOCAL_RANK=1", "NODE_RANK=1", "MASTER_ADDR=n0"),
	  REQ(2, 2, LT_AUTO, NULL, 0),
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "user"), .main_addr = "n0",
	    .addr_from = "MASTER_ADDR", MULTI_PORT },
	  NULL, NULL },
	{ "LOCAL_RANK, world from LOCAL_WORLD_SIZE x --num-nodes",
	  VARS("LOCAL_RANK=0", "NODE_RANK=2", "LOCAL_WORLD_SIZE=4", "MASTER_ADDR=n0"),
	  REQ(LT_AUTO, 3, LT_AUTO, NULL, 0),
	  { ADOPTED(12, 3, 2, 4, 8, 8, 0, "user"), .main_addr = "n0",
	    .addr_from = "MASTER_ADDR", MULTI_PORT },
	  NULL, NULL },
	{ "LOCAL_RANK and NODE_RANK with --devices only",
	  VARS("LOCAL_RANK=0", "NODE_RANK=1", "MASTER_ADDR=n0"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0), { 0 },
	  "but WORLD_SIZE is not: set WORLD_SIZE, or pass --num-nodes N and --devices D (or set LOCAL_WORLD_SIZE)",
	  NULL },
	{ "LOCAL_RANK and NODE_RANK with --num-nodes only",
	  VARS("LOCAL_RANK=0", "NODE_RANK=1", "MASTER_ADDR=n0"),
	  REQ(LT_AUTO, 2, LT_AUTO, NULL, 0), { 0 },
	  "but WORLD_SIZE is not: set WORLD_SIZE, or pass --num-nodes N and --devices D",
	  NULL },
	{ "LOCAL_RANK not a number", VARS("LOCAL_RANK=x", "WORLD_SIZE=2"), AUTO_REQ, { 0 },
	  "invalid LOCAL_RANK='x'", NULL },
	{ "RANK on another node than NODE_RANK",
	  VARS("LOCAL_RANK=0", "RANK=5", "NODE_RANK=0", "WORLD_SIZE=8",
	       "LOCAL_WORLD_SIZE=4", "MASTER_ADDR=n0"),
	  AUTO_REQ, { 0 }, "RANK=5 with LOCAL_RANK=0 disagrees with node 0", NULL },
	{ "WORLD_SIZE not a multiple of LOCAL_WORLD_SIZE",
	  VARS("LOCAL_RANK=0", "RANK=0", "WORLD_SIZE=6", "LOCAL_WORLD_SIZE=4"), AUTO_REQ,
	  { 0 }, "WORLD_SIZE=6 is not a multiple of 4 ranks per node", NULL },
	{ "WORLD_SIZE does not split over --num-nodes",
	  VARS("LOCAL_RANK=0", "RANK=0", "WORLD_SIZE=5"), REQ(LT_AUTO, 2, LT_AUTO, NULL, 0),
	  { 0 }, "WORLD_SIZE=5 does not split over 2 nodes", NULL },
	{ "LOCAL_RANK beyond LOCAL_WORLD_SIZE",
	  VARS("LOCAL_RANK=4", "RANK=4", "WORLD_SIZE=8", "LOCAL_WORLD_SIZE=4"), AUTO_REQ,
	  { 0 }, "gave local rank 4 of 4", NULL },
	{ "--devices disagrees with LOCAL_WORLD_SIZE",
	  VARS("LOCAL_RANK=0", "RANK=0", "WORLD_SIZE=4", "LOCAL_WORLD_SIZE=4"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0), { 0 }, "--devices 2 disagrees with user", NULL },
	{ "user launcher, node 1 without an address",
	  VARS("LOCAL_RANK=0", "RANK=2", "WORLD_SIZE=4", "LOCAL_WORLD_SIZE=2"), AUTO_REQ,
	  { 0 }, "2 nodes need MASTER_ADDR or --main-addr (the address of node 0) on node 1",
	  NULL },
};

static const struct detect_case detect_cases[] = {
	{ "empty environment", NO_VARS, true, "no launcher's variables set: bare node" },
	{ "torch's variables set by hand",
	  VARS("MASTER_ADDR=n0", "NODE_RANK=1", "PATH=/bin"), true,
	  "bare node (with MASTER_ADDR, NODE_RANK)" },
	{ "under srun: still yes, at the lowest priority",
	  VARS("SLURM_PROCID=0", "SLURM_STEP_ID=0"), true, "bare node" },
};

ParameterizedTestParameters(lightning, resolve)
{
	return LT_TABLE_PARAMS(resolve_cases);
}

ParameterizedTest(size_t *i, lightning, resolve)
{
	check_resolve(&lt_env_lightning, &resolve_cases[*i]);
}

ParameterizedTestParameters(lightning, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, lightning, detect)
{
	check_detect(&lt_env_lightning, &detect_cases[*i]);
}

/* On a single bare node the port is one nobody holds: bind it again. */
Test(lightning, single_node_port_is_free)
{
	const struct lt_cluster_ops *ops = lt_env_lightning.ops;
	struct lt_envsrc env = { .vars = NO_VARS, .hostname = "testhost" };
	struct lt_request req = AUTO_REQ;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct lt_topology t;
	struct lt_err err = { 0 };
	int fd;

	cr_assert_eq(ops->resolve(&env, NULL, &req, &t, &err), 0, "%s", err.msg);
	cr_assert_str_eq(t.port_from, "a port free on this host");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons((unsigned short)t.main_port);
	cr_expect_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "port %d is taken",
		     t.main_port);
	close(fd);
}

Test(lightning, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_lightning.ops;

	cr_assert_eq(lt_env_lightning.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_lightning.name, "lightning");
	cr_assert_eq(ops->priority, LT_PRIO_LIGHTNING);
	cr_assert_lt(ops->priority, LT_PRIO_KUBEFLOW, "the bare node is the last resort");
	cr_assert_not_null(lt_env_lightning.description);
	cr_assert_not_null(lt_env_lightning.recommended_when);
}
