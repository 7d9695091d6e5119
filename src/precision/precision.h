/*
 * precision.h - the runtime side of the precision plugins: which dtype
 * the model computes in, where the optimizer's weights live, and whether
 * the loss is scaled.  One plugin a file, named after it (64-true.c,
 * 32-true.c, 16-mixed.c, bf16-mixed.c, 16-true.c, bf16-true.c); the
 * registry's side (names, aliases, descriptions) is catalog.c.  The
 * runtime (src/trainer/runtime.c) does the work the table describes:
 *
 *   mixed      values and gradients the model sees are a compute view in
 *              `compute`; f32 master weights beside them take the
 *              optimizer step, after the gradients are unscaled into f32,
 *              and the view is refreshed from them after every step
 *   !mixed     the model's values are the optimizer's (in `compute`),
 *              optimizer state in `state` too
 *   scaler     dynamic loss scaling (scaler.h): a step whose gradients
 *              hold inf or NaN on any rank is skipped on every rank
 */
#ifndef LT_PRECISION_PRECISION_H
#define LT_PRECISION_PRECISION_H

#include <stdbool.h>

#include "ltrun.h"

struct lt_precision_rt {
	const char *name;
	enum lt_dtype compute; /* lt_dtype(ctx): what lt_data()/lt_grad() hold */
	enum lt_dtype state;   /* the optimizer's weights and state */
	bool mixed;            /* f32 master weights beside the compute view */
	bool scaler;           /* dynamic loss scaling */
	/* Said on rank 0 when the run starts, or NULL. */
	const char *warning;
};

extern const struct lt_precision_rt lt_precision_64_true;
extern const struct lt_precision_rt lt_precision_32_true;
extern const struct lt_precision_rt lt_precision_16_mixed;
extern const struct lt_precision_rt lt_precision_bf16_mixed;
extern const struct lt_precision_rt lt_precision_16_true;
extern const struct lt_precision_rt lt_precision_bf16_true;

/* The runtime of precision `name` (Lightning 1.x spellings 64, 32, 16,
 * bf16 included), or NULL when this version has none. */
const struct lt_precision_rt *lt_precision_runtime(const char *name);

#endif
