/*
 * runtime.c - the parts of a rank's runtime both modes share: parameter
 * storage (the arenas of runtime.h), first values, the optimizer step with
 * clipping and the learning-rate schedule, and metric accumulators.
 *
 * Storage is the accelerator's (accel.h).  Everything here runs on 32-true
 * (f32 values and gradients); the precision plugins of a later version put
 * master weights and compute views on top of the same arenas.
 */
#include "trainer/runtime.h"
#include "comm/comm.h"
#include "core/error.h"
#include "comm/reduce.h"
#include "precision/convert.h"
#include "trainer/checkpoint.h"
#include "trainer/clip.h"
#include "trainer/optim.h"
#include "trainer/rng.h"
#include "trainer/schedule.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- first values --- */

/* Draws t's first values as f32 into v. */
static void draw_values(const struct lt_ctx *ctx, const struct lt_tensor *t, struct lt_init init,
			size_t index, float *v)
{
	const struct lt_shape *s = &t->shape;
	double fan_in = s->ndim ? (double)s->dim[s->ndim - 1] : 1.0;
	double fan_out = s->ndim > 1 ? (double)s->dim[0] : 1.0;
	struct lt_rng rng;
	double bound;

	lt_rng_seed(&rng, (uint64_t)ctx->cfg->seed, 0x1000 + index);
	for (int64_t i = 0; i < t->numel; i++) {
		switch (init.kind) {
		case LT_INIT_ZEROS:
			v[i] = 0.0f;
			break;
		case LT_INIT_CONSTANT:
			v[i] = (float)init.a;
			break;
		case LT_INIT_UNIFORM:
			v[i] = (float)(init.a + (init.b - init.a) * lt_rng_uniform(&rng));
			break;
		case LT_INIT_NORMAL:
			v[i] = (float)(init.a + init.b * lt_rng_normal(&rng));
			break;
		case LT_INIT_KAIMING_UNIFORM:
			bound = sqrt(6.0 / fan_in);
			v[i] = (float)(bound * (2.0 * lt_rng_uniform(&rng) - 1.0));
			break;
		case LT_INIT_XAVIER_UNIFORM:
			bound = sqrt(6.0 / (fan_in + fan_out));
			v[i] = (float)(bound * (2.0 * lt_rng_uniform(&rng) - 1.0));
			break;
		}
	}
}

int lt_param_fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		  size_t index, struct lt_err *err)
{
	float *v = t->master;
	int rc = 0;

	if (!v && ctx->dtype == LT_F32)
		v = t->data;
	if (!v && !(v = malloc((size_t)t->numel * sizeof(float))))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the first values of '%s'",
				  t->name);
	draw_values(ctx, t, init, index, v);
	if (v != t->data) {
		struct lt_precision_view pv = { t->name, index, ctx->optim_steps,
						ctx->choice[LT_KIND_PRECISION].params };

		rc = lt_precision_to_compute(&ctx->choice[LT_KIND_PRECISION], &pv, t->data, v,
					     (size_t)t->numel, err);
	}
	if (v != t->data && v != t->master)
		free(v);
	return rc;
}

void lt_runtime_refresh_views(struct lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];
		struct lt_precision_view pv = { t->name, i, ctx->optim_steps,
						ctx->choice[LT_KIND_PRECISION].params };

		if (t->master &&
		    lt_precision_to_compute(&ctx->choice[LT_KIND_PRECISION], &pv, t->data,
					    t->master, (size_t)t->numel, &err))
			lt_fatal(ctx, "%s", err.msg);
	}
}

void lt_runtime_update_loss_scale(struct lt_ctx *ctx)
{
	double scale = ctx->precision->scaler ? ctx->scaler.st.scale : 1.0;

	ctx->loss_scale = (float)(ctx->sample_weight * scale);
}

/* --- setup and the optimizer step --- */

static int make_optimizer(struct lt_ctx *ctx, struct lt_err *err)
{
	const struct lt_config *c = ctx->cfg;
	struct lt_optim_cfg oc = {
		.kind = !strcmp(c->optimizer, "adamw") ? LT_OPTIM_ADAMW : LT_OPTIM_SGD,
		.momentum = c->momentum,
		.weight_decay = c->weight_decay,
		.beta1 = 0.9,
		.beta2 = 0.999,
		.eps = 1e-8,
	};

	/* Mixed precision steps the f32 master weights. */
	ctx->optim = lt_optim_new_typed(&oc, ctx->numel,
					ctx->precision->mixed ? LT_F32 : ctx->precision->state, err);
	return ctx->optim ? 0 : -1;
}

int lt_runtime_setup(struct lt_ctx *ctx, struct lt_err *err)
{
	ctx->params_frozen = true;
	if (ctx->strategy->setup(ctx, err))
		return -1;
	return make_optimizer(ctx, err);
}

void lt_runtime_zero_grads(struct lt_ctx *ctx)
{
	if (ctx->grad_arena.used)
		ctx->accel->fill(ctx->grad_arena.base, 0, ctx->grad_arena.used);
}

/* The gradient the optimizer reads: the unscaled f32 copy under mixed
 * precision, else the model's own, in the state dtype. */
static void *opt_grad(const struct lt_tensor *t)
{
	return t->master_grad ? (void *)t->master_grad : t->grad;
}

static enum lt_dtype opt_dtype(const struct lt_ctx *ctx)
{
	return ctx->precision->mixed ? LT_F32 : ctx->dtype;
}

static double sumsq(const void *g, enum lt_dtype dt, size_t n)
{
	double s = 0.0;

	if (dt == LT_F32)
		return lt_clip_sumsq(g, n);
	for (size_t i = 0; i < n; i++) {
		double v = lt_dtype_load(g, dt, i);
		s += v * v;
	}
	return s;
}

/* g *= factor, or g clamped to [-limit, limit] when limit > 0. */
static void scale_or_clamp(void *g, enum lt_dtype dt, size_t n, double factor, double limit)
{
	if (dt == LT_F32) {
		if (limit > 0.0)
			lt_clip_value(g, n, (float)limit);
		else
			lt_clip_scale(g, n, (float)factor);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double v = lt_dtype_load(g, dt, i);
		v = limit > 0.0 ? fmin(fmax(v, -limit), limit) : v * factor;
		lt_dtype_store(g, dt, i, v);
	}
}

/* Clips every gradient by the global L2 norm (across parameters and, the
 * gradients being equal after sync, all ranks alike) or by value.
 * Under mixed precision it clips the unscaled f32 gradients. */
static void clip_gradients(struct lt_ctx *ctx)
{
	const struct lt_config *c = ctx->cfg;
	enum lt_dtype dt = opt_dtype(ctx);
	double total = 0.0, factor;
	size_t i;

	if (c->clip_val <= 0.0)
		return;
	if (!strcmp(c->clip_algorithm, "value")) {
		for (i = 0; i < ctx->nparams; i++)
			scale_or_clamp(opt_grad(ctx->params[i]), dt, (size_t)ctx->params[i]->numel,
				       1.0, c->clip_val);
		return;
	}
	for (i = 0; i < ctx->nparams; i++)
		total += sumsq(opt_grad(ctx->params[i]), dt, (size_t)ctx->params[i]->numel);
	factor = lt_clip_factor(sqrt(total), c->clip_val);
	if (factor >= 1.0)
		return;
	for (i = 0; i < ctx->nparams; i++)
		scale_or_clamp(opt_grad(ctx->params[i]), dt, (size_t)ctx->params[i]->numel, factor,
			       0.0);
}

/* Mixed precision: the f32 gradients, divided by the loss scale.  Returns
 * whether any holds inf or NaN on this rank. */
static bool unscale_gradients(struct lt_ctx *ctx)
{
	float inv = ctx->precision->scaler ? (float)(1.0 / ctx->scaler.st.scale) : 1.0f;
	bool found = false;

	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];
		found |= lt_unscale_half(t->master_grad, t->grad, (size_t)t->numel,
					 ctx->dtype == LT_BF16, inv);
	}
	return found;
}

/* The loss scaler's decision, the same on every rank.  Returns whether
 * the step is applied, or -1 with err. */
static int scaler_decides(struct lt_ctx *ctx, bool found_inf, struct lt_err *err)
{
	int32_t flag = found_inf;

	if (ctx->info.world_size > 1 &&
	    lt_comm_all_reduce(ctx->comm, &flag, 1, LT_I32, LT_MAX, err))
		return -1;
	return lt_scaler_update(&ctx->scaler, flag != 0);
}

int lt_runtime_optimizer_step(struct lt_ctx *ctx, double lr, struct lt_err *err)
{
	bool found_inf = false;
	int apply = 1;
	size_t i;

	if (ctx->precision->mixed)
		found_inf = unscale_gradients(ctx);
	if (ctx->precision->scaler) {
		apply = scaler_decides(ctx, found_inf, err);
		if (apply < 0)
			return -1;
		lt_runtime_update_loss_scale(ctx);
	}
	ctx->step++;
	if (apply) {
		clip_gradients(ctx);
		ctx->optim_steps++;
		for (i = 0; i < ctx->nparams; i++) {
			struct lt_tensor *t = ctx->params[i];
			void *param = t->master ? (void *)t->master : t->data;

			/* an async save has copied this parameter and its state */
			lt_trainer_ckpt_release(ctx, i + 1);
			lt_optim_step_typed(ctx->optim, opt_dtype(ctx), param, opt_grad(t), t->offset,
					    (size_t)t->numel, lr, ctx->optim_steps);
		}
		lt_runtime_refresh_views(ctx);
	}
	lt_runtime_zero_grads(ctx);
	return 0;
}

double lt_runtime_lr(const struct lt_ctx *ctx, int64_t total_steps)
{
	const struct lt_config *c = ctx->cfg;
	struct lt_schedule s = {
		.kind = !strcmp(c->lr_schedule, "cosine") ? LT_SCHED_COSINE : LT_SCHED_CONSTANT,
		.base_lr = c->lr,
		.min_lr = 0.0,
		.warmup_steps = c->warmup_steps,
		.total_steps = total_steps > 0 ? total_steps : (c->max_steps > 0 ? c->max_steps : 0),
	};

	return lt_schedule_lr(&s, ctx->step);
}

void lt_runtime_free(struct lt_ctx *ctx)
{
	if (ctx->strategy && ctx->params_frozen)
		ctx->strategy->teardown(ctx);
	lt_optim_free(ctx->optim);
	ctx->optim = NULL;
	if (ctx->accel) {
		ctx->accel->release(&ctx->master_arena);
		ctx->accel->release(&ctx->master_grad_arena);
	}
	for (size_t i = 0; i < ctx->nparams; i++)
		free(ctx->params[i]);
	free(ctx->params);
	ctx->params = NULL;
	ctx->nparams = 0;
	if (ctx->accel) {
		ctx->accel->release(&ctx->data_arena);
		ctx->accel->release(&ctx->grad_arena);
	}
}

/* --- metrics --- */

void lt_metric_add(struct lt_ctx *ctx, const char *name, double value, double weight)
{
	struct lt_metric_acc *m = ctx->in_val ? ctx->val_metrics : ctx->train_metrics;
	int *n = ctx->in_val ? &ctx->nval_metrics : &ctx->ntrain_metrics;
	int i;

	for (i = 0; i < *n; i++)
		if (!strcmp(m[i].name, name))
			break;
	if (i == *n) {
		if (*n == LT_MAX_METRICS)
			return;
		snprintf(m[i].name, sizeof(m[i].name), "%s", name);
		m[i].sum = m[i].weight = 0.0;
		(*n)++;
	}
	m[i].sum += value * weight;
	m[i].weight += weight;
}
