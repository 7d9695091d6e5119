/*
 * views.h - ltrun.h's f32 views (views.c): f32 values and an f32
 * gradient of a parameter for kernels that compute in f32 whatever the
 * precision, so that one model source runs under every --precision.
 *
 *   compute dtype f32     the views are lt_data()/lt_grad() themselves
 *   mixed precision       the values are the f32 master weights; the
 *                         gradient is an f32 buffer folded (converted,
 *                         added) into lt_grad(), the gradient the
 *                         strategy synchronises, then zeroed
 *   otherwise (64-true,   the values are an f32 copy of lt_data(),
 *   16-true, bf16-true)   refreshed after every optimizer step and
 *                         whenever the values change under the model
 *                         (lt_views_refresh); the gradient as above
 *
 * Copies and gradients live in two arenas of the accelerator, made at
 * the first view a model asks for and carved per tensor on demand, so
 * that every pointer stays valid for the run.
 */
#ifndef LT_RUNTIME_VIEWS_H
#define LT_RUNTIME_VIEWS_H

#include "runtime/ctx.h"

/* t's f32 values, and its f32 gradient (zeroed), made at the first call.
 * NULL with err when the memory cannot be had. */
float *lt_views_data(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err);
float *lt_views_grad(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err);
/* Adds elements [first, first + n) of t's f32 gradient into lt_grad(t)
 * (each sum rounded to the compute dtype: under 16-mixed a sum beyond
 * f16's range becomes an infinity, which the loss scaler's check sees)
 * and zeroes them.  Nothing when t has no f32 gradient of its own or
 * while --debug's probe runs.  Can't fail. */
void lt_views_fold(struct lt_ctx *ctx, struct lt_tensor *t, size_t first, size_t n);
/* Makes every f32 copy again from lt_data(): after the optimizer step,
 * after parameters were set or loaded (lt_param_set, --init-weights,
 * --resume).  Cheap when no copy exists.  Can't fail. */
void lt_views_refresh(struct lt_ctx *ctx);
/* After lt_unit_begin under a layout with values_sharded: the f32 views of
 * the unit's parameters [first, first + count) from their gathered values. */
void lt_views_refresh_unit(struct lt_ctx *ctx, size_t first, size_t count);
/* Sets every byte of every f32 gradient of its own to byte (--debug's
 * probe: 0xff is NaN, 0 is zero). */
void lt_views_fill_grads(struct lt_ctx *ctx, int byte);
/* Gives the arenas back (lt_runtime_free). */
void lt_views_free(struct lt_ctx *ctx);

#endif
