/*
 * convert.c - the bulk conversions of convert.h, in three kernels, each
 * a table of function pointers: "scalar", portable branch-free loops
 * (every case of ltrun.h's scalar conversion is computed and the right
 * one selected, so the compiler vectorises them); "f16c", F16C and AVX2
 * intrinsics for x86-64 CPUs that have both, with the scalar loop
 * finishing each buffer's last few elements; and "avx512", the f16c
 * kernel with AVX-512 narrowing conversions (f32 -> f16 and -> bf16) for
 * CPUs with AVX-512 and AVX512_BF16.
 *
 * F16C's vcvtps2ph (round to nearest even) and vcvtph2ps give ltrun.h's
 * results for every input, NaN included: both quiet a signalling NaN and
 * keep the payload's high bits, as ltrun.h does (tests/unit/
 * test_precision_convert.c checks all 65536 halves and 10^7 floats).  bf16
 * has no instruction: it is integer arithmetic (add 0x7fff plus the lsb,
 * shift) with NaN lanes quieted by a blend.  The inf/NaN check of the
 * unscale functions is folded into the same pass: each lane ORs
 * (bits & 0x7f800000) + 0x00800000 into an accumulator, whose sign bit is
 * set exactly when some exponent was all ones.
 *
 * Destinations of 16 MiB and more are written with streaming stores
 * (after a scalar head up to 32-byte alignment), which saves the read of
 * each destination line that a plain store costs; those loops also
 * prefetch their source 4 KB ahead.
 *
 * The kernel is picked at the first call (the best one the CPU runs, by
 * CPUID) and can be forced by lt_convert_use_kernel(), for the tests and
 * the benchmark.
 */
/* no-trapping-math lets GCC if-convert (and so vectorise) the selects of
 * the scalar loops; it changes no result, only the floating-point
 * exception flags, which nothing here reads. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math")
#endif

#include "precision/convert.h"
#include "ltrun.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define LT_HAVE_F16C_KERNEL 1
#define F16C_TARGET __attribute__((target("avx2,f16c")))
#endif

struct convert_ops {
	const char *name;
	void (*f32_to_f16)(uint16_t *dst, const float *src, size_t n);
	void (*f32_to_bf16)(uint16_t *dst, const float *src, size_t n);
	void (*f16_to_f32)(float *dst, const uint16_t *src, size_t n);
	void (*bf16_to_f32)(float *dst, const uint16_t *src, size_t n);
	bool (*unscale_f16)(float *dst, const uint16_t *src, size_t n, float scale);
	bool (*unscale_bf16)(float *dst, const uint16_t *src, size_t n, float scale);
	bool (*unscale_f32)(float *buf, size_t n, float scale);
	void (*f32_to_f64)(double *dst, const float *src, size_t n);
	void (*f64_to_f32)(float *dst, const double *src, size_t n);
};

/* ---------------------------------------------------------------- scalar */

/* Bit patterns of floats: ltrun.h's. */
#define bits_of lt_bits_of_f32_
#define float_of lt_f32_of_bits_

/* Nonzero in bit 31 when x's exponent is all ones (an infinity or NaN):
 * OR it over a buffer and test the sign bit. */
static inline uint32_t nonfinite_bit(uint32_t x)
{
	return (x & 0x7f800000u) + 0x00800000u;
}

/* lt_f32_to_f16() with every case computed and one selected. */
static inline uint16_t f32_to_f16_1(float f)
{
	uint32_t x = bits_of(f), sign = (x >> 16) & 0x8000, a = x & 0x7fffffff;
	uint32_t nan = sign | 0x7e00 | ((a >> 13) & 0x3ff);
	uint32_t inf = sign | 0x7c00;
	uint32_t sub = sign | (bits_of(float_of(a) + 0.5f) - 0x3f000000);
	uint32_t nrm = sign | ((a + 0xc8000fffu + ((a >> 13) & 1)) >> 13);

	uint32_t r = a < 0x38800000 ? sub : nrm;

	r = a >= 0x477ff000 ? inf : r;
	r = a > 0x7f800000 ? nan : r;
	return (uint16_t)r;
}

/* lt_f16_to_f32(), likewise. */
static inline float f16_to_f32_1(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
	uint32_t special = sign | 0x7f800000 | (m << 13) | (m ? 0x400000u : 0);
	uint32_t sub = sign | bits_of((float)m * 0x1p-24f);
	uint32_t r = sign | ((e + 112) << 23) | (m << 13);

	r = e == 0 ? sub : r;
	r = e == 0x1f ? special : r;
	return float_of(r);
}

static inline uint16_t f32_to_bf16_1(float f)
{
	uint32_t x = bits_of(f);
	uint32_t nan = (x >> 16) | 0x40, r = (x + 0x7fffu + ((x >> 16) & 1)) >> 16;

	return (uint16_t)((x & 0x7fffffff) > 0x7f800000 ? nan : r);
}

static inline float bf16_to_f32_1(uint16_t h)
{
	uint32_t x = (uint32_t)h << 16;

	return float_of((x & 0x7fffffff) > 0x7f800000 ? x | 0x400000 : x);
}

static void scalar_f32_to_f16(uint16_t *restrict dst, const float *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f32_to_f16_1(src[i]);
}

static void scalar_f32_to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f32_to_bf16_1(src[i]);
}

static void scalar_f16_to_f32(float *restrict dst, const uint16_t *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f16_to_f32_1(src[i]);
}

static void scalar_bf16_to_f32(float *restrict dst, const uint16_t *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = bf16_to_f32_1(src[i]);
}

/* dst = widened src * scale, f16 or bf16; true when a product is not
 * finite.  Inlined with a constant bf16, so each caller vectorises. */
static inline bool scalar_unscale_half(float *restrict dst, const uint16_t *restrict src,
				       size_t n, float scale, bool bf16)
{
	uint32_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		float v = (bf16 ? bf16_to_f32_1(src[i]) : f16_to_f32_1(src[i])) * scale;

		dst[i] = v;
		acc |= nonfinite_bit(bits_of(v));
	}
	return acc >> 31;
}

static bool scalar_unscale_f16(float *restrict dst, const uint16_t *restrict src, size_t n,
			       float scale)
{
	return scalar_unscale_half(dst, src, n, scale, false);
}

static bool scalar_unscale_bf16(float *restrict dst, const uint16_t *restrict src, size_t n,
				float scale)
{
	return scalar_unscale_half(dst, src, n, scale, true);
}

static bool scalar_unscale_f32(float *restrict buf, size_t n, float scale)
{
	uint32_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		float v = buf[i] * scale;

		buf[i] = v;
		acc |= nonfinite_bit(bits_of(v));
	}
	return acc >> 31;
}

static void scalar_f32_to_f64(double *restrict dst, const float *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (double)src[i];
}

static void scalar_f64_to_f32(float *restrict dst, const double *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)src[i];
}

static const struct convert_ops scalar_ops = {
	.name = "scalar",
	.f32_to_f16 = scalar_f32_to_f16,
	.f32_to_bf16 = scalar_f32_to_bf16,
	.f16_to_f32 = scalar_f16_to_f32,
	.bf16_to_f32 = scalar_bf16_to_f32,
	.unscale_f16 = scalar_unscale_f16,
	.unscale_bf16 = scalar_unscale_bf16,
	.unscale_f32 = scalar_unscale_f32,
	.f32_to_f64 = scalar_f32_to_f64,
	.f64_to_f32 = scalar_f64_to_f32,
};

/* ------------------------------------------------------------------ f16c */

#ifdef LT_HAVE_F16C_KERNEL

/* Destinations of at least this many bytes are written with streaming
 * (non-temporal) stores, as glibc's memcpy does for large copies: they
 * would not stay in cache anyway, and streaming saves reading each
 * destination line before writing it. */
#ifndef LT_CONVERT_STREAM_MIN_BYTES
#define LT_CONVERT_STREAM_MIN_BYTES (16u << 20)
#endif

/* Elements of `size` bytes to convert one by one before dst is 32-byte
 * aligned, when n of them are enough to stream; n when they are not. */
static inline size_t stream_head(const void *dst, size_t n, size_t size)
{
	if (n * size < LT_CONVERT_STREAM_MIN_BYTES)
		return n;
	return ((32 - ((uintptr_t)dst & 31)) & 31) / size;
}

/* Streaming loops also prefetch their source this far ahead: the
 * hardware prefetchers alone leave the f32 -> bf16 loop well short of
 * memcpy's bandwidth on one core. */
#ifndef LT_CONVERT_PREFETCH_BYTES
#define LT_CONVERT_PREFETCH_BYTES 4096
#endif

F16C_TARGET static inline void prefetch_ahead(const void *p)
{
	_mm_prefetch((const char *)p + LT_CONVERT_PREFETCH_BYTES, _MM_HINT_T0);
}

/* A 32-byte store: streamed (dst then 32-byte aligned) or plain. */
F16C_TARGET static inline void store32(void *dst, __m256i v, bool stream)
{
	if (stream)
		_mm256_stream_si256((__m256i *)dst, v);
	else
		_mm256_storeu_si256((__m256i *)dst, v);
}

/* A kernel around loop: with a destination large enough to stream, a
 * scalar head up to the alignment head() asks, the loop with streaming
 * stores and a fence; else the loop with plain stores; then the scalar
 * tail. */
#define STREAMED_KERNEL(target, name, dst_t, src_t, head, loop, scalar)             \
	target static void name(dst_t *dst, const src_t *src, size_t n)             \
	{                                                                           \
		size_t i = head(dst, n, sizeof(*dst));                              \
                                                                                    \
		if (i < n) {                                                        \
			scalar(dst, src, i);                                        \
			i += loop(dst + i, src + i, n - i, true);                   \
			_mm_sfence();                                               \
		} else {                                                            \
			i = loop(dst, src, n, false);                               \
		}                                                                   \
		scalar(dst + i, src + i, n - i);                                    \
	}

/* Each *_loop converts 16 elements at a time while 16 remain and returns
 * how many it did; the kernels around them stream or not (a constant
 * after inlining) and finish the tail with the scalar loop. */
F16C_TARGET static inline size_t f32_to_f16_loop(uint16_t *dst, const float *src, size_t n,
						 bool stream)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		if (stream)
			prefetch_ahead(src + i);
		__m128i a = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
		__m128i b = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 8), _MM_FROUND_TO_NEAREST_INT);

		store32(dst + i, _mm256_set_m128i(b, a), stream);
	}
	return i;
}

STREAMED_KERNEL(F16C_TARGET, f16c_f32_to_f16, uint16_t, float,
		stream_head, f32_to_f16_loop, scalar_f32_to_f16)

F16C_TARGET static inline size_t f16_to_f32_loop(float *dst, const uint16_t *src, size_t n,
						 bool stream)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		if (stream)
			prefetch_ahead(src + i);
		__m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
		__m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8)));

		store32(dst + i, _mm256_castps_si256(a), stream);
		store32(dst + i + 8, _mm256_castps_si256(b), stream);
	}
	return i;
}

STREAMED_KERNEL(F16C_TARGET, f16c_f16_to_f32, float, uint16_t,
		stream_head, f16_to_f32_loop, scalar_f16_to_f32)

/* Eight floats to bf16 in the low 16 bits of each 32-bit lane. */
F16C_TARGET static inline __m256i bf16_round8(__m256i x)
{
	const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
	__m256i q = _mm256_or_si256(x, _mm256_set1_epi32(0x400000));

	return _mm256_srli_epi32(_mm256_blendv_epi8(r, q, nan), 16);
}

F16C_TARGET static inline size_t f32_to_bf16_loop(uint16_t *dst, const float *src, size_t n,
						  bool stream)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		if (stream)
			prefetch_ahead(src + i);
		__m256i a = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i)));
		__m256i b = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));

		/* packus interleaves 128-bit halves: a0-3 b0-3 a4-7 b4-7 */
		store32(dst + i, _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8), stream);
	}
	return i;
}

STREAMED_KERNEL(F16C_TARGET, f16c_f32_to_bf16, uint16_t, float,
		stream_head, f32_to_bf16_loop, scalar_f32_to_bf16)

/* Eight bf16 (in a 128-bit vector) widened to f32 bits, NaN quieted. */
F16C_TARGET static inline __m256i bf16_widen8(__m128i h)
{
	__m256i x = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff)),
					 _mm256_set1_epi32(0x7f800000));

	return _mm256_or_si256(x, _mm256_and_si256(nan, _mm256_set1_epi32(0x400000)));
}

F16C_TARGET static inline size_t bf16_to_f32_loop(float *dst, const uint16_t *src, size_t n,
						  bool stream)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		if (stream)
			prefetch_ahead(src + i);
		store32(dst + i, bf16_widen8(_mm_loadu_si128((const __m128i *)(src + i))), stream);
		store32(dst + i + 8, bf16_widen8(_mm_loadu_si128((const __m128i *)(src + i + 8))),
			stream);
	}
	return i;
}

STREAMED_KERNEL(F16C_TARGET, f16c_bf16_to_f32, float, uint16_t,
		stream_head, bf16_to_f32_loop, scalar_bf16_to_f32)

/* acc |= nonfinite_bit() of each lane of v. */
F16C_TARGET static inline __m256i nonfinite_acc(__m256i acc, __m256 v)
{
	__m256i e = _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7f800000));

	return _mm256_or_si256(acc, _mm256_add_epi32(e, _mm256_set1_epi32(0x00800000)));
}

F16C_TARGET static inline bool any_nonfinite(__m256i acc)
{
	return _mm256_movemask_ps(_mm256_castsi256_ps(acc)) != 0;
}

/* The unscale loop for f16 (bf16 false) or bf16 sources; *bad is set
 * when some product is not finite. */
F16C_TARGET static inline size_t unscale_half_loop(float *dst, const uint16_t *src, size_t n,
						   bool bf16, float scale, bool stream, bool *bad)
{
	__m256 s = _mm256_set1_ps(scale);
	__m256i acc = _mm256_setzero_si256();
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		if (stream)
			prefetch_ahead(src + i);
		__m128i ha = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i hb = _mm_loadu_si128((const __m128i *)(src + i + 8));
		__m256 a = bf16 ? _mm256_castsi256_ps(bf16_widen8(ha)) : _mm256_cvtph_ps(ha);
		__m256 b = bf16 ? _mm256_castsi256_ps(bf16_widen8(hb)) : _mm256_cvtph_ps(hb);

		a = _mm256_mul_ps(a, s);
		b = _mm256_mul_ps(b, s);
		store32(dst + i, _mm256_castps_si256(a), stream);
		store32(dst + i + 8, _mm256_castps_si256(b), stream);
		acc = nonfinite_acc(nonfinite_acc(acc, a), b);
	}
	*bad = any_nonfinite(acc);
	return i;
}

F16C_TARGET static inline bool f16c_unscale_half(float *dst, const uint16_t *src, size_t n,
						 bool bf16, float scale)
{
	bool (*tail)(float *, const uint16_t *, size_t, float) =
		bf16 ? scalar_unscale_bf16 : scalar_unscale_f16;
	size_t i = stream_head(dst, n, sizeof(*dst));
	bool bad, head_bad = false;

	if (i < n) {
		head_bad = tail(dst, src, i, scale);
		i += unscale_half_loop(dst + i, src + i, n - i, bf16, scale, true, &bad);
		_mm_sfence();
	} else {
		i = unscale_half_loop(dst, src, n, bf16, scale, false, &bad);
	}
	return tail(dst + i, src + i, n - i, scale) | head_bad | bad;
}

F16C_TARGET static bool f16c_unscale_f16(float *dst, const uint16_t *src, size_t n, float scale)
{
	return f16c_unscale_half(dst, src, n, false, scale);
}

F16C_TARGET static bool f16c_unscale_bf16(float *dst, const uint16_t *src, size_t n, float scale)
{
	return f16c_unscale_half(dst, src, n, true, scale);
}

F16C_TARGET static bool f16c_unscale_f32(float *buf, size_t n, float scale)
{
	__m256 s = _mm256_set1_ps(scale);
	__m256i acc = _mm256_setzero_si256();
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256 a = _mm256_mul_ps(_mm256_loadu_ps(buf + i), s);
		__m256 b = _mm256_mul_ps(_mm256_loadu_ps(buf + i + 8), s);

		_mm256_storeu_ps(buf + i, a);
		_mm256_storeu_ps(buf + i + 8, b);
		acc = nonfinite_acc(nonfinite_acc(acc, a), b);
	}
	bool tail = scalar_unscale_f32(buf + i, n - i, scale); /* always: it scales */

	return tail || any_nonfinite(acc);
}

/* f32 <-> f64 need no intrinsics: the scalar loops, compiled for AVX2. */
F16C_TARGET static void f16c_f32_to_f64(double *restrict dst, const float *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (double)src[i];
}

F16C_TARGET static void f16c_f64_to_f32(float *restrict dst, const double *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (float)src[i];
}

static const struct convert_ops f16c_ops = {
	.name = "f16c",
	.f32_to_f16 = f16c_f32_to_f16,
	.f32_to_bf16 = f16c_f32_to_bf16,
	.f16_to_f32 = f16c_f16_to_f32,
	.bf16_to_f32 = f16c_bf16_to_f32,
	.unscale_f16 = f16c_unscale_f16,
	.unscale_bf16 = f16c_unscale_bf16,
	.unscale_f32 = f16c_unscale_f32,
	.f32_to_f64 = f16c_f32_to_f64,
	.f64_to_f32 = f16c_f64_to_f32,
};

/* ---------------------------------------------------------------- avx512 */

/* The two narrowing conversions in 512-bit registers, for CPUs with
 * AVX-512 (F, BW, DQ, VL) and AVX512_BF16; every other operation is the
 * f16c kernel's.  At 512 bits one load is one cache line and the
 * conversion is one instruction a line (vcvtps2ph, vcvtne2ps2bf16), which
 * is what brings both to memory speed on one core: the bf16 integer
 * arithmetic of the f16c kernel, at 256 bits, leaves f32 -> bf16 a
 * quarter slower than f32 -> f16.
 *
 * vcvtne2ps2bf16 rounds to nearest even and quiets NaN exactly as ltrun.h
 * does, but flushes subnormal inputs to zero: a line that holds a
 * subnormal (vfpclassps says so) is converted with the integer arithmetic
 * instead.  Streaming stores start at a 64-byte aligned dst. */
#define AVX512_TARGET __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

/* The streaming loops prefetch their source this far ahead, into L2
 * (four lines an iteration): on this project's Xeon that beats both no
 * prefetch and one into L1, and the loops convert four source lines an
 * iteration because fewer instructions a line leave more lines in
 * flight. */
#ifndef LT_CONVERT_PREFETCH512_BYTES
#define LT_CONVERT_PREFETCH512_BYTES 8192
#endif

/* Elements to convert one by one before dst is 64-byte aligned, when n of
 * them are enough to stream; n when they are not. */
static inline size_t stream_head64(const void *dst, size_t n, size_t size)
{
	if (n * size < LT_CONVERT_STREAM_MIN_BYTES)
		return n;
	return ((64 - ((uintptr_t)dst & 63)) & 63) / size;
}

AVX512_TARGET static inline void prefetch4_ahead(const float *p)
{
	const char *c = (const char *)p + LT_CONVERT_PREFETCH512_BYTES;

	for (int line = 0; line < 4; line++)
		_mm_prefetch(c + 64 * line, _MM_HINT_T1);
}

/* A 64-byte store: streamed (dst then 64-byte aligned) or plain. */
AVX512_TARGET static inline void store64(void *dst, __m512i v, bool stream)
{
	if (stream)
		_mm512_stream_si512((__m512i *)dst, v);
	else
		_mm512_storeu_si512(dst, v);
}

/* Two 256-bit halves as one 512-bit vector, lo first. */
AVX512_TARGET static inline __m512i join256(__m256i lo, __m256i hi)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Sixteen floats to bf16 by integer arithmetic (f16c's bf16_round8). */
AVX512_TARGET static inline __m256i bf16_round16(__m512 f)
{
	__m512i x = _mm512_castps_si512(f);
	__mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
						_mm512_set1_epi32(0x7f800000));
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
	__m512i r = _mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));

	r = _mm512_mask_or_epi32(r, nan, x, _mm512_set1_epi32(0x400000));
	return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* Sixteen floats to f16. */
AVX512_TARGET static inline __m256i f16_round16(__m512 f)
{
	return _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT);
}

/* The loops convert 64 elements (four source lines) at a time while 64
 * remain and return how many they did. */
AVX512_TARGET static inline size_t f32_to_f16_loop512(uint16_t *dst, const float *src, size_t n,
						      bool stream)
{
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		if (stream)
			prefetch4_ahead(src + i);
		__m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
		__m512 c = _mm512_loadu_ps(src + i + 32), d = _mm512_loadu_ps(src + i + 48);

		store64(dst + i, join256(f16_round16(a), f16_round16(b)), stream);
		store64(dst + i + 32, join256(f16_round16(c), f16_round16(d)), stream);
	}
	return i;
}

AVX512_TARGET static inline size_t f32_to_bf16_loop512(uint16_t *dst, const float *src, size_t n,
						       bool stream)
{
	enum { subnormal = 0x20 }; /* vfpclassps: denormal */
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		if (stream)
			prefetch4_ahead(src + i);
		__m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
		__m512 c = _mm512_loadu_ps(src + i + 32), d = _mm512_loadu_ps(src + i + 48);
		__mmask16 sub = _mm512_fpclass_ps_mask(a, subnormal) | _mm512_fpclass_ps_mask(b, subnormal) |
				_mm512_fpclass_ps_mask(c, subnormal) | _mm512_fpclass_ps_mask(d, subnormal);
		__m512i lo = (__m512i)_mm512_cvtne2ps_pbh(b, a), hi = (__m512i)_mm512_cvtne2ps_pbh(d, c);

		if (__builtin_expect(sub != 0, 0)) {
			lo = join256(bf16_round16(a), bf16_round16(b));
			hi = join256(bf16_round16(c), bf16_round16(d));
		}
		store64(dst + i, lo, stream);
		store64(dst + i + 32, hi, stream);
	}
	return i;
}

STREAMED_KERNEL(AVX512_TARGET, avx512_f32_to_f16, uint16_t, float,
		stream_head64, f32_to_f16_loop512, scalar_f32_to_f16)

STREAMED_KERNEL(AVX512_TARGET, avx512_f32_to_bf16, uint16_t, float,
		stream_head64, f32_to_bf16_loop512, scalar_f32_to_bf16)

static const struct convert_ops avx512_ops = {
	.name = "avx512",
	.f32_to_f16 = avx512_f32_to_f16,
	.f32_to_bf16 = avx512_f32_to_bf16,
	.f16_to_f32 = f16c_f16_to_f32,
	.bf16_to_f32 = f16c_bf16_to_f32,
	.unscale_f16 = f16c_unscale_f16,
	.unscale_bf16 = f16c_unscale_bf16,
	.unscale_f32 = f16c_unscale_f32,
	.f32_to_f64 = f16c_f32_to_f64,
	.f64_to_f32 = f16c_f64_to_f32,
};

#endif /* LT_HAVE_F16C_KERNEL */

/* -------------------------------------------------------------- dispatch */

/* The kernel in use; NULL until the first call picks one. */
static const struct convert_ops *current_ops;

#ifdef LT_HAVE_F16C_KERNEL
/* Whether the CPU has F16C and AVX2 ("avx2" also means the OS saves the
 * 256-bit registers).  clang's __builtin_cpu_supports() does not know
 * "f16c": ask CPUID, leaf 1, ECX bit 29. */
static bool cpu_runs_f16c(void)
{
	unsigned int a, b, c, d;

	__builtin_cpu_init();
	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && __builtin_cpu_supports("avx2");
}

/* Whether it also has the AVX-512 subsets of the avx512 kernel (the
 * builtin checks that the OS saves the 512-bit state) and AVX512_BF16
 * (CPUID leaf 7, subleaf 1, EAX bit 5, which not every compiler's
 * builtin knows). */
static bool cpu_runs_avx512(void)
{
	unsigned int a, b, c, d;

	return cpu_runs_f16c() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512vl") && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
	       (a & (1u << 5));
}
#endif

/* The kernels, best first, each with whether this CPU runs it. */
static const struct {
	const struct convert_ops *ops;
	bool (*runs)(void);
} kernels[] = {
#ifdef LT_HAVE_F16C_KERNEL
	{ &avx512_ops, cpu_runs_avx512 },
	{ &f16c_ops, cpu_runs_f16c },
#endif
	{ &scalar_ops, NULL },
};

/* The best kernel this CPU runs. */
static const struct convert_ops *best_ops(void)
{
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (!kernels[i].runs || kernels[i].runs())
			return kernels[i].ops;
	return &scalar_ops;
}

/* The kernel to run: picked at the first call (a race between first calls
 * only has both threads store the same pointer). */
static const struct convert_ops *ops(void)
{
	const struct convert_ops *o = __atomic_load_n(&current_ops, __ATOMIC_ACQUIRE);

	if (!o) {
		o = best_ops();
		__atomic_store_n(&current_ops, o, __ATOMIC_RELEASE);
	}
	return o;
}

bool lt_convert_use_kernel(const char *name)
{
	const struct convert_ops *o = name ? NULL : best_ops();

	for (size_t i = 0; !o && i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (!strcmp(name, kernels[i].ops->name)) {
			if (kernels[i].runs && !kernels[i].runs())
				return false; /* this CPU cannot run it */
			o = kernels[i].ops;
		}
	if (!o)
		return false; /* unknown */
	__atomic_store_n(&current_ops, o, __ATOMIC_RELEASE);
	return true;
}

const char *lt_convert_kernel(void)
{
	return ops()->name;
}

/* ---------------------------------------------------------- the API */

void lt_convert_f32_to_f16(uint16_t *dst, const float *src, size_t n)
{
	ops()->f32_to_f16(dst, src, n);
}

void lt_convert_f32_to_bf16(uint16_t *dst, const float *src, size_t n)
{
	ops()->f32_to_bf16(dst, src, n);
}

void lt_convert_f16_to_f32(float *dst, const uint16_t *src, size_t n)
{
	ops()->f16_to_f32(dst, src, n);
}

void lt_convert_bf16_to_f32(float *dst, const uint16_t *src, size_t n)
{
	ops()->bf16_to_f32(dst, src, n);
}

bool lt_unscale_half(float *dst, const uint16_t *src, size_t n, bool is_bf16, float scale)
{
	return is_bf16 ? ops()->unscale_bf16(dst, src, n, scale) : ops()->unscale_f16(dst, src, n, scale);
}

bool lt_unscale_f32(float *buf, size_t n, float scale)
{
	return ops()->unscale_f32(buf, n, scale);
}

void lt_convert_f32_to_f64(double *dst, const float *src, size_t n)
{
	ops()->f32_to_f64(dst, src, n);
}

void lt_convert_f64_to_f32(float *dst, const double *src, size_t n)
{
	ops()->f64_to_f32(dst, src, n);
}
