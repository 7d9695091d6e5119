/*
 * lightning.c - the `lightning` cluster environment: a bare node, or nodes
 * the user lines up by hand (Lightning's LightningEnvironment).  It always
 * detects itself, at the lowest priority: it is what is left when no
 * launcher's variables are set.
 *
 * Usually ltrun creates the ranks: --devices per node on --num-nodes nodes
 * (default 1), this node being --node-rank, else NODE_RANK, else 0.  On one
 * node the ranks meet on 127.0.0.1 at a free port; across nodes at
 * --main-addr or MASTER_ADDR (node 0 may use its own name) and --main-port,
 * MASTER_PORT or 29500, torchrun's default, so that every node agrees.
 *
 * When LOCAL_RANK is set, the user's own launcher created the ranks and
 * ltrun adopts them (launcher "user"):
 *   LOCAL_RANK        this rank's index on its node (required: the trigger)
 *   WORLD_SIZE        ranks in the job; else LOCAL_WORLD_SIZE (or --devices)
 *                     x --num-nodes when both are given; else an error
 *   LOCAL_WORLD_SIZE  ranks per node; else --devices; else WORLD_SIZE
 *                     divided by --num-nodes (default 1)
 *   NODE_RANK         else RANK / LOCAL_WORLD_SIZE, else 0
 *   RANK              else NODE_RANK * LOCAL_WORLD_SIZE + LOCAL_RANK
 * The nodes are WORLD_SIZE / LOCAL_WORLD_SIZE, and each node's ranks must
 * be consecutive.  Every rank computes the same main port (MASTER_PORT or
 * 29500): a free port would differ from rank to rank.
 */
#include "env/env.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

/* More ranks than this is a typo, not a job (as in topology.c). */
#define LN_MAX (1L << 24)

/* Port for several nodes, or for ranks the user started: torchrun's. */
#define LN_DEFAULT_PORT 29500

static const char ln_source[] =
	"RANK/LOCAL_RANK/WORLD_SIZE/LOCAL_WORLD_SIZE from your launcher";

/* ------------------------------------------------------------ detect */

static bool ln_detect(const struct lt_envsrc *env, const struct lt_params *params,
		      char *why, size_t whylen)
{
	static const char *const vars[] = {
		"MASTER_ADDR", "MASTER_PORT", "NODE_RANK",
		"LOCAL_RANK",  "WORLD_SIZE",  "RANK",
	};
	char set[128]; /* room for all of vars */
	size_t i, n = 0;

	(void)params; /* no parameters */
	set[0] = '\0';
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (lt_env_get(env, vars[i]))
			n += (size_t)snprintf(set + n, sizeof(set) - n, "%s%s",
					      n ? ", " : "", vars[i]);
	if (n)
		snprintf(why, whylen, "no launcher's variables set: bare node (with %s)", set);
	else
		snprintf(why, whylen, "no launcher's variables set: bare node");
	return true;
}

/* ------------------------------------------------- ranks ltrun creates */

/* --node-rank, else NODE_RANK, else 0; both given must agree. */
static int ln_node_rank(const struct lt_envsrc *env, const struct lt_request *req,
			int *out, struct lt_err *err)
{
	long v;
	int rc = lt_env_int(env, "NODE_RANK", 0, LN_MAX, &v, err);

	if (rc < 0)
		return -1;
	if (rc > 0 && req->node_rank != LT_AUTO && req->node_rank != v)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--node-rank %d disagrees with NODE_RANK=%ld: drop one or make them match",
				  req->node_rank, v);
	if (req->node_rank != LT_AUTO)
		*out = req->node_rank;
	else
		*out = rc > 0 ? (int)v : 0;
	return 0;
}

static int ln_own(const struct lt_envsrc *env, const struct lt_request *req,
		  struct lt_topology *t, struct lt_err *err)
{
	int nodes = req->num_nodes != LT_AUTO ? req->num_nodes : 1;
	int node = 0;
	long world;
	int rc;

	if (ln_node_rank(env, req, &node, err) ||
	    lt_topology_own_ranks(t, req, nodes, node, err))
		return -1;
	rc = lt_env_int(env, "WORLD_SIZE", 1, LN_MAX, &world, err);
	if (rc < 0)
		return -1;
	if (rc > 0 && world != t->world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "WORLD_SIZE=%ld disagrees with the %d rank%s ltrun starts (%d node%s x %d): unset WORLD_SIZE, or pass --num-nodes and --devices that match it",
				  world, t->world_size, t->world_size == 1 ? "" : "s",
				  t->num_nodes, t->num_nodes == 1 ? "" : "s",
				  t->local_world_size);
	return 0;
}

/* ---------------------------------------------- ranks the user started */

/* What the user's launcher said; -1 where it said nothing. */
struct ln_user {
	long local_rank, rank, world, local_world, node;
};

/* Reads name into *out, leaving -1 when unset.  Returns 0, or -1 with err
 * naming the variable and its value when it is not a number >= min. */
static int ln_opt(const struct lt_envsrc *env, const char *name, long min,
		  long *out, struct lt_err *err)
{
	*out = -1;
	return lt_env_int(env, name, min, LN_MAX, out, err) < 0 ? -1 : 0;
}

static int ln_user_read(const struct lt_envsrc *env, struct ln_user *u,
			struct lt_err *err)
{
	if (ln_opt(env, "LOCAL_RANK", 0, &u->local_rank, err) ||
	    ln_opt(env, "RANK", 0, &u->rank, err) ||
	    ln_opt(env, "WORLD_SIZE", 1, &u->world, err) ||
	    ln_opt(env, "LOCAL_WORLD_SIZE", 1, &u->local_world, err) ||
	    ln_opt(env, "NODE_RANK", 0, &u->node, err))
		return -1;
	return 0;
}

/* Without WORLD_SIZE: ranks per node (LOCAL_WORLD_SIZE, else --devices)
 * times --num-nodes, when both are given.  Returns 0, or -1 with err
 * naming WORLD_SIZE and both ways to give it. */
static int ln_user_world(const struct lt_request *req, struct ln_user *u,
			 struct lt_err *err)
{
	long per_node = u->local_world > 0 ? u->local_world : req->devices;

	if (u->world > 0)
		return 0;
	if (per_node > 0 && req->num_nodes > 0) {
		if (per_node * req->num_nodes > LN_MAX)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "%ld ranks per node x --num-nodes %d is more than %ld ranks",
					  per_node, req->num_nodes, LN_MAX);
		u->world = per_node * req->num_nodes;
		return 0;
	}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "LOCAL_RANK is set, so your own launcher started the ranks, but WORLD_SIZE is not: set WORLD_SIZE, or pass --num-nodes N and --devices D (or set LOCAL_WORLD_SIZE) for a world of D x N; or unset LOCAL_RANK to let ltrun start the ranks");
}

/* Fills in LOCAL_WORLD_SIZE and the node count.  Returns 0, or -1 with
 * err set when the ranks do not split evenly over the nodes. */
static int ln_user_sizes(const struct lt_request *req, struct ln_user *u,
			 int *nodes, struct lt_err *err)
{
	long n = req->num_nodes > 0 ? req->num_nodes : 1;

	if (u->local_world < 0 && req->devices > 0)
		u->local_world = req->devices;
	if (u->local_world < 0) {
		if (u->world % n)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "WORLD_SIZE=%ld does not split over %ld nodes: set LOCAL_WORLD_SIZE",
					  u->world, n);
		u->local_world = u->world / n;
	}
	if (u->world % u->local_world)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "WORLD_SIZE=%ld is not a multiple of %ld ranks per node (LOCAL_WORLD_SIZE or --devices): ltrun needs the same number of ranks on every node",
				  u->world, u->local_world);
	*nodes = (int)(u->world / u->local_world);
	return 0;
}

/* Each node's ranks are consecutive: node n holds n*LOCAL_WORLD_SIZE on. */
static int ln_user_layout(const struct lt_topology *t, struct lt_err *err)
{
	int first = t->node_rank * t->local_world_size;

	if (t->first_rank == first)
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "RANK=%d with LOCAL_RANK=%d disagrees with node %d, which holds ranks %d to %d (%s): fix RANK or NODE_RANK",
			  t->rank, t->local_rank, t->node_rank, first,
			  first + t->local_world_size - 1, ln_source);
}

static int ln_user(const struct lt_envsrc *env, const struct lt_request *req,
		   struct lt_topology *t, struct lt_err *err)
{
	struct ln_user u;

	if (ln_user_read(env, &u, err) || ln_user_world(req, &u, err) ||
	    ln_user_sizes(req, &u, &t->num_nodes, err))
		return -1;
	if (u.node < 0)
		u.node = u.rank >= 0 ? u.rank / u.local_world : 0;
	if (u.node >= t->num_nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "node %ld is out of range for WORLD_SIZE=%ld at %ld ranks per node: fix NODE_RANK or RANK",
				  u.node, u.world, u.local_world);
	if (u.rank < 0)
		u.rank = u.node * u.local_world + u.local_rank;
	t->external = true;
	snprintf(t->launcher, sizeof(t->launcher), "user");
	t->world_size = (int)u.world;
	t->local_world_size = (int)u.local_world;
	t->node_rank = (int)u.node;
	t->rank = (int)u.rank;
	t->local_rank = (int)u.local_rank;
	t->first_rank = t->rank - t->local_rank;
	if (lt_topology_check_adopted(t, req, ln_source, err))
		return -1;
	return ln_user_layout(t, err);
}

/* --------------------------------------------------- main addr and port */

/* --main-addr or MASTER_ADDR; else loopback on one node, this host on
 * node 0 of several; other nodes cannot guess node 0's address. */
static int ln_main_addr(struct lt_topology *t, const struct lt_envsrc *env,
			const struct lt_request *req, struct lt_err *err)
{
	char host[256];

	if (req->main_addr || lt_env_get(env, "MASTER_ADDR"))
		return lt_topology_main_addr(t, env, req, "", "", err);
	if (t->num_nodes == 1)
		return lt_topology_main_addr(t, env, req, "127.0.0.1",
					     "single node: loopback", err);
	if (t->node_rank > 0 && req->num_nodes != LT_AUTO)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--num-nodes %d needs --main-addr (the address of node 0) on node %d",
				  t->num_nodes, t->node_rank);
	if (t->node_rank > 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%d nodes need MASTER_ADDR or --main-addr (the address of node 0) on node %d",
				  t->num_nodes, t->node_rank);
	if (lt_env_hostname(env, host, sizeof(host), err))
		return -1;
	return lt_topology_main_addr(t, env, req, host, "this host (node 0)", err);
}

/* --main-port or MASTER_PORT; else a free port when ltrun starts the ranks
 * of a single node, else 29500 so that every node and rank agrees. */
static int ln_main_port(struct lt_topology *t, const struct lt_envsrc *env,
			const struct lt_request *req, struct lt_err *err)
{
	if (t->num_nodes > 1)
		return lt_topology_main_port(t, env, req, LN_DEFAULT_PORT,
					     "default for several nodes", err);
	if (t->external)
		return lt_topology_main_port(t, env, req, LN_DEFAULT_PORT,
					     "default for ranks your launcher started", err);
	return lt_topology_main_port(t, env, req, 0, "", err);
}

/* ----------------------------------------------------------- resolve */

static int ln_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		      const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	(void)params; /* no parameters */
	lt_topology_init(t);
	if (lt_env_get(env, "LOCAL_RANK") ? ln_user(env, req, t, err)
					  : ln_own(env, req, t, err))
		return -1;
	if (ln_main_addr(t, env, req, err))
		return -1;
	return ln_main_port(t, env, req, err);
}

static const struct lt_cluster_ops ln_ops = {
	.priority = LT_PRIO_LIGHTNING,
	.detect = ln_detect,
	.resolve = ln_resolve,
};

const struct lt_plugin lt_env_lightning = {
	.kind = LT_KIND_CLUSTER,
	.name = "lightning",
	.description = "a bare node, or nodes lined up by hand with --num-nodes, --node-rank and --main-addr (or MASTER_ADDR, NODE_RANK)",
	.recommended_when = "no cluster manager: a workstation, or a few machines you start one by one",
	.ops = &ln_ops,
};
