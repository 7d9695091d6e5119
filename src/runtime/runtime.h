/*
 * runtime.h - the parts of a rank's runtime every strategy and both modes
 * share (runtime.c): first values, the loss scale, the optimizer step
 * around the strategy's ops, the learning rate, metric accumulators.
 */
#ifndef LT_RUNTIME_RUNTIME_H
#define LT_RUNTIME_RUNTIME_H

#include "runtime/ctx.h"
#include "runtime/optim.h"

/* Fills t's values (and master weights) from its init rule with the
 * run's seed (the same on every rank).  Returns 0, or -1 with err when
 * memory for the conversion is short. */
int lt_param_fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		  size_t index, struct lt_err *err);
/* Sets ctx->loss_scale from the sample weight and the scaler. */
void lt_runtime_update_loss_scale(struct lt_ctx *ctx);
/* Copies every master weight into its compute view (mixed precision). */
void lt_runtime_refresh_views(struct lt_ctx *ctx);

/* The strategy of the run: ops (NULL ops taken from defaults, the
 * replicated strategy's), its name and parameters; runs its init.  Then
 * place, grad_ready and sync: its ops.  Each returns 0 or -1 with err
 * naming the strategy and the op. */
int lt_runtime_strategy_init(struct lt_ctx *ctx, const char *name, const struct lt_strategy_ops *ops,
			     const struct lt_strategy_ops *defaults, const struct lt_params *params,
			     struct lt_err *err);
int lt_runtime_place(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err);
int lt_runtime_grad_ready(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err);
int lt_runtime_sync(struct lt_ctx *ctx, struct lt_err *err);
/* Trainer mode, after a micro-batch that does not end the step: the
 * strategy's micro_done when it reduces every micro-batch
 * (ready_every_micro), else nothing.  0 or -1 with err. */
int lt_runtime_micro_done(struct lt_ctx *ctx, struct lt_err *err);
/* The model began or ended a unit (lt_unit_begin/_end): the strategy's
 * unit op.  0 or -1 with err naming the strategy. */
int lt_runtime_unit(struct lt_ctx *ctx, const struct lt_unit_event *ev, struct lt_err *err);
/* Elements [first, first + count) of t were marked ready (ready.h): the
 * strategy's grad_ready_range, or without one its grad_ready once t is
 * complete.  0 or -1 with err. */
int lt_runtime_grad_ready_range(struct lt_ctx *ctx, struct lt_tensor *t, int64_t first,
				int64_t count, struct lt_err *err);

/* Marks the parameters placed; the strategy's setup (which sets
 * ctx->layout) and the optimizer for the layout's range.  Returns 0 or -1
 * with err. */
int lt_runtime_setup(struct lt_ctx *ctx, struct lt_err *err);
/* Zeroes every gradient. */
void lt_runtime_zero_grads(struct lt_ctx *ctx);
/* The end of a step once gradients are synchronised: unscaling and the
 * inf/NaN check (a step skipped on every rank when any has one, under
 * loss scaling), clipping, the strategy's step at lr (lt_update: the
 * master weights, then their compute views), the gradients zeroed, the
 * step counted.
 * Returns 0 or -1 with err. */
int lt_runtime_optimizer_step(struct lt_ctx *ctx, double lr, struct lt_err *err);
/* t's optimizer group: lt_param_weight_decay()'s and lt_param_lr_scale()'s
 * word where the model gave one, else --weight-decay-on's rule (all, or
 * tensors of 2 or more dimensions) and a scale of 1.  lt_update() steps
 * t with it. */
struct lt_optim_group lt_runtime_group(const struct lt_ctx *ctx, const struct lt_tensor *t);
/* The learning rate of optimizer step ctx->step, from the schedule;
 * total_steps is the run's length, or -1: the Trainer's plan
 * (ctx->planned_steps) once made, else --max-steps, else unknown (the
 * schedule is constant after the warmup). */
double lt_runtime_lr(const struct lt_ctx *ctx, int64_t total_steps);
void lt_runtime_free(struct lt_ctx *ctx);

/* Records value (weighted by the current batch size) under name in the
 * train or validation accumulators. */
void lt_metric_add(struct lt_ctx *ctx, const char *name, double value, double weight);

#endif
