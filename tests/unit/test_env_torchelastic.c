/*
 * test_env_torchelastic.c - the `torchelastic` cluster environment, fed
 * the variables torchrun exports to each rank.  Table-driven: each case is
 * an environment, a request and the topology (or error) it must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

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
