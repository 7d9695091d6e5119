/*
 * ddp.c - the `ddp` strategy (also behind ddp_spawn and ddp_fork, which
 * differ only in how the ranks were started): the replicated default
 * (replicated.c) with gradients that travel in buckets during backward.
 *
 * Every rank holds a full replica.  At setup the parameters are broadcast
 * from rank 0, and the gradients are cut into buckets (ddp_buckets.c) of
 * about the `bucket_mb` parameter (default: --bucket-mb): consecutive
 * parameters taken in reverse registration order (the order backward
 * completes them), each bucket one contiguous range of the gradient
 * arena (runtime/ctx.h), in the compute dtype (half the bytes
 * under 16-mixed and bf16-mixed); a parameter larger than a bucket is cut
 * into buckets of its own, its last elements first.  On the step's last
 * micro-batch, the moment a bucket's last element is marked ready
 * (lt_grad_ready, or lt_grad_ready_range for part of a tensor: a tensor
 * stacking every layer sends its last layers while backward goes on) its
 * all-reduce (a sum of gradients each rank pre-divided by the world size
 * through the loss scale) is queued on the communicator's worker thread and
 * travels while backward goes on; buckets are started strictly in order,
 * so every rank queues the same sequence (bucket_send.c).  sync() starts what is left and
 * waits (the runtime counts that time in ctx->comm_wait_s).
 *
 * Micro-batches that do not end a step (gradient accumulation) never
 * communicate.
 */
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/runtime.h"
#include "strategy/builtin.h"
#include "strategy/bucket_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ddp {
	struct lt_bucket_queue q;
};

static int ddp_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	(void)ctx, (void)p;
	*state = calloc(1, sizeof(struct ddp));
	return *state ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
}

static int ddp_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		     struct lt_strategy_layout *layout, struct lt_err *err)
{
	struct ddp *d = state;
	size_t n = ctx->nparams, esz = lt_dtype_size(ctx->dtype);
	size_t most = lt_ddp_max_buckets(ctx->params, n, esz, lt_buckets_cap(ctx, p));

	d->q.buckets = calloc(most ? most : 1, sizeof(*d->q.buckets));
	if (!d->q.buckets)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu DDP buckets", most);
	d->q.nbuckets = lt_ddp_cut_buckets(ctx->params, n, esz, lt_buckets_cap(ctx, p), d->q.buckets);
	if (ctx->cfg->verbose && ctx->info.rank == 0)
		fprintf(stderr, "ltrun: ddp: %zu gradient bucket%s of at most %zu bytes\n", d->q.nbuckets,
			d->q.nbuckets == 1 ? "" : "s", lt_buckets_cap(ctx, p));
	/* Every rank starts from rank 0's values: the default's setup. */
	return lt_strategy_default()->setup(ctx, NULL, p, layout, err);
}

static int ddp_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			  struct lt_err *err)
{
	struct ddp *d = state;

	(void)p;
	if (t->bucket < 0 || t->ready)
		return 0;
	t->ready = true;
	lt_ddp_mark_ready(d->q.buckets, t, 0, (size_t)t->numel, lt_dtype_size(ctx->dtype));
	return lt_buckets_launch_ready(ctx, &d->q, err);
}

/* Part of a tensor is ready (ltrun checked that no element comes twice):
 * the buckets holding it may start. */
static int ddp_grad_ready_range(lt_ctx *ctx, void *state, const struct lt_params *p,
				lt_tensor *t, size_t first, size_t count, struct lt_err *err)
{
	struct ddp *d = state;

	(void)p;
	if (t->bucket < 0)
		return 0;
	lt_ddp_mark_ready(d->q.buckets, t, first, count, lt_dtype_size(ctx->dtype));
	return lt_buckets_launch_ready(ctx, &d->q, err);
}

static int ddp_sync(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	(void)p;
	return lt_buckets_finish(ctx, &((struct ddp *)state)->q, err);
}

static void ddp_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	struct ddp *d = state;

	(void)ctx, (void)p;
	if (!d)
		return;
	lt_buckets_drain(&d->q);
	free(d->q.buckets);
	free(d);
}

/* The ops ddp's catalog entry points at (catalog.c): the rest is the
 * replicated default's. */
const struct lt_strategy_ops lt_strategy_ddp_ops = {
	.launcher = "exec",
	.multi_rank = true,
	.init = ddp_init,
	.setup = ddp_setup,
	.grad_ready = ddp_grad_ready,
	.grad_ready_range = ddp_grad_ready_range,
	.sync = ddp_sync,
	.teardown = ddp_teardown,
};
