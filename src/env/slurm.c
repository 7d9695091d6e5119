/*
 * slurm.c - the `slurm` cluster environment.
 *
 * Two cases, told apart by SLURM_STEP_ID alone (never by SLURM_JOB_NAME,
 * which is "bash" or "interactive" for srun steps inside salloc too):
 *
 *  - a task of an srun step (SLURM_STEP_ID a step number, SLURM_PROCID
 *    set): srun created the ranks; ltrun adopts this one, reading its place
 *    from SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID and the
 *    step's node and task counts.  Tasks must be laid out by block
 *    (srun's default): node k holds consecutive ranks.
 *  - an salloc shell or an sbatch script (no SLURM_STEP_ID, or the batch,
 *    extern or interactive step): ltrun creates the ranks itself, on
 *    SLURM_JOB_NUM_NODES nodes, this one being SLURM_NODEID.
 *
 * The main address is the first host of the node list, the main port is
 * derived from SLURM_JOB_ID, so every node agrees without talking.
 */
#include "env/env.h"
#include "env/hostlist.h"
#include "core/error.h"
#include "core/parse.h"

#include <stdio.h>
#include <string.h>

#define SLURM_MAX_TASKS (1L << 24)
#define SLURM_MAX_NODES 65536L
/* Step ids from here up are Slurm's batch, extern, interactive... steps. */
#define SLURM_FIRST_SPECIAL_STEP 0xfffffff0L

/* An srun task's numbers, and the variables they came from. */
struct slurm_task {
	long ntasks, procid, localid, nodeid;
	long nodes, per_node, first; /* first: node's first rank, by block */
	char nodes_from[96];
	char per_node_from[128];
};

/* The node list, when Slurm gave one. */
struct slurm_nodes {
	struct lt_hostlist *hl;
	const char *var;
};

/* --- reading Slurm's variables --- */

/* Returns 1 when SLURM_STEP_ID names an srun step, 0 when it is unset or a
 * batch/extern/interactive step, -1 (err set) when it is malformed. */
static int read_step(const struct lt_envsrc *env, struct lt_err *err)
{
	static const char *const special[] = { "batch", "extern", "interactive" };
	const char *text = lt_env_get(env, "SLURM_STEP_ID");
	char q[LT_QUOTE_MAX];
	long step;
	size_t i;

	if (!text)
		return 0;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (!strcmp(text, special[i]))
			return 0;
	if (lt_parse_long(text, 0, 0xffffffffL, &step))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid SLURM_STEP_ID='%s': expected a step number, 'batch', 'extern' or 'interactive'",
				  lt_quote(q, sizeof(q), text));
	return step < SLURM_FIRST_SPECIAL_STEP;
}

/* Returns 1 for a task of an srun step, 0 otherwise, -1 on a bad step id. */
static int read_srun_task(const struct lt_envsrc *env, struct lt_err *err)
{
	int rc = read_step(env, err);

	if (rc <= 0)
		return rc;
	return lt_env_get(env, "SLURM_PROCID") != NULL;
}

/* Reads a variable srun always sets for its tasks. */
static int task_int(const struct lt_envsrc *env, const char *name, long min,
		    long max, long *out, struct lt_err *err)
{
	int rc = lt_env_int(env, name, min, max, out, err);

	if (rc == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s is not set, but SLURM_STEP_ID says srun started this process: run ltrun under srun, or unset SLURM_STEP_ID",
				  name);
	return rc < 0 ? -1 : 0;
}

/* The first of names[] that is set: 1 and *out, 0 when none is, -1. */
static int first_int(const struct lt_envsrc *env, const char *const *names,
		     long min, long max, long *out, const char **which,
		     struct lt_err *err)
{
	int rc;

	for (; *names; names++) {
		rc = lt_env_int(env, *names, min, max, out, err);
		if (rc) {
			*which = *names;
			return rc;
		}
	}
	return 0;
}

static int read_job_id(const struct lt_envsrc *env, struct lt_topology *t,
		       struct lt_err *err)
{
	long id;
	int rc = lt_env_int(env, "SLURM_JOB_ID", 0, 0xffffffffL, &id, err);

	if (rc > 0)
		snprintf(t->job_id, sizeof(t->job_id), "%ld", id);
	return rc < 0 ? -1 : 0;
}

/* Expands the node list; `step_first`: SLURM_STEP_NODELIST before
 * SLURM_JOB_NODELIST.  Leaves n->hl NULL when neither is set. */
static int read_nodes(const struct lt_envsrc *env, bool step_first,
		      struct slurm_nodes *n, struct lt_err *err)
{
	const char *first = step_first ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
	const char *second = step_first ? "SLURM_JOB_NODELIST" : "SLURM_STEP_NODELIST";
	const char *text = lt_env_get(env, first);

	n->hl = NULL;
	n->var = first;
	if (!text) {
		text = lt_env_get(env, second);
		n->var = second;
	}
	if (!text)
		return 0;
	n->hl = lt_hostlist_create(n->var, text, err);
	return n->hl ? 0 : -1;
}

/* --- SLURM_STEP_TASKS_PER_NODE: "2(x3),1" --- */

/* Reads up to 9 digits at *p into *out (at most max). */
static bool read_count(const char **p, long max, long *out)
{
	const char *s = *p;
	long v = 0;

	while (*s >= '0' && *s <= '9' && s - *p < 9)
		v = v * 10 + (*s++ - '0');
	if (s == *p || (*s >= '0' && *s <= '9') || v < 1 || v > max)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* One entry, "N" or "N(xR)", at *p. */
static bool read_entry(const char **p, long *count, long *reps)
{
	*reps = 1;
	if (!read_count(p, SLURM_MAX_TASKS, count))
		return false;
	if (**p != '(')
		return true;
	*p += 1;
	if (**p != 'x')
		return false;
	*p += 1;
	if (!read_count(p, SLURM_MAX_NODES, reps) || **p != ')')
		return false;
	*p += 1;
	return true;
}

/* Finds node `node`'s task count (*count) and the tasks on the nodes
 * before it (*before) in the tasks-per-node list `text` of variable `var`.
 * The whole text must be well-formed. */
static int tasks_on_node(const char *var, const char *text, long node,
			 long *count, long *before, struct lt_err *err)
{
	const char *p = text;
	long c, reps, nodes = 0, tasks = 0;
	char q[LT_QUOTE_MAX];

	*count = 0;
	for (;;) {
		if (!read_entry(&p, &c, &reps) || (*p && *p != ','))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "invalid %s='%s' at offset %ld: expected counts like 4 or 2(x3), separated by ','",
					  var, lt_quote(q, sizeof(q), text), (long)(p - text));
		if (*count == 0 && node < nodes + reps) {
			*count = c;
			*before = tasks + (node - nodes) * c;
		}
		nodes += reps;
		tasks += c * reps;
		if (nodes > SLURM_MAX_NODES || tasks > SLURM_MAX_TASKS)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "invalid %s='%s': more than %ld nodes or %ld tasks",
					  var, lt_quote(q, sizeof(q), text), SLURM_MAX_NODES,
					  SLURM_MAX_TASKS);
		if (!*p++)
			break;
	}
	if (*count == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s='%s' lists %ld node%s, but SLURM_NODEID=%ld: the step's variables disagree",
				  var, lt_quote(q, sizeof(q), text), nodes,
				  nodes == 1 ? "" : "s", node);
	return 0;
}

/* --- an srun task --- */

/* The step's node count: SLURM_STEP_NUM_NODES, the job's, or the list. */
static int task_nodes(const struct lt_envsrc *env, const struct slurm_nodes *n,
		      struct slurm_task *k, struct lt_err *err)
{
	static const char *const vars[] = { "SLURM_STEP_NUM_NODES",
					    "SLURM_JOB_NUM_NODES", "SLURM_NNODES",
					    NULL };
	const char *which;
	int rc = first_int(env, vars, 1, SLURM_MAX_NODES, &k->nodes, &which, err);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		snprintf(k->nodes_from, sizeof(k->nodes_from), "%s=%ld", which,
			 k->nodes);
		return 0;
	}
	if (!n->hl)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell how many nodes the srun step spans: SLURM_STEP_NUM_NODES, SLURM_JOB_NUM_NODES, SLURM_NNODES and SLURM_STEP_NODELIST are all unset");
	k->nodes = (long)lt_hostlist_count(n->hl);
	snprintf(k->nodes_from, sizeof(k->nodes_from), "%ld hosts in %s", k->nodes,
		 n->var);
	return 0;
}

/* Tasks on this node: SLURM_NTASKS_PER_NODE, the step's (or job's)
 * tasks-per-node list, or an even split of SLURM_NTASKS. */
static int task_per_node(const struct lt_envsrc *env, struct slurm_task *k,
			 struct lt_err *err)
{
	const char *var = "SLURM_STEP_TASKS_PER_NODE", *text;
	char q[LT_QUOTE_MAX];
	int rc = lt_env_int(env, "SLURM_NTASKS_PER_NODE", 1, SLURM_MAX_TASKS,
			    &k->per_node, err);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (k->ntasks < k->per_node)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "SLURM_NTASKS=%ld is smaller than SLURM_NTASKS_PER_NODE=%ld: srun started fewer tasks than one node should run; give srun --ntasks of at least %ld or a matching --ntasks-per-node",
					  k->ntasks, k->per_node, k->per_node);
		if (k->ntasks > k->per_node * k->nodes)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "SLURM_NTASKS=%ld is more than SLURM_NTASKS_PER_NODE=%ld x %ld nodes (%s): the step's variables disagree",
					  k->ntasks, k->per_node, k->nodes, k->nodes_from);
		k->first = k->nodeid * k->per_node;
		snprintf(k->per_node_from, sizeof(k->per_node_from),
			 "SLURM_NTASKS_PER_NODE=%ld", k->per_node);
		return 0;
	}
	text = lt_env_get(env, var);
	if (!text) {
		var = "SLURM_TASKS_PER_NODE";
		text = lt_env_get(env, var);
	}
	if (text) {
		if (tasks_on_node(var, text, k->nodeid, &k->per_node, &k->first, err))
			return -1;
		snprintf(k->per_node_from, sizeof(k->per_node_from), "%s=%s", var,
			 lt_quote(q, sizeof(q), text));
		return 0;
	}
	if (k->ntasks % k->nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell how many tasks run on this node: SLURM_NTASKS=%ld does not split evenly over %ld nodes (%s) and SLURM_NTASKS_PER_NODE and SLURM_STEP_TASKS_PER_NODE are unset; give srun --ntasks-per-node",
				  k->ntasks, k->nodes, k->nodes_from);
	k->per_node = k->ntasks / k->nodes;
	k->first = k->nodeid * k->per_node;
	snprintf(k->per_node_from, sizeof(k->per_node_from),
		 "SLURM_NTASKS=%ld split over %ld nodes", k->ntasks, k->nodes);
	return 0;
}

static int read_task(const struct lt_envsrc *env, const struct slurm_nodes *n,
		     struct slurm_task *k, struct lt_err *err)
{
	if (task_int(env, "SLURM_NTASKS", 1, SLURM_MAX_TASKS, &k->ntasks, err) ||
	    task_int(env, "SLURM_PROCID", 0, SLURM_MAX_TASKS, &k->procid, err) ||
	    task_int(env, "SLURM_LOCALID", 0, SLURM_MAX_TASKS, &k->localid, err) ||
	    task_int(env, "SLURM_NODEID", 0, SLURM_MAX_NODES - 1, &k->nodeid, err))
		return -1;
	if (k->procid >= k->ntasks)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid SLURM_PROCID='%ld': SLURM_NTASKS=%ld allows 0 to %ld",
				  k->procid, k->ntasks, k->ntasks - 1);
	if (task_nodes(env, n, k, err))
		return -1;
	return task_per_node(env, k, err);
}

/* --devices D and --num-nodes N both given: D x N must be SLURM_NTASKS. */
static int check_request_total(const struct lt_request *req,
			       const struct slurm_task *k, struct lt_err *err)
{
	long want;

	if (req->devices == LT_AUTO || req->num_nodes == LT_AUTO)
		return 0;
	want = (long)req->devices * req->num_nodes;
	if (want != k->ntasks)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--devices %d x --num-nodes %d = %ld ranks, but srun started SLURM_NTASKS=%ld: make srun's --ntasks match or change the flags",
				  req->devices, req->num_nodes, want, k->ntasks);
	return 0;
}

static int resolve_task(const struct lt_envsrc *env, const struct lt_request *req,
			const struct slurm_nodes *n, struct lt_topology *t,
			struct lt_err *err)
{
	struct slurm_task k = { 0 };
	char source[256];

	if (read_task(env, n, &k, err))
		return -1;
	/* One srun task per node with --devices N: this task is the node's
	 * agent, and ltrun starts the node's N ranks (train.sbatch does so). */
	if (k.per_node == 1 && req->devices != LT_AUTO && req->devices > 1) {
		if (req->num_nodes != LT_AUTO && req->num_nodes != k.nodes)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--num-nodes %d disagrees with srun, which started one task on each of %ld nodes (%s): drop --num-nodes or make them match",
					  req->num_nodes, k.nodes, k.nodes_from);
		if (req->node_rank != LT_AUTO && req->node_rank != k.nodeid)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--node-rank %d disagrees with srun, which placed this task on node %ld (SLURM_NODEID)",
					  req->node_rank, k.nodeid);
		return lt_topology_own_ranks(t, req, (int)k.nodes, (int)k.nodeid, err);
	}
	if (check_request_total(req, &k, err))
		return -1;
	t->external = true;
	snprintf(t->launcher, sizeof(t->launcher), "srun");
	t->world_size = (int)k.ntasks;
	t->rank = (int)k.procid;
	t->local_rank = (int)k.localid;
	t->node_rank = (int)k.nodeid;
	t->num_nodes = (int)k.nodes;
	t->local_world_size = (int)k.per_node;
	t->first_rank = (int)(k.procid - k.localid);
	snprintf(source, sizeof(source), "SLURM_NTASKS=%ld, %s, %s", k.ntasks,
		 k.per_node_from, k.nodes_from);
	if (lt_topology_check_adopted(t, req, source, err))
		return -1;
	if (t->first_rank != k.first)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "SLURM_PROCID=%ld with SLURM_LOCALID=%ld puts the first task of node %ld at rank %d, but by block it starts at rank %ld (%s): run srun with --distribution=block",
				  k.procid, k.localid, k.nodeid, t->first_rank, k.first,
				  source);
	return 0;
}

/* --- an salloc shell or sbatch script: ltrun creates the ranks --- */

static int alloc_nodes(const struct lt_envsrc *env, const struct lt_request *req,
		       const struct slurm_nodes *n, long *nodes, char *from,
		       size_t len, struct lt_err *err)
{
	static const char *const vars[] = { "SLURM_JOB_NUM_NODES", "SLURM_NNODES",
					    NULL };
	const char *which = NULL;
	int rc = first_int(env, vars, 1, SLURM_MAX_NODES, nodes, &which, err);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		snprintf(from, len, "%s=%ld", which, *nodes);
	} else if (n->hl) {
		*nodes = (long)lt_hostlist_count(n->hl);
		snprintf(from, len, "%s, which lists %ld host%s", n->var, *nodes,
			 *nodes == 1 ? "" : "s");
	} else {
		*nodes = req->num_nodes == LT_AUTO ? 1 : req->num_nodes;
		snprintf(from, len, "%s", req->num_nodes == LT_AUTO ?
			 "one node: SLURM_JOB_NUM_NODES and SLURM_JOB_NODELIST are unset" :
			 "--num-nodes");
		return 0;
	}
	if (req->num_nodes != LT_AUTO && req->num_nodes != *nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--num-nodes %d disagrees with the allocation: %s; drop --num-nodes or make them match",
				  req->num_nodes, from);
	return 0;
}

static int resolve_alloc(const struct lt_envsrc *env, const struct lt_request *req,
			 const struct slurm_nodes *n, struct lt_topology *t,
			 struct lt_err *err)
{
	long nodes, node_rank = 0;
	char from[128];
	int rc;

	if (alloc_nodes(env, req, n, &nodes, from, sizeof(from), err))
		return -1;
	rc = lt_env_int(env, "SLURM_NODEID", 0, SLURM_MAX_NODES - 1, &node_rank, err);
	if (rc < 0)
		return -1;
	if (req->node_rank != LT_AUTO)
		node_rank = req->node_rank;
	else if (rc > 0 && node_rank >= nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "SLURM_NODEID=%ld is out of range for the allocation's %ld node%s (%s): pass --node-rank",
				  node_rank, nodes, nodes == 1 ? "" : "s", from);
	return lt_topology_own_ranks(t, req, (int)nodes, (int)node_rank, err);
}

/* --- main address and port --- */

static int main_addr_port(const struct lt_envsrc *env, const struct lt_request *req,
			  const struct slurm_nodes *n, long step, struct lt_topology *t,
			  struct lt_err *err)
{
	const char *fallback = "127.0.0.1";
	char from[96], derived[128];
	int port;

	if (n->hl) {
		fallback = lt_hostlist_nth(n->hl, 0);
		snprintf(from, sizeof(from), "first host of %s", n->var);
	} else if (t->num_nodes == 1) {
		snprintf(from, sizeof(from), "this host (one node, no SLURM_JOB_NODELIST)");
	} else if (!req->main_addr && !lt_env_get(env, "MASTER_ADDR")) {
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell the main address of a %d-node job: SLURM_JOB_NODELIST and SLURM_STEP_NODELIST are unset; set MASTER_ADDR or pass --main-addr",
				  t->num_nodes);
	} else {
		snprintf(from, sizeof(from), "unknown");
	}
	if (lt_topology_main_addr(t, env, req, fallback, from, err))
		return -1;
	snprintf(derived, sizeof(derived), "derived from SLURM_JOB_ID=%s", t->job_id);
	port = lt_port_from_job_id(t->job_id);
	/* Steps of one job running at once must not share a port (nor, in
	 * agent.c, a token): the step id shifts the port, step 0 keeps it. */
	if (port && step > 0) {
		port = 20000 + (int)((port - 20000 + step) % 12768);
		snprintf(derived, sizeof(derived), "derived from SLURM_JOB_ID=%s and SLURM_STEP_ID=%ld",
			 t->job_id, step);
	}
	return lt_topology_main_port(t, env, req, port, derived, err);
}

/* --- the ops --- */

static bool slurm_detect(const struct lt_envsrc *env, const struct lt_params *params,
			 char *why, size_t whylen)
{
	const char *job = lt_env_get(env, "SLURM_JOB_ID");
	char q[LT_QUOTE_MAX];

	(void)params; /* no parameters */
	if (job && read_srun_task(env, NULL) == 1)
		snprintf(why, whylen, "SLURM_JOB_ID=%s, SLURM_STEP_ID and SLURM_PROCID are set: a task started by srun",
			 lt_quote(q, sizeof(q), job));
	else if (job)
		snprintf(why, whylen, "SLURM_JOB_ID=%s is set without an srun step: an sbatch script or salloc shell",
			 lt_quote(q, sizeof(q), job));
	else if (lt_env_get(env, "SLURM_NTASKS"))
		snprintf(why, whylen, "SLURM_NTASKS is set");
	else
		snprintf(why, whylen, "neither SLURM_JOB_ID nor SLURM_NTASKS is set");
	return job || lt_env_get(env, "SLURM_NTASKS");
}

static int slurm_resolve(const struct lt_envsrc *env, const struct lt_params *params,
			 const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	struct slurm_nodes n = { 0 };
	int task, rc = -1;

	(void)params; /* no parameters */
	lt_topology_init(t);
	if (!lt_env_get(env, "SLURM_JOB_ID") && !lt_env_get(env, "SLURM_NTASKS"))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "neither SLURM_JOB_ID nor SLURM_NTASKS is set: this is not a Slurm job; run ltrun inside sbatch, salloc or srun, or pick another environment with --cluster");
	if (read_job_id(env, t, err))
		return -1;
	task = read_srun_task(env, err);
	if (task < 0 || read_nodes(env, task, &n, err))
		return -1;
	if (task)
		rc = resolve_task(env, req, &n, t, err);
	else
		rc = resolve_alloc(env, req, &n, t, err);
	if (rc == 0) {
		long step = 0;
		struct lt_err ignored;
		if (task)
			lt_env_int(env, "SLURM_STEP_ID", 0, SLURM_FIRST_SPECIAL_STEP - 1, &step, &ignored);
		rc = main_addr_port(env, req, &n, step, t, err);
	}
	lt_hostlist_destroy(n.hl);
	return rc;
}

static const struct lt_cluster_ops slurm_ops = {
	.priority = LT_PRIO_SLURM,
	.detect = slurm_detect,
	.resolve = slurm_resolve,
};

const struct lt_plugin lt_env_slurm = {
	.kind = LT_KIND_CLUSTER,
	.name = "slurm",
	.description = "Slurm: adopts the tasks srun started, or starts the ranks itself inside an sbatch script or salloc shell",
	.recommended_when = "running under sbatch, salloc or srun",
	.ops = &slurm_ops,
};
