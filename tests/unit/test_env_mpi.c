/*
 * test_env_mpi.c - the `mpi` cluster environment, fed the variables Open
 * MPI's mpirun and MPICH's mpiexec export to each rank.  Table-driven: each
 * case is an environment, a request and the topology (or error) it must
 * give.  These cases never reach PMIx (no PMIX_RANK, or a given list of
 * variables, which PMIx cannot answer for): the PMIx path needs a real
 * launcher and is exercised by the integration tests.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dlfcn.h>
#include <string.h>

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

#ifndef LT_PMIX_SONAME
#define LT_PMIX_SONAME "libpmix.so.2"
#endif

/* What mpirun -np SIZE (Open MPI 4.1) exports to rank RANK, the LR-th of
 * LS on its node.  OMPI_COMM_WORLD_NODE_RANK is the rank's index among the
 * processes on its node, like LOCAL_RANK: a trap for whoever takes it for
 * the node's index. */
#define OMPI(rank, size, lr, ls) \
	"OMPI_COMM_WORLD_RANK=" rank, "OMPI_COMM_WORLD_SIZE=" size, \
	"OMPI_COMM_WORLD_LOCAL_RANK=" lr, "OMPI_COMM_WORLD_LOCAL_SIZE=" ls, \
	"OMPI_COMM_WORLD_NODE_RANK=" lr, "OMPI_MCA_ess_base_jobid=12345"
/* What MPICH's hydra (mpiexec) exports. */
#define HYDRA(rank, size, lr, ls) \
	"PMI_RANK=" rank, "PMI_SIZE=" size, "MPI_LOCALRANKID=" lr, \
	"MPI_LOCALNRANKS=" ls, "PMI_FD=5"
/* Port derived from OMPI_MCA_ess_base_jobid=12345. */
#define JOB_PORT .main_port = 32408, .job_id = "12345", \
	.port_from = "derived from the job id (OMPI_MCA_ess_base_jobid)"

static const struct resolve_case resolve_cases[] = {
	{ "mpirun -np 4 on one node, rank 2",
	  VARS(OMPI("2", "4", "2", "4")), AUTO_REQ,
	  { ADOPTED(4, 1, 0, 4, 0, 2, 2, "mpirun"), .main_addr = "node7",
	    .addr_from = "this host (all ranks on one node)", JOB_PORT },
	  NULL, "node7.cluster.example.org" },
	{ "mpirun over 2 nodes x 2, rank 3 with MASTER_ADDR",
	  VARS(OMPI("3", "4", "1", "2"), "MASTER_ADDR=node0"), AUTO_REQ,
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "mpirun"), .main_addr = "node0",
	    .addr_from = "MASTER_ADDR", JOB_PORT },
	  NULL, NULL },
	{ "mpirun over 4 nodes x 1, rank 0 with MASTER_ADDR and MASTER_PORT",
	  VARS(OMPI("0", "4", "0", "1"), "MASTER_ADDR=10.0.0.1", "MASTER_PORT=4444"),
	  AUTO_REQ,
	  { ADOPTED(4, 4, 0, 1, 0, 0, 0, "mpirun"), .main_addr = "10.0.0.1",
	    .addr_from = "MASTER_ADDR", .main_port = 4444, .job_id = "12345",
	    .port_from = "MASTER_PORT" },
	  NULL, NULL },
	{ "--main-addr and --main-port win",
	  VARS(OMPI("3", "4", "1", "2"), "MASTER_ADDR=node0", "MASTER_PORT=1"),
	  REQ(2, 2, 1, "10.2.2.2", 7777),
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "mpirun"), .main_addr = "10.2.2.2",
	    .addr_from = "--main-addr", .main_port = 7777, .job_id = "12345",
	    .port_from = "--main-port" },
	  NULL, NULL },
	{ "MPICH mpiexec over 2 nodes x 2, rank 3",
	  VARS(HYDRA("3", "4", "1", "2"), "MASTER_ADDR=h0"), AUTO_REQ,
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "mpiexec"), .main_addr = "h0",
	    .addr_from = "MASTER_ADDR", .main_port = 29500,
	    .port_from = "default (no job id to derive one from)" },
	  NULL, NULL },
	{ "PMIX_RANK in a given environment: the variables, PMIx's namespace",
	  VARS(OMPI("1", "2", "1", "2"), "PMIX_RANK=1", "PMIX_NAMESPACE=1935474689"),
	  AUTO_REQ,
	  { ADOPTED(2, 1, 0, 2, 0, 1, 1, "mpirun"), .main_addr = "testhost",
	    .addr_from = "this host", .main_port = 25987, .job_id = "1935474689",
	    .port_from = "derived from the job id (PMIX_NAMESPACE)" },
	  NULL, NULL },
	{ "several nodes without PMIx or MASTER_ADDR",
	  VARS(OMPI("3", "4", "1", "2")), AUTO_REQ, { 0 },
	  "cannot tell rank 0's host under mpirun without PMIx: set MASTER_ADDR", NULL },
	{ "uneven nodes without PMIx",
	  VARS(OMPI("4", "5", "0", "2"), "MASTER_ADDR=n0"), AUTO_REQ, { 0 },
	  "cannot tell the nodes without PMIx: 5 ranks with 2 on this node", NULL },
	{ "ranks dealt round-robin over nodes (--map-by node)",
	  VARS(OMPI("1", "4", "0", "2"), "MASTER_ADDR=n0"), AUTO_REQ, { 0 },
	  "ranks are not placed node after node: rank 1 is local rank 0 of 2", NULL },
	{ "local rank above rank",
	  VARS(OMPI("0", "4", "1", "2"), "MASTER_ADDR=n0"), AUTO_REQ, { 0 },
	  "a rank cannot be below its local rank", NULL },
	{ "OMPI_COMM_WORLD_LOCAL_SIZE missing",
	  VARS("OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2",
	       "OMPI_COMM_WORLD_LOCAL_RANK=0"),
	  AUTO_REQ, { 0 }, "OMPI_COMM_WORLD_LOCAL_SIZE is not set", NULL },
	{ "OMPI_COMM_WORLD_RANK negative",
	  VARS(OMPI("-1", "2", "0", "2")), AUTO_REQ, { 0 },
	  "invalid OMPI_COMM_WORLD_RANK='-1'", NULL },
	{ "rank beyond the world",
	  VARS(OMPI("4", "4", "0", "4")), AUTO_REQ, { 0 }, "gave rank 4 of a world of 4",
	  NULL },
	{ "PMI_RANK without hydra's local ids",
	  VARS("PMI_RANK=0", "PMI_SIZE=2"), AUTO_REQ, { 0 }, "MPI_LOCALRANKID is not set",
	  NULL },
	{ "--devices disagrees with the ranks on this node",
	  VARS(OMPI("0", "4", "0", "4")), REQ(2, LT_AUTO, LT_AUTO, NULL, 0), { 0 },
	  "--devices 2 disagrees with mpirun, which started 4 ranks on this node", NULL },
	{ "--num-nodes disagrees",
	  VARS(OMPI("0", "4", "0", "4")), REQ(LT_AUTO, 2, LT_AUTO, NULL, 0), { 0 },
	  "--num-nodes 2 disagrees with mpirun", NULL },
	{ "PMIX_RANK alone in a given environment",
	  VARS("PMIX_RANK=0", "PMIX_NAMESPACE=ns"), AUTO_REQ, { 0 },
	  "PMIX_RANK is set in the given environment, but PMIx answers only for this process",
	  NULL },
	{ "no launcher's variables (forced with --cluster mpi)",
	  NO_VARS, AUTO_REQ, { 0 }, "no MPI launcher's variables are set", NULL },
};

static const struct detect_case detect_cases[] = {
	{ "Open MPI mpirun", VARS(OMPI("0", "2", "0", "2")), true, "OMPI_COMM_WORLD_SIZE" },
	{ "mpirun inside a Slurm step",
	  VARS(OMPI("0", "2", "0", "2"), "SLURM_STEP_ID=0", "SLURM_PROCID=0",
	       "PMIX_RANK=0", "PMIX_NAMESPACE=ns"),
	  true, "OMPI_COMM_WORLD_SIZE is set" },
	{ "srun --mpi=pmix: the slurm environment's",
	  VARS("SLURM_STEP_ID=0", "SLURM_PROCID=1", "SLURM_NTASKS=4", "PMIX_RANK=1",
	       "PMIX_NAMESPACE=slurm.pmix.42.0"),
	  false, "srun started this process" },
	{ "srun --mpi=pmi2: the slurm environment's",
	  VARS("SLURM_STEP_ID=0", "SLURM_PROCID=1", "PMI_RANK=1", "PMI_SIZE=4", "PMI_FD=7"),
	  false, "srun started this process" },
	{ "MPICH mpiexec inside a Slurm allocation",
	  VARS(HYDRA("3", "4", "1", "2"), "SLURM_STEP_ID=0", "SLURM_PROCID=0"), true,
	  "MPICH mpiexec" },
	{ "PMI_RANK and PMI_SIZE", VARS("PMI_RANK=0", "PMI_SIZE=2"), true,
	  "PMI_RANK and PMI_SIZE are set" },
	{ "a PMIx launcher", VARS("PMIX_RANK=0", "PMIX_NAMESPACE=prterun-1"), true,
	  "PMIX_RANK and PMIX_NAMESPACE are set" },
	{ "PMIX_RANK without a namespace", VARS("PMIX_RANK=0"), false, "none of" },
	{ "bare node", VARS("MASTER_ADDR=n0", "RANK=0"), false, "none of" },
	{ "empty environment", NO_VARS, false, "none of" },
};

ParameterizedTestParameters(mpi, resolve)
{
	return LT_TABLE_PARAMS(resolve_cases);
}

ParameterizedTest(size_t *i, mpi, resolve)
{
	check_resolve(&lt_env_mpi, &resolve_cases[*i]);
}

ParameterizedTestParameters(mpi, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, mpi, detect)
{
	check_detect(&lt_env_mpi, &detect_cases[*i]);
}

static bool pmix_loaded(void)
{
	void *h = dlopen(LT_PMIX_SONAME, RTLD_NOW | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* detect() must never call into PMIx, even when PMIx's variables are set. */
Test(mpi, detect_leaves_pmix_alone)
{
	const struct lt_cluster_ops *ops = lt_env_mpi.ops;
	struct lt_envsrc env = {
		.vars = VARS("PMIX_RANK=0", "PMIX_NAMESPACE=ns",
			     "PMIX_SERVER_URI41=pmix-server.1;tcp4://127.0.0.1:1"),
		.hostname = "testhost",
	};
	char why[256];

	cr_assert_not(pmix_loaded(), "%s is loaded before the test: it proves nothing",
		      LT_PMIX_SONAME);
	cr_assert(ops->detect(&env, NULL, why, sizeof(why)), "%s", why);
	cr_assert_not(pmix_loaded(), "detect() loaded %s", LT_PMIX_SONAME);
}

/* A given list of variables is read as it is: PMIx answers only for this
 * process, so resolve() does not load it either. */
Test(mpi, given_environment_leaves_pmix_alone)
{
	const struct lt_cluster_ops *ops = lt_env_mpi.ops;
	struct lt_envsrc env = {
		.vars = VARS(OMPI("0", "2", "0", "2"), "PMIX_RANK=0", "PMIX_NAMESPACE=ns"),
		.hostname = "testhost",
	};
	struct lt_request req = AUTO_REQ;
	struct lt_topology t;
	struct lt_err err = { 0 };

	cr_assert_eq(ops->resolve(&env, NULL, &req, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(t.world_size, 2);
	cr_assert_not(pmix_loaded(), "resolve() loaded %s for a given environment",
		      LT_PMIX_SONAME);
}

Test(mpi, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_mpi.ops;

	cr_assert_eq(lt_env_mpi.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_mpi.name, "mpi");
	cr_assert_eq(ops->priority, LT_PRIO_MPI);
	cr_assert_gt(ops->priority, LT_PRIO_SLURM, "mpirun inside an allocation is mpirun's");
	cr_assert_lt(ops->priority, LT_PRIO_TORCHELASTIC);
	cr_assert_not_null(lt_env_mpi.description);
	cr_assert_not_null(lt_env_mpi.recommended_when);
}
