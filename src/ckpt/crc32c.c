/*
 * crc32c.c - CRC-32C for checkpoint checksums, fast enough that a save
 * and a load run at disk (or memory) speed, in four kernels picked at
 * the first call by what the CPU runs (lt_crc32c_use_kernel() forces one,
 * for the tests and the benchmark):
 *
 *   "vpclmul"  AVX-512 carry-less multiplication: 16 lanes of 128 bits
 *              folded forward 256 bytes at a time (after Intel's "Fast CRC
 *              Computation for Generic Polynomials Using PCLMULQDQ"), the
 *              last 128 bits reduced with the crc32 instruction;
 *   "pclmul"   the same with 8 xmm registers, 128 bytes a round, for
 *              copies; its plain checksums are sse42's;
 *   "sse42"    the SSE4.2 crc32 instruction on three independent streams
 *              (its latency is three cycles, its throughput one a cycle),
 *              joined with precomputed "append n zero bytes" tables (after
 *              Mark Adler's crc32c.c);
 *   "table"    slicing-by-8 tables, for any CPU.
 *
 * lt_crc32c_copy() copies while it checksums, so a load reads the source
 * once: the folding kernels store each register they fold (streaming
 * stores past STREAM_MIN bytes); the others copy and checksum pieces
 * small enough to stay in the L1 cache.  Combining two CRCs multiplies the
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
#define PCLMUL_TARGET __attribute__((target("pclmul,sse4.2")))
#define VPCLMUL_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))
#endif

#define POLY 0x82f63b78u /* 0x1EDC6F41 reflected */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256
#define FOLD_MIN 1024               /* shorter: the sse42 kernel is as fast */
#define STREAM_MIN ((size_t)1 << 20) /* copies this long bypass the caches */
#define COPY_PIECE 16384             /* table/sse42 copies: an L1-sized piece */

enum kernel { KERNEL_TABLE, KERNEL_SSE42, KERNEL_PCLMUL, KERNEL_VPCLMUL, KERNELS };
static const char *const kernel_names[KERNELS] = { "table", "sse42", "pclmul", "vpclmul" };
/* The folding distances, in bits: between lanes, 4 zmm registers, 8 xmm
 * registers (pclmul's round) and 4 zmm registers (vpclmul's round). */
enum fold_distance { FOLD_128, FOLD_512, FOLD_1024, FOLD_2048, FOLDS };
static const unsigned fold_bits[FOLDS] = { 128, 512, 1024, 2048 };

static uint32_t sw_table[8][256];
static uint32_t zeros_long[4][256];  /* shifts a crc over LONG_BLOCK zero bytes */
static uint32_t zeros_short[4][256]; /* ... over SHORT_BLOCK */
static uint32_t x2k[64 + 3]; /* x2k[k] = x^(2^k) mod POLY, reflected */
/* Folding constants, {x^(d+63), x^(d-1)} mod POLY (reflected, in the
 * high half of a 64-bit lane) for each distance d of fold_bits:
 * a 128-bit lane (a1 x^64 + a0) moves d bits on as
 * clmul(a1, x^(d+63)) ^ clmul(a0, x^(d-1)), each carry-less product of
 * reflected operands gaining the missing factor x. */
static uint64_t fold_k[FOLDS][2];
static bool cpu_has[KERNELS];
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
	cpu_has[KERNEL_PCLMUL] = cpu_has[KERNEL_SSE42] && __builtin_cpu_supports("pclmul");
	cpu_has[KERNEL_VPCLMUL] = cpu_has[KERNEL_PCLMUL] && __builtin_cpu_supports("avx512f") &&
				  __builtin_cpu_supports("vpclmulqdq");
#endif
	zeros_table(zeros_long, LONG_BLOCK);
	zeros_table(zeros_short, SHORT_BLOCK);
	for (int i = 0; i < FOLDS; i++) {
		fold_k[i][0] = (uint64_t)xpow_mod_2k(fold_bits[i] + 63, 0) << 32;
		fold_k[i][1] = (uint64_t)xpow_mod_2k(fold_bits[i] - 1, 0) << 32;
	}
	for (kernel = KERNELS - 1; !cpu_has[kernel]; kernel--)
		; /* the best this CPU runs (the tables always) */
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

/* --- pclmul and vpclmul: folding --- */

/* x moved on by the constants' distance, plus next. */
PCLMUL_TARGET static inline __m128i fold_128(__m128i x, __m128i k, __m128i next)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
					   _mm_clmulepi64_si128(x, k, 0x11)),
			     next);
}

VPCLMUL_TARGET static inline __m512i fold_512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

PCLMUL_TARGET static inline __m128i constants_128(enum fold_distance d)
{
	return _mm_set_epi64x((long long)fold_k[d][1], (long long)fold_k[d][0]);
}

/* The state after 128 folded bits a: a times x^32 modulo the polynomial,
 * which the crc32 instruction computes from 0. */
PCLMUL_TARGET static inline uint32_t reduce_128(__m128i a)
{
	uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(a));

	return (uint32_t)_mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(a, 1));
}

/* The running CRC enters as the first 32 bits of the message. */
PCLMUL_TARGET static inline __m128i with_crc(__m128i first, uint32_t crc)
{
	return _mm_xor_si128(first, _mm_cvtsi32_si128((int)~crc));
}

/* M(0) .. M(n - 1): the registers of a round, written out (a loop over
 * an array of registers is not always unrolled, and then spills). */
#define EACH4(M) M(0) M(1) M(2) M(3)
#define EACH8(M) EACH4(M) M(4) M(5) M(6) M(7)

/* The rounds of a folding kernel, round bytes each: the bytes of a round
 * are stored at dst (when copying), then the next round's folded in,
 * while a whole round remains. */
#define FOLD_ROUNDS(EACH, STORE, FOLD, round)    \
	for (;;) {                               \
		if (dst) {                       \
			EACH(STORE)              \
			dst += (round);          \
		}                                \
		p += (round);                    \
		len -= (round);                  \
		if (len < (round))               \
			break;                   \
		EACH(FOLD)                       \
	}                                        \
	if (stream)                              \
		_mm_sfence();

/* A folding kernel's end: the bytes after its last round, copied and
 * checksummed from the state its 128 folded bits a leave. */
PCLMUL_TARGET static inline uint32_t fold_tail(__m128i a, const unsigned char *p, size_t len,
					       unsigned char *dst)
{
	if (dst)
		memcpy(dst, p, len);
	return crc_hw(~reduce_128(a), p, len);
}

/* The CRC of len >= 128 bytes at p continuing crc, also copied to dst
 * unless it is NULL (streaming stores: dst 64-byte aligned).  Eight xmm
 * registers take 128 bytes a round, each folded 1024 bits on onto the
 * bytes that follow; at the end they fold into one, 128 bits at a time,
 * and the bytes after the last round go through crc_hw.  Inlined into
 * the callers below, each with constant dst and stream. */
PCLMUL_TARGET static inline __attribute__((always_inline)) uint32_t
crc_pclmul_body(uint32_t crc, const unsigned char *p, size_t len, unsigned char *dst, bool stream)
{
	const __m128i k1024 = constants_128(FOLD_1024), k128 = constants_128(FOLD_128);
#define LOAD_16(j) _mm_loadu_si128((const __m128i *)(p + 16 * (j)))
#define DECLARE_16(j) __m128i x##j = LOAD_16(j);
#define STORE_16(j)                                                                 \
	if (stream)                                                                 \
		_mm_stream_si128((__m128i *)(dst + 16 * (j)), LOAD_16(j));          \
	else                                                                        \
		_mm_storeu_si128((__m128i *)(dst + 16 * (j)), LOAD_16(j));
#define FOLD_16(j) x##j = fold_128(x##j, k1024, LOAD_16(j));
#define JOIN_16(j) a = j ? fold_128(a, k128, x##j) : x##j;
	EACH8(DECLARE_16)
	__m128i a;

	x0 = with_crc(x0, crc);
	FOLD_ROUNDS(EACH8, STORE_16, FOLD_16, 128)
	EACH8(JOIN_16)
	return fold_tail(a, p, len, dst);
#undef LOAD_16
#undef DECLARE_16
#undef STORE_16
#undef FOLD_16
#undef JOIN_16
}

/* The same with four zmm registers (16 lanes, 256 bytes a round, folded
 * 2048 bits on); at the end the registers fold into one (512 bits on) and
 * its lanes into one (128 bits on). */
VPCLMUL_TARGET static inline __attribute__((always_inline)) uint32_t
crc_vpclmul_body(uint32_t crc, const unsigned char *p, size_t len, unsigned char *dst, bool stream)
{
	const __m512i k2048 = _mm512_broadcast_i32x4(constants_128(FOLD_2048));
	const __m512i k512 = _mm512_broadcast_i32x4(constants_128(FOLD_512));
	const __m128i k128 = constants_128(FOLD_128);
#define LOAD_64(j) _mm512_loadu_si512(p + 64 * (j))
#define DECLARE_64(j) __m512i x##j = LOAD_64(j);
#define STORE_64(j)                                                     \
	if (stream)                                                     \
		_mm512_stream_si512((void *)(dst + 64 * (j)), LOAD_64(j)); \
	else                                                            \
		_mm512_storeu_si512(dst + 64 * (j), LOAD_64(j));
#define FOLD_64(j) x##j = fold_512(x##j, k2048, LOAD_64(j));
#define JOIN_64(j) x = j ? fold_512(x, k512, x##j) : x##j;
#define LANE(j) a = j ? fold_128(a, k128, _mm512_extracti32x4_epi32(x, j)) \
		      : _mm512_extracti32x4_epi32(x, 0);
	EACH4(DECLARE_64)
	__m512i x;
	__m128i a;

	x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(with_crc(_mm_setzero_si128(), crc)));
	FOLD_ROUNDS(EACH4, STORE_64, FOLD_64, 256)
	EACH4(JOIN_64)
	EACH4(LANE)
	return fold_tail(a, p, len, dst);
#undef LOAD_64
#undef DECLARE_64
#undef STORE_64
#undef FOLD_64
#undef JOIN_64
#undef LANE
}

/* A folding kernel's copies: plain stores, and streaming ones. */
#define FOLD_COPIES(name, target)                                                  \
	target static uint32_t name##_copy(uint32_t crc, unsigned char *dst,       \
					   const unsigned char *p, size_t len)     \
	{                                                                          \
		return name##_body(crc, p, len, dst, false);                       \
	}                                                                          \
	target static uint32_t name##_stream(uint32_t crc, unsigned char *dst,     \
					     const unsigned char *p, size_t len)   \
	{                                                                          \
		return name##_body(crc, p, len, dst, true);                        \
	}

FOLD_COPIES(crc_pclmul, PCLMUL_TARGET)
FOLD_COPIES(crc_vpclmul, VPCLMUL_TARGET)

VPCLMUL_TARGET static uint32_t crc_vpclmul_crc(uint32_t crc, unsigned char *dst,
					       const unsigned char *p, size_t len)
{
	(void)dst;
	return crc_vpclmul_body(crc, p, len, NULL, false);
}

typedef uint32_t fold_fn(uint32_t crc, unsigned char *dst, const unsigned char *p, size_t len);

/* Each folding kernel's checksum, copy and streaming copy.  pclmul has no
 * checksum of its own: one xmm fold a cycle reads no faster than the
 * crc32 instruction on three streams, which reads memory faster here
 * (bench/ckpt's CRC table), so its checksums are sse42's. */
static fold_fn *const fold_fns[KERNELS][3] = {
	[KERNEL_PCLMUL] = { NULL, crc_pclmul_copy, crc_pclmul_stream },
	[KERNEL_VPCLMUL] = { crc_vpclmul_crc, crc_vpclmul_copy, crc_vpclmul_stream },
};
#endif

/* --- the entry points --- */

static int current_kernel(void)
{
	pthread_once(&init_once, init_tables);
	return __atomic_load_n(&kernel, __ATOMIC_RELAXED);
}

uint32_t lt_crc32c(uint32_t crc, const void *buf, size_t len)
{
	int k = current_kernel();

#ifdef LT_HAVE_CRC_HW
	if (k >= KERNEL_PCLMUL && len >= FOLD_MIN && fold_fns[k][0])
		return fold_fns[k][0](crc, NULL, buf, len);
	if (k >= KERNEL_SSE42)
		return crc_hw(crc, buf, len);
#endif
	(void)k;
	return crc_sw(crc, buf, len);
}

uint32_t lt_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
#ifdef LT_HAVE_CRC_HW
	int k = current_kernel();

	if (k >= KERNEL_PCLMUL && len >= FOLD_MIN) {
		size_t head = (64 - ((uintptr_t)d & 63)) & 63;

		if (len < STREAM_MIN)
			return fold_fns[k][1](crc, d, s, len);
		memcpy(d, s, head);
		crc = crc_hw(crc, s, head);
		return fold_fns[k][2](crc, d + head, s + head, len - head);
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
	for (k = KERNELS - 1; k >= KERNEL_TABLE; k--)
		if (cpu_has[k] && (!name || !strcmp(name, kernel_names[k])))
			break;
	if (k < KERNEL_TABLE)
		return -1;
	__atomic_store_n(&kernel, k, __ATOMIC_RELAXED);
	return 0;
}
