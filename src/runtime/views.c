/*
 * views.c - the f32 views of ltrun.h (lt_data_f32, lt_grad_f32; views.h):
 * which buffer each one is under each precision, the f32 copies and
 * gradients made on demand, folding an f32 gradient into the compute
 * dtype's, and refreshing the copies.
 */
#include "runtime/views.h"
#include "precision/precision.h"

#include <string.h>

/* Address space of each view arena: committed only as views are made. */
#define VIEW_RESERVE ((size_t)256 << 30)
/* Elements converted at a time when folding (on the stack). */
#define FOLD_CHUNK 1024

/* numel f32 elements of arena a (reserved at its first use). */
static float *view_alloc(struct lt_ctx *ctx, struct lt_arena *a, const struct lt_tensor *t,
			 struct lt_err *err)
{
	if (!a->base && ctx->accel->reserve(a, VIEW_RESERVE, err))
		return NULL;
	return ctx->accel->alloc(a, (size_t)t->numel * sizeof(float), err);
}

float *lt_views_data(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	if (t->master && !ctx->views_from_values)
		return t->master;
	if (ctx->dtype == LT_F32)
		return t->data;
	if (!t->data_f32) {
		t->data_f32 = view_alloc(ctx, &ctx->view_arena, t, err);
		if (t->data_f32)
			lt_precision_to_f32(t->data_f32, t->data, ctx->dtype, (size_t)t->numel);
	}
	return t->data_f32;
}

float *lt_views_grad(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	if (ctx->dtype == LT_F32)
		return t->grad;
	if (!t->grad_f32)
		t->grad_f32 = view_alloc(ctx, &ctx->view_grad_arena, t, err);
	return t->grad_f32;
}

void lt_views_fold(struct lt_ctx *ctx, struct lt_tensor *t, size_t first, size_t n)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	const float *g;
	float sum[FOLD_CHUNK];

	if (!t->grad_f32 || ctx->probing || !n)
		return;
	g = t->grad_f32 + first;
	if (ctx->dtype == LT_F64) {
		double *d = (double *)t->grad + first;

		for (size_t i = 0; i < n; i++)
			d[i] += g[i];
	} else {
		for (size_t i = 0; i < n; i += FOLD_CHUNK) {
			size_t m = n - i < FOLD_CHUNK ? n - i : FOLD_CHUNK;
			char *dst = (char *)t->grad + (first + i) * esz;

			lt_precision_to_f32(sum, dst, ctx->dtype, m);
			for (size_t j = 0; j < m; j++)
				sum[j] += g[i + j];
			lt_precision_from_f32(dst, ctx->dtype, sum, m);
		}
	}
	ctx->accel->fill(t->grad_f32 + first, 0, n * sizeof(float));
}

static void refresh(struct lt_ctx *ctx, size_t first, size_t count)
{
	for (size_t i = first; i < first + count; i++) {
		struct lt_tensor *t = ctx->params[i];

		if (t->data_f32)
			lt_precision_to_f32(t->data_f32, t->data, ctx->dtype, (size_t)t->numel);
	}
}

void lt_views_refresh(struct lt_ctx *ctx)
{
	if (!ctx->view_arena.used)
		return;
	if (!ctx->layout.values_sharded) {
		refresh(ctx, 0, ctx->nparams);
		return;
	}
	/* the units' values are not here between uses: lt_views_refresh_unit */
	for (size_t i = 0; i < ctx->nparams; i++)
		if (ctx->params[i]->unit < 0)
			refresh(ctx, i, 1);
}

void lt_views_refresh_unit(struct lt_ctx *ctx, size_t first, size_t count)
{
	if (ctx->view_arena.used && ctx->layout.values_sharded)
		refresh(ctx, first, count);
}

void lt_views_fill_grads(struct lt_ctx *ctx, int byte)
{
	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];

		if (t->grad_f32)
			ctx->accel->fill(t->grad_f32, byte, (size_t)t->numel * sizeof(float));
	}
}

void lt_views_free(struct lt_ctx *ctx)
{
	if (!ctx->accel)
		return;
	ctx->accel->release(&ctx->view_arena);
	ctx->accel->release(&ctx->view_grad_arena);
}
