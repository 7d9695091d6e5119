/*
 * runtime.c - the parts of a rank's runtime both modes share: parameter
 * storage (the arenas of runtime.h), first values, the optimizer step with
 * clipping and the learning-rate schedule, and metric accumulators.
 *
 * Everything here runs on 32-true (f32 values and gradients); the
 * precision plugins of a later version put master weights and compute
 * views on top of the same arenas.
 */
#include "trainer/runtime.h"
#include "comm/comm.h"
#include "core/error.h"
#include "trainer/clip.h"
#include "trainer/optim.h"
#include "trainer/rng.h"
#include "trainer/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define COMMIT_GRAIN (2u << 20) /* commit memory 2 MiB at a time */

/* --- arenas --- */

int lt_arena_init(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	memset(a, 0, sizeof(*a));
	if (p == MAP_FAILED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot reserve %zu MiB of address space for parameters: %s",
				  bytes >> 20, strerror(errno));
	a->base = p;
	a->reserved = bytes;
	return 0;
}

void *lt_arena_alloc(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	size_t start = (a->used + 63) & ~(size_t)63, end = start + bytes;

	if (end > a->reserved || end < start) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "parameters need more than the %zu GiB ltrun reserves: register fewer or smaller parameters",
			   a->reserved >> 30);
		return NULL;
	}
	if (end > a->committed) {
		size_t to = (end + COMMIT_GRAIN - 1) / COMMIT_GRAIN * COMMIT_GRAIN;
		if (to > a->reserved)
			to = a->reserved;
		if (mprotect(a->base + a->committed, to - a->committed, PROT_READ | PROT_WRITE)) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "cannot commit %zu MiB for parameters: %s",
				   (to - a->committed) >> 20, strerror(errno));
			return NULL;
		}
		a->committed = to;
	}
	a->used = end;
	return a->base + start;
}

void lt_arena_free(struct lt_arena *a)
{
	if (a->base)
		munmap(a->base, a->reserved);
	memset(a, 0, sizeof(*a));
}

/* --- first values --- */

void lt_param_fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		   size_t index)
{
	const struct lt_shape *s = &t->shape;
	double fan_in = s->ndim ? (double)s->dim[s->ndim - 1] : 1.0;
	double fan_out = s->ndim > 1 ? (double)s->dim[0] : 1.0;
	float *v = t->data;
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

	ctx->optim = lt_optim_new(&oc, ctx->numel, err);
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
		memset(ctx->grad_arena.base, 0, ctx->grad_arena.used);
}

/* Clips every gradient by the global L2 norm (across parameters and, the
 * gradients being equal after sync, all ranks alike) or by value. */
static void clip_gradients(struct lt_ctx *ctx)
{
	const struct lt_config *c = ctx->cfg;
	double sumsq = 0.0, factor;
	size_t i;

	if (c->clip_val <= 0.0)
		return;
	if (!strcmp(c->clip_algorithm, "value")) {
		for (i = 0; i < ctx->nparams; i++)
			lt_clip_value(ctx->params[i]->grad, (size_t)ctx->params[i]->numel,
				      (float)c->clip_val);
		return;
	}
	for (i = 0; i < ctx->nparams; i++)
		sumsq += lt_clip_sumsq(ctx->params[i]->grad, (size_t)ctx->params[i]->numel);
	factor = lt_clip_factor(sqrt(sumsq), c->clip_val);
	if (factor >= 1.0)
		return;
	for (i = 0; i < ctx->nparams; i++)
		lt_clip_scale(ctx->params[i]->grad, (size_t)ctx->params[i]->numel, (float)factor);
}

int lt_runtime_optimizer_step(struct lt_ctx *ctx, double lr, struct lt_err *err)
{
	size_t i;

	(void)err;
	clip_gradients(ctx);
	ctx->step++;
	for (i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];
		lt_optim_step(ctx->optim, t->data, t->grad, t->offset, (size_t)t->numel, lr,
			      ctx->step);
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
	for (size_t i = 0; i < ctx->nparams; i++)
		free(ctx->params[i]);
	free(ctx->params);
	ctx->params = NULL;
	ctx->nparams = 0;
	lt_arena_free(&ctx->data_arena);
	lt_arena_free(&ctx->grad_arena);
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
