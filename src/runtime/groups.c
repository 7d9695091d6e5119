/*
 * groups.c - hybrid sharding's communicators (groups.h), opened beside
 * the world's: the members find their nodes through the rendezvous
 * (comm/nodes.h, as the auto communicator does: the real membership,
 * never a rank numbering assumed node-major), then open
 *   "hybrid/node<k>"  shm over node k's ranks, in rank order
 *   "hybrid/rail<i>"  the ranks of local index i, one per node in node
 *                     order, over the run's communicator between nodes
 *                     (auto's choice, mpi or tcp, when --comm is auto)
 * A group of one member (a node of one rank, or one node) is a shm group
 * of one, which needs no network.
 */
#include "runtime/groups.h"
#include "comm/comm.h"
#include "comm/nodes.h"

#include <stdio.h>
#include <stdlib.h>

/* The backend of the cross groups: the run's --comm when it reaches
 * between nodes itself, else auto's inter-node choice (NULL with err when
 * this build has none). */
static const struct lt_comm_ops *cross_backend(const struct lt_ctx *ctx, const char **name,
					       struct lt_err *err)
{
	const struct lt_choice *c = &ctx->choice[LT_KIND_COMM];
	const struct lt_comm_ops *ops = c->base ? lt_comm_of(c) : NULL;

	if (!ops || ops == &lt_comm_auto || !ops->inter_node)
		return lt_comm_inter_backend(name, err);
	*name = c->base->name;
	return ops;
}

/* Refuses nodes of different sizes, naming every node's count. */
static int check_uniform(const struct lt_comm_nodes *n, struct lt_err *err)
{
	char counts[256];
	size_t len = 0;

	if (n->uniform)
		return 0;
	for (int k = 0; k < n->nnodes && len < sizeof(counts); k++)
		len += (size_t)snprintf(counts + len, sizeof(counts) - len, "%s%d",
					k ? (k == n->nnodes - 1 ? " and " : ", ") : "", n->count[k]);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "hybrid sharding needs the same number of ranks on every node, but its %d nodes run %s ranks: start as many ranks on each node (--nproc-per-node)",
			  n->nnodes, counts);
}

/* Opens both groups from the node map n over the world's args a. */
static int open_groups(struct lt_ctx *ctx, const struct lt_comm_args *a,
		       const struct lt_comm_nodes *n, int *group, struct lt_err *err)
{
	const struct lt_comm_ops *b = &lt_comm_shm;
	const char *bname = "shm";
	char name[32];
	int m, me;

	m = lt_comm_nodes_members(n, n->node_idx, group);
	snprintf(name, sizeof(name), "node%d", n->node_idx);
	ctx->node_comm = lt_comm_open_sub(&lt_comm_shm, "shm", a, name, n->local, m, group, err);
	if (!ctx->node_comm)
		return -1;
	m = lt_comm_nodes_rail(n, n->local, a->rank, group, &me);
	if (m > 1 && !(b = cross_backend(ctx, &bname, err)))
		return -1;
	snprintf(name, sizeof(name), "rail%d", n->local);
	ctx->cross_comm = lt_comm_open_sub(b, bname, a, name, me, m, group, err);
	return ctx->cross_comm ? 0 : -1;
}

int lt_groups_open(struct lt_ctx *ctx, struct lt_comm **node, struct lt_comm **cross,
		   struct lt_err *err)
{
	struct lt_comm_args a = {
		.rank = ctx->info.rank,
		.size = ctx->info.world_size,
		.scope = "hybrid",
		.rz = &ctx->rz,
		.run_id = ctx->info.run_id,
		.host = ctx->addr,
		.timeout_ms = ctx->rz.timeout_ms,
	};
	struct lt_comm_nodes n;
	int *group = NULL, rc = -1;

	if (!ctx->node_comm || !ctx->cross_comm) {
		lt_groups_close(ctx);
		if (lt_comm_nodes_find(&a, &n, err))
			return -1;
		group = calloc((size_t)a.size, sizeof(*group));
		if (!group)
			lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		else if (!check_uniform(&n, err))
			rc = open_groups(ctx, &a, &n, group, err);
		free(group);
		lt_comm_nodes_free(&n);
		if (rc) {
			lt_groups_close(ctx);
			return -1;
		}
	}
	*node = ctx->node_comm;
	*cross = ctx->cross_comm;
	return 0;
}

void lt_groups_close(struct lt_ctx *ctx)
{
	if (ctx->cross_comm)
		lt_comm_close(ctx->cross_comm);
	if (ctx->node_comm)
		lt_comm_close(ctx->node_comm);
	ctx->cross_comm = ctx->node_comm = NULL;
}
