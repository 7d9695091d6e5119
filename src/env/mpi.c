/*
 * mpi.c - the `mpi` cluster environment: ranks started by an MPI launcher
 * (Open MPI's mpirun, MPICH's or Intel MPI's mpiexec, any PMIx launcher).
 *
 * The launcher created the ranks, so ltrun adopts them.  Where they are is
 * asked of PMIx when the launcher offers it (PMIX_RANK is set): PMIx knows
 * the node index, the node count and rank 0's host, so uneven layouts and
 * several nodes work without help.  libpmix is loaded with dlopen() only
 * then, never linked: linking it would cost every ltrun start about 6 ms.
 * The client stays up until exit (core/pmix_client.c).
 *
 * Without PMIx (it cannot be loaded, PMIx_Init fails, or the environment is
 * a given list rather than this process's), the launcher's variables are
 * read instead: OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE} (Open MPI)
 * or PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS (MPICH hydra).
 * They say nothing of nodes, so the layout must be uniform (the same number
 * of ranks on every node, placed by slot) and rank 0's host is known only
 * on a single node or from MASTER_ADDR.  OMPI_COMM_WORLD_NODE_RANK is not
 * used: it is a rank's index among the processes on its node, not the
 * node's index.  A build without PMIx (./configure --without-pmix) always
 * reads the variables, and says why when PMIX_RANK is set.
 */
#include "env/env.h"
#include "core/error.h"
#include "core/pmix_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More ranks than this is a typo, not a job (as in topology.c). */
#define MPI_MAX_RANKS (1L << 24)

/* Port when no job id gives one: torch's default, the same on every rank. */
#define MPI_DEFAULT_PORT 29500

#if LT_HAVE_PMIX
#define JOB_ID_MAX PMIX_MAX_NSLEN
/* What fixes a layout only PMIx could tell. */
#define PMIX_FIX "run where ltrun can load " LT_PMIX_SONAME
#else
#define JOB_ID_MAX 255 /* PMIx's PMIX_MAX_NSLEN */
#define PMIX_FIX "rebuild ltrun with PMIx (./configure --without-pmix left it out)"
#endif

/* Where this rank is, as the launcher said it. */
struct mpi_ids {
	long rank, size;             /* global */
	long local_rank, local_size; /* on this node */
	long node_id, num_nodes;     /* -1: unknown (only PMIx tells) */
	long stray;                  /* a rank in this node's range that PMIx
				      * places elsewhere, else -1 */
	char host0[256];             /* rank 0's host, "" when unknown */
	char job[JOB_ID_MAX + 1];    /* PMIx namespace, "" when unknown */
	const char *source;          /* where the numbers came from, in words */
};

/* The four variables a launcher without PMIx sets, in the order of
 * struct mpi_ids: rank, size, local rank, local size. */
static const char *const ompi_vars[] = {
	"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
	"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
};
static const char *const hydra_vars[] = {
	"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS",
};

static bool has(const struct lt_envsrc *env, const char *name)
{
	return lt_env_get(env, name) != NULL;
}

/* MPICH and Intel MPI's hydra: PMI_RANK/PMI_SIZE plus its local ids, which
 * srun --mpi=pmi2 never sets (hydra under Slurm inherits SLURM_*). */
static bool is_hydra(const struct lt_envsrc *env)
{
	return has(env, "PMI_RANK") && has(env, "PMI_SIZE") &&
	       has(env, "MPI_LOCALNRANKS");
}

/* ------------------------------------------------------------ detect */

static bool mpi_detect(const struct lt_envsrc *env, const struct lt_params *params,
		       char *why, size_t whylen)
{
	bool srun = has(env, "SLURM_STEP_ID") && has(env, "SLURM_PROCID");

	(void)params; /* no parameters */
	if (has(env, "OMPI_COMM_WORLD_SIZE")) {
		snprintf(why, whylen, "OMPI_COMM_WORLD_SIZE is set (Open MPI mpirun)");
		return true;
	}
	if (is_hydra(env)) {
		snprintf(why, whylen, "PMI_RANK, PMI_SIZE and MPI_LOCALNRANKS are set (MPICH mpiexec)");
		return true;
	}
	if (srun) {
		snprintf(why, whylen,
			 "SLURM_STEP_ID and SLURM_PROCID are set without OMPI_COMM_WORLD_SIZE: srun started this process (the slurm environment handles it)");
		return false;
	}
	if (has(env, "PMI_RANK") && has(env, "PMI_SIZE")) {
		snprintf(why, whylen, "PMI_RANK and PMI_SIZE are set (an MPI launcher)");
		return true;
	}
	if (has(env, "PMIX_RANK") && has(env, "PMIX_NAMESPACE")) {
		snprintf(why, whylen, "PMIX_RANK and PMIX_NAMESPACE are set (a PMIx launcher)");
		return true;
	}
	snprintf(why, whylen,
		 "none of OMPI_COMM_WORLD_SIZE, PMI_RANK with PMI_SIZE, PMIX_RANK with PMIX_NAMESPACE is set");
	return false;
}

/* -------------------------------------------------------------- PMIx */

#if LT_HAVE_PMIX

/* Converts an integer value of any type PMIx uses to a long in
 * [0, MPI_MAX_RANKS].  Returns 0, or -1 (not an integer, or out of range). */
static int pmix_value_long(const pmix_value_t *v, long *out)
{
	long long s;

	switch (v->type) {
	case PMIX_UINT8:	s = v->data.uint8; break;
	case PMIX_UINT16:	s = v->data.uint16; break;
	case PMIX_UINT32:	s = v->data.uint32; break;
	case PMIX_UINT:		s = v->data.uint; break;
	case PMIX_PROC_RANK:	s = v->data.rank; break;
	case PMIX_INT:		s = v->data.integer; break;
	case PMIX_INT8:		s = v->data.int8; break;
	case PMIX_INT16:	s = v->data.int16; break;
	case PMIX_INT32:	s = v->data.int32; break;
	case PMIX_INT64:	s = v->data.int64; break;
	case PMIX_UINT64:
		s = v->data.uint64 > MPI_MAX_RANKS ? -1 : (long long)v->data.uint64;
		break;
	case PMIX_SIZE:
		s = v->data.size > MPI_MAX_RANKS ? -1 : (long long)v->data.size;
		break;
	default:
		return -1;
	}
	if (s < 0 || s > MPI_MAX_RANKS)
		return -1;
	*out = (long)s;
	return 0;
}

/* Asks PMIx for key about proc, looking only in the data the server
 * already gave this client (PMIX_OPTIONAL), so that it never waits on a
 * peer.  Returns the value (free with pmix_value_release) or NULL. */
static pmix_value_t *pmix_fetch(const struct lt_pmix *lib,
				const pmix_proc_t *proc, const char *key)
{
	pmix_info_t opt;
	pmix_value_t *v = NULL;

	memset(&opt, 0, sizeof(opt));
	snprintf(opt.key, sizeof(opt.key), "%s", PMIX_OPTIONAL);
	opt.value.type = PMIX_BOOL;
	opt.value.data.flag = true;
	if (lib->get(proc, key, &opt, 1, &v) != PMIX_SUCCESS)
		return NULL;
	return v;
}

/* Reads key about proc as an integer.  Returns 0, or -1 (absent or not
 * an integer) with *out unchanged. */
static int pmix_get_long(const struct lt_pmix *lib, const pmix_proc_t *proc,
			 const char *key, long *out)
{
	pmix_value_t *v = pmix_fetch(lib, proc, key);
	int rc;

	if (!v)
		return -1;
	rc = pmix_value_long(v, out);
	lt_pmix_value_release(lib, v);
	return rc;
}

/* Copies rank 0's host name into ids->host0, or leaves it "". */
static void pmix_get_host0(const struct lt_pmix *lib, const pmix_proc_t *me,
			   struct mpi_ids *ids)
{
	pmix_proc_t zero = *me;
	pmix_value_t *v;

	zero.rank = 0;
	v = pmix_fetch(lib, &zero, PMIX_HOSTNAME);
	if (!v)
		return;
	if (v->type == PMIX_STRING && v->data.string)
		snprintf(ids->host0, sizeof(ids->host0), "%s", v->data.string);
	lt_pmix_value_release(lib, v);
}

/* Returns a rank in [first, first + ids->local_size) that PMIx does not
 * place on node ids->node_id, or -1 when they all are: ranks that are
 * dealt round-robin over nodes (mpirun --map-by node) are not consecutive.
 * PMIx gives the node of local peers only, so elsewhere reads as absent. */
static long pmix_find_stray(const struct lt_pmix *lib, const pmix_proc_t *me,
			    const struct mpi_ids *ids)
{
	pmix_proc_t peer = *me;
	long first = ids->rank - ids->local_rank, k, node;

	for (k = first; k >= 0 && k < first + ids->local_size; k++) {
		peer.rank = (pmix_rank_t)k;
		if (pmix_get_long(lib, &peer, PMIX_NODEID, &node) || node != ids->node_id)
			return k;
	}
	return -1;
}

/* Fills ids from an initialised PMIx client whose identity is me.
 * Returns 0, or -1 with why naming the key PMIx did not give. */
static int pmix_read_ids(const struct lt_pmix *lib, const pmix_proc_t *me,
			 struct mpi_ids *ids, char *why, size_t whylen)
{
	pmix_proc_t job = *me;
	const char *missing = NULL;

	job.rank = PMIX_RANK_WILDCARD;
	ids->rank = me->rank;
	if (me->rank >= (pmix_rank_t)MPI_MAX_RANKS)
		missing = "a valid rank from PMIx_Init";
	else if (pmix_get_long(lib, &job, PMIX_JOB_SIZE, &ids->size))
		missing = PMIX_JOB_SIZE;
	else if (pmix_get_long(lib, me, PMIX_LOCAL_RANK, &ids->local_rank))
		missing = PMIX_LOCAL_RANK;
	else if (pmix_get_long(lib, &job, PMIX_LOCAL_SIZE, &ids->local_size) &&
		 pmix_get_long(lib, me, PMIX_LOCAL_SIZE, &ids->local_size))
		missing = PMIX_LOCAL_SIZE;
	else if (ids->size < 1 || ids->local_size < 1)
		missing = "a job size and local size of at least 1";
	if (missing) {
		snprintf(why, whylen, "PMIx did not give %s", missing);
		return -1;
	}
	/* The node index and count are optional: without them the layout
	 * is derived as from the variables. */
	if (pmix_get_long(lib, me, PMIX_NODEID, &ids->node_id) ||
	    pmix_get_long(lib, &job, PMIX_NUM_NODES, &ids->num_nodes) ||
	    ids->node_id >= ids->num_nodes) {
		ids->node_id = -1;
		ids->num_nodes = -1;
	} else {
		ids->stray = pmix_find_stray(lib, me, ids);
	}
	pmix_get_host0(lib, me, ids);
	snprintf(ids->job, sizeof(ids->job), "%s", me->nspace);
	ids->source = "PMIx";
	return 0;
}

/* Asks PMIx where this rank is, starting the client the first time.
 * Returns 0, or -1 with why saying what failed. */
static int pmix_query(struct mpi_ids *ids, char *why, size_t whylen)
{
	const struct lt_pmix *lib = lt_pmix_client(why, whylen);

	if (!lib)
		return -1;
	return pmix_read_ids(lib, &lib->me, ids, why, whylen);
}
#else
/* PMIx is left out of this build: why says so. */
static int pmix_query(struct mpi_ids *ids, char *why, size_t whylen)
{
	(void)ids;
	lt_pmix_client(why, whylen);
	return -1;
}
#endif

/* --------------------------------------------------------- variables */

/* Reads rank, size, local rank and local size from names[0..3].
 * Returns 0, or -1 with err naming the missing or invalid variable. */
static int read_vars(const struct lt_envsrc *env, const char *const names[4],
		     struct mpi_ids *ids, struct lt_err *err)
{
	long *dst[4] = { &ids->rank, &ids->size, &ids->local_rank, &ids->local_size };
	static const long min[4] = { 0, 1, 0, 1 };
	int i, rc;

	for (i = 0; i < 4; i++) {
		rc = lt_env_int(env, names[i], min[i], MPI_MAX_RANKS, dst[i], err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "%s is not set: under an MPI launcher without PMIx ltrun needs %s, %s, %s and %s; start the ranks with mpirun or mpiexec, or force another environment with --cluster",
					  names[i], names[0], names[1], names[2], names[3]);
	}
	ids->source = names == ompi_vars ? "OMPI_COMM_WORLD_*"
		      : "PMI_RANK/PMI_SIZE/MPI_LOCALRANKID/MPI_LOCALNRANKS";
	return 0;
}

static int read_launcher_vars(const struct lt_envsrc *env, struct mpi_ids *ids,
			      struct lt_err *err)
{
	if (has(env, "OMPI_COMM_WORLD_SIZE"))
		return read_vars(env, ompi_vars, ids, err);
	if (has(env, "PMI_RANK"))
		return read_vars(env, hydra_vars, ids, err);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "no MPI launcher's variables are set (OMPI_COMM_WORLD_SIZE, PMI_RANK, PMIX_RANK): start ltrun under mpirun or mpiexec, or pick another environment with --cluster");
}

static bool has_launcher_vars(const struct lt_envsrc *env)
{
	return has(env, "OMPI_COMM_WORLD_SIZE") || has(env, "PMI_RANK");
}

/* PMIx first when the launcher offers it, else the launcher's variables.
 * PMIx answers for this process only: a given list of variables (a test,
 * a dry run for another node) is read as it is. */
static int read_ids(const struct lt_envsrc *env, struct mpi_ids *ids,
		    struct lt_err *err)
{
	bool own = !env || !env->vars;
	char why[256];

	memset(ids, 0, sizeof(*ids));
	ids->node_id = -1;
	ids->num_nodes = -1;
	ids->stray = -1;
	if (!has(env, "PMIX_RANK") || (!own && has_launcher_vars(env)))
		return read_launcher_vars(env, ids, err);
	if (!own)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "PMIX_RANK is set in the given environment, but PMIx answers only for this process: give OMPI_COMM_WORLD_* or PMI_* as well");
	if (pmix_query(ids, why, sizeof(why)) == 0)
		return 0;
	if (has_launcher_vars(env)) {
		lt_warn("PMIX_RANK is set but %s: using the launcher's variables, which say nothing of nodes",
			why);
		return read_launcher_vars(env, ids, err);
	}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "PMIX_RANK is set but %s: run ltrun under the launcher that set PMIX_RANK, or force another environment with --cluster",
			  why);
}

/* ---------------------------------------------------------- topology */

/* Sets ranks and nodes from ids.  Without a node index from PMIx the
 * layout must be uniform: world size a multiple of the local size. */
static int place_ranks(struct lt_topology *t, const struct mpi_ids *ids,
		       struct lt_err *err)
{
	t->rank = (int)ids->rank;
	t->world_size = (int)ids->size;
	t->local_rank = (int)ids->local_rank;
	t->local_world_size = (int)ids->local_size;
	t->first_rank = t->rank - t->local_rank;
	if (ids->node_id >= 0) {
		t->node_rank = (int)ids->node_id;
		t->num_nodes = (int)ids->num_nodes;
		return 0;
	}
	if (ids->size % ids->local_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell the nodes without PMIx: %ld ranks with %ld on this node (%s) is not a whole number of equal nodes; start the same number of ranks on every node, or " PMIX_FIX,
				  ids->size, ids->local_size, ids->source);
	t->num_nodes = (int)(ids->size / ids->local_size);
	t->node_rank = (int)(ids->rank / ids->local_size);
	return 0;
}

/* Each node's ranks must be consecutive, node after node (mpirun's
 * default, --map-by slot or core): the rest of ltrun counts a node's ranks
 * from first_rank.  PMIx checks that itself; without it, node n must hold
 * ranks n*local_size and up. */
static int check_layout(const struct lt_topology *t, const struct mpi_ids *ids,
			struct lt_err *err)
{
	int first = t->node_rank * t->local_world_size;

	if (t->first_rank < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave local rank %d to rank %d (%s): a rank cannot be below its local rank",
				  t->launcher, t->local_rank, t->rank, ids->source);
	if (ids->stray >= 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "ranks are not placed node after node: rank %d is local rank %d, yet rank %ld is on another node (%s); use mpirun --map-by slot, not --map-by node",
				  t->rank, t->local_rank, ids->stray, ids->source);
	if (ids->node_id < 0 && t->first_rank != first)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "ranks are not placed node after node: rank %d is local rank %d of %d (%s), so node %d does not hold ranks %d to %d; use mpirun --map-by slot, not --map-by node",
				  t->rank, t->local_rank, t->local_world_size, ids->source,
				  t->node_rank, first, first + t->local_world_size - 1);
	return 0;
}

static int mpi_main_addr(struct lt_topology *t, const struct lt_envsrc *env,
			 const struct lt_request *req, const struct mpi_ids *ids,
			 struct lt_err *err)
{
	char host[256];

	if (req->main_addr || has(env, "MASTER_ADDR") || ids->host0[0])
		return lt_topology_main_addr(t, env, req, ids->host0,
					     "rank 0's host, from PMIx", err);
	if (t->num_nodes != 1)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell rank 0's host under %s without PMIx: set MASTER_ADDR to it (mpirun -x MASTER_ADDR=HOST) or pass --main-addr",
				  t->launcher);
	if (lt_env_hostname(env, host, sizeof(host), err))
		return -1;
	return lt_topology_main_addr(t, env, req, host,
				     "this host (all ranks on one node)", err);
}

/* The job's id, the same on every rank: PMIx's namespace, else what the
 * launcher exports.  Returns "" when there is none. */
static const char *job_id(const struct lt_envsrc *env, const struct mpi_ids *ids,
			  const char **from)
{
	static const char *const names[] = {
		"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "PMI_JOBID",
	};
	const char *v;
	size_t i;

	*from = "the PMIx namespace";
	if (ids->job[0])
		return ids->job;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = lt_env_get(env, names[i]);
		if (v && *v) {
			*from = names[i];
			return v;
		}
	}
	return "";
}

static int mpi_main_port(struct lt_topology *t, const struct lt_envsrc *env,
			 const struct lt_request *req, const struct mpi_ids *ids,
			 struct lt_err *err)
{
	const char *from;
	const char *id = job_id(env, ids, &from);
	char words[96];

	snprintf(t->job_id, sizeof(t->job_id), "%.*s", (int)sizeof(t->job_id) - 1, id);
	if (!*id)
		return lt_topology_main_port(t, env, req, MPI_DEFAULT_PORT,
					     "default (no job id to derive one from)", err);
	snprintf(words, sizeof(words), "derived from the job id (%s)", from);
	return lt_topology_main_port(t, env, req, lt_port_from_job_id(id), words, err);
}

/* ----------------------------------------------------------- resolve */

static int mpi_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		       const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	struct mpi_ids ids;

	(void)params; /* no parameters */
	lt_topology_init(t);
	if (read_ids(env, &ids, err))
		return -1;
	t->external = true;
	snprintf(t->launcher, sizeof(t->launcher), "%s",
		 !has(env, "OMPI_COMM_WORLD_SIZE") && has(env, "PMI_RANK")
			 ? "mpiexec" : "mpirun");
	if (place_ranks(t, &ids, err) ||
	    lt_topology_check_adopted(t, req, ids.source, err) ||
	    check_layout(t, &ids, err))
		return -1;
	if (mpi_main_addr(t, env, req, &ids, err))
		return -1;
	return mpi_main_port(t, env, req, &ids, err);
}

static const struct lt_cluster_ops mpi_ops = {
	.priority = LT_PRIO_MPI,
	.detect = mpi_detect,
	.resolve = mpi_resolve,
};

const struct lt_plugin lt_env_mpi = {
	.kind = LT_KIND_CLUSTER,
	.name = "mpi",
	.description = "ranks started by mpirun or mpiexec (Open MPI, MPICH, Intel MPI), placed with PMIx when the launcher offers it",
	.recommended_when = "you start ltrun with mpirun -np N",
	.ops = &mpi_ops,
};
