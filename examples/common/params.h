/*
 * params.h - helpers the example models share for their options and for
 * writing their parameters out (--dump), so that tests can compare the
 * parameters of two runs (DDP on N ranks against single_device...).
 *
 * Header-only (static inline), included by the mlp, fabric and wide examples;
 * nothing to build on its own.
 *
 * The dump is text, one line per element, in the order the tensors are
 * given (the order the model registered them):
 *
 *	fc1.weight 0 -0.0431256965
 *	fc1.weight 1 0.118030421
 *	...
 *
 * "NAME INDEX VALUE", INDEX the flat (row-major) element index and VALUE
 * printed with %.9g, enough digits to give back the float exactly, whatever
 * the compute dtype (f16 and bf16 values are converted to f32; under
 * LT_F64, %.17g, exact for the double).
 *
 * It also has the conversions between the compute dtype and the f32 (or
 * f64) the models compute in: load(), store_add(), and param_view.
 */
#ifndef LTRUN_EXAMPLES_PARAMS_H
#define LTRUN_EXAMPLES_PARAMS_H

#include <ltrun.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64, a bijective 64-bit hash: deterministic pseudo-random data
 * from an index (digits.h's fixed shuffle, wide.c's samples). */
static inline uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The value of option argv[*i], which must follow it; advances *i.  A
 * missing value ends the rank. */
static inline const char *opt_value(lt_ctx *ctx, const char *who, int argc,
				    char **argv, int *i)
{
	if (*i + 1 >= argc)
		lt_fatal(ctx, "%s: option '%s' needs a value", who, argv[*i]);
	return argv[++*i];
}

/* Parses a whole-number option value in [lo, hi] with an optional K, M or
 * G suffix (powers of 1000: "100M" is 100000000).  Anything else ends the
 * rank, naming the option. */
static inline long long opt_count(lt_ctx *ctx, const char *who, const char *opt,
				  const char *v, long long lo, long long hi)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	long long mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1000, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1000000, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1000000000, end++;
	if (end == v || *end || errno || n > LLONG_MAX / mul || n * mul < lo ||
	    n * mul > hi)
		lt_fatal(ctx, "%s: option '%s %s': expected a whole number in "
			 "%lld..%lld (K, M, G suffixes allowed)", who, opt, v, lo, hi);
	return n * mul;
}

/* Parses a real option value in [lo, hi); anything else ends the rank. */
static inline double opt_real(lt_ctx *ctx, const char *who, const char *opt,
			      const char *v, double lo, double hi)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (end == v || *end || errno || !(x >= lo && x < hi))
		lt_fatal(ctx, "%s: option '%s %s': expected a number in [%g, %g)",
			 who, opt, v, lo, hi);
	return x;
}

/* ------------------------------------------------------------ dtypes
 *
 * lt_data() and lt_grad() hold lt_dtype(ctx): f32, f64, or f16/bf16 as
 * uint16_t.  The models compute in f32 (f64 under LT_F64, except where a
 * model says otherwise), reading parameters through param_view below and
 * converting at the boundaries. */

static inline const char *dtype_name(enum lt_dtype dt)
{
	static const char *const names[] = { "f32", "f64", "f16", "bf16", "i32", "i64" };
	return (unsigned)dt < LT_DTYPE_COUNT ? names[dt] : "unknown";
}

/* The type a model computes in for storage dtype dt: f64 for f64, else f32. */
static inline enum lt_dtype compute_dtype(enum lt_dtype dt)
{
	return dt == LT_F64 ? LT_F64 : LT_F32;
}

/* Ends the rank unless the run is on the cpu, with a floating-point
 * compute dtype: what the example models implement. */
static inline void require_cpu(lt_ctx *ctx, const char *who)
{
	enum lt_dtype dt = lt_dtype(ctx);
	if (dt != LT_F32 && dt != LT_F64 && dt != LT_F16 && dt != LT_BF16)
		lt_fatal(ctx, "%s: compute dtype %s is not supported; hint: run with "
			 "--precision 32-true", who, dtype_name(dt));
	if (lt_device(ctx).kind != LT_DEVICE_CPU)
		lt_fatal(ctx, "%s: runs on the cpu only; hint: run with --accelerator cpu",
			 who);
}

/* Element i of p (dtype dt, a floating-point one) as a double. */
static inline double load(const void *p, enum lt_dtype dt, size_t i)
{
	switch (dt) {
	case LT_F64: return ((const double *)p)[i];
	case LT_F16: return lt_f16_to_f32(((const uint16_t *)p)[i]);
	case LT_BF16: return lt_bf16_to_f32(((const uint16_t *)p)[i]);
	default: return ((const float *)p)[i];
	}
}

/* p[i] (dtype dt) = v, rounded to dt. */
static inline void store(void *p, enum lt_dtype dt, size_t i, double v)
{
	switch (dt) {
	case LT_F64: ((double *)p)[i] = v; break;
	case LT_F16: ((uint16_t *)p)[i] = lt_f32_to_f16((float)v); break;
	case LT_BF16: ((uint16_t *)p)[i] = lt_f32_to_bf16((float)v); break;
	default: ((float *)p)[i] = (float)v; break;
	}
}

/* p[i] (dtype dt) += v: in f64 for f64, else in f32 and rounded once to
 * dt, so that a half gradient takes the whole contribution in one
 * rounding (v may be large: it carries the loss scale). */
static inline void store_add(void *p, enum lt_dtype dt, size_t i, double v)
{
	if (dt == LT_F64)
		((double *)p)[i] += v;
	else
		store(p, dt, i, (float)load(p, dt, i) + (float)v);
}

/* dst (n elements of f32 or f64: ddt) = src (n elements of sdt). */
static inline void convert(void *dst, enum lt_dtype ddt, const void *src,
			   enum lt_dtype sdt, size_t n)
{
	float *d = dst;
	const uint16_t *h = src;
	if (ddt == sdt)
		memcpy(dst, src, n * lt_dtype_size(sdt));
	else if (ddt == LT_F32 && sdt == LT_F16) /* the hot cases, one loop each */
		for (size_t i = 0; i < n; i++)
			d[i] = lt_f16_to_f32(h[i]);
	else if (ddt == LT_F32 && sdt == LT_BF16)
		for (size_t i = 0; i < n; i++)
			d[i] = lt_bf16_to_f32(h[i]);
	else
		for (size_t i = 0; i < n; i++)
			store(dst, ddt, i, load(src, sdt, i));
}

/* dst (n elements of ddt) += src (n elements of f32 or f64: sdt), each
 * element as store_add() does it. */
static inline void accumulate(void *dst, enum lt_dtype ddt, const void *src,
			      enum lt_dtype sdt, size_t n)
{
	const float *s = src;
	uint16_t *h = dst;
	if (sdt == LT_F32 && ddt == LT_F16)
		for (size_t i = 0; i < n; i++)
			h[i] = lt_f32_to_f16(lt_f16_to_f32(h[i]) + s[i]);
	else if (sdt == LT_F32 && ddt == LT_BF16)
		for (size_t i = 0; i < n; i++)
			h[i] = lt_f32_to_bf16(lt_bf16_to_f32(h[i]) + s[i]);
	else
		for (size_t i = 0; i < n; i++)
			store_add(dst, ddt, i, load(src, sdt, i));
}

/* A parameter as the model computes with it, in ct (LT_F32 or LT_F64)
 * while its storage holds dt (lt_dtype(ctx)).  When the two are the same
 * the model works on lt_data() and lt_grad() directly; otherwise on
 * scratch copies of lt_numel(t) elements of ct each, which views may
 * share if they are used one at a time:
 *
 *	const float *w = view_data(&v);  // lt_data(t), or converted into scratch
 *	float *g = view_grad(&v);        // lt_grad(t), or zeroed scratch
 *	... g[i] += ...;
 *	view_grad_ready(ctx, &v);        // scratch added to lt_grad(t); ready
 */
struct param_view {
	lt_tensor *t;
	enum lt_dtype dt, ct;
	size_t n;
	void *data_scratch, *grad_scratch; /* unused when dt == ct */
};

static inline struct param_view param_view(lt_tensor *t, enum lt_dtype dt,
					   enum lt_dtype ct, void *data_scratch,
					   void *grad_scratch)
{
	return (struct param_view){ t, dt, ct, (size_t)lt_numel(t), data_scratch,
				    grad_scratch };
}

/* The values, n elements of ct: converted anew on each call. */
static inline const void *view_data(const struct param_view *v)
{
	if (v->dt == v->ct)
		return lt_data(v->t);
	convert(v->data_scratch, v->ct, lt_data(v->t), v->dt, v->n);
	return v->data_scratch;
}

/* Where backward adds the gradient, n elements of ct. */
static inline void *view_grad(const struct param_view *v)
{
	if (v->dt == v->ct)
		return lt_grad(v->t);
	memset(v->grad_scratch, 0, v->n * lt_dtype_size(v->ct));
	return v->grad_scratch;
}

/* After the last write to view_grad(): adds it to lt_grad() (each element
 * rounded once) and marks the gradient ready. */
static inline void view_grad_ready(lt_ctx *ctx, const struct param_view *v)
{
	if (v->dt != v->ct)
		accumulate(lt_grad(v->t), v->dt, v->grad_scratch, v->ct, v->n);
	lt_grad_ready(ctx, v->t);
}

/* On rank 0, writes the n tensors to path in the text format above
 * (other ranks do nothing).  A file that cannot be written ends the rank,
 * naming the path. */
static inline void dump_params(lt_ctx *ctx, const char *who, const char *path,
			       lt_tensor *const *t, int n)
{
	if (lt_rank(ctx) != 0)
		return;
	const enum lt_dtype dt = lt_dtype(ctx);
	FILE *f = fopen(path, "w");
	if (!f)
		lt_fatal(ctx, "%s: cannot write --dump file '%s': %s", who, path,
			 strerror(errno));
	for (int k = 0; k < n; k++) {
		const void *v = lt_data(t[k]);
		for (int64_t i = 0; i < lt_numel(t[k]); i++)
			fprintf(f, "%s %lld %.*g\n", lt_name(t[k]), (long long)i,
				dt == LT_F64 ? 17 : 9, load(v, dt, (size_t)i));
	}
	if (ferror(f) | fclose(f))
		lt_fatal(ctx, "%s: cannot write --dump file '%s': %s", who, path,
			 strerror(errno));
}

#endif /* LTRUN_EXAMPLES_PARAMS_H */
