/*
 * crc32c.c - CRC-32C for checkpoint checksums, fast enough that a save
 * and a load run at disk (or memory) speed, in three kernels picked at
 * the first call by what the CPU runs (lt_crc32c_use_kernel() forces one,
 * for the tests and the benchmark):
 *
 *   "vpclmul"  AVX-512 carry-less multiplication: 16 lanes of 128 bits
 *              folded forward 256 bytes at a time (after Intel's "Fast CRC
 *              Computation for Generic Polynomials Using PCLMULQDQ"), the
 *              last 128 bits reduced with the crc32 instruction;
 *   "sse42"    the SSE4.2 crc32 instruction on three independent streams
 *              (its latency is three cycles, its throughput one a cycle),
 *              joined with precomputed "append n zero bytes" tables (after
 *              Mark Adler's crc32c.c);
 *   "table"    slicing-by-8 tables, for any CPU.
 *
 * lt_crc32c_copy() copies while it checksums, so a load reads the source
 * once: vpclmul stores each 64-byte register it folds (streaming stores
 * past STREAM_MIN bytes); the others copy and checksum pieces small
 * enough to stay in the L1 cache.  Combining two CRCs multiplies the
 * first by x^(8 len) modulo the polynomial, with x^(2^k) tabulated; the
 * folding constants are x^n mod P computed the same way at start.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "ckpt/crc32c.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LT_HAVE_CRC_HW 1
#define FOLD_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))
#endif

#define POLY 0x82f63b78u /* 0x1EDC6F41 reflected */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256
#define FOLD_MIN 1024               /* shorter: the sse42 kernel is as fast */
#define STREAM_MIN ((size_t)1 << 20) /* copies this long bypass the caches */
#define COPY_PIECE 16384             /* table/sse42 copies: an L1-sized piece */

enum kernel { KERNEL_TABLE, KERNEL_SSE42, KERNEL_VPCLMUL };
static const char *const kernel_names[] = { "table", "sse42", "vpclmul" };

static uint32_t sw_table[8][256];
static uint32_t zeros_long[4][256];  /* shifts a crc over LONG_BLOCK zero bytes */
static uint32_t zeros_short[4][256]; /* ... over SHORT_BLOCK */
static uint32_t x2k[64 + 3]; /* x2k[k] = x^(2^k) mod POLY, reflected */
/* Folding constants, {x^(d+63), x^(d-1)} mod POLY (reflected, in the
 * high half of a 64-bit lane) for a distance of d = 128, 512, 2048 bits:
 * a 128-bit lane (a1 x^64 + a0) moves d bits on as
 * clmul(a1, x^(d+63)) ^ clmul(a0, x^(d-1)), each carry-less product of
 * reflected operands gaining the missing factor x. */
static uint64_t fold_k[3][2];
static bool cpu_has[3];
static int kernel = -1; /* enum kernel; -1 until init */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* --- the zero-bytes operators (GF(2) 32x32 matrices) --- */

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_times(mat, mat[n]);
}

/* op becomes the operator appending len zero bytes (len a power of two). */
static void zeros_op(uint32_t *op, size_t len)
{
	uint32_t odd[32], even[32], row = 1;

	odd[0] = POLY; /* one zero bit */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd); /* two bits */
	gf2_square(odd, even); /* four bits */
	for (;;) {
		gf2_square(even, odd); /* one byte, then 4, 16... */
		len >>= 1;
		if (!len) {
			memcpy(op, even, sizeof(even));
			return;
		}
		gf2_square(odd, even);
		len >>= 1;
		if (!len) {
			memcpy(op, odd, sizeof(odd));
			return;
		}
	}
}

static void zeros_table(uint32_t zeros[4][256], size_t len)
{
	uint32_t op[32];

	zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 0; k < 4; k++)
			zeros[k][n] = gf2_times(op, n << (8 * k));
}

static inline uint32_t shift(uint32_t zeros[4][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^
	       zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

/* a * b modulo POLY, reflected: bit 31 is x^0. */
static uint32_t mul_mod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (uint32_t m = 1u << 31; m; m >>= 1) {
		if (a & m)
			prod ^= b;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return prod;
}

/* x^(n 2^k0) modulo POLY, reflected: the product of x2k[k + k0] over
 * the bits k of n (x2k must be filled). */
static uint32_t xpow_mod_2k(uint64_t n, size_t k0)
{
	uint32_t r = 1u << 31; /* x^0 */

	for (size_t k = k0; n; n >>= 1, k++)
		if (n & 1)
			r = mul_mod(x2k[k], r);
	return r;
}

static void init_tables(void)
{
	x2k[0] = 1u << 30; /* x^1 */
	for (size_t k = 1; k < sizeof(x2k) / sizeof(x2k[0]); k++)
		x2k[k] = mul_mod(x2k[k - 1], x2k[k - 1]);

	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		sw_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			sw_table[k][n] = (sw_table[k - 1][n] >> 8) ^ sw_table[0][sw_table[k - 1][n] & 0xff];
	cpu_has[KERNEL_TABLE] = true;
#ifdef LT_HAVE_CRC_HW
	__builtin_cpu_init();
	cpu_has[KERNEL_SSE42] = __builtin_cpu_supports("sse4.2");
	cpu_has[KERNEL_VPCLMUL] = cpu_has[KERNEL_SSE42] && __builtin_cpu_supports("pclmul") &&
				  __builtin_cpu_supports("avx512f") &&
				  __builtin_cpu_supports("vpclmulqdq");
#endif
	zeros_table(zeros_long, LONG_BLOCK);
	zeros_table(zeros_short, SHORT_BLOCK);
	for (int i = 0; i < 3; i++) {
		uint64_t d = (uint64_t)128 << (2 * i);

		fold_k[i][0] = (uint64_t)xpow_mod_2k(d + 63, 0) << 32;
		fold_k[i][1] = (uint64_t)xpow_mod_2k(d - 1, 0) << 32;
	}
	kernel = cpu_has[KERNEL_VPCLMUL] ? KERNEL_VPCLMUL
		 : cpu_has[KERNEL_SSE42]  ? KERNEL_SSE42
					  : KERNEL_TABLE;
}

/* --- slicing-by-8 --- */

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t w;

	crc = ~crc;
	for (; len && ((uintptr_t)p & 7); len--)
		crc = (crc >> 8) ^ sw_table[0][(crc ^ *p++) & 0xff];
	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8); /* little-endian hosts only: x86-64, aarch64 */
		w ^= crc;
		crc = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
		      sw_table[5][(w >> 16) & 0xff] ^ sw_table[4][(w >> 24) & 0xff] ^
		      sw_table[3][(w >> 32) & 0xff] ^ sw_table[2][(w >> 40) & 0xff] ^
		      sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
	}
	while (len--)
		crc = (crc >> 8) ^ sw_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* --- sse42 --- */

#ifdef LT_HAVE_CRC_HW
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

/* Three streams of block bytes each while 3 * block bytes remain. */
#define CRC_BLOCKS(block, zeros)                                                   \
	while (len >= 3 * (size_t)(block)) {                                       \
		uint64_t c1 = 0, c2 = 0;                                           \
		const unsigned char *end = p + (block);                            \
		do {                                                               \
			c0 = _mm_crc32_u64(c0, load64(p));                         \
			c1 = _mm_crc32_u64(c1, load64(p + (block)));               \
			c2 = _mm_crc32_u64(c2, load64(p + 2 * (block)));           \
			p += 8;                                                    \
		} while (p < end);                                                 \
		c0 = shift(zeros, (uint32_t)c0) ^ c1;                              \
		c0 = shift(zeros, (uint32_t)c0) ^ c2;                              \
		p += 2 * (block);                                                  \
		len -= 3 * (size_t)(block);                                        \
	}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
							  size_t len)
{
	uint64_t c0 = ~crc;

	for (; len && ((uintptr_t)p & 7); len--)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	CRC_BLOCKS(LONG_BLOCK, zeros_long)
	CRC_BLOCKS(SHORT_BLOCK, zeros_short)
	for (; len >= 8; len -= 8, p += 8)
		c0 = _mm_crc32_u64(c0, load64(p));
	while (len--)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	return ~(uint32_t)c0;
}

/* --- vpclmul --- */

/* x moved on by the constants' distance, plus next. */
FOLD_TARGET static inline __m512i fold_512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

FOLD_TARGET static inline __m128i fold_128(__m128i x, __m128i k, __m128i next)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
					   _mm_clmulepi64_si128(x, k, 0x11)),
			     next);
}

FOLD_TARGET static inline __m512i fold_constants(int i)
{
	return _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold_k[i][1], (long long)fold_k[i][0]));
}

/* Stores 256 bytes at d from four registers (streaming stores: d is
 * 64-byte aligned). */
FOLD_TARGET static inline __attribute__((always_inline)) void
store_256(unsigned char *d, __m512i v0, __m512i v1, __m512i v2, __m512i v3, bool stream)
{
	if (stream) {
		_mm512_stream_si512((void *)d, v0);
		_mm512_stream_si512((void *)(d + 64), v1);
		_mm512_stream_si512((void *)(d + 128), v2);
		_mm512_stream_si512((void *)(d + 192), v3);
	} else {
		_mm512_storeu_si512(d, v0);
		_mm512_storeu_si512(d + 64, v1);
		_mm512_storeu_si512(d + 128, v2);
		_mm512_storeu_si512(d + 192, v3);
	}
}

/* The CRC of len >= 256 bytes at p continuing crc, also copied to dst
 * unless it is NULL.  Four registers of four 128-bit lanes take 256 bytes
 * a round, each lane folded 2048 bits on onto the bytes that follow; at
 * the end the registers fold into one (512 bits on), its lanes into one
 * (128 bits on), and the crc32 instruction reduces those 128 bits modulo
 * the polynomial.  The bytes after the last 256-byte round go through
 * crc_hw.  Inlined into the three callers below, each with constant dst
 * and stream. */
FOLD_TARGET static inline __attribute__((always_inline)) uint32_t
crc_fold_body(uint32_t crc, const unsigned char *p, size_t len, unsigned char *dst, bool stream)
{
	const __m512i k2048 = fold_constants(2), k512 = fold_constants(1);
	const __m128i k128 = _mm_set_epi64x((long long)fold_k[0][1], (long long)fold_k[0][0]);
	__m512i x0 = _mm512_loadu_si512(p), x1 = _mm512_loadu_si512(p + 64);
	__m512i x2 = _mm512_loadu_si512(p + 128), x3 = _mm512_loadu_si512(p + 192);
	__m128i a;
	uint64_t c;

	if (dst) {
		store_256(dst, x0, x1, x2, x3, stream);
		dst += 256;
	}
	/* the running CRC enters as the first 32 bits of the message */
	x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)~crc)));
	for (p += 256, len -= 256; len >= 256; p += 256, len -= 256) {
		__m512i y0 = _mm512_loadu_si512(p), y1 = _mm512_loadu_si512(p + 64);
		__m512i y2 = _mm512_loadu_si512(p + 128), y3 = _mm512_loadu_si512(p + 192);

		if (dst) {
			store_256(dst, y0, y1, y2, y3, stream);
			dst += 256;
		}
		x0 = fold_512(x0, k2048, y0);
		x1 = fold_512(x1, k2048, y1);
		x2 = fold_512(x2, k2048, y2);
		x3 = fold_512(x3, k2048, y3);
	}
	if (stream)
		_mm_sfence();
	x1 = fold_512(x0, k512, x1);
	x2 = fold_512(x1, k512, x2);
	x3 = fold_512(x2, k512, x3);
	a = _mm512_extracti32x4_epi32(x3, 0);
	a = fold_128(a, k128, _mm512_extracti32x4_epi32(x3, 1));
	a = fold_128(a, k128, _mm512_extracti32x4_epi32(x3, 2));
	a = fold_128(a, k128, _mm512_extracti32x4_epi32(x3, 3));
	c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(a));
	c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(a, 1));
	if (dst)
		memcpy(dst, p, len);
	return crc_hw(~(uint32_t)c, p, len);
}

FOLD_TARGET static uint32_t crc_fold(uint32_t crc, const unsigned char *p, size_t len)
{
	return crc_fold_body(crc, p, len, NULL, false);
}

FOLD_TARGET static uint32_t crc_fold_copy(uint32_t crc, unsigned char *dst, const unsigned char *p,
					  size_t len)
{
	return crc_fold_body(crc, p, len, dst, false);
}

/* dst 64-byte aligned. */
FOLD_TARGET static uint32_t crc_fold_stream(uint32_t crc, unsigned char *dst,
					    const unsigned char *p, size_t len)
{
	return crc_fold_body(crc, p, len, dst, true);
}
#endif

/* --- the entry points --- */

static int current_kernel(void)
{
	pthread_once(&init_once, init_tables);
	return __atomic_load_n(&kernel, __ATOMIC_RELAXED);
}

uint32_t lt_crc32c(uint32_t crc, const void *buf, size_t len)
{
	switch (current_kernel()) {
#ifdef LT_HAVE_CRC_HW
	case KERNEL_VPCLMUL:
		if (len >= FOLD_MIN)
			return crc_fold(crc, buf, len);
		return crc_hw(crc, buf, len);
	case KERNEL_SSE42:
		return crc_hw(crc, buf, len);
#endif
	default:
		return crc_sw(crc, buf, len);
	}
}

uint32_t lt_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

#ifdef LT_HAVE_CRC_HW
	if (current_kernel() == KERNEL_VPCLMUL && len >= FOLD_MIN) {
		size_t head = (64 - ((uintptr_t)d & 63)) & 63;

		if (len < STREAM_MIN)
			return crc_fold_copy(crc, d, s, len);
		memcpy(d, s, head);
		crc = crc_hw(crc, s, head);
		return crc_fold_stream(crc, d + head, s + head, len - head);
	}
#endif
	/* copy a piece, then checksum it from the L1 cache */
	for (size_t at = 0; at < len; at += COPY_PIECE) {
		size_t n = len - at < COPY_PIECE ? len - at : COPY_PIECE;

		memcpy(d + at, s + at, n);
		crc = lt_crc32c(crc, d + at, n);
	}
	return crc;
}

uint32_t lt_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	pthread_once(&init_once, init_tables);
	/* x^(8 len_b): the product of x^(2^(k+3)) over the bits k of len_b */
	return mul_mod(xpow_mod_2k(len_b, 3), crc_a) ^ crc_b;
}

const char *lt_crc32c_kernel(void)
{
	return kernel_names[current_kernel()];
}

int lt_crc32c_use_kernel(const char *name)
{
	int k;

	pthread_once(&init_once, init_tables);
	for (k = KERNEL_VPCLMUL; k >= KERNEL_TABLE; k--)
		if (cpu_has[k] && (!name || !strcmp(name, kernel_names[k])))
			break;
	if (k < KERNEL_TABLE)
		return -1;
	__atomic_store_n(&kernel, k, __ATOMIC_RELAXED);
	return 0;
}
