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
 * printed with %.9g, enough digits to give back the float exactly.
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

/* Ends the rank unless the run computes in f32 on the cpu, the only case
 * the example models implement. */
static inline void require_f32_cpu(lt_ctx *ctx, const char *who)
{
	static const char *const names[] = { "f32", "f64", "f16", "bf16", "i32", "i64" };
	enum lt_dtype dt = lt_dtype(ctx);
	if (dt != LT_F32)
		lt_fatal(ctx, "%s: compute dtype %s is not supported; hint: run with "
			 "--precision 32-true", who,
			 (unsigned)dt < LT_DTYPE_COUNT ? names[dt] : "unknown");
	if (lt_device(ctx).kind != LT_DEVICE_CPU)
		lt_fatal(ctx, "%s: runs on the cpu only; hint: run with --accelerator cpu",
			 who);
}

/* On rank 0, writes the n tensors to path in the text format above
 * (other ranks do nothing).  A file that cannot be written ends the rank,
 * naming the path. */
static inline void dump_params(lt_ctx *ctx, const char *who, const char *path,
			       lt_tensor *const *t, int n)
{
	if (lt_rank(ctx) != 0)
		return;
	FILE *f = fopen(path, "w");
	if (!f)
		lt_fatal(ctx, "%s: cannot write --dump file '%s': %s", who, path,
			 strerror(errno));
	for (int k = 0; k < n; k++) {
		const float *v = lt_data(t[k]);
		for (int64_t i = 0; i < lt_numel(t[k]); i++)
			fprintf(f, "%s %lld %.9g\n", lt_name(t[k]), (long long)i,
				(double)v[i]);
	}
	if (ferror(f) | fclose(f))
		lt_fatal(ctx, "%s: cannot write --dump file '%s': %s", who, path,
			 strerror(errno));
}

#endif /* LTRUN_EXAMPLES_PARAMS_H */
