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

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

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
	{ "srun 2 nodes x 4 tasks, rank 5",
	  VARS(SRUN_2X4("5", "1", "1")),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "srun"),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun 2 nodes x 4 tasks, rank 0",
	  VARS(SRUN_2X4("0", "0", "0")),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 0, 4, 0, 0, 0, "srun"),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun 2x4 with matching --devices 4 --num-nodes 2",
	  VARS(SRUN_2X4("7", "3", "1")),
	  REQ(4, 2, LT_AUTO, NULL, 0),
	  { ADOPTED(8, 2, 1, 4, 4, 7, 3, "srun"),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun 2x4 with matching --node-rank 1",
	  VARS(SRUN_2X4("6", "2", "1")),
	  REQ(LT_AUTO, LT_AUTO, 1, NULL, 0),
	  { ADOPTED(8, 2, 1, 4, 4, 6, 2, "srun"),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun --ntasks-per-node=2 over 3 nodes",
	  VARS("SLURM_JOB_ID=5678", "SLURM_STEP_ID=1", "SLURM_NTASKS=6",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=5", "SLURM_LOCALID=1",
	      "SLURM_NODEID=2", "SLURM_JOB_NUM_NODES=3",
	      "SLURM_JOB_NODELIST=host-1,host-2,host-3"),
	  AUTO_REQ,
	  { ADOPTED(6, 3, 2, 2, 4, 5, 1, "srun"),
	    .main_addr = "host-1", .main_port = 24773 + 1, .job_id = "5678" },
	  NULL, NULL },
	{ "srun uneven 2(x3),1: the last node has one task",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=6", "SLURM_LOCALID=0", "SLURM_NODEID=3",
	      "SLURM_STEP_NUM_NODES=4", "SLURM_STEP_TASKS_PER_NODE=2(x3),1",
	      "SLURM_STEP_NODELIST=n[1-4]"),
	  AUTO_REQ,
	  { ADOPTED(7, 4, 3, 1, 6, 6, 0, "srun"),
	    .main_addr = "n1", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun uneven 2(x3),1: a middle node",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=3", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_STEP_NUM_NODES=4", "SLURM_STEP_TASKS_PER_NODE=2(x3),1",
	      "SLURM_STEP_NODELIST=n[1-4]"),
	  AUTO_REQ,
	  { ADOPTED(7, 4, 1, 2, 2, 3, 1, "srun"),
	    .main_addr = "n1", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun job-level SLURM_TASKS_PER_NODE when the step's is absent",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=5",
	      "SLURM_PROCID=4", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_NNODES=2", "SLURM_TASKS_PER_NODE=3,2",
	      "SLURM_JOB_NODELIST=a[1],b[2-3]"),
	  AUTO_REQ,
	  { ADOPTED(5, 2, 1, 2, 3, 4, 1, "srun"),
	    .main_addr = "a1", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun node count from host-1,host-2, even split",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=2", "SLURM_NTASKS=4",
	      "SLURM_PROCID=3", "SLURM_LOCALID=1", "SLURM_NODEID=1",
	      "SLURM_STEP_NODELIST=host-1,host-2"),
	  AUTO_REQ,
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "srun"),
	    .main_addr = "host-1", .main_port = 20061 + 2, .job_id = "1234" },
	  NULL, NULL },
	{ "srun step nodelist preferred over the job's",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2", "SLURM_JOB_NODELIST=gpu-node[001-004,010]",
	      "SLURM_STEP_NODELIST=gpu-node[003-004]"),
	  AUTO_REQ,
	  { ADOPTED(2, 2, 0, 1, 0, 0, 0, "srun"),
	    .main_addr = "gpu-node003", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun step inside salloc (SLURM_JOB_NAME=interactive)",
	  VARS("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=interactive",
	      "SLURM_STEP_ID=3", "SLURM_NTASKS=2", "SLURM_PROCID=1",
	      "SLURM_LOCALID=1", "SLURM_NODEID=0", "SLURM_STEP_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  AUTO_REQ,
	  { ADOPTED(2, 1, 0, 2, 0, 1, 1, "srun"),
	    .main_addr = "node7", .main_port = 20061 + 3, .job_id = "1234" },
	  NULL, NULL },
	{ "srun step inside salloc (SLURM_JOB_NAME=bash)",
	  VARS("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=bash", "SLURM_STEP_ID=0",
	      "SLURM_NTASKS=1", "SLURM_PROCID=0", "SLURM_LOCALID=0",
	      "SLURM_NODEID=0", "SLURM_JOB_NODELIST=node7"),
	  AUTO_REQ,
	  { ADOPTED(1, 1, 0, 1, 0, 0, 0, "srun"),
	    .main_addr = "node7", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "srun with MASTER_ADDR and MASTER_PORT",
	  VARS(SRUN_2X4("1", "1", "0"), "MASTER_ADDR=10.0.0.9", "MASTER_PORT=29500"),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 0, 4, 0, 1, 1, "srun"),
	    .main_addr = "10.0.0.9", .main_port = 29500, .job_id = "1234" },
	  NULL, NULL },
	{ "srun with --main-addr and --main-port",
	  VARS(SRUN_2X4("2", "2", "0"), "MASTER_ADDR=10.0.0.9"),
	  { .devices = LT_AUTO, .num_nodes = LT_AUTO, .node_rank = LT_AUTO,
	    .main_addr = "head", .main_port = 4242, .auto_devices = 1 },
	  { ADOPTED(8, 2, 0, 4, 0, 2, 2, "srun"),
	    .main_addr = "head", .main_port = 4242, .job_id = "1234" },
	  NULL, NULL },

	/* --- salloc shells and sbatch scripts: ltrun creates the ranks --- */
	{ "salloc shell: no SLURM_STEP_ID",
	  VARS("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=interactive",
	      "SLURM_NTASKS=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "node7", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "salloc bash shell with SLURM_PROCID but no step",
	  VARS("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=bash", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_JOB_NUM_NODES=1",
	      "SLURM_JOB_NODELIST=node7"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(2, 1, 0, 2, 0),
	    .main_addr = "node7", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "sbatch script on 2 nodes, --devices 4",
	  VARS("SLURM_JOB_ID=1234", "SLURM_JOB_NAME=job.sh", "SLURM_NTASKS=2",
	      "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=gpu-node[001-002]"),
	  REQ(4, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(8, 2, 0, 4, 0),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "batch step named 'batch'",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=batch", "SLURM_PROCID=0",
	      "SLURM_NTASKS=1", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "n9", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "batch step as its number 4294967291",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0",
	      "SLURM_NTASKS=1", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  REQ(3, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(3, 1, 0, 3, 0),
	    .main_addr = "n9", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "extern step",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=extern", "SLURM_PROCID=0",
	      "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "n9", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "interactive step as its number 4294967290",
	  VARS("SLURM_JOB_ID=1234", "SLURM_STEP_ID=4294967290", "SLURM_PROCID=0",
	      "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n9"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "n9", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "allocation: node count from gpu-node[001-004,010], SLURM_NODEID=2",
	  VARS("SLURM_JOB_ID=1234", "SLURM_NODEID=2",
	      "SLURM_JOB_NODELIST=gpu-node[001-004,010]"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(10, 5, 2, 2, 4),
	    .main_addr = "gpu-node001", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "allocation: --node-rank overrides SLURM_NODEID",
	  VARS("SLURM_JOB_ID=1234", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=host-1,host-2"),
	  REQ(3, 2, 1, NULL, 0),
	  { OWN(6, 2, 1, 3, 3),
	    .main_addr = "host-1", .main_port = 20061, .job_id = "1234" },
	  NULL, NULL },
	{ "allocation: SLURM_NNODES when SLURM_JOB_NUM_NODES is absent",
	  VARS("SLURM_JOB_ID=5678", "SLURM_NODEID=1", "SLURM_NNODES=3",
	      "SLURM_JOB_NODELIST=a[1],b[2-3]"),
	  AUTO_REQ,
	  { OWN(3, 3, 1, 1, 1),
	    .main_addr = "a1", .main_port = 24773, .job_id = "5678" },
	  NULL, NULL },
	{ "allocation without a node list: one node, localhost",
	  VARS("SLURM_NTASKS=1"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "127.0.0.1", .main_port = FREE_PORT, .job_id = "" },
	  NULL, NULL },

	/* --- malformed values --- */
	{ "SLURM_NTASKS=abc",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0",
				  "SLURM_NTASKS=abc", "SLURM_PROCID=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_NTASKS='abc'", NULL },
	{ "SLURM_NTASKS negative",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0",
				       "SLURM_NTASKS=-4", "SLURM_PROCID=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_NTASKS='-4'", NULL },
	{ "SLURM_NTASKS missing in an srun step",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_PROCID=0"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_NTASKS is not set", NULL },
	{ "SLURM_PROCID negative",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=-1"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_PROCID='-1'", NULL },
	{ "SLURM_PROCID >= SLURM_NTASKS",
	  VARS(SRUN_2X4("8", "0", "1")),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_PROCID='8': SLURM_NTASKS=8 allows 0 to 7", NULL },
	{ "SLURM_LOCALID missing",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_PROCID=0", "SLURM_NODEID=0"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_LOCALID is not set", NULL },
	{ "SLURM_NTASKS smaller than SLURM_NTASKS_PER_NODE",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=2",
	      "SLURM_NTASKS_PER_NODE=4", "SLURM_PROCID=1", "SLURM_LOCALID=1",
	      "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1", "SLURM_JOB_NODELIST=n1"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_NTASKS=2 is smaller than SLURM_NTASKS_PER_NODE=4", NULL },
	{ "SLURM_NTASKS more than SLURM_NTASKS_PER_NODE x nodes",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=8",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=5", "SLURM_LOCALID=1",
	      "SLURM_NODEID=1", "SLURM_STEP_NUM_NODES=2"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_NTASKS=8 is more than SLURM_NTASKS_PER_NODE=2 x 2 nodes (SLURM_STEP_NUM_NODES=2)", NULL },
	{ "--devices x --num-nodes disagrees with SLURM_NTASKS",
	  VARS(SRUN_2X4("0", "0", "0")),
	  REQ(8, 2, LT_AUTO, NULL, 0),
	  { 0 },
	  "--devices 8 x --num-nodes 2 = 16 ranks, but srun started SLURM_NTASKS=8", NULL },
	{ "--devices disagrees with the tasks on this node",
	  VARS(SRUN_2X4("0", "0", "0")),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { 0 },
	  "--devices 2 disagrees with srun, which started 4 ranks on this node (SLURM_NTASKS=8, SLURM_STEP_TASKS_PER_NODE=4(x2), SLURM_STEP_NUM_NODES=2)", NULL },
	{ "--num-nodes disagrees with the step",
	  VARS(SRUN_2X4("0", "0", "0")),
	  REQ(LT_AUTO, 3, LT_AUTO, NULL, 0),
	  { 0 },
	  "--num-nodes 3 disagrees with srun, which spans 2 nodes", NULL },
	{ "SLURM_LOCALID beyond the tasks of this node",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=8",
	      "SLURM_NTASKS_PER_NODE=4", "SLURM_PROCID=4", "SLURM_LOCALID=4",
	      "SLURM_NODEID=0", "SLURM_STEP_NUM_NODES=2"),
	  AUTO_REQ,
	  { 0 },
	  "srun gave local rank 4 of 4 on this node", NULL },
	{ "SLURM_NODEID beyond the step's nodes",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=4",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=1", "SLURM_LOCALID=1",
	      "SLURM_NODEID=2", "SLURM_STEP_NUM_NODES=2"),
	  AUTO_REQ,
	  { 0 },
	  "srun gave node 2 of 2 nodes", NULL },
	{ "cyclic task distribution",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=4",
	      "SLURM_NTASKS_PER_NODE=2", "SLURM_PROCID=1", "SLURM_LOCALID=0",
	      "SLURM_NODEID=1", "SLURM_STEP_NUM_NODES=2",
	      "SLURM_STEP_NODELIST=n[1-2]"),
	  AUTO_REQ,
	  { 0 },
	  "--distribution=block", NULL },
	{ "uneven split with no tasks-per-node variable",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=5",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_NTASKS=5 does not split evenly over 2 nodes", NULL },
	{ "malformed SLURM_STEP_TASKS_PER_NODE",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=6",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=3", "SLURM_STEP_TASKS_PER_NODE=2(x3"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_STEP_TASKS_PER_NODE='2(x3' at offset 4", NULL },
	{ "SLURM_STEP_TASKS_PER_NODE with a space",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=3",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_TASKS_PER_NODE=2, 1"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_STEP_TASKS_PER_NODE='2, 1' at offset 2", NULL },
	{ "SLURM_STEP_TASKS_PER_NODE shorter than SLURM_NODEID",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=7",
	      "SLURM_PROCID=6", "SLURM_LOCALID=0", "SLURM_NODEID=5",
	      "SLURM_STEP_NUM_NODES=6", "SLURM_STEP_TASKS_PER_NODE=2(x3),1"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_STEP_TASKS_PER_NODE='2(x3),1' lists 4 nodes, but SLURM_NODEID=5", NULL },
	{ "SLURM_STEP_ID=abc",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=abc", "SLURM_PROCID=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_STEP_ID='abc'", NULL },
	{ "SLURM_JOB_ID=x",
	  VARS("SLURM_JOB_ID=x"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_JOB_ID='x'", NULL },
	{ "descending step node list",
	  VARS("SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_NTASKS=1",
	      "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_NODEID=0",
	      "SLURM_STEP_NODELIST=node[3-1]", "SLURM_JOB_NODELIST=node[1-3]"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_STEP_NODELIST='node[3-1]': range 3-1 at offset 5 is descending", NULL },
	{ "descending job node list in an allocation",
	  VARS("SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=node[3-1]"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_JOB_NODELIST='node[3-1]': range 3-1 at offset 5 is descending", NULL },
	{ "unclosed node list",
	  VARS("SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=node[01-"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_JOB_NODELIST='node[01-': '[' at offset 4 is never closed", NULL },
	{ "allocation: --num-nodes disagrees with SLURM_JOB_NUM_NODES",
	  VARS("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  REQ(LT_AUTO, 3, LT_AUTO, NULL, 0),
	  { 0 },
	  "--num-nodes 3 disagrees with the allocation: SLURM_JOB_NUM_NODES=2", NULL },
	{ "allocation: SLURM_NODEID beyond the nodes",
	  VARS("SLURM_JOB_ID=1", "SLURM_NODEID=5", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  AUTO_REQ,
	  { 0 },
	  "SLURM_NODEID=5 is out of range for the allocation's 2 nodes (SLURM_JOB_NUM_NODES=2)", NULL },
	{ "allocation: --node-rank beyond the nodes",
	  VARS("SLURM_JOB_ID=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=2",
	      "SLURM_JOB_NODELIST=n[1-2]"),
	  REQ(LT_AUTO, LT_AUTO, 2, NULL, 0),
	  { 0 },
	  "node rank 2 is out of range for 2 nodes: use --node-rank 0 to 1", NULL },
	{ "allocation: SLURM_JOB_NUM_NODES=0",
	  VARS("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid SLURM_JOB_NUM_NODES='0'", NULL },
	{ "allocation of 2 nodes without a node list or MASTER_ADDR",
	  VARS("SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=2"),
	  AUTO_REQ,
	  { 0 },
	  "cannot tell the main address of a 2-node job", NULL },
	{ "MASTER_PORT out of range",
	  VARS(SRUN_2X4("0", "0", "0"), "MASTER_PORT=99999"),
	  AUTO_REQ,
	  { 0 },
	  "invalid MASTER_PORT='99999'", NULL },
};

ParameterizedTestParameters(env_slurm, resolve)
{
	return LT_TABLE_PARAMS(cases);
}

ParameterizedTest(size_t *i, env_slurm, resolve)
{
	check_resolve(&lt_env_slurm, &cases[*i]);
}

/* --- detect --- */

static const struct detect_case detect_cases[] = {
	{ "srun task", VARS("SLURM_JOB_ID=12", "SLURM_STEP_ID=0", "SLURM_PROCID=3"),
	  true, "a task started by srun" },
	{ "srun task inside salloc",
	  VARS("SLURM_JOB_ID=12", "SLURM_JOB_NAME=interactive", "SLURM_STEP_ID=1",
	      "SLURM_PROCID=0"),
	  true, "a task started by srun" },
	{ "salloc shell", VARS("SLURM_JOB_ID=12", "SLURM_JOB_NAME=interactive"),
	  true, "an sbatch script or salloc shell" },
	{ "sbatch batch step",
	  VARS("SLURM_JOB_ID=12", "SLURM_STEP_ID=batch", "SLURM_PROCID=0"), true,
	  "without an srun step" },
	{ "batch step by number",
	  VARS("SLURM_JOB_ID=12", "SLURM_STEP_ID=4294967291", "SLURM_PROCID=0"),
	  true, "without an srun step" },
	{ "step id without SLURM_PROCID", VARS("SLURM_JOB_ID=12", "SLURM_STEP_ID=0"),
	  true, "without an srun step" },
	{ "SLURM_NTASKS only", VARS("SLURM_NTASKS=4"), true, "SLURM_NTASKS is set" },
	{ "not slurm", VARS("HOME=/root", "SLURMISH=1"), false,
	  "neither SLURM_JOB_ID nor SLURM_NTASKS" },
	{ "empty environment", NO_VARS, false,
	  "neither SLURM_JOB_ID nor SLURM_NTASKS" },
};

ParameterizedTestParameters(env_slurm, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, env_slurm, detect)
{
	check_detect(&lt_env_slurm, &detect_cases[*i]);
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
		struct lt_request req = AUTO_REQ;

		cr_assert_eq(ops->resolve(&env, NULL, &req, &t, &err), 0, "rank %d: %s", r,
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
	struct lt_request req = AUTO_REQ;
	struct lt_topology t;
	struct lt_err err;
	size_t i;

	for (i = 0; i < LT_TABLE_LEN(steps); i++) {
		const char *vars[] = { "SLURM_JOB_ID=7", steps[i].step, "SLURM_PROCID=0",
				       "SLURM_LOCALID=0", "SLURM_NODEID=0", "SLURM_NTASKS=1",
				       "SLURM_STEP_NUM_NODES=1", "SLURM_JOB_NODELIST=n1", NULL };
		struct lt_envsrc env = { .vars = vars, .hostname = "n1" };

		cr_assert_eq(ops->resolve(&env, NULL, &req, &t, &err), 0, "%s: %s", steps[i].step,
			     err.msg);
		cr_expect_eq(t.main_port, steps[i].port, "%s: port %d, want %d", steps[i].step,
			     t.main_port, steps[i].port);
	}
}
