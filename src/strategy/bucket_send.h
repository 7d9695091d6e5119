/*
 * bucket_send.h - how gradient buckets (ddp_buckets.h) travel, for ddp
 * (ddp.c) and zero's stage 2 and 3 (zero.c): each bucket all-reduced (a
 * SUM: every rank pre-divided through the loss scale) on the
 * communicator's worker thread, strictly in order, so that every rank
 * queues the same sequence (bucket_send.c).
 */
#ifndef LT_STRATEGY_BUCKET_SEND_H
#define LT_STRATEGY_BUCKET_SEND_H

#include "core/error.h"
#include "ltrun/plugin.h"
#include "strategy/ddp_buckets.h"

/* The buckets of a strategy and the first one not started yet. */
struct lt_bucket_queue {
	struct lt_bucket *buckets;
	size_t nbuckets;
	size_t next_launch;
};

/* The bucket size in bytes: the strategy's `bucket_mb` parameter when
 * given, else --bucket-mb (at least 4096). */
size_t lt_buckets_cap(const struct lt_ctx *ctx, const struct lt_params *p);
/* Starts every bucket whose elements are all ready and that all earlier
 * buckets precede.  Returns 0 or -1 with err. */
int lt_buckets_launch_ready(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err);
/* Starts what is left, waits for every bucket, and makes them ready for
 * the next micro-batch (pending counts back, no tensor ready).  Returns
 * 0 or -1 with err (the first failure). */
int lt_buckets_finish(struct lt_ctx *ctx, struct lt_bucket_queue *q, struct lt_err *err);
/* Waits for whatever is still in flight, ignoring failures (teardown). */
void lt_buckets_drain(struct lt_bucket_queue *q);

#endif
