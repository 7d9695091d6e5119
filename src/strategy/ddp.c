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
 * so every rank queues the same sequence.  sync() starts what is left and
 * waits (the runtime counts that time in ctx->comm_wait_s).
 *
 * Micro-batches that do not end a step (gradient accumulation) never
 * communicate.
 */
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/runtime.h"
#include "strategy/builtin.h"
#include "strategy/ddp_buckets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ddp {
	struct lt_bucket *buckets;
	size_t nbuckets;
	size_t next_launch; /* first bucket not started yet */
};

static int ddp_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	(void)ctx, (void)p;
	*state = calloc(1, sizeof(struct ddp));
	return *state ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
}

/* The bucket size: the `bucket_mb` parameter when given, else --bucket-mb. */
static size_t bucket_cap(const struct lt_ctx *ctx, const struct lt_params *p)
{
	double mb = lt_params_given(p, "bucket_mb") ? lt_params_float(p, "bucket_mb")
						    : ctx->cfg->bucket_mb;
	size_t cap = (size_t)(mb * 1048576.0);

	return cap < 4096 ? 4096 : cap;
}

static int ddp_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		     struct lt_strategy_layout *layout, struct lt_err *err)
{
	struct ddp *d = state;
	size_t n = ctx->nparams, esz = lt_dtype_size(ctx->dtype);
	size_t most = lt_ddp_max_buckets(ctx->params, n, esz, bucket_cap(ctx, p));

	d->buckets = calloc(most ? most : 1, sizeof(*d->buckets));
	if (!d->buckets)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu DDP buckets", most);
	d->nbuckets = lt_ddp_cut_buckets(ctx->params, n, esz, bucket_cap(ctx, p), d->buckets);
	if (ctx->cfg->verbose && ctx->info.rank == 0)
		fprintf(stderr, "ltrun: ddp: %zu gradient bucket%s of at most %zu bytes\n", d->nbuckets,
			d->nbuckets == 1 ? "" : "s", bucket_cap(ctx, p));
	/* Every rank starts from rank 0's values: the default's setup. */
	return lt_strategy_default()->setup(ctx, NULL, p, layout, err);
}

static int launch(struct lt_ctx *ctx, struct lt_bucket *b, struct lt_err *err)
{
	/* The all-reduce reads what the device has written. */
	if (ctx->accel->sync(err))
		return -1;
	/* A sum: every rank's gradient is already divided by the world size
	 * through the loss scale (loop.c), so a sum of f16 gradients stays in
	 * the range of one rank's. */
	b->req = lt_comm_start(ctx->comm, LT_COLL_ALL_REDUCE, b->begin, b->begin,
			       b->bytes / lt_dtype_size(ctx->dtype), ctx->dtype, LT_SUM, 0, err);
	return b->req ? 0 : -1;
}

/* Starts every ready bucket that all earlier buckets precede. */
static int launch_ready(struct lt_ctx *ctx, struct ddp *d, struct lt_err *err)
{
	while (d->next_launch < d->nbuckets && !d->buckets[d->next_launch].pending) {
		if (launch(ctx, &d->buckets[d->next_launch], err))
			return -1;
		d->next_launch++;
	}
	return 0;
}

static int ddp_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			  struct lt_err *err)
{
	struct ddp *d = state;

	(void)p;
	if (t->bucket < 0 || t->ready)
		return 0;
	t->ready = true;
	lt_ddp_mark_ready(d->buckets, t, 0, (size_t)t->numel, lt_dtype_size(ctx->dtype));
	return launch_ready(ctx, d, err);
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
	lt_ddp_mark_ready(d->buckets, t, first, count, lt_dtype_size(ctx->dtype));
	return launch_ready(ctx, d, err);
}

static int ddp_sync(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	struct ddp *d = state;
	int rc = 0;
	size_t i;

	(void)p;
	for (i = 0; i < d->nbuckets; i++)
		d->buckets[i].pending = 0;
	if (launch_ready(ctx, d, err))
		rc = -1;
	for (i = 0; i < d->nbuckets; i++) {
		struct lt_bucket *b = &d->buckets[i];
		struct lt_err e2;
		if (b->req && lt_comm_wait(b->req, rc ? &e2 : err))
			rc = -1;
		b->req = NULL;
		b->pending = b->elems;
	}
	for (i = 0; i < ctx->nparams; i++)
		ctx->params[i]->ready = false;
	d->next_launch = 0;
	return rc;
}

static void ddp_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	struct ddp *d = state;

	(void)ctx, (void)p;
	if (!d)
		return;
	for (size_t i = 0; i < d->nbuckets; i++)
		if (d->buckets[i].req) {
			struct lt_err ignored;
			lt_comm_wait(d->buckets[i].req, &ignored);
		}
	free(d->buckets);
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
