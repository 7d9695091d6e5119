/*
 * ddp.c - the `ddp` strategy's runtime (also behind ddp_spawn and
 * ddp_fork, which differ only in how the ranks were started).
 *
 * Every rank holds a full replica.  At setup the parameters are broadcast
 * from rank 0, and the gradients are cut into buckets of about
 * --bucket-mb: consecutive parameters taken in reverse registration order
 * (the order backward completes them), each bucket one contiguous range
 * of the gradient arena (runtime.h), in the compute dtype (half the bytes
 * under 16-mixed and bf16-mixed).  On the step's last micro-batch, the
 * moment a bucket's last gradient is marked ready (lt_grad_ready) its
 * all-reduce (a sum of gradients each rank pre-divided by the world size
 * through the loss scale) is queued on the communicator's worker thread and
 * travels while backward goes on; buckets are started strictly in order,
 * so every rank queues the same sequence.  sync() starts what is left and
 * waits; the time spent waiting there is ctx->comm_wait_s.
 *
 * Micro-batches that do not end a step (gradient accumulation) never
 * communicate.
 */
#include "comm/comm.h"
#include "core/clock.h"
#include "core/error.h"
#include "trainer/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ddp {
	struct lt_bucket *buckets;
	size_t nbuckets;
	size_t next_launch; /* first bucket not started yet */
};

static size_t tensor_bytes(const struct lt_ctx *ctx, const struct lt_tensor *t)
{
	return (size_t)t->numel * lt_dtype_size(ctx->dtype);
}

/* Cuts the parameters, last first, into buckets of at most cap bytes
 * (a larger parameter gets a bucket of its own). */
static int make_buckets(struct lt_ctx *ctx, struct ddp *d, size_t cap, struct lt_err *err)
{
	size_t n = ctx->nparams, i;

	d->buckets = calloc(n ? n : 1, sizeof(*d->buckets));
	if (!d->buckets)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu DDP buckets", n);
	for (i = n; i-- > 0;) {
		struct lt_tensor *t = ctx->params[i];
		struct lt_bucket *b = d->nbuckets ? &d->buckets[d->nbuckets - 1] : NULL;

		if (!b || (size_t)(b->begin + b->bytes - (char *)t->grad) > cap) {
			b = &d->buckets[d->nbuckets++];
			b->last = i;
			b->begin = t->grad;
			b->bytes = tensor_bytes(ctx, t);
		} else {
			/* t lies before the bucket's parameters in the arena. */
			b->bytes = (size_t)(b->begin + b->bytes - (char *)t->grad);
			b->begin = t->grad;
		}
		b->first = i;
		t->bucket = (int)(b - d->buckets);
	}
	for (i = 0; i < d->nbuckets; i++)
		d->buckets[i].pending = d->buckets[i].last - d->buckets[i].first + 1;
	return 0;
}

static int ddp_setup(struct lt_ctx *ctx, struct lt_err *err)
{
	struct ddp *d = calloc(1, sizeof(*d));
	size_t cap = (size_t)(ctx->cfg->bucket_mb * 1048576.0);

	if (!d)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	ctx->strategy_state = d;
	if (cap < 4096)
		cap = 4096;
	if (make_buckets(ctx, d, cap, err))
		return -1;
	/* Every rank starts from rank 0's values: its master weights under
	 * mixed precision, from which the views are made again. */
	if (ctx->master_arena.used) {
		if (lt_comm_broadcast(ctx->comm, ctx->master_arena.base,
				      ctx->master_arena.used / sizeof(float), LT_F32, 0, err))
			return -1;
		lt_runtime_refresh_views(ctx);
		return 0;
	}
	if (ctx->data_arena.used &&
	    lt_comm_broadcast(ctx->comm, ctx->data_arena.base,
			      ctx->data_arena.used / lt_dtype_size(ctx->dtype), ctx->dtype, 0, err))
		return -1;
	return 0;
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

static int ddp_grad_ready(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	struct ddp *d = ctx->strategy_state;

	if (t->bucket < 0 || t->ready)
		return 0;
	t->ready = true;
	d->buckets[t->bucket].pending--;
	return launch_ready(ctx, d, err);
}

static int ddp_sync(struct lt_ctx *ctx, struct lt_err *err)
{
	struct ddp *d = ctx->strategy_state;
	double t0;
	int rc = 0;
	size_t i;

	for (i = 0; i < d->nbuckets; i++)
		d->buckets[i].pending = 0;
	if (launch_ready(ctx, d, err))
		rc = -1;
	t0 = lt_now_s();
	for (i = 0; i < d->nbuckets; i++) {
		struct lt_bucket *b = &d->buckets[i];
		struct lt_err e2;
		if (b->req && lt_comm_wait(b->req, rc ? &e2 : err))
			rc = -1;
		b->req = NULL;
		b->pending = b->last - b->first + 1;
	}
	ctx->comm_wait_s += lt_now_s() - t0;
	for (i = 0; i < ctx->nparams; i++)
		ctx->params[i]->ready = false;
	d->next_launch = 0;
	return rc;
}

static void ddp_teardown(struct lt_ctx *ctx)
{
	struct ddp *d = ctx->strategy_state;

	if (!d)
		return;
	for (size_t i = 0; i < d->nbuckets; i++)
		if (d->buckets[i].req) {
			struct lt_err ignored;
			lt_comm_wait(d->buckets[i].req, &ignored);
		}
	free(d->buckets);
	free(d);
	ctx->strategy_state = NULL;
}

const struct lt_strategy_rt lt_strategy_ddp = {
	.name = "ddp",
	.setup = ddp_setup,
	.grad_ready = ddp_grad_ready,
	.sync = ddp_sync,
	.teardown = ddp_teardown,
};
