/*
 * ready.h - gradients marked complete during backward (ready.c):
 * lt_grad_ready() and lt_grad_ready_range() of ltrun.h, and what ltrun
 * does at the end of each micro-batch before the strategy's sync.
 *
 * A tensor's elements are marked in ranges (a whole tensor is one); it
 * is complete when every element was marked once in this micro-batch.
 * Marking a range folds that range's f32 gradient (views.h) into the
 * gradient, and on the micro-batch that ends a step the strategy hears
 * of it: each range through its grad_ready_range (ddp starts a bucket
 * holding part of a stacked tensor as soon as that part is marked), or
 * the whole tensor through grad_ready once it completes.  Under --debug
 * nothing starts early: each range's checksum is taken when it is marked and
 * compared at the end of the micro-batch (guards.h).
 */
#ifndef LT_RUNTIME_READY_H
#define LT_RUNTIME_READY_H

#include "runtime/ctx.h"

/* One range marked ready, and (under --debug) the checksum of its
 * gradient then. */
struct lt_ready_mark {
	int64_t first, count;
	uint32_t crc;
};

/* Marks elements [first, first + count) of t ready.  Returns 1 when the
 * strategy is to hear of it now (lt_runtime_grad_ready_range: on the
 * micro-batch that ends a step, not under --debug), 0 when not, or -1
 * with err when the range is not within t or overlaps one marked before
 * in this micro-batch (both named). */
int lt_ready_mark(struct lt_ctx *ctx, struct lt_tensor *t, int64_t first, int64_t count,
		  struct lt_err *err);
/* The end of a micro-batch, before the strategy's sync when it ends the
 * step (Trainer mode: after every train_step; Fabric mode: in
 * lt_sync_grads): --debug's check of the marked gradients, the f32
 * gradients of tensors not marked complete folded, the marks cleared,
 * and on the first step the check that the model read lt_loss_scale()
 * (model: its name for the warning, or NULL).  Ends the rank when a
 * check fails. */
void lt_ready_micro_done(struct lt_ctx *ctx, const char *model);
/* Frees the marks' lists (lt_runtime_free). */
void lt_ready_free(struct lt_ctx *ctx);

#endif
