/*
 * test_precision_convert.c - the bulk conversions of src/precision/
 * convert.c, every test run for each kernel this CPU has ("scalar"
 * always, "f16c" where F16C and AVX2 are there, "avx512" where AVX-512
 * and AVX512_BF16 are too; a kernel the CPU lacks is reported as a
 * skipped test): all 65536 f16 and bf16
 * patterns widened to f32, 10^7 random f32 patterns (every exponent,
 * subnormals, infinities, NaN) and edge values rounded to f16 and bf16,
 * all against slow references written from the IEEE definitions in
 * double arithmetic (ldexp, frexp, nearbyint: not ltrun.h's functions,
 * which are checked against them too); every length 0..67 at unaligned
 * starts with guard elements after the end (the vector loops' tails), and
 * the unscale functions with an inf or NaN at each position.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "ltrun.h"
#include "precision/convert.h"

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
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Every kernel convert.c has, and the ones this CPU runs. */
static const char *const all_kernels[] = { "scalar", "f16c", "avx512" };
static const char *kernels[3];
static int nkernels(void)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(all_kernels) / sizeof(*all_kernels); i++)
		if (lt_convert_use_kernel(all_kernels[i]))
			kernels[n++] = all_kernels[i];
	return n;
}

#define FOR_EACH_KERNEL(k)                                                     \
	for (int k##_i = 0, k##_n = nkernels(); k##_i < k##_n; k##_i++)         \
		for (const char *k = kernels[k##_i]; k && lt_convert_use_kernel(k); \
		     k = NULL)

/* ------------------------------------------------------------ references */

/* The IEEE binary format with `mant` fraction bits, exponent bias `bias`
 * and `ebits` exponent bits: the bits of nearest-even(x) for a finite,
 * non-NaN float x, an infinity past the largest finite value's halfway
 * point. */
static uint32_t encode_ref(float x, int mant, int ebits, int bias)
{
	uint32_t sign = signbit(x) ? 1u << (mant + ebits) : 0;
	int emin = 1 - bias, emax = (1 << ebits) - 2 - bias, e;
	double a = fabs((double)x), q, limit;

	/* the largest finite value plus half its ulp */
	limit = ldexp(2.0 - ldexp(1.0, -mant), emax) + ldexp(1.0, emax - mant - 1);
	if (isinf(x) || a >= limit)
		return sign | (((1u << ebits) - 1) << mant);
	if (a == 0.0)
		return sign;
	frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
	e -= 1;       /* a = g * 2^e, g in [1, 2) */
	if (e < emin)
		e = emin;
	q = nearbyint(ldexp(a, mant - e)); /* in units of the ulp 2^(e-mant) */
	if (q >= ldexp(1.0, mant + 1)) {   /* rounded up into the next binade */
		q /= 2;
		e += 1;
	}
	if (q < ldexp(1.0, mant)) /* subnormal (or zero): biased exponent 0 */
		return sign | (uint32_t)q;
	return sign | ((uint32_t)(e + bias) << mant) | ((uint32_t)q - (1u << mant));
}

/* f32 -> f16: a NaN keeps its sign and the top 10 payload bits, quiet. */
static uint16_t f16_ref(float x)
{
	uint32_t u = f2u(x);

	if (isnan(x))
		return (uint16_t)(((u >> 16) & 0x8000) | 0x7e00 | ((u >> 13) & 0x3ff));
	return (uint16_t)encode_ref(x, 10, 5, 15);
}

/* f32 -> bf16: a NaN keeps its sign and top 7 payload bits, quiet. */
static uint16_t bf16_ref(float x)
{
	uint32_t u = f2u(x);

	if (isnan(x))
		return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)encode_ref(x, 7, 8, 127);
}

/* f16 -> f32 from the definition: (-1)^s 2^(e-15) (1 + m/1024), or
 * 2^-14 m/1024 for e = 0; a NaN widened with its payload, quiet. */
static uint32_t f16_widen_ref(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v;

	if (e == 0x1f && m)
		return ((uint32_t)(h & 0x8000) << 16) | 0x7fc00000 | ((uint32_t)m << 13);
	if (e == 0x1f)
		v = INFINITY;
	else if (e == 0)
		v = ldexp(m, -24);
	else
		v = ldexp(1024 + m, e - 25);
	return f2u((float)(h & 0x8000 ? -v : v));
}

/* bf16 -> f32, likewise: 2^(e-127) (1 + m/128), 2^-126 m/128 for e = 0. */
static uint32_t bf16_widen_ref(uint16_t h)
{
	int e = (h >> 7) & 0xff, m = h & 0x7f;
	double v;

	if (e == 0xff && m)
		return ((uint32_t)h << 16) | 0x400000;
	if (e == 0xff)
		v = INFINITY;
	else if (e == 0)
		v = ldexp(m, -133);
	else
		v = ldexp(128 + m, e - 134);
	return f2u((float)(h & 0x8000 ? -v : v));
}

/* ------------------------------------------------------ the references */

Test(precision_convert, references_agree_on_known_values)
{
	cr_assert_eq(f16_ref(1.0f), 0x3c00);
	cr_assert_eq(f16_ref(65504.0f), 0x7bff);
	cr_assert_eq(f16_ref(65519.996f), 0x7bff);
	cr_assert_eq(f16_ref(65520.0f), 0x7c00);
	cr_assert_eq(f16_ref(0x1p-24f), 0x0001);
	cr_assert_eq(f16_ref(0x1p-25f), 0x0000);
	cr_assert_eq(f16_ref(0x1.000002p-25f), 0x0001);
	cr_assert_eq(f16_ref(0x1.8p-24f), 0x0002);
	cr_assert_eq(f16_ref(0x1.ff8p-15f), 0x03ff); /* largest subnormal */
	cr_assert_eq(f16_ref(0x1.ffcp-15f), 0x0400); /* its halfway: to even */
	cr_assert_eq(f16_ref(0x1.ffep-15f), 0x0400); /* subnormal rounds up to normal */
	cr_assert_eq(f16_ref(-0.0f), 0x8000);
	cr_assert_eq(bf16_ref(1.0f + 0x1p-8f), 0x3f80);
	cr_assert_eq(bf16_ref(1.0f + 0x1.8p-7f), 0x3f82);
	cr_assert_eq(bf16_ref(0x1.fep127f), 0x7f7f);
	cr_assert_eq(bf16_ref(0x1.ffp127f), 0x7f80);
	cr_assert_eq(bf16_ref(0x1p-149f), 0x0000);
	cr_assert_eq(bf16_ref(0x1p-133f), 0x0001);
	cr_assert_eq(f16_widen_ref(0x0001), f2u(0x1p-24f));
	cr_assert_eq(f16_widen_ref(0x7bff), f2u(65504.0f));
	cr_assert_eq(bf16_widen_ref(0x3f80), f2u(1.0f));
}

/* ltrun.h's scalar functions against the references: what every kernel
 * is then checked against. */
Test(precision_convert, ltrun_h_scalar_matches_definition)
{
	for (uint32_t h = 0; h < 65536; h++) {
		cr_assert_eq(f2u(lt_f16_to_f32((uint16_t)h)), f16_widen_ref((uint16_t)h), "f16 %#x", h);
		cr_assert_eq(f2u(lt_bf16_to_f32((uint16_t)h)), bf16_widen_ref((uint16_t)h), "bf16 %#x", h);
	}
	for (int i = 0; i < 1000000; i++) {
		float x = u2f((uint32_t)rnd());

		cr_assert_eq(lt_f32_to_f16(x), f16_ref(x), "%#x", f2u(x));
		cr_assert_eq(lt_f32_to_bf16(x), bf16_ref(x), "%#x", f2u(x));
	}
}

/* ------------------------------------------------ half -> f32, all 65536 */

Test(precision_convert, half_to_f32_all_patterns)
{
	uint16_t *h = malloc(65537 * sizeof(*h));
	float *f = malloc(65537 * sizeof(*f));

	cr_assert(h && f);
	FOR_EACH_KERNEL(k) {
		/* at offset 0 and 1: aligned and unaligned vector loads */
		for (int off = 0; off < 2; off++) {
			for (uint32_t i = 0; i < 65536; i++)
				h[off + i] = (uint16_t)i;
			lt_convert_f16_to_f32(f + off, h + off, 65536);
			for (uint32_t i = 0; i < 65536; i++)
				cr_assert_eq(f2u(f[off + i]), f2u(lt_f16_to_f32((uint16_t)i)),
					     "%s f16 %#x -> %#x", k, i, f2u(f[off + i]));
			lt_convert_bf16_to_f32(f + off, h + off, 65536);
			for (uint32_t i = 0; i < 65536; i++)
				cr_assert_eq(f2u(f[off + i]), f2u(lt_bf16_to_f32((uint16_t)i)),
					     "%s bf16 %#x -> %#x", k, i, f2u(f[off + i]));
		}
	}
	free(f);
	free(h);
}

/* unscale_half over all 65536 patterns and a few scales: the product of
 * the exact widening, rounded once, and the flag iff some result is not
 * finite. */
Test(precision_convert, unscale_half_all_patterns)
{
	static const float scales[] = { 1.0f, 0x1p-16f, 3.0f, 0x1p100f, 0.0f };
	uint16_t *h = malloc(65536 * sizeof(*h));
	float *f = malloc(65536 * sizeof(*f));

	cr_assert(h && f);
	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t)i;
	FOR_EACH_KERNEL(k) {
		for (int bf = 0; bf < 2; bf++) {
			for (size_t s = 0; s < sizeof(scales) / sizeof(*scales); s++) {
				bool bad = lt_unscale_half(f, h, 65536, bf, scales[s]);

				cr_assert(bad, "%s: 65536 patterns hold inf and NaN", k);
				for (uint32_t i = 0; i < 65536; i++) {
					float w = bf ? lt_bf16_to_f32((uint16_t)i) : lt_f16_to_f32((uint16_t)i);
					float want = w * scales[s];

					cr_assert_eq(f2u(f[i]), f2u(want), "%s %s %#x * %a", k,
						     bf ? "bf16" : "f16", i, (double)scales[s]);
				}
				/* the finite half of the patterns: flag only if a product overflows */
				size_t fin = bf ? 0x7f80 : 0x7c00;
				bool over = isinf(f[fin - 1]);

				cr_assert_eq(lt_unscale_half(f, h, fin, bf, scales[s]), over,
					     "%s %s scale %a", k, bf ? "bf16" : "f16", (double)scales[s]);
			}
		}
	}
	free(f);
	free(h);
}

/* ------------------------------------------------ f32 -> half, random */

/* A random float: half the time any 32-bit pattern (every exponent,
 * inf and NaN included), half the time one near the f16 range (exponents
 * 2^-27 .. 2^17), a quarter of those exactly halfway between two f16
 * values. */
static float random_float(void)
{
	uint64_t r = rnd();
	uint32_t u = (uint32_t)r, sign = u & 0x80000000u;

	if (r >> 63)
		return u2f(u);
	uint32_t e = 127 - 27 + (uint32_t)((r >> 32) % 45), m = u & 0x7fffff;

	if (((r >> 40) & 3) == 0)
		m = (m & ~0x1fffu) | 0x1000; /* halfway for f16 normals */
	return u2f(sign | (e << 23) | m);
}

#define NRANDOM 10000000

Test(precision_convert, f32_to_half_random, .timeout = 60)
{
	float *x = malloc(NRANDOM * sizeof(*x));
	uint16_t *want16 = malloc(NRANDOM * sizeof(*want16));
	uint16_t *wantbf = malloc(NRANDOM * sizeof(*wantbf));
	uint16_t *got = malloc(NRANDOM * sizeof(*got));

	cr_assert(x && want16 && wantbf && got);
	for (size_t i = 0; i < NRANDOM; i++) {
		x[i] = random_float();
		want16[i] = f16_ref(x[i]);
		wantbf[i] = bf16_ref(x[i]);
	}
	FOR_EACH_KERNEL(k) {
		lt_convert_f32_to_f16(got, x, NRANDOM);
		for (size_t i = 0; i < NRANDOM; i++)
			if (got[i] != want16[i])
				cr_assert_fail("%s: f16 of %#x (%a): %#x, want %#x", k, f2u(x[i]),
					       (double)x[i], got[i], want16[i]);
		lt_convert_f32_to_bf16(got, x, NRANDOM);
		for (size_t i = 0; i < NRANDOM; i++)
			if (got[i] != wantbf[i])
				cr_assert_fail("%s: bf16 of %#x (%a): %#x, want %#x", k, f2u(x[i]),
					       (double)x[i], got[i], wantbf[i]);
	}
	free(got);
	free(wantbf);
	free(want16);
	free(x);
}

Test(precision_convert, f32_to_half_edges)
{
	static const uint32_t edges[] = {
		0x00000000, 0x00000001, 0x007fffff, 0x00800000, /* f32 zero, subnormals, min normal */
		0x33000000, 0x33000001, 0x33800000, 0x33c00000, /* 2^-25, above, 2^-24, 1.5 * 2^-24 */
		0x387fc000, 0x387fe000, 0x387fffff, 0x38800000, /* top f16 subnormals, 2^-14 */
		0x3f800000, 0x3f801000, 0x3f803000, 0x3f802fff, /* 1 and its f16 halfway cases */
		0x3f808000, 0x3f818000, 0x3f80ffff,             /* bf16 halfway cases */
		0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff, /* 65504 .. 65520 .. */
		0x47800000, 0x7f7f7fff, 0x7f7f8000, 0x7f7fffff, /* 65536, bf16 max's halfway */
		0x7f800000, 0x7f800001, 0x7f802000, 0x7fbfffff, /* inf, signalling NaNs */
		0x7fc00000, 0x7fc00001, 0x7fffe000, 0x7fffffff, /* quiet NaNs */
	};
	size_t ne = sizeof(edges) / sizeof(*edges), n = 2 * ne;
	float x[2 * sizeof(edges) / sizeof(*edges)];
	uint16_t got[2 * sizeof(edges) / sizeof(*edges)];

	for (size_t i = 0; i < ne; i++) {
		x[i] = u2f(edges[i]);
		x[ne + i] = u2f(edges[i] | 0x80000000u);
	}
	FOR_EACH_KERNEL(k) {
		lt_convert_f32_to_f16(got, x, n);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(got[i], f16_ref(x[i]), "%s: f16 of %#x: %#x, want %#x", k,
				     f2u(x[i]), got[i], f16_ref(x[i]));
		lt_convert_f32_to_bf16(got, x, n);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(got[i], bf16_ref(x[i]), "%s: bf16 of %#x: %#x, want %#x", k,
				     f2u(x[i]), got[i], bf16_ref(x[i]));
	}
	cr_assert_eq(f16_ref(65504.0f), 0x7bff);
	cr_assert_eq(f16_ref(65520.0f), 0x7c00);
	cr_assert_eq(f16_ref(0x1p-24f), 0x0001);
	cr_assert_eq(f16_ref(0x1p-25f), 0x0000);
}

/* ------------------------------------------- every length, unaligned */

#define MAXLEN 67
#define GUARD 8
#define GUARD16 0xa5a5
#define GUARD32 0xdeadbeefu

/* Every conversion at lengths 0..MAXLEN from starts 0..3 elements into
 * the buffers, with GUARD elements after the end that must not change. */
Test(precision_convert, every_length_and_start)
{
	float xs[MAXLEN + 4 + GUARD], fs[MAXLEN + 4 + GUARD];
	uint16_t hs[MAXLEN + 4 + GUARD], hd[MAXLEN + 4 + GUARD];
	double ds[MAXLEN + 4 + GUARD], dd[MAXLEN + 4 + GUARD];

	for (size_t i = 0; i < MAXLEN + 4 + GUARD; i++) {
		xs[i] = random_float();
		hs[i] = (uint16_t)rnd();
		ds[i] = (double)random_float() * (1.0 + 0x1p-40);
	}
	FOR_EACH_KERNEL(k) {
		for (size_t off = 0; off < 4; off++) {
			for (size_t n = 0; n <= MAXLEN; n++) {
				const float *x = xs + off;
				const uint16_t *h = hs + off;

				for (int which = 0; which < 2; which++) {
					for (size_t i = 0; i < MAXLEN + 4 + GUARD; i++)
						hd[i] = GUARD16;
					(which ? lt_convert_f32_to_bf16 : lt_convert_f32_to_f16)(hd + off, x, n);
					for (size_t i = 0; i < n; i++)
						cr_assert_eq(hd[off + i], which ? bf16_ref(x[i]) : f16_ref(x[i]),
							     "%s which %d n %zu off %zu i %zu", k, which, n, off, i);
					for (size_t i = 0; i < off; i++)
						cr_assert_eq(hd[i], GUARD16, "%s: wrote before the start", k);
					for (size_t i = off + n; i < MAXLEN + 4 + GUARD; i++)
						cr_assert_eq(hd[i], GUARD16, "%s: n %zu wrote past the end", k, n);

					for (size_t i = 0; i < MAXLEN + 4 + GUARD; i++)
						fs[i] = u2f(GUARD32);
					(which ? lt_convert_bf16_to_f32 : lt_convert_f16_to_f32)(fs + off, h, n);
					for (size_t i = 0; i < n; i++)
						cr_assert_eq(f2u(fs[off + i]),
							     which ? bf16_widen_ref(h[i]) : f16_widen_ref(h[i]),
							     "%s widen %d n %zu off %zu i %zu", k, which, n, off, i);
					for (size_t i = off + n; i < MAXLEN + 4 + GUARD; i++)
						cr_assert_eq(f2u(fs[i]), GUARD32, "%s: n %zu wrote past the end", k, n);
				}

				for (size_t i = 0; i < MAXLEN + 4 + GUARD; i++)
					fs[i] = u2f(GUARD32);
				lt_convert_f64_to_f32(fs + off, ds + off, n);
				for (size_t i = 0; i < n; i++)
					cr_assert_eq(f2u(fs[off + i]), f2u((float)ds[off + i]), "%s f64 n %zu", k, n);
				for (size_t i = off + n; i < MAXLEN + 4 + GUARD; i++)
					cr_assert_eq(f2u(fs[i]), GUARD32, "%s: f64 -> f32 wrote past the end", k);
				for (size_t i = 0; i < MAXLEN + 4 + GUARD; i++)
					dd[i] = -1.5;
				lt_convert_f32_to_f64(dd + off, x, n);
				for (size_t i = 0; i < n; i++)
					cr_assert(memcmp(&dd[off + i], &(double){ (double)x[i] }, 8) == 0,
						  "%s f32 -> f64 n %zu i %zu", k, n, i);
				for (size_t i = off + n; i < MAXLEN + 4 + GUARD; i++)
					cr_assert_eq(dd[i], -1.5, "%s: f32 -> f64 wrote past the end", k);
			}
		}
	}
}

/* Destinations of 16 MiB and more take the streaming-store path (a
 * scalar head to 32-byte alignment, then aligned stores): every function
 * over one such buffer, from an odd start, against ltrun.h element by
 * element. */
#define NBIG ((16u << 20) / 2 + 37) /* halves: 16 MiB + 74 bytes */

Test(precision_convert, large_buffers_stream, .timeout = 60)
{
	float *x = malloc((NBIG + 1) * sizeof(*x)), *f = malloc((NBIG + 1) * sizeof(*f));
	uint16_t *h = malloc((NBIG + 1) * sizeof(*h));

	cr_assert(x && f && h);
	for (size_t i = 0; i <= NBIG; i++)
		x[i] = random_float();
	FOR_EACH_KERNEL(k) {
		for (int bf = 0; bf < 2; bf++) {
			(bf ? lt_convert_f32_to_bf16 : lt_convert_f32_to_f16)(h + 1, x + 1, NBIG);
			for (size_t i = 1; i <= NBIG; i++)
				if (h[i] != (bf ? lt_f32_to_bf16(x[i]) : lt_f32_to_f16(x[i])))
					cr_assert_fail("%s %s: element %zu of %#x", k, bf ? "bf16" : "f16",
						       i, f2u(x[i]));
			for (size_t i = 1; i <= NBIG; i++)
				h[i] = (uint16_t)rnd();
			(bf ? lt_convert_bf16_to_f32 : lt_convert_f16_to_f32)(f + 1, h + 1, NBIG);
			for (size_t i = 1; i <= NBIG; i++)
				if (f2u(f[i]) != f2u(bf ? lt_bf16_to_f32(h[i]) : lt_f16_to_f32(h[i])))
					cr_assert_fail("%s widen %s: element %zu of %#x", k,
						       bf ? "bf16" : "f16", i, h[i]);
			cr_assert(lt_unscale_half(f + 1, h + 1, NBIG, bf, 0.5f), "%s", k);
			for (size_t i = 1; i <= NBIG; i++)
				if (f2u(f[i]) != f2u((bf ? lt_bf16_to_f32(h[i]) : lt_f16_to_f32(h[i])) * 0.5f))
					cr_assert_fail("%s unscale %s: element %zu", k, bf ? "bf16" : "f16", i);
			for (size_t i = 1; i <= NBIG; i++)
				h[i] = bf ? 0x3f80 : 0x3c00; /* 1.0: finite everywhere */
			cr_assert(!lt_unscale_half(f + 1, h + 1, NBIG, bf, 0.5f), "%s", k);
			h[NBIG / 2] = bf ? 0x7f80 : 0x7c00;
			cr_assert(lt_unscale_half(f + 1, h + 1, NBIG, bf, 0.5f), "%s", k);
		}
	}
	free(h);
	free(f);
	free(x);
}

/* ------------------------------------------------------------- unscale */

/* The unscale functions over finite arrays of every length, then with
 * one inf, NaN or overflowing element at each position: the flag, and
 * every element still multiplied. */
Test(precision_convert, unscale_flags_each_position)
{
	enum { N = 40 };
	static const uint32_t bad32[] = { 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x7f000000 };
	static const uint16_t bad16[] = { 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x7bff };
	static const uint16_t badbf[] = { 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0x7f00 };
	const float scale = 4.0f; /* 0x7f000000 (f32), 0x7bff (f16 * 2^120) overflow */
	float buf[N + 4], ref[N + 4], out[N + 4];
	uint16_t h[N + 4], b[N + 4];

	FOR_EACH_KERNEL(k) {
		for (size_t n = 0; n <= N; n++) {
			for (int bad = -1; bad < (int)(sizeof(bad32) / sizeof(*bad32)); bad++) {
				for (size_t pos = 0; pos < (bad < 0 ? 1 : n); pos++) {
					size_t off = (n + pos) % 4;

					for (size_t i = 0; i < n; i++) {
						ref[i] = (float)((int)(i * 7 % 23) - 11) * 0.25f;
						h[off + i] = lt_f32_to_f16(ref[i]);
						b[off + i] = lt_f32_to_bf16(ref[i]);
					}
					if (bad >= 0) {
						ref[pos] = u2f(bad32[bad]);
						h[off + pos] = bad16[bad];
						b[off + pos] = badbf[bad];
					}
					memcpy(buf + off, ref, n * sizeof(*ref));
					bool want = bad >= 0;
					float hs = bad == 4 ? 0x1p120f : scale; /* make 0x7bff overflow */

					cr_assert_eq(lt_unscale_f32(buf + off, n, scale), want,
						     "%s f32 n %zu bad %d pos %zu", k, n, bad, pos);
					for (size_t i = 0; i < n; i++)
						cr_assert_eq(f2u(buf[off + i]), f2u(ref[i] * scale),
							     "%s f32 n %zu i %zu", k, n, i);
					cr_assert_eq(lt_unscale_half(out + off, h + off, n, false, hs), want,
						     "%s f16 n %zu bad %d pos %zu", k, n, bad, pos);
					for (size_t i = 0; i < n; i++)
						cr_assert_eq(f2u(out[off + i]),
							     f2u(lt_f16_to_f32(h[off + i]) * hs),
							     "%s f16 n %zu i %zu", k, n, i);
					cr_assert_eq(lt_unscale_half(out + off, b + off, n, true, scale), want,
						     "%s bf16 n %zu bad %d pos %zu", k, n, bad, pos);
					for (size_t i = 0; i < n; i++)
						cr_assert_eq(f2u(out[off + i]),
							     f2u(lt_bf16_to_f32(b[off + i]) * scale),
							     "%s bf16 n %zu i %zu", k, n, i);
				}
			}
		}
	}
}

/* ------------------------------------------------------------- dispatch */

/* What the CPU has, asked independently of convert.c. */
static bool cpu_f16c(void)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;

	__builtin_cpu_init();
	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && __builtin_cpu_supports("avx2");
#else
	return false;
#endif
}

static bool cpu_avx512(void)
{
#if defined(__x86_64__)
	unsigned int a = 0, b, c, d;

	return cpu_f16c() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
	       __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
#else
	return false;
#endif
}

Test(precision_convert, kernel_choice)
{
	bool f16c = cpu_f16c(), avx512 = cpu_avx512();
	const char *best = avx512 ? "avx512" : f16c ? "f16c" : "scalar";

	cr_assert(lt_convert_use_kernel(NULL));
	cr_assert_str_eq(lt_convert_kernel(), best);
	cr_assert(lt_convert_use_kernel("scalar"));
	cr_assert_str_eq(lt_convert_kernel(), "scalar");
	cr_assert_eq(lt_convert_use_kernel("f16c"), f16c);
	cr_assert_eq(lt_convert_use_kernel("avx512"), avx512);
	cr_assert(!lt_convert_use_kernel("avx1024"));
	cr_assert(!lt_convert_use_kernel(""));
	cr_assert(lt_convert_use_kernel(NULL));
	cr_assert_str_eq(lt_convert_kernel(), best);
}

/* The kernels this CPU cannot run go untested: say so. */
Test(precision_convert, f16c_kernel_tested)
{
	if (!cpu_f16c())
		cr_skip_test("this CPU lacks F16C or AVX2: the f16c kernel is not tested here");
	cr_assert(lt_convert_use_kernel("f16c"));
}

Test(precision_convert, avx512_kernel_tested)
{
	if (!cpu_avx512())
		cr_skip_test("this CPU lacks AVX-512 F/BW/DQ/VL or AVX512_BF16: the avx512 kernel is not "
			     "tested here");
	cr_assert(lt_convert_use_kernel("avx512"));
}
