/*
 * bucket_send.c - gradient buckets all-reduced (ddp) or reduce-scattered
 * (zero) in order on the communicator's worker (bucket_send.h).
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

void lt_bucket_span(const struct lt_ctx *ctx, const struct lt_bucket_queue *q,
		    const struct lt_bucket *b, size_t *lo, size_t *hi, size_t *own_a,
		    size_t *own_b)
{
	size_t esz = lt_dtype_size(ctx->dtype), own_hi = q->rs.own_lo + q->rs.shard;

	*lo = (size_t)(b->begin - ctx->grad_arena.base) / esz;
	*hi = *lo + b->bytes / esz;
	*own_a = *lo > q->rs.own_lo ? *lo : q->rs.own_lo;
	*own_b = *hi < own_hi ? *hi : own_hi;
	if (!q->rs.comm || *own_b < *own_a)
		*own_b = *own_a;
}

/* Each owner's piece of flat [lo, hi): the block of rank r is
 * [r shard, r shard + shard), so the pieces follow each other in rank
 * order, as reduce_scatter_v wants them. */
static void piece_counts(const struct lt_bucket_rs *rs, size_t lo, size_t hi)
{
	for (int r = 0; r < rs->comm->size; r++) {
		size_t a = (size_t)r * rs->shard, e = a + rs->shard;

		a = a > lo ? a : lo;
		e = e < hi ? e : hi;
		rs->counts[r] = e > a ? e - a : 0;
	}
}

static struct lt_comm *comm_of(const struct lt_ctx *ctx, const struct lt_bucket_queue *q)
{
	return q->rs.comm ? q->rs.comm : ctx->comm;
}

static int launch(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_bucket *b,
		  struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), lo, hi, a, e;

	/* The collective reads what the device has written (a communicator
	 * of device buffers orders itself after the device's work). */
	if (!comm_of(ctx, q)->ops->device_buffers && ctx->accel->sync(err))
		return -1;
	/* A sum: every rank's gradient is already divided by the world size
	 * through the loss scale (loop.c), so a sum of f16 gradients stays in
	 * the range of one rank's. */
	if (!q->rs.comm) {
		b->req = lt_comm_start(ctx->comm, LT_COLL_ALL_REDUCE, b->begin, b->begin,
				       b->bytes / esz, ctx->dtype, LT_SUM, 0, err);
		return b->req ? 0 : -1;
	}
	lt_bucket_span(ctx, q, b, &lo, &hi, &a, &e);
	piece_counts(&q->rs, lo, hi);
	/* in place: this rank's piece is at (a - lo) in the bucket */
	if (q->on_caller) /* the blocking call: on this thread (comm.c) */
		return lt_comm_reduce_scatter_v(q->rs.comm, b->begin, b->begin + (a - lo) * esz,
						q->rs.counts, ctx->dtype, LT_SUM, err);
	b->req = lt_comm_start_v(q->rs.comm, b->begin, b->begin + (a - lo) * esz, q->rs.counts,
				 ctx->dtype, LT_SUM, err);
	return b->req ? 0 : -1;
}

int lt_buckets_launch_ready(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err)
{
	struct lt_comm *c = comm_of(ctx, q);
	size_t end = q->next_launch;
	bool group;
	int rc = 0;

	while (end < q->nbuckets && !q->buckets[end].pending)
		end++;
	/* the buckets ready at once travel as one group where the backend
	 * has group calls (nccl); every rank marks the same ones ready in
	 * the same order, so every rank groups the same */
	group = c->ops->group && end - q->next_launch > 1;
	if (group)
		lt_comm_group_begin(c);
	while (q->next_launch < end && !(rc = launch(ctx, q, &q->buckets[q->next_launch], err)))
		q->next_launch++;
	if (group)
		lt_comm_group_end(c);
	return rc;
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
