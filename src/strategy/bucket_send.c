/*
 * bucket_send.c - gradient buckets all-reduced in order on the
 * communicator's worker (bucket_send.h), for ddp and zero.
 */
#include "strategy/bucket_send.h"
#include "comm/comm.h"

size_t lt_buckets_cap(const struct lt_ctx *ctx, const struct lt_params *p)
{
	double mb = lt_params_given(p, "bucket_mb") ? lt_params_float(p, "bucket_mb")
						    : ctx->cfg->bucket_mb;
	size_t cap = (size_t)(mb * 1048576.0);

	return cap < 4096 ? 4096 : cap;
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

int lt_buckets_launch_ready(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err)
{
	while (q->next_launch < q->nbuckets && !q->buckets[q->next_launch].pending) {
		if (launch(ctx, &q->buckets[q->next_launch], err))
			return -1;
		q->next_launch++;
	}
	return 0;
}

int lt_buckets_finish(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < q->nbuckets; i++)
		q->buckets[i].pending = 0;
	if (lt_buckets_launch_ready(ctx, q, err))
		rc = -1;
	for (i = 0; i < q->nbuckets; i++) {
		struct lt_bucket *b = &q->buckets[i];
		struct lt_err e2;

		if (b->req && lt_comm_wait(b->req, rc ? &e2 : err))
			rc = -1;
		b->req = NULL;
		b->pending = b->elems;
	}
	for (i = 0; i < ctx->nparams; i++)
		ctx->params[i]->ready = false;
	q->next_launch = 0;
	return rc;
}

void lt_buckets_drain(struct lt_bucket_queue *q)
{
	for (size_t i = 0; i < q->nbuckets; i++)
		if (q->buckets[i].req) {
			struct lt_err ignored;

			lt_comm_wait(q->buckets[i].req, &ignored);
			q->buckets[i].req = NULL;
		}
}
