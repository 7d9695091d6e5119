/*
 * view.c - f32 values into a precision's compute view: the plugin's
 * to_compute hook, or rounding to nearest even (and any float dtype back
 * to f32, for given weights); and the check that a
 * precision's dtypes are ones the runtime can run.
 */
#include "precision/precision.h"
#include "precision/convert.h"
#include "core/dtype.h"

#include <string.h>

int lt_precision_check(const struct lt_choice *c, struct lt_err *err)
{
	const struct lt_precision_ops *ops = lt_precision_of(c);

	if (!lt_dtype_is_float(ops->compute) || !lt_dtype_is_float(ops->state))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "precision '%s': its compute and state dtypes must be LT_F32, LT_F64, LT_F16 or LT_BF16",
				  c->named->name);
	if (ops->mixed ? ops->state != LT_F32 : ops->state != ops->compute)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "precision '%s': %s", c->named->name,
				  ops->mixed ? "with master weights (mixed) the state dtype must be LT_F32"
					     : "without master weights (mixed) the state dtype must be the compute dtype");
	return 0;
}

void lt_precision_from_f32(void *dst, enum lt_dtype dt, const float *src, size_t n)
{
	switch (dt) {
	case LT_F64: lt_convert_f32_to_f64(dst, src, n); break;
	case LT_F16: lt_convert_f32_to_f16(dst, src, n); break;
	case LT_BF16: lt_convert_f32_to_bf16(dst, src, n); break;
	default: memcpy(dst, src, n * sizeof(float)); break;
	}
}

void lt_precision_to_f32(float *dst, const void *src, enum lt_dtype dt, size_t n)
{
	switch (dt) {
	case LT_F64: lt_convert_f64_to_f32(dst, src, n); break;
	case LT_F16: lt_convert_f16_to_f32(dst, src, n); break;
	case LT_BF16: lt_convert_bf16_to_f32(dst, src, n); break;
	default: memcpy(dst, src, n * sizeof(float)); break;
	}
}

int lt_precision_to_compute(const struct lt_choice *c, const struct lt_precision_view *v,
			    void *dst, const float *src, size_t n, struct lt_err *err)
{
	const struct lt_precision_ops *ops = lt_precision_of(c);
	struct lt_err e = { .status = LT_EXIT_FAILURE };

	if (!ops->to_compute) {
		lt_precision_from_f32(dst, ops->compute, src, n);
		return 0;
	}
	if (!ops->to_compute(v, dst, src, n, &e))
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE, "precision '%s': cannot make the compute view of '%s': %s",
			  c->named->name, v->param,
			  e.msg[0] ? e.msg : "its to_compute hook failed without saying why");
}
