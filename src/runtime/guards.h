/*
 * guards.h - checks that catch a model's silent gradient mistakes
 * (guards.c), each one the cause of wrong results without a word:
 *
 *   a train_step that never reads lt_loss_scale()   a warning on the
 *       first step: its gradients are summed over the ranks and
 *       micro-batches instead of averaged, and not loss-scaled
 *   --debug: a gradient changed after it was marked ready   fatal at
 *       the end of the micro-batch (a checksum of each marked range,
 *       taken when it was marked): the strategy may have sent it, and
 *       the ranks' parameters diverge
 *   --debug: a gradient overwritten (zeroed) under accumulation   fatal
 *       on the first step with --accumulate-grad-batches > 1: a probe
 *       runs micro-batch 1's train_step once more on gradients set to
 *       NaN; any element that comes back finite was overwritten, not
 *       added to
 *
 * The --debug checks read gradients in host memory (the cpu accelerator).
 */
#ifndef LT_RUNTIME_GUARDS_H
#define LT_RUNTIME_GUARDS_H

#include "runtime/ctx.h"

/* The checksum of elements [first, first + count) of t's gradient and of
 * its f32 gradient when it has one of its own. */
uint32_t lt_guard_checksum(const struct lt_ctx *ctx, const struct lt_tensor *t, int64_t first,
			   int64_t count);
/* Ends the rank: elements [first, first + count) of t changed after
 * they were marked ready (their checksum differs); names the tensor, the
 * step and the fix. */
__attribute__((noreturn)) void lt_guard_changed(struct lt_ctx *ctx, const struct lt_tensor *t,
						int64_t first, int64_t count);
/* Once, at the end of the first micro-batch: rank 0 warns when the model
 * (its name, or NULL) has not read lt_loss_scale(). */
void lt_guard_loss_scale(struct lt_ctx *ctx, const char *model);
/* Under --debug, once, before micro-batch 1 of the first step that has
 * one (--accumulate-grad-batches > 1): runs m's train_step on batch b as
 * a probe (gradients and f32 gradients set to NaN, marks ignored, logged
 * metrics dropped), ends the rank when any gradient element comes back
 * finite, and otherwise puts every gradient back as it was.  Nothing
 * otherwise. */
void lt_guard_probe(struct lt_ctx *ctx, const struct lt_module *m, void *self,
		    const struct lt_batch *b);

#endif
