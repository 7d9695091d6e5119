/*
 * groups.h - the communicators of hybrid sharding (FSDP's HYBRID_SHARD),
 * beside the world's ctx->comm: the ranks of this node, and the ranks of
 * the same local rank on every node.  A strategy opens them when it needs
 * them (every rank at the same point: opening is collective); they live
 * until lt_runtime_free.
 *
 *   node   the ranks of this node, in rank order (shared memory); under
 *          node-major numbering node_rank * local_world_size .. + local_world_size
 *          - 1, this rank's index in it its local rank
 *   cross  the ranks of this rank's index in its node group, one per node,
 *          in node order (the run's --comm between nodes, auto's choice
 *          under auto; one member on one node)
 *
 * Nodes are the real membership (comm/nodes.h: each rank's address
 * towards the store, ctx->addr, exchanged through the rendezvous), not a
 * rank numbering assumed node-major: srun's cyclic distribution gets the
 * groups of where its ranks run.  Scopes "hybrid/node<k>", "hybrid/rail<i>".
 * Every node must run the same number of ranks; otherwise opening fails
 * on every rank with a message naming the counts.
 */
#ifndef LT_RUNTIME_GROUPS_H
#define LT_RUNTIME_GROUPS_H

#include "runtime/ctx.h"

/* Opens ctx->node_comm and ctx->cross_comm when not yet open and returns
 * them.  0, or -1 with err. */
int lt_groups_open(struct lt_ctx *ctx, struct lt_comm **node, struct lt_comm **cross,
		   struct lt_err *err);
/* Closes them (lt_runtime_free calls it). */
void lt_groups_close(struct lt_ctx *ctx);

#endif
