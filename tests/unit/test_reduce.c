/*
 * test_reduce.c - the kernels of src/comm/reduce.c: f16 and bf16 round
 * trips over all 65536 patterns, f32 -> f16/bf16 rounding against a slow
 * reference written in double arithmetic (nearbyint, so round to nearest
 * even by another road), and every op of lt_reduce_into, lt_reduce3 and
 * lt_divide for every dtype against element-wise double arithmetic.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/reduce.h"

static uint32_t f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* xorshift64*: the same numbers on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* ------------------------------------------------------------ references */

/* Rounds |x| to a binary format with `mant` fraction bits and minimum
 * normal exponent emin, in double (exact for float inputs). */
static double round_ref(double x, int mant, int emin)
{
	int e;

	frexp(x, &e); /* x = f * 2^e, f in [0.5, 1) */
	e -= 1;
	if (e < emin)
		e = emin;
	double ulp = ldexp(1.0, e - mant);
	return nearbyint(x / ulp) * ulp;
}

static uint16_t f16_ref(float f)
{
	uint16_t sign = signbit(f) ? 0x8000 : 0;
	double v = round_ref(fabs((double)f), 10, -14);
	int e;

	if (isinf(f) || v >= 65536.0)
		return sign | 0x7c00;
	if (v < 0x1p-14)
		return sign | (uint16_t)(v / 0x1p-24);
	frexp(v, &e);
	e -= 1;
	return sign | (uint16_t)((e + 15) << 10) | (uint16_t)(v / ldexp(1.0, e - 10) - 1024);
}

static uint16_t bf16_ref(float f)
{
	uint16_t sign = signbit(f) ? 0x8000 : 0;
	float v = isinf(f) ? INFINITY : (float)round_ref(fabs((double)f), 7, -126);

	return sign | (uint16_t)(f2u(v) >> 16);
}

/* ------------------------------------------------------------ round trips */

Test(comm_reduce, f16_round_trip_all_patterns)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = lt_f16_to_f32((uint16_t)h);
		uint16_t back = lt_f32_to_f16(f);
		bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
		if (nan) {
			cr_assert(isnan(f), "f16 %#x: not a NaN in f32", h);
			cr_assert_eq(back, h | 0x200, "f16 NaN %#x came back %#x", h, back);
		} else {
			cr_assert_eq(back, h, "f16 %#x -> %a -> %#x", h, f, back);
		}
	}
}

Test(comm_reduce, bf16_round_trip_all_patterns)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = lt_bf16_to_f32((uint16_t)h);
		uint16_t back = lt_f32_to_bf16(f);
		bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
		if (nan) {
			cr_assert(isnan(f), "bf16 %#x: not a NaN in f32", h);
			cr_assert_eq(back, h | 0x40, "bf16 NaN %#x came back %#x", h, back);
		} else {
			cr_assert_eq(back, h, "bf16 %#x -> %a -> %#x", h, f, back);
		}
	}
}

Test(comm_reduce, f16_known_values)
{
	cr_assert_eq(lt_f32_to_f16(1.0f), 0x3c00);
	cr_assert_eq(lt_f32_to_f16(-2.0f), 0xc000);
	cr_assert_eq(lt_f32_to_f16(65504.0f), 0x7bff);
	cr_assert_eq(lt_f32_to_f16(65519.0f), 0x7bff);
	cr_assert_eq(lt_f32_to_f16(65520.0f), 0x7c00);
	cr_assert_eq(lt_f32_to_f16(0x1p-24f), 0x0001);
	cr_assert_eq(lt_f32_to_f16(0x1p-25f), 0x0000);          /* tie to even: 0 */
	cr_assert_eq(lt_f32_to_f16(0x1.8p-24f), 0x0002);        /* tie to even: 2 */
	cr_assert_eq(lt_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);   /* tie to even */
	cr_assert_eq(lt_f32_to_f16(1.0f + 0x1.8p-10f), 0x3c02); /* tie to even */
	cr_assert_eq(lt_f32_to_f16(-INFINITY), 0xfc00);
	cr_assert_eq(lt_f32_to_f16(-0.0f), 0x8000);
	cr_assert_eq(lt_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);  /* tie to even */
	cr_assert_eq(lt_f32_to_bf16(3.4e38f), 0x7f80);         /* rounds to inf */
	cr_assert(isnan(lt_f16_to_f32(lt_f32_to_f16(NAN))));
	cr_assert(isnan(lt_bf16_to_f32(lt_f32_to_bf16(NAN))));
}

/* A float near the f16 range: random exponent in [-27, 16], random
 * mantissa, sometimes exactly halfway between two f16 values. */
static float random_float_near_half(void)
{
	uint64_t r = rnd();
	int e = (int)(r % 44) - 27;
	uint32_t mant = (uint32_t)(r >> 8) & 0x7fffff;

	if ((r >> 40) % 4 == 0)
		mant = (mant & ~0x1fffu) | 0x1000; /* a tie for normal f16 */
	float f = ldexpf(u2f(0x3f800000 | mant), e);
	return (r >> 63) ? -f : f;
}

Test(comm_reduce, f32_to_f16_matches_reference)
{
	for (int i = 0; i < 2000000; i++) {
		float f = i % 2 ? random_float_near_half() : u2f((uint32_t)rnd());
		if (isnan(f))
			continue;
		uint16_t got = lt_f32_to_f16(f), want = f16_ref(f);
		cr_assert_eq(got, want, "f32 %a (%#x): f16 %#x, reference %#x", f, f2u(f),
			     got, want);
	}
}

Test(comm_reduce, f32_to_bf16_matches_reference)
{
	for (int i = 0; i < 2000000; i++) {
		uint32_t u = (uint32_t)rnd();
		if (i % 4 == 0)
			u = (u & ~0xffffu) | 0x8000; /* a tie */
		float f = u2f(u);
		if (isnan(f))
			continue;
		uint16_t got = lt_f32_to_bf16(f), want = bf16_ref(f);
		cr_assert_eq(got, want, "f32 %a (%#x): bf16 %#x, reference %#x", f, u, got, want);
	}
}

/* ------------------------------------------------------------ reductions */

#define N 37

static double apply(enum lt_op op, double a, double b)
{
	switch (op) {
	case LT_SUM: case LT_AVG: return a + b;
	case LT_MIN: return a < b ? a : b;
	case LT_MAX: return a > b ? a : b;
	}
	return 0;
}

static void fill(void *a, void *b, enum lt_dtype dt)
{
	for (size_t i = 0; i < N; i++) {
		lt_dtype_store(a, dt, i, (double)((int)(i * 7 % 23) - 11));
		lt_dtype_store(b, dt, i, (double)((int)(i * 5 % 19) - 9));
	}
}

Test(comm_reduce, every_op_and_dtype)
{
	static const enum lt_op ops[] = { LT_SUM, LT_AVG, LT_MIN, LT_MAX };
	uint64_t a[N], b[N], d[N], a0[N];

	for (int dt = 0; dt < LT_DTYPE_COUNT; dt++)
		for (size_t o = 0; o < 4; o++) {
			fill(a, b, dt);
			memcpy(a0, a, sizeof(a));
			lt_reduce3(d, a, b, N, dt, ops[o]);
			lt_reduce_into(a, b, N, dt, ops[o]);
			for (size_t i = 0; i < N; i++) {
				double want = apply(ops[o], lt_dtype_load(a0, dt, i), lt_dtype_load(b, dt, i));
				cr_assert_eq(lt_dtype_load(a, dt, i), want, "%s %s [%zu]: into %g, want %g",
					     lt_op_name(ops[o]), lt_dtype_name(dt), i,
					     lt_dtype_load(a, dt, i), want);
				cr_assert_eq(lt_dtype_load(d, dt, i), want, "%s %s [%zu]: reduce3 %g, want %g",
					     lt_op_name(ops[o]), lt_dtype_name(dt), i,
					     lt_dtype_load(d, dt, i), want);
			}
			memcpy(a, a0, sizeof(a));
			lt_reduce3(b, a, b, N, dt, ops[o]); /* dst aliases b */
			for (size_t i = 0; i < N; i++)
				cr_assert_eq(lt_dtype_load(b, dt, i), lt_dtype_load(d, dt, i), "%s %s aliased [%zu]",
					     lt_op_name(ops[o]), lt_dtype_name(dt), i);
		}
}

Test(comm_reduce, divide_every_dtype)
{
	uint64_t a[N], b[N];

	for (int dt = 0; dt < LT_DTYPE_COUNT; dt++) {
		fill(a, b, dt);
		memcpy(b, a, sizeof(a));
		lt_divide(a, N, dt, 4);
		for (size_t i = 0; i < N; i++) {
			double v = lt_dtype_load(b, dt, i) / 4;
			if (dt == LT_I32 || dt == LT_I64)
				v = trunc(v);
			cr_assert_eq(lt_dtype_load(a, dt, i), v, "%s [%zu]: %g / 4 gave %g", lt_dtype_name(dt),
				     i, lt_dtype_load(b, dt, i), lt_dtype_load(a, dt, i));
		}
	}
}

Test(comm_reduce, min_max_propagate_nan)
{
	float a[3] = { 1, NAN, 3 }, b[3] = { NAN, 2, 1 };

	lt_reduce_into(a, b, 3, LT_F32, LT_MIN);
	cr_assert(isnan(a[0]) && isnan(a[1]) && a[2] == 1);
	float c[3] = { 1, NAN, 3 };
	lt_reduce_into(c, b, 3, LT_F32, LT_MAX);
	cr_assert(isnan(c[0]) && isnan(c[1]) && c[2] == 3);
}

Test(comm_reduce, names_and_sizes)
{
	cr_assert_str_eq(lt_dtype_name(LT_BF16), "bf16");
	cr_assert_str_eq(lt_op_name(LT_AVG), "avg");
	cr_assert_eq(lt_dtype_size(LT_F16), 2);
	cr_assert_eq(lt_dtype_size(LT_I64), 8);
	cr_assert_eq(lt_dtype_size(LT_F32), 4);
}
