/*
 * runtime.c - the parts of a rank's runtime both modes share: parameter
 * storage (the arenas of runtime.h), first values, the optimizer step with
 * clipping and the learning-rate schedule, and metric accumulators.
 *
 * Storage is the accelerator's (accel.h).  Everything here runs on 32-true
 * (f32 values and gradients); the precision plugins of a later version put
 * master weights and compute views on top of the same arenas.
 */
#include "runtime/runtime.h"
#include "comm/comm.h"
#include "core/clock.h"
#include "core/error.h"
#include "comm/reduce.h"
#include "precision/convert.h"
#include "runtime/buffers.h"
#include "runtime/clip.h"
#include "runtime/draw.h"
#include "runtime/groups.h"
#include "runtime/optim.h"
#include "runtime/replicas.h"
#include "runtime/ready.h"
#include "runtime/schedule.h"
#include "runtime/units.h"
#include "runtime/views.h"
#include "accel/accel.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- first values --- */

/* The arenas are a device's memory, which the host cannot touch (a ctx
 * without an accelerator, as some unit tests make, is the host's). */
static bool on_device(const struct lt_ctx *ctx)
{
	return ctx->accel && !ctx->accel->host_access;
}

/* A device accelerator's compute view of t's elements [first, +n) from
 * its f32 master weights: its conversion kernel (mixed precision). */
static int device_to_compute(const struct lt_ctx *ctx, struct lt_tensor *t, size_t first,
			     size_t n, struct lt_err *err)
{
	const struct lt_accel_kernels *k = ctx->accel->kernels(err);

	return k ? k->to_half((uint16_t *)t->data + first, t->master + first, n,
			      ctx->dtype == LT_BF16, err)
		 : -1;
}

int lt_param_fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		  size_t index, struct lt_err *err)
{
	bool host = !on_device(ctx);
	float *v = host ? t->master : NULL;
	int rc = 0;

	if (!v && ctx->dtype == LT_F32 && host)
		v = t->data;
	if (!v && !(v = malloc((size_t)t->numel * sizeof(float))))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the first values of '%s'",
				  t->name);
	lt_draw((uint64_t)ctx->cfg->seed, &t->shape, t->numel, init, index, v);
	/* device memory: drawn on the host, copied in (mixed: the masters,
	 * then their view made on the device) */
	if (!host) {
		ctx->accel->copy(t->master ? (void *)t->master : t->data, v,
				 (size_t)t->numel * sizeof(float));
		free(v);
		return t->master ? device_to_compute(ctx, t, 0, (size_t)t->numel, err) : 0;
	}
	if (v != t->data) {
		struct lt_precision_view pv = { .param = t->name, .index = index,
						.step = ctx->optim_steps,
						.params = ctx->choice[LT_KIND_PRECISION].params };

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
		struct lt_precision_view pv = { .param = t->name, .index = i,
						.step = ctx->optim_steps,
						.params = ctx->choice[LT_KIND_PRECISION].params };

		if (t->master && on_device(ctx)) {
			if (device_to_compute(ctx, t, 0, (size_t)t->numel, &err))
				lt_fatal(ctx, "%s", err.msg);
		} else if (t->master &&
			   lt_precision_to_compute(&ctx->choice[LT_KIND_PRECISION], &pv, t->data,
						   t->master, (size_t)t->numel, &err)) {
			lt_fatal(ctx, "%s", err.msg);
		}
	}
	lt_views_refresh(ctx);
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
	/* every --optimizer but sgd is adamw (adamw_gpt: its preset, which
	 * config.c applied to --adam-betas and --weight-decay-on) */
	struct lt_optim_cfg oc = {
		.kind = !strcmp(c->optimizer, "sgd") ? LT_OPTIM_SGD : LT_OPTIM_ADAMW,
		.momentum = c->momentum,
		.weight_decay = c->weight_decay,
		.beta1 = c->adam_beta1,
		.beta2 = c->adam_beta2,
		.eps = c->adam_eps,
		.as_given = true,
	};

	/* Mixed precision steps the f32 master weights. */
	enum lt_dtype sdt = ctx->precision->mixed ? LT_F32 : ctx->precision->state;

	if (on_device(ctx)) /* the state on the device, its kernels step it */
		ctx->optim = lt_optim_new_device(&oc, ctx->layout.state_numel, ctx->accel, err);
	else if (ctx->optim_dir) /* the strategy's offload_optimizer=nvme */
		ctx->optim = lt_optim_new_files(&oc, ctx->layout.state_numel, sdt, ctx->optim_dir,
						ctx->info.rank, err);
	else
		ctx->optim = lt_optim_new_typed(&oc, ctx->layout.state_numel, sdt, err);
	return ctx->optim ? 0 : -1;
}

/* Prefixes err with the strategy's name and the op that failed. */
static int strategy_failed(const struct lt_ctx *ctx, const char *op, struct lt_err *err)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg[0] ? err->msg : "failed without saying why");
	lt_err_set(err, err->status ? err->status : LT_EXIT_FAILURE, "strategy '%s' (%s): %s",
		   ctx->strategy_name, op, msg);
	return -1;
}

/* Runs a strategy op's result through strategy_failed. */
static int op_rc(const struct lt_ctx *ctx, const char *op, int rc, struct lt_err *err)
{
	return rc ? strategy_failed(ctx, op, err) : 0;
}

int lt_runtime_strategy_init(struct lt_ctx *ctx, const char *name, const struct lt_strategy_ops *ops,
			     const struct lt_strategy_ops *defaults, const struct lt_params *params,
			     struct lt_err *err)
{
	struct lt_strategy_ops o = *ops;

#define FILL(f) if (!o.f) o.f = defaults->f
	FILL(init); FILL(place); FILL(setup); FILL(grad_ready); FILL(sync);
	FILL(grad_norm_sq); FILL(step); FILL(ckpt_shard); FILL(ckpt_loaded); FILL(unit);
	FILL(micro_done); FILL(teardown);
#undef FILL
	ctx->strategy = o;
	ctx->strategy_name = name;
	ctx->strategy_params = params;
	ctx->strategy_state = NULL;
	memset(err, 0, sizeof(*err));
	if (o.init(ctx, &ctx->strategy_state, params, err))
		return strategy_failed(ctx, "init", err);
	ctx->strategy_ready = true;
	return 0;
}

int lt_runtime_place(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	return op_rc(ctx, "place",
		     ctx->strategy.place(ctx, ctx->strategy_state, ctx->strategy_params, t, err), err);
}

int lt_runtime_grad_ready(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	return op_rc(ctx, "grad_ready",
		     ctx->strategy.grad_ready(ctx, ctx->strategy_state, ctx->strategy_params, t, err),
		     err);
}

int lt_runtime_grad_ready_range(struct lt_ctx *ctx, struct lt_tensor *t, int64_t first,
				int64_t count, struct lt_err *err)
{
	if (ctx->strategy.grad_ready_range)
		return op_rc(ctx, "grad_ready_range",
			     ctx->strategy.grad_ready_range(ctx, ctx->strategy_state,
							    ctx->strategy_params, t, (size_t)first,
							    (size_t)count, err),
			     err);
	return t->marked < t->numel ? 0 : lt_runtime_grad_ready(ctx, t, err);
}

int lt_runtime_sync(struct lt_ctx *ctx, struct lt_err *err)
{
	double t0 = lt_now_s();
	int rc = ctx->strategy.sync(ctx, ctx->strategy_state, ctx->strategy_params, err);

	/* what is left of the gradients' travel when backward is done */
	ctx->comm_wait_s += lt_now_s() - t0;
	return op_rc(ctx, "sync", rc, err);
}

int lt_runtime_micro_done(struct lt_ctx *ctx, struct lt_err *err)
{
	double t0;
	int rc;

	if (!ctx->strategy.ready_every_micro || ctx->cfg->debug)
		return 0;
	t0 = lt_now_s();
	rc = ctx->strategy.micro_done(ctx, ctx->strategy_state, ctx->strategy_params, err);
	ctx->comm_wait_s += lt_now_s() - t0;
	return op_rc(ctx, "micro_done", rc, err);
}

int lt_runtime_unit(struct lt_ctx *ctx, const struct lt_unit_event *ev, struct lt_err *err)
{
	if (op_rc(ctx, "unit",
		  ctx->strategy.unit(ctx, ctx->strategy_state, ctx->strategy_params, ev, err), err))
		return -1;
	if (ev->begin)
		lt_views_refresh_unit(ctx, ev->first, ev->count);
	return 0;
}

int lt_runtime_setup(struct lt_ctx *ctx, struct lt_err *err)
{
	struct lt_strategy_layout *l = &ctx->layout;

	ctx->params_frozen = true;
	*l = (struct lt_strategy_layout){ .state_offset = 0, .state_numel = ctx->numel };
	if (ctx->strategy.setup(ctx, ctx->strategy_state, ctx->strategy_params, l, err))
		return strategy_failed(ctx, "setup", err);
	lt_views_refresh(ctx); /* every rank's values are rank 0's now */
	if (l->state_offset > ctx->numel || l->state_numel > ctx->numel - l->state_offset)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "strategy '%s' (setup): optimizer state for elements [%zu, +%zu) lies outside the %zu parameters: keep the layout within lt_total_numel()",
				  ctx->strategy_name, l->state_offset, l->state_numel, ctx->numel);
	/* beside the strategy's broadcast of the parameters */
	if (lt_buffers_broadcast(ctx, err))
		return -1;
	return make_optimizer(ctx, err);
}

void lt_runtime_zero_grads(struct lt_ctx *ctx)
{
	const struct lt_strategy_layout *l = &ctx->layout;
	size_t esz = lt_dtype_size(ctx->dtype);

	if (!ctx->grad_arena.used)
		return;
	if (!l->grads_sharded) {
		ctx->accel->fill(ctx->grad_arena.base, 0, ctx->grad_arena.used);
		return;
	}
	/* the strategy keeps the rest (layout) */
	if (l->state_numel)
		ctx->accel->fill(ctx->grad_arena.base + l->state_offset * esz, 0,
				 l->state_numel * esz);
}

/* The part of t's elements [*first, *first + return) inside the layout's
 * state range: what the optimizer of this rank reads. */
static size_t owned_part(const struct lt_ctx *ctx, const struct lt_tensor *t, size_t *first)
{
	const struct lt_strategy_layout *l = &ctx->layout;
	size_t lo = t->offset > l->state_offset ? t->offset : l->state_offset;
	size_t end = t->offset + (size_t)t->numel, lend = l->state_offset + l->state_numel;
	size_t hi = end < lend ? end : lend;

	*first = lo - t->offset;
	return hi > lo ? hi - lo : 0;
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

/* Clips every gradient by the global L2 norm (the strategy's, over every
 * rank's part) or by value.  Under mixed precision it clips the unscaled
 * f32 gradients.  Returns 0 or -1 with err. */
static int clip_gradients(struct lt_ctx *ctx, struct lt_err *err)
{
	const struct lt_config *c = ctx->cfg;
	enum lt_dtype dt = opt_dtype(ctx);
	double total = 0.0, factor = 1.0;
	size_t i;

	if (c->clip_val <= 0.0)
		return 0;
	if (strcmp(c->clip_algorithm, "value")) {
		if (ctx->strategy.grad_norm_sq(ctx, ctx->strategy_state, ctx->strategy_params,
					       &total, err))
			return strategy_failed(ctx, "grad_norm_sq", err);
		factor = lt_clip_factor(sqrt(total), c->clip_val);
		if (factor >= 1.0)
			return 0;
	}
	/* what this rank's optimizer reads: the layout's range */
	for (i = 0; i < ctx->nparams; i++) {
		size_t first, n = owned_part(ctx, ctx->params[i], &first);
		char *g = (char *)opt_grad(ctx->params[i]) + first * lt_dtype_size(dt);
		bool value = !strcmp(c->clip_algorithm, "value");

		if (on_device(ctx)) {
			const struct lt_accel_kernels *k = ctx->accel->kernels(err);

			if (!k || k->scale_clamp((float *)g, n, value ? 1.0f : (float)factor,
						 value ? (float)c->clip_val : 0.0f, err))
				return -1;
			continue;
		}
		if (value)
			scale_or_clamp(g, dt, n, 1.0, c->clip_val);
		else
			scale_or_clamp(g, dt, n, factor, 0.0);
	}
	return 0;
}

/* Mixed precision: the f32 gradients, divided by the loss scale.  Returns
 * whether any holds inf or NaN on this rank. */
static bool unscale_gradients(struct lt_ctx *ctx)
{
	float inv = ctx->precision->scaler ? (float)(1.0 / ctx->scaler.st.scale) : 1.0f;
	bool found = false;

	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];
		size_t first, n = owned_part(ctx, t, &first);

		/* what this rank's optimizer reads (the layout's range); the
		 * scaler's decision is every rank's (scaler_decides) */
		if (on_device(ctx)) {
			struct lt_err err = { 0 };
			const struct lt_accel_kernels *k = ctx->accel->kernels(&err);
			bool bad = false;

			if (!k || k->unscale_half(t->master_grad + first,
						  (const uint16_t *)t->grad + first, n,
						  ctx->dtype == LT_BF16, inv, &bad, &err))
				lt_fatal(ctx, "unscaling the gradients of '%s': %s", t->name, err.msg);
			found |= bad;
			continue;
		}
		found |= lt_unscale_half(t->master_grad + first,
					 (const uint16_t *)t->grad + first, n,
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

	ctx->groups_fixed = true; /* the groups of the first step are the run's */
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
		struct lt_update u = { .lr = lr, .count = ctx->optim_steps + 1 };

		if (clip_gradients(ctx, err))
			return -1;
		ctx->optim_steps++;
		if (ctx->strategy.step(ctx, ctx->strategy_state, ctx->strategy_params, &u, err)) {
			struct lt_err later;

			lt_optim_finish(ctx->optim, &later); /* the strategy's error first */
			return strategy_failed(ctx, "step", err);
		}
		/* state in files: written back, or a read or write failed */
		if (lt_optim_finish(ctx->optim, err))
			return -1;
		lt_views_refresh(ctx);
	}
	lt_runtime_zero_grads(ctx);
	return lt_buffers_average(ctx, err) || lt_replicas_check(ctx, err) ? -1 : 0;
}

/* --- the strategy API of ltrun/strategy.h that needs the optimizer --- */

/* Ends the rank when [first, first + n) is not within t. */
static void check_range(lt_ctx *ctx, const struct lt_tensor *t, size_t first, size_t n,
			const char *fn)
{
	if (first > (size_t)t->numel || n > (size_t)t->numel - first)
		lt_fatal(ctx, "strategy '%s': %s('%s', %zu, %zu): the range is outside the parameter's %lld elements",
			 ctx->strategy_name, fn, t->name, first, n, (long long)t->numel);
}

struct lt_optim_group lt_runtime_group(const struct lt_ctx *ctx, const struct lt_tensor *t)
{
	struct lt_optim_group g = LT_OPTIM_GROUP_DEFAULT;

	if (t->decay)
		g.decay = t->decay > 0;
	else if (!strcmp(ctx->cfg->weight_decay_on, "matrices"))
		g.decay = t->shape.ndim >= 2;
	if (t->lr_scaled)
		g.lr_scale = t->lr_scale;
	return g;
}

LT_API void lt_update(lt_ctx *ctx, lt_tensor *t, size_t first, size_t n, const struct lt_update *u)
{
	struct lt_optim_group g = lt_runtime_group(ctx, t);
	size_t at = t->offset + first, esz = lt_dtype_size(ctx->dtype);
	const struct lt_strategy_layout *l = &ctx->layout;
	void *param;
	const void *grad;

	check_range(ctx, t, first, n, "lt_update");
	if (at < l->state_offset || at + n > l->state_offset + l->state_numel)
		lt_fatal(ctx, "strategy '%s': lt_update('%s') of flat elements [%zu, +%zu) outside this rank's optimizer state [%zu, +%zu): update only the range setup's layout names",
			 ctx->strategy_name, t->name, at, n, l->state_offset, l->state_numel);
	if (!n)
		return;
	/* an async save may still be copying this parameter and its state */
	if (ctx->before_update)
		ctx->before_update(ctx, t->index + 1);
	param = t->master ? (void *)(t->master + first) : (char *)t->data + first * esz;
	grad = t->master_grad ? (const void *)(t->master_grad + first)
			      : (const char *)t->grad + first * esz;
	lt_optim_step_group(ctx->optim, &g, opt_dtype(ctx), param, grad, at - l->state_offset, n,
			    u->lr, u->count);
	if (t->master && on_device(ctx)) {
		struct lt_err err = { 0 };

		if (device_to_compute(ctx, t, first, n, &err))
			lt_fatal(ctx, "%s", err.msg);
	} else if (t->master) {
		struct lt_precision_view pv = { .param = t->name, .index = t->index, .step = u->count,
						.params = ctx->choice[LT_KIND_PRECISION].params,
						.first = first };
		struct lt_err err;

		if (lt_precision_to_compute(&ctx->choice[LT_KIND_PRECISION], &pv,
					    (char *)t->data + first * esz, t->master + first, n, &err))
			lt_fatal(ctx, "%s", err.msg);
	}
}

LT_API double lt_grad_sumsq(lt_ctx *ctx, lt_tensor *t, size_t first, size_t n)
{
	enum lt_dtype dt = opt_dtype(ctx);

	check_range(ctx, t, first, n, "lt_grad_sumsq");
	if (on_device(ctx)) {
		struct lt_err err = { 0 };
		const struct lt_accel_kernels *k = ctx->accel->kernels(&err);
		double s = 0.0;

		if (!k || k->sumsq((const float *)opt_grad(t) + first, n, &s, &err))
			lt_fatal(ctx, "lt_grad_sumsq('%s'): %s", t->name, err.msg);
		return s;
	}
	return sumsq((const char *)opt_grad(t) + first * lt_dtype_size(dt), dt, n);
}

double lt_runtime_lr(const struct lt_ctx *ctx, int64_t total_steps)
{
	const struct lt_config *c = ctx->cfg;
	int64_t total = total_steps > 0 ? total_steps : ctx->planned_steps;
	struct lt_schedule s = {
		.kind = !strcmp(c->lr_schedule, "cosine") ? LT_SCHED_COSINE : LT_SCHED_CONSTANT,
		.base_lr = c->lr,
		.min_lr = c->min_lr,
		.warmup_steps = c->warmup_steps,
		.total_steps = total > 0 ? total : (c->max_steps > 0 ? c->max_steps : 0),
	};

	return lt_schedule_lr(&s, ctx->step);
}

void lt_runtime_free(struct lt_ctx *ctx)
{
	if (ctx->strategy_ready)
		ctx->strategy.teardown(ctx, ctx->strategy_state, ctx->strategy_params);
	ctx->strategy_ready = false;
	ctx->strategy_state = NULL;
	lt_groups_close(ctx);
	lt_optim_free(ctx->optim);
	ctx->optim = NULL;
	lt_buffers_free(ctx);
	lt_views_free(ctx);
	lt_ready_free(ctx);
	lt_units_free(ctx);
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

	if (ctx->in_val && ctx->val_padding) /* a batch run only to take part (loop.c) */
		return;

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
