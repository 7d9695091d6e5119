/*
 * precision.h - the built-in precision plugins (one a file, named after
 * it: 64-true.c, 32-true.c, 16-mixed.c, bf16-mixed.c, 16-true.c,
 * bf16-true.c; catalog.c registers them with the Lightning 1.x spellings
 * as presets) and the one place the runtime turns f32 values into a
 * compute view (view.c).  The interface is the public
 * include/ltrun/precision.h: a run's precision is the registry's choice
 * (ctx->choice[LT_KIND_PRECISION]), never looked up by name here.
 */
#ifndef LT_PRECISION_PRECISION_H
#define LT_PRECISION_PRECISION_H

#include "core/registry.h"
#include "ltrun/precision.h"

extern const struct lt_plugin lt_precision_64_true;
extern const struct lt_plugin lt_precision_32_true;
extern const struct lt_plugin lt_precision_16_mixed;
extern const struct lt_plugin lt_precision_bf16_mixed;
extern const struct lt_plugin lt_precision_16_true;
extern const struct lt_plugin lt_precision_bf16_true;

/* The ops of a resolved precision choice. */
static inline const struct lt_precision_ops *lt_precision_of(const struct lt_choice *c)
{
	return (const struct lt_precision_ops *)c->base->ops;
}

/* Checks that the ops of choice c can run: float dtypes, the state
 * dtype f32 under mixed and equal to the compute dtype otherwise.
 * Returns 0, or -1 with err naming the plugin. */
int lt_precision_check(const struct lt_choice *c, struct lt_err *err);

/* Writes n values of dt into dst from the f32 values src, rounding to
 * nearest even (f32: a copy). */
void lt_precision_from_f32(void *dst, enum lt_dtype dt, const float *src, size_t n);
/* Writes n f32 values into dst from the values src of dt (LT_F32, LT_F64,
 * LT_F16 or LT_BF16): exact from f16 and bf16, rounded to nearest even
 * from f64 (f32: a copy).  The reverse of lt_precision_from_f32. */
void lt_precision_to_f32(float *dst, const void *src, enum lt_dtype dt, size_t n);

/* Makes the compute view of parameter v from f32 values: through the
 * plugin's to_compute when it has one, else lt_precision_from_f32.
 * Returns 0, or -1 with err naming the plugin. */
int lt_precision_to_compute(const struct lt_choice *c, const struct lt_precision_view *v,
			    void *dst, const float *src, size_t n, struct lt_err *err);

#endif
