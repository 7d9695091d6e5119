/*
 * buffers.c - lt_buffer()'s tensors (buffers.h): registration with first
 * values drawn as the parameters' are (f32, then converted to the
 * buffer's dtype; integers take LT_ZEROS or LT_CONSTANT only), their own
 * arena, and keeping them equal across ranks (a broadcast from rank 0 at
 * setup and resume, a mean after each optimizer step for AVERAGE ones).
 */
#include "runtime/buffers.h"
#include "comm/comm.h"
#include "core/dtype.h"
#include "core/error.h"
#include "precision/precision.h"
#include "runtime/draw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_RESERVE ((size_t)64 << 30)
/* Buffers draw from streams of their own, apart from the parameters'. */
#define BUFFER_STREAM ((size_t)1 << 30)

struct lt_tensor *lt_tensor_named(const struct lt_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nparams; i++)
		if (!strcmp(ctx->params[i]->name, name))
			return ctx->params[i];
	for (size_t i = 0; i < ctx->nbuffers; i++)
		if (!strcmp(ctx->buffers[i]->name, name))
			return ctx->buffers[i];
	return NULL;
}

size_t lt_tensor_bytes(const struct lt_tensor *t)
{
	return (size_t)t->numel * lt_dtype_size(t->dtype);
}

/* The first values: drawn in f32 and converted, or an integer constant. */
static int fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		struct lt_err *err)
{
	size_t n = (size_t)t->numel;
	float *v;

	if (!lt_dtype_is_float(t->dtype)) {
		for (size_t i = 0; init.kind == LT_INIT_CONSTANT && i < n; i++)
			lt_dtype_store(t->data, t->dtype, i, init.a);
		return 0;
	}
	v = t->dtype == LT_F32 ? t->data : malloc(n * sizeof(float));
	if (!v)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the first values");
	lt_draw((uint64_t)ctx->cfg->seed, &t->shape, t->numel, init, BUFFER_STREAM + t->index, v);
	if (v != t->data) {
		lt_precision_from_f32(t->data, t->dtype, v, n);
		free(v);
	}
	return 0;
}

static int check(const struct lt_ctx *ctx, const char *name, enum lt_dtype dt,
		 struct lt_init init, enum lt_buffer_sync sync, struct lt_err *err)
{
	const struct lt_tensor *other = lt_tensor_named(ctx, name);

	if (other)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "'%s' is already registered as a %s: buffers and parameters share one namespace, give each its own name",
				  name, other->is_buffer ? "buffer" : "parameter");
	if (!lt_dtype_valid(dt))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "unknown dtype %d: use LT_F32, LT_F64, LT_F16, LT_BF16, LT_I32 or LT_I64",
				  (int)dt);
	if (sync != LT_BUFFER_BROADCAST && sync != LT_BUFFER_AVERAGE)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "unknown sync %d: use LT_BUFFER_BROADCAST or LT_BUFFER_AVERAGE",
				  (int)sync);
	if (sync == LT_BUFFER_AVERAGE && !lt_dtype_is_float(dt))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "LT_BUFFER_AVERAGE of %s: only float buffers are averaged (use LT_BUFFER_BROADCAST)",
				  lt_dtype_name(dt));
	if (init.kind < LT_INIT_ZEROS || init.kind > LT_INIT_XAVIER_UNIFORM)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "unknown init kind %d: use LT_ZEROS, LT_CONSTANT(v), LT_NORMAL(...)...",
				  (int)init.kind);
	if (!lt_dtype_is_float(dt) && init.kind != LT_INIT_ZEROS && init.kind != LT_INIT_CONSTANT)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "an %s buffer takes LT_ZEROS or LT_CONSTANT(v) only", lt_dtype_name(dt));
	return 0;
}

static int append(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	if (ctx->nbuffers == ctx->buffers_cap) {
		size_t cap = ctx->buffers_cap ? 2 * ctx->buffers_cap : 16;
		struct lt_tensor **p = realloc(ctx->buffers, cap * sizeof(*p));

		if (!p)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		ctx->buffers = p;
		ctx->buffers_cap = cap;
	}
	ctx->buffers[ctx->nbuffers++] = t;
	return 0;
}

struct lt_tensor *lt_buffers_add(struct lt_ctx *ctx, const char *name, struct lt_shape shape,
				 int64_t numel, enum lt_dtype dt, struct lt_init init,
				 enum lt_buffer_sync sync, struct lt_err *err)
{
	struct lt_tensor *t;

	if (check(ctx, name, dt, init, sync, err))
		return NULL;
	if (!ctx->buffer_arena.base &&
	    ctx->accel->reserve(&ctx->buffer_arena, BUFFER_RESERVE, err))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->shape = shape;
	t->numel = numel;
	t->index = ctx->nbuffers;
	t->bucket = -1;
	t->unit = -1;
	t->is_buffer = true;
	t->dtype = dt;
	t->sync = sync;
	t->data = ctx->accel->alloc(&ctx->buffer_arena, lt_tensor_bytes(t), err);
	if (!t->data || fill(ctx, t, init, err) || append(ctx, t, err)) {
		free(t);
		return NULL;
	}
	return t;
}

int lt_buffers_broadcast(struct lt_ctx *ctx, struct lt_err *err)
{
	if (ctx->info.world_size == 1)
		return 0;
	for (size_t i = 0; i < ctx->nbuffers; i++) {
		struct lt_tensor *t = ctx->buffers[i];

		if (lt_comm_broadcast(ctx->comm, t->data, (size_t)t->numel, t->dtype, 0, err))
			return -1;
	}
	return 0;
}

int lt_buffers_average(struct lt_ctx *ctx, struct lt_err *err)
{
	if (ctx->info.world_size == 1)
		return 0;
	for (size_t i = 0; i < ctx->nbuffers; i++) {
		struct lt_tensor *t = ctx->buffers[i];

		if (t->sync == LT_BUFFER_AVERAGE &&
		    lt_comm_all_reduce(ctx->comm, t->data, (size_t)t->numel, t->dtype, LT_AVG, err))
			return -1;
	}
	return 0;
}

void lt_buffers_free(struct lt_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nbuffers; i++)
		free(ctx->buffers[i]);
	free(ctx->buffers);
	ctx->buffers = NULL;
	ctx->nbuffers = ctx->buffers_cap = 0;
	if (ctx->accel && ctx->buffer_arena.base)
		ctx->accel->release(&ctx->buffer_arena);
}
