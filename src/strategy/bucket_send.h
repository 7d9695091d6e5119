/*
 * bucket_send.h - how gradient buckets (ddp_buckets.h) travel, for ddp
 * (ddp.c) and zero's stage 2 and 3 (zero.c), on the communicator's worker
 * thread, strictly in order, so that every rank queues the same sequence
 * (bucket_send.c).  A SUM: every rank pre-divided through the loss scale.
 * ddp all-reduces each bucket in place; zero reduce-scatters it (struct
 * lt_bucket_rs): the bucket covers flat [lo, hi), which meets the owners'
 * blocks [r S, r S + S) in uneven pieces, and each owner receives the sum
 * of its piece (lt_comm_start_v), not the whole bucket.
 */
#ifndef LT_STRATEGY_BUCKET_SEND_H
#define LT_STRATEGY_BUCKET_SEND_H

#include "core/error.h"
#include "ltrun/plugin.h"
#include "strategy/ddp_buckets.h"

/* zero's reduce-scatter of the buckets: rank r of comm owns flat
 * [r shard, r shard + shard); this rank's piece of a bucket (flat [a, b))
 * is received in place, where it is in the gradient arena (comm.h).
 * counts: comm->size entries of scratch. */
struct lt_bucket_rs {
	struct lt_comm *comm;
	size_t shard, own_lo;
	size_t *counts;
};

/* The buckets of a strategy and the first one not started yet; rs.comm
 * NULL: each bucket all-reduced in place over ctx->comm.  on_caller
 * (reduce-scatter only): a bucket's collective runs at once on the
 * caller's thread, which returns when it is done (its req stays NULL),
 * instead of on the communicator's worker while backward goes on. */
struct lt_bucket_queue {
	struct lt_bucket *buckets;
	size_t nbuckets;
	size_t next_launch;
	struct lt_bucket_rs rs;
	bool on_caller;
};

/* The bucket size in bytes: the strategy's `bucket_mb` parameter when
 * given, else --bucket-mb (at least 4096). */
size_t lt_buckets_cap(const struct lt_ctx *ctx, const struct lt_params *p);
/* Starts every bucket whose elements are all ready and that all earlier
 * buckets precede (several at once as one group of the communicator's,
 * comm.h).  Returns 0 or -1 with err. */
int lt_buckets_launch_ready(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err);
/* Starts what is left, waits for every bucket, and makes them ready for
 * the next micro-batch (pending counts back, no tensor ready).  Returns
 * 0 or -1 with err (the first failure). */
int lt_buckets_finish(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err);
/* Bucket b's flat range [*lo, *hi) and (reduce-scatter) the part this
 * rank owns of it, [*own_a, *own_b) (empty: own_a == own_b). */
void lt_bucket_span(const struct lt_ctx *ctx, const struct lt_bucket_queue *q,
		    const struct lt_bucket *b, size_t *lo, size_t *hi, size_t *own_a,
		    size_t *own_b);
/* Waits for whatever is still in flight, ignoring failures (teardown). */
void lt_buckets_drain(struct lt_bucket_queue *q);

#endif
