/*
 * test_env_slurm.c - the `slurm` cluster environment, table-driven: each
 * case is the environment srun, sbatch or salloc would set, a request, and
 * every number resolve() must derive from them (or the error it must give).
 * Ports derived from SLURM_JOB_ID were computed independently (FNV-1a 32,
 * mod 12768, + 20000): 1234 -> 20061, 5678 -> 24773; an srun step N > 0
 * shifts its job's port by N, so concurrent steps do not share one.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdbool.h>
#include <string.h>

#include "params.h"
#include "env/env.h"

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define REQ(dev, nodes, node) \
	{ .devices = (dev), .num_nodes = (nodes), .node_rank = (node), \
	  .main_addr = NULL, .main_port = 0, .auto_devices = 1 }
#define AUTO REQ(LT_AUTO, LT_AUTO, LT_AUTO)
/* The expected topology: every derived number (port -1: any free port),
 * and no error. */
#define WANT(W, N, NR, LWS, FR, EXT, R, LR, L, ADDR, PORT) \
	{ .world_size = (W), .num_nodes = (N), .node_rank = (NR), \
	  .local_world_size = (LWS), .first_rank = (FR), .external = (EXT), \
	  .rank = (R), .local_rank = (LR), .launcher = (L), \
	  .main_addr = (ADDR), .main_port = (PORT) }, NULL

struct want {
	int world_size, num_nodes, node_rank, local_world_size, first_rank;
	bool external;
	int rank, local_rank;
	const char *launcher, *main_addr;
	int main_port;
};

struct resolve_case {
	const char *name;
	const char *const *vars;
	struct lt_request req;
	struct want want;
	const char *err; /* NULL: resolve succeeds */
};

/* An srun step of 2 nodes x 4 tasks, as srun sets it for the task `r`. */
#define SRUN_2X4(procid, localid, nodeid) \
	"SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=8", \
	"SLURM_PROCID=" procid, "SLURM_LOCALID=" localid, \
	"SLURM_NODEID=" nodeid, "SLURM_STEP_NUM_NODES=2", \
	"SLURM_JOB_NUM_NODES=2", "SLURM_JOB_NODELIST=gpu-node[001-002]", \
	"SLURM_STEP_NODELIST=gpu-node[001-002]", \
	"SLURM_STEP_TASKS_PER_NODE=4(x2)", "SLURM_JOB_NAME=train"

static const struct resolve_case cases[] = {
	/* --- tasks started by srun --- */
	{ "srun 2 nodes x 4 tasks, rank 5", ENV(SRUN_2X4("5", "1", "1")), AUTO,
	  WANT(8, 2, 1, 4, 4, true, 5, 1, "srun", "gpu-node001", 20061) },
	{ "srun 2 nodes x 4 tasks, rank 0", ENV(SRUN_2X4("0", "0", "0")), AUTO,
	  WANT(8, 2, 0, 4, 0, true, 0, 0, "srun", "gpu-node001", 20061) },
	{ "srun 2x4 with matching --devices 4 --num-nodes 2",
	  ENV(SRUN_2X4("7", "3", "1")), REQ(4, 2, LT_AUTO),
	  WANT(8, 2, 1, 4, 4, true, 7, 3, "srun", "gpu-node001", 20061) },
	{ "srun 2x4 with matching --node-rank 1", ENV(SRUN_2X4("6", "2", "1")),
	  REQ(LT_AUTO, LT_AUTO, 1),
	  WANT(8, 2, 1, 4, 4, true, 6, 2, "srun", "gpu-node001", 20061) },
	{ "srun --ntasks-per-node=2 over 3 nodes",
	  ENV("SLURM_JOB_ID=5678", "SLURM_STEP_ID=1", "SLURM_NTASKS=6",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=5", "SLURM_LOCALID=1",
	      "SLURM_NODEID=2", "SLURM_JOB_NUM_NODES=3",
	      "SLURM_JOB_NODELIST=host-1,host-2,host-3"),
	  AUTO, WANT(6, 3, 2, 2, 4, true, 5, 1, "srun", "host-1", 24773 + 1) },
	{ "srun uneven 2(x3),1: the last node has one task",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=6", "SLURM_LOCALID=0", "SLURM_NODEID=3",
	      "SLURM_STEP_NUM_NODES=4", "SLURM_STEP_TASKS_PER_NODE=2(x3),1",
	      "SLURM_STEP_NODELIST=n[1-4]"),
	  AUTO, WANT(7, 4, 3, 1, 6, true, 6, 0, "srun", "n1", 20061) },
	{ "srun uneven 2(x3),1: a middle node",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=3", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_STEP_NUM_NODES=4", "SLURM_STEP_TASKS_PER_NODE=2(x3),1",
	      "SLURM_STEP_NODELIST=n[1-4]"),
	  AUTO, WANT(7, 4, 1, 2, 2, true, 3, 1, "srun", "n1", 20061) },
	{ "srun job-level SLURM_TASKS_PER_NODE when the step's is absent",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=5",
	      "SLURM_PROCID=4", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_NNODES=2", "SLURM_TASKS_PER_NODE=3,2",
	      "SLURM_JOB_NODELIST=a[1],b[2-3]"),
	  AUTO, WANT(5, 2, 1, 2, 3, true, 4, 1, "srun", "a1", 20061) },
	{ "srun node count from host-1,host-2, even split",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=2", "SLURM_NTASKS=4",
	      "SLURM_PROCID=3", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_STEP_NODELIST=host-1,host-2"),
	  AUTO, WANT(4, 2, 1, 2, 2, true, 3, 1, "srun", "host-1", 20061 + 2) },
	{ "srun step nodelist preferred over the job's",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2", "SLURM_JOB_NODELIST=gpu-node[001-004,010]",
	      "SLURM_STEP_NODELIST=gpu-node[003-004]"),
	  AUTO, WANT(2, 2, 0, 1, 0, true, 0, 0, "srun", "gpu-node003", 20061) },
	{ "srun step inside salloc (SLURM_JOB_NAME=interactive)",
	  ENV("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=interactive",
	      "SLURM_STEP_ID=3", "SLURM_NTASKS=2", "SLURM_PROCID=1",
	      "SLURM_LOCALID=1", "SLURM_NODEID=0", "SLURM_STEP_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  AUTO, WANT(2, 1, 0, 2, 0, true, 1, 1, "srun", "node7", 20061 + 3) },
	{ "srun step inside salloc (SLURM_JOB_NAME=bash)",
	  ENV("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=bash", "SLURM_STEP_ID=0",
	      "SLURM_NTASKS=1", "SLURM_PROCID=0", "SLURM_LOCALID=0",
	      "SLURM_NODEID=0", "SLURM_JOB_NODELIST=node7"),
	  AUTO, WANT(1, 1, 0, 1, 0, true, 0, 0, "srun", "node7", 20061) },
	{ "srun with MASTER_ADDR and MASTER_PORT",
	  ENV(SRUN_2X4("1", "1", "0"), "MASTER_ADDR=10.0.0.9", "MASTER_PORT=29500"),
	  AUTO, WANT(8, 2, 0, 4, 0, true, 1, 1, "srun", "10.0.0.9", 29500) },
	{ "srun with --main-addr and --main-port",
	  ENV(SRUN_2X4("2", "2", "0"), "MASTER_ADDR=10.0.0.9"),
	  { .devices = LT_AUTO, .num_nodes = LT_AUTO, .node_rank = LT_AUTO,
	    .main_addr = "head", .main_port = 4242, .auto_devices = 1 },
	  WANT(8, 2, 0, 4, 0, true, 2, 2, "srun", "head", 4242) },

	/* --- salloc shells and sbatch scripts: ltrun creates the ranks --- */
	{ "salloc shell: no SLURM_STEP_ID",
	  ENV("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=interactive",
	      "SLURM_NTASKS=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  AUTO, WANT(1, 1, 0, 1, 0, false, -1, -1, "", "node7", 20061) },
	{ "salloc bash shell with SLURM_PROCID but no step",
	  ENV("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=bash", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_JOB_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  REQ(2, LT_AUTO, LT_AUTO),
	  WANT(2, 1, 0, 2, 0, false, -1, -1, "", "node7", 20061) },
	{ "sbatch script on 2 nodes, --devices 4",
	  ENV("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=job.sh", "SLURM_NTASKS=2",
	      "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=gpu-node[001-002]"),
	  REQ(4, LT_AUTO, LT_AUTO),
	  WANT(8, 2, 0, 4, 0, false, -1, -1, "", "gpu-node001", 20061) },
	{ "batch step named 'batch'",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=batch", "SLURM_PROCID=0",
	      "SLURM_NTASKS=1", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO, WANT(1, 1, 0, 1, 0, false, -1, -1, "", "n9", 20061) },
	{ "batch step as its number 4294967291",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0",
	      "SLURM_NTASKS=1", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  REQ(3, LT_AUTO, LT_AUTO),
	  WANT(3, 1, 0, 3, 0, false, -1, -1, "", "n9", 20061) },
	{ "extern step",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=extern", "SLURM_PROCID=0",
	      "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO, WANT(1, 1, 0, 1, 0, false, -1, -1, "", "n9", 20061) },
	{ "interactive step as its number 4294967290",
	  ENV("SLURM_JOB_ID=1234", "SLURM_STEP_ID=4294967290", "SLURM_PROCID=0",
	      "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO, WANT(1, 1, 0, 1, 0, false, -1, -1, "", "n9", 20061) },
	{ "allocation: node count from gpu-node[001-004,010], SLURM_NODEID=2",
	  ENV("SLURM_JOB_ID=1234", "SLURM_NODEID=2",
	      "SLURM_JOB_NODELIST=gpu-node[001-004,010]"),
	  REQ(2, LT_AUTO, LT_AUTO),
	  WANT(10, 5, 2, 2, 4, false, -1, -1, "", "gpu-node001", 20061) },
	{ "allocation: --node-rank overrides SLURM_NODEID",
	  ENV("SLURM_JOB_ID=1234", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=host-1,host-2"),
	  REQ(3, 2, 1),
	  WANT(6, 2, 1, 3, 3, false, -1, -1, "", "host-1", 20061) },
	{ "allocation: SLURM_NNODES when SLURM_JOB_NUM_NODES is absent",
	  ENV("SLURM_JOB_ID=5678", "SLURM_NODEID=1", "SLURM_NNODES=3",
	      "SLURM_JOB_NODELIST=a[1],b[2-3]"),
	  AUTO, WANT(3, 3, 1, 1, 1, false, -1, -1, "", "a1", 24773) },
	{ "allocation without a node list: one node, localhost",
	  ENV("SLURM_NTASKS=1"), AUTO,
	  WANT(1, 1, 0, 1, 0, false, -1, -1, "", "127.0.0.1", -1) },

	/* --- malformed values --- */
	{ "SLURM_NTASKS=abc", ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0",
				  "SLURM_NTASKS=abc", "SLURM_PROCID=0"),
	  AUTO, { 0 }, "invalid SLURM_NTASKS='abc'" },
	{ "SLURM_NTASKS negative", ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0",
				       "SLURM_NTASKS=-4", "SLURM_PROCID=0"),
	  AUTO, { 0 }, "invalid SLURM_NTASKS='-4'" },
	{ "SLURM_NTASKS missing in an srun step",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_PROCID=0"), AUTO,
	  { 0 }, "SLURM_NTASKS is not set" },
	{ "SLURM_PROCID negative",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=-1"),
	  AUTO, { 0 }, "invalid SLURM_PROCID='-1'" },
	{ "SLURM_PROCID >= SLURM_NTASKS", ENV(SRUN_2X4("8", "0", "1")), AUTO,
	  { 0 }, "invalid SLURM_PROCID='8': SLURM_NTASKS=8 allows 0 to 7" },
	{ "SLURM_LOCALID missing",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_NODEID=0"),
	  AUTO, { 0 }, "SLURM_LOCALID is not set" },
	{ "SLURM_NTASKS smaller than SLURM_NTASKS_PER_NODE",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_NTASKS_PER_NODE=4", "SLURM_PROCID=1", "SLURM_LOCALID=1",
	      "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n1"),
	  AUTO, { 0 }, "SLURM_NTASKS=2 is smaller than SLURM_NTASKS_PER_NODE=4" },
	{ "SLURM_NTASKS more than SLURM_NTASKS_PER_NODE x nodes",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=8",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=5", "SLURM_LOCALID=1",
	      "SLURM_NODEID=1", "SLURM_STEP_NUM_NODES=2"),
	  AUTO, { 0 },
	  "SLURM_NTASKS=8 is more than SLURM_NTASKS_PER_NODE=2 x 2 nodes (SLURM_STEP_NUM_NODES=2)" },
	{ "--devices x --num-nodes disagrees with SLURM_NTASKS",
	  ENV(SRUN_2X4("0", "0", "0")), REQ(8, 2, LT_AUTO), { 0 },
	  "--devices 8 x --num-nodes 2 = 16 ranks, but srun started SLURM_NTASKS=8" },
	{ "--devices disagrees with the tasks on this node",
	  ENV(SRUN_2X4("0", "0", "0")), REQ(2, LT_AUTO, LT_AUTO), { 0 },
	  "--devices 2 disagrees with srun, which started 4 ranks on this node (SLURM_NTASKS=8, SLURM_STEP_TASKS_PER_NODE=4(x2), SLURM_STEP_NUM_NODES=2)" },
	{ "--num-nodes disagrees with the step",
	  ENV(SRUN_2X4("0", "0", "0")), REQ(LT_AUTO, 3, LT_AUTO), { 0 },
	  "--num-nodes 3 disagrees with srun, which spans 2 nodes" },
	{ "SLURM_LOCALID beyond the tasks of this node",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=8",
	      "SLURM_NTASKS_PER_NODE=4", "SLURM_PROCID=4", "SLURM_LOCALID=4",
	      "SLURM_NODEID=0", "SLURM_STEP_NUM_NODES=2"),
	  AUTO, { 0 }, "srun gave local rank 4 of 4 on this node" },
	{ "SLURM_NODEID beyond the step's nodes",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=4",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=1", "SLURM_LOCALID=1",
	      "SLURM_NODEID=2", "SLURM_STEP_NUM_NODES=2"),
	  AUTO, { 0 }, "srun gave node 2 of 2 nodes" },
	{ "cyclic task distribution",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=4",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=1", "SLURM_LOCALID=0",
	      "SLURM_NODEID=1", "SLURM_STEP_NUM_NODES=2",
	      "SLURM_STEP_NODELIST=n[1-2]"),
	  AUTO, { 0 }, "--distribution=block" },
	{ "uneven split with no tasks-per-node variable",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=5",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2"),
	  AUTO, { 0 }, "SLURM_NTASKS=5 does not split evenly over 2 nodes" },
	{ "malformed SLURM_STEP_TASKS_PER_NODE",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=6",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=3", "SLURM_STEP_TASKS_PER_NODE=2(x3"),
	  AUTO, { 0 }, "invalid SLURM_STEP_TASKS_PER_NODE='2(x3' at offset 4" },
	{ "SLURM_STEP_TASKS_PER_NODE with a space",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=3",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_TASKS_PER_NODE=2, 1"),
	  AUTO, { 0 }, "invalid SLURM_STEP_TASKS_PER_NODE='2, 1' at offset 2" },
	{ "SLURM_STEP_TASKS_PER_NODE shorter than SLURM_NODEID",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=6", "SLURM_LOCALID=0", "SLURM_NODEID=5",
	      "SLURM_STEP_NUM_NODES=6", "SLURM_STEP_TASKS_PER_NODE=2(x3),1"),
	  AUTO, { 0 }, "SLURM_STEP_TASKS_PER_NODE='2(x3),1' lists 4 nodes, but SLURM_NODEID=5" },
	{ "SLURM_STEP_ID=abc",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=abc", "SLURM_PROCID=0"), AUTO,
	  { 0 }, "invalid SLURM_STEP_ID='abc'" },
	{ "SLURM_JOB_ID=x", ENV("SLURM_JOB_ID=x"), AUTO, { 0 },
	  "invalid SLURM_JOB_ID='x'" },
	{ "descending step node list",
	  ENV("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=1",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NODELIST=node[3-1]", "SLURM_JOB_NODELIST=node[1-3]"),
	  AUTO, { 0 },
	  "invalid SLURM_STEP_NODELIST='node[3-1]': range 3-1 at offset 5 is descending" },
	{ "descending job node list in an allocation",
	  ENV("SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=node[3-1]"), AUTO, { 0 },
	  "invalid SLURM_JOB_NODELIST='node[3-1]': range 3-1 at offset 5 is descending" },
	{ "unclosed node list",
	  ENV("SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=node[01-"), AUTO, { 0 },
	  "invalid SLURM_JOB_NODELIST='node[01-': '[' at offset 4 is never closed" },
	{ "allocation: --num-nodes disagrees with SLURM_JOB_NUM_NODES",
	  ENV("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  REQ(LT_AUTO, 3, LT_AUTO), { 0 },
	  "--num-nodes 3 disagrees with the allocation: SLURM_JOB_NUM_NODES=2" },
	{ "allocation: SLURM_NODEID beyond the nodes",
	  ENV("SLURM_JOB_ID=1", "SLURM_NODEID=5", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  AUTO, { 0 },
	  "SLURM_NODEID=5 is out of range for the allocation's 2 nodes (SLURM_JOB_NUM_NODES=2)" },
	{ "allocation: --node-rank beyond the nodes",
	  ENV("SLURM_JOB_ID=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  REQ(LT_AUTO, LT_AUTO, 2), { 0 },
	  "node rank 2 is out of range for 2 nodes: use --node-rank 0 to 1" },
	{ "allocation: SLURM_JOB_NUM_NODES=0",
	  ENV("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=0"), AUTO, { 0 },
	  "invalid SLURM_JOB_NUM_NODES='0'" },
	{ "allocation of 2 nodes without a node list or MASTER_ADDR",
	  ENV("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=2"), AUTO, { 0 },
	  "cannot tell the main address of a 2-node job" },
	{ "MASTER_PORT out of range", ENV(SRUN_2X4("0", "0", "0"), "MASTER_PORT=99999"),
	  AUTO, { 0 }, "invalid MASTER_PORT='99999'" },
};

static void check_topology(const struct resolve_case *c, const struct lt_topology *t)
{
	const struct want *w = &c->want;

	cr_expect_eq(t->world_size, w->world_size, "%s: world_size %d, want %d",
		     c->name, t->world_size, w->world_size);
	cr_expect_eq(t->num_nodes, w->num_nodes, "%s: num_nodes %d, want %d",
		     c->name, t->num_nodes, w->num_nodes);
	cr_expect_eq(t->node_rank, w->node_rank, "%s: node_rank %d, want %d",
		     c->name, t->node_rank, w->node_rank);
	cr_expect_eq(t->local_world_size, w->local_world_size,
		     "%s: local_world_size %d, want %d", c->name,
		     t->local_world_size, w->local_world_size);
	cr_expect_eq(t->first_rank, w->first_rank, "%s: first_rank %d, want %d",
		     c->name, t->first_rank, w->first_rank);
	cr_expect_eq(t->external, w->external, "%s: external %d, want %d",
		     c->name, t->external, w->external);
	cr_expect_eq(t->rank, w->rank, "%s: rank %d, want %d", c->name, t->rank,
		     w->rank);
	cr_expect_eq(t->local_rank, w->local_rank, "%s: local_rank %d, want %d",
		     c->name, t->local_rank, w->local_rank);
	cr_expect_str_eq(t->launcher, w->launcher, "%s: launcher '%s', want '%s'",
			 c->name, t->launcher, w->launcher);
	cr_expect_str_eq(t->main_addr, w->main_addr, "%s: main_addr '%s', want '%s'",
			 c->name, t->main_addr, w->main_addr);
	if (w->main_port < 0)
		cr_expect(t->main_port > 0 && t->main_port < 65536,
			  "%s: main_port %d, want a free port", c->name, t->main_port);
	else
		cr_expect_eq(t->main_port, w->main_port, "%s: main_port %d, want %d",
			     c->name, t->main_port, w->main_port);
	cr_expect(t->addr_from[0] && t->port_from[0],
		  "%s: addr_from '%s' and port_from '%s' must say where they came from",
		  c->name, t->addr_from, t->port_from);
}

static int run_resolve(const struct resolve_case *c, struct lt_topology *t,
		       struct lt_err *err)
{
	const struct lt_cluster_ops *ops = lt_env_slurm.ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };

	memset(err, 0, sizeof(*err));
	return ops->resolve(&env, &c->req, t, err);
}

ParameterizedTestParameters(env_slurm, resolve)
{
	return LT_TABLE_PARAMS(cases);
}

ParameterizedTest(size_t *i, env_slurm, resolve)
{
	const struct resolve_case *c = &cases[*i];
	struct lt_topology t;
	struct lt_err err;
	int rc = run_resolve(c, &t, &err);

	if (c->err) {
		cr_assert_eq(rc, -1, "%s: resolve succeeded, want error '%s'", c->name,
			     c->err);
		cr_expect_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name,
			     err.status);
		cr_expect(strstr(err.msg, c->err) != NULL,
			  "%s: error '%s' does not contain '%s'", c->name, err.msg,
			  c->err);
		cr_expect(strchr(err.msg, '\n') == NULL, "%s: error is not one line",
			  c->name);
		return;
	}
	cr_assert_eq(rc, 0, "%s: resolve failed: %s", c->name, err.msg);
	check_topology(c, &t);
}

/* --- detect --- */

struct detect_case {
	const char *name;
	const char *const *vars;
	bool yes;
	const char *why;
};

static const struct detect_case detect_cases[] = {
	{ "srun task", ENV("SLURM_JOB_ID=12", "SLURM_STEP_ID=0", "SLURM_PROCID=3"),
	  true, "a task started by srun" },
	{ "srun task inside salloc",
	  ENV("SLURM_JOB_ID=12", "SLURM_JOB_NAME=interactive", "SLURM_STEP_ID=1",
	      "SLURM_PROCID=0"),
	  true, "a task started by srun" },
	{ "salloc shell", ENV("SLURM_JOB_ID=12", "SLURM_JOB_NAME=interactive"),
	  true, "an sbatch script or salloc shell" },
	{ "sbatch batch step",
	  ENV("SLURM_JOB_ID=12", "SLURM_STEP_ID=batch", "SLURM_PROCID=0"), true,
	  "without an srun step" },
	{ "batch step by number",
	  ENV("SLURM_JOB_ID=12", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0"),
	  true, "without an srun step" },
	{ "step id without SLURM_PROCID", ENV("SLURM_JOB_ID=12", "SLURM_STEP_ID=0"),
	  true, "without an srun step" },
	{ "SLURM_NTASKS only", ENV("SLURM_NTASKS=4"), true, "SLURM_NTASKS is set" },
	{ "not slurm", ENV("HOME=/root", "SLURMISH=1"), false,
	  "neither SLURM_JOB_ID nor SLURM_NTASKS" },
	{ "empty environment", ((const char *const[]){ NULL }), false,
	  "neither SLURM_JOB_ID nor SLURM_NTASKS" },
};

ParameterizedTestParameters(env_slurm, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, env_slurm, detect)
{
	const struct detect_case *c = &detect_cases[*i];
	const struct lt_cluster_ops *ops = lt_env_slurm.ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };
	char why[256] = "";
	bool yes = ops->detect(&env, why, sizeof(why));

	cr_expect_eq(yes, c->yes, "%s: detect %d, want %d", c->name, yes, c->yes);
	cr_expect(strstr(why, c->why) != NULL, "%s: why '%s' lacks '%s'", c->name,
		  why, c->why);
}

Test(env_slurm, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_slurm.ops;

	cr_assert_eq(lt_env_slurm.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_slurm.name, "slurm");
	cr_assert(lt_env_slurm.description && lt_env_slurm.description[0]);
	cr_assert(lt_env_slurm.recommended_when && lt_env_slurm.recommended_when[0]);
	cr_assert_null(lt_env_slurm.alias_of);
	cr_assert_not_null(ops);
	cr_assert_eq(ops->priority, LT_PRIO_SLURM);
	cr_assert(ops->detect && ops->resolve);
}

/* Every rank of a 2 x 4 srun step agrees on the layout and finds its own
 * place in it. */
Test(env_slurm, every_rank_of_2x4)
{
	const struct lt_cluster_ops *ops = lt_env_slurm.ops;
	char p[32], l[32], n[32];
	struct lt_topology t;
	struct lt_err err;
	int r;

	for (r = 0; r < 8; r++) {
		snprintf(p, sizeof(p), "SLURM_PROCID=%d", r);
		snprintf(l, sizeof(l), "SLURM_LOCALID=%d", r % 4);
		snprintf(n, sizeof(n), "SLURM_NODEID=%d", r / 4);
		const char *vars[] = { "SLURM_JOB_ID=1234", "SLURM_STEP_ID=0",
				       "SLURM_NTASKS=8", p, l, n,
				       "SLURM_STEP_NUM_NODES=2",
				       "SLURM_STEP_NODELIST=gpu-node[001-002]", NULL };
		struct lt_envsrc env = { .vars = vars, .hostname = "x" };
		struct lt_request req = AUTO;

		cr_assert_eq(ops->resolve(&env, &req, &t, &err), 0, "rank %d: %s", r,
			     err.msg);
		cr_expect_eq(t.rank, r);
		cr_expect_eq(t.node_rank, r / 4);
		cr_expect_eq(t.first_rank, (r / 4) * 4);
		cr_expect_eq(t.local_world_size, 4);
		cr_expect_str_eq(t.main_addr, "gpu-node001");
		cr_expect_eq(t.main_port, 20061);
		cr_expect_str_eq(t.job_id, "1234");
	}
}

/* The derived port, as ltrun(1) writes it ("The derived port"): 32-bit
 * FNV-1a of the job id's text, 20000 + h mod 12768.  The figures were
 * computed apart from ltrun (a Python one-liner of the man page's lines);
 * a change of formula breaks jobs whose nodes run different versions. */
Test(env_slurm, derived_port_formula)
{
	static const struct { const char *id; int port; } ports[] = {
		{ "1234", 20061 },      { "5678", 24773 }, { "777", 30188 },
		{ "4294967295", 29218 }, { "0", 23087 },    { "ompi.ns-1", 23761 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < LT_TABLE_LEN(ports); i++)
		cr_expect_eq(lt_port_from_job_id(ports[i].id), ports[i].port,
			     "job id '%s': port %d, want %d", ports[i].id,
			     lt_port_from_job_id(ports[i].id), ports[i].port);
	cr_expect_eq(lt_port_from_job_id(NULL), 0);
}

/* srun step S > 0 shifts the job's port: 20000 + (port - 20000 + S) mod
 * 12768, wrapping below 32768 (job 7: 21686; step 100: 21786; step
 * 12767: 21685). */
Test(env_slurm, derived_port_of_a_step)
{
	static const struct { const char *step; int port; } steps[] = {
		{ "SLURM_STEP_ID=0", 21686 },
		{ "SLURM_STEP_ID=100", 21786 },
		{ "SLURM_STEP_ID=12767", 21685 },
	};
	const struct lt_cluster_ops *ops = lt_env_slurm.ops;
	struct lt_request req = AUTO;
	struct lt_topology t;
	struct lt_err err;
	size_t i;

	for (i = 0; i < LT_TABLE_LEN(steps); i++) {
		const char *vars[] = { "SLURM_JOB_ID=7", steps[i].step, "SLURM_PROCID=0",
				       "SLURM_LOCALID=0", "SLURM_NODEID=0", "SLURM_NTASKS=1",
				       "SLURM_STEP_NUM_NODES=1", "SLURM_JOB_NODELIST=n1", NULL };
		struct lt_envsrc env = { .vars = vars, .hostname = "n1" };

		cr_assert_eq(ops->resolve(&env, &req, &t, &err), 0, "%s: %s", steps[i].step,
			     err.msg);
		cr_expect_eq(t.main_port, steps[i].port, "%s: port %d, want %d", steps[i].step,
			     t.main_port, steps[i].port);
	}
}
