/*
 * ltrun/precision.h - the precision plugin kind: the dtypes a run's
 * parameters, gradients and optimizer state live in, whether the loss is
 * scaled, and (optionally) how the f32 master weights become the values
 * the model computes with.
 *
 * A precision plugin is a struct lt_plugin of kind LT_KIND_PRECISION whose
 * ops point to a struct lt_precision_ops.  The runtime does the work the
 * table describes:
 *
 *   mixed      the values and gradients the model sees are a compute view
 *              in `compute`; f32 master weights beside them take the
 *              optimizer step (after the gradients are unscaled into f32),
 *              and the view is made from them again after every step by
 *              to_compute (NULL: round to nearest even)
 *   !mixed     the model's values are the optimizer's, in `compute`; the
 *              optimizer state is in `state`
 *   scaler     dynamic loss scaling: a step whose gradients hold inf or
 *              NaN on any rank is skipped on every rank
 *
 * examples/plugins/bf16_sr.c is a complete one: bf16 compute with
 * stochastic rounding of the master weights into the view.
 */
#ifndef LTRUN_PRECISION_H
#define LTRUN_PRECISION_H

#include <stdint.h>

#include "ltrun.h"
#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which view to_compute makes: the same on every rank, so that a hook that
 * draws random numbers can seed them from it and every rank (and a resumed
 * run) gets the same view. */
struct lt_precision_view {
	const char *param;             /* the parameter's name */
	size_t index;                  /* its registration order, from 0 */
	int64_t step;                  /* optimizer steps done; 0: first values */
	const struct lt_params *params; /* the plugin's parameters for this run */
	size_t first;                  /* dst and src start at this element of the
					* parameter (a strategy updating a slice) */
};

struct lt_precision_ops {
	enum lt_dtype compute; /* what lt_data()/lt_grad() hold (lt_dtype(ctx)) */
	enum lt_dtype state;   /* the optimizer's state: LT_F32 under mixed, else
				* `compute` (a float dtype both) */
	bool mixed;            /* f32 master weights beside the compute view */
	bool scaler;           /* dynamic loss scaling */
	const char *warning;   /* said on rank 0 when a run starts, or NULL */
	/* Optional: writes n values of `compute` into dst from the f32
	 * values src, for the parameter v names: its first values (when the
	 * compute dtype is not f32), and under mixed its view after every
	 * optimizer step and after a checkpoint is loaded.  NULL: round to
	 * nearest even.  Called from one thread at a time.  Returns 0, or -1
	 * with err set (one line); the run then stops with that message,
	 * naming the plugin. */
	int (*to_compute)(const struct lt_precision_view *v, void *dst, const float *src,
			  size_t n, struct lt_err *err);
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_PRECISION_H */
