/*
 * crc32c.c - CRC-32C for checkpoint checksums, fast enough that a save
 * runs at disk speed: the SSE4.2 crc32 instruction on three independent
 * streams (its latency is three cycles, its throughput one a cycle),
 * joined with precomputed "append n zero bytes" tables (after Mark
 * Adler's crc32c.c); without SSE4.2, slicing-by-8 tables.  Combining two
 * CRCs multiplies the first by x^(8 len) modulo the polynomial, with
 * x^(2^k) tabulated.
 */
#include <pthread.h>
#include <string.h>

#include "ckpt/crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u /* 0x1EDC6F41 reflected */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t sw_table[8][256];
static uint32_t zeros_long[4][256];  /* shifts a crc over LONG_BLOCK zero bytes */
static uint32_t zeros_short[4][256]; /* ... over SHORT_BLOCK */
static uint32_t x2k[64 + 3]; /* x2k[k] = x^(2^k) mod POLY, reflected */
static int hw_ok;
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
#if defined(__x86_64__)
	__builtin_cpu_init();
	hw_ok = __builtin_cpu_supports("sse4.2") != 0;
#endif
	if (hw_ok) {
		zeros_table(zeros_long, LONG_BLOCK);
		zeros_table(zeros_short, SHORT_BLOCK);
	}
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

/* --- SSE4.2 --- */

#if defined(__x86_64__)
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
#endif

uint32_t lt_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&init_once, init_tables);
#if defined(__x86_64__)
	if (hw_ok)
		return crc_hw(crc, buf, len);
#endif
	return crc_sw(crc, buf, len);
}

uint32_t lt_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&init_once, init_tables);
	return crc_sw(crc, buf, len);
}

uint32_t lt_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	uint32_t shift_by = 1u << 31; /* x^0 */

	pthread_once(&init_once, init_tables);
	/* x^(8 len_b) = the product of x^(2^k) over the bits k of 8 len_b */
	for (size_t k = 3; len_b; len_b >>= 1, k++)
		if (len_b & 1)
			shift_by = mul_mod(x2k[k], shift_by);
	return mul_mod(shift_by, crc_a) ^ crc_b;
}

int lt_crc32c_hw_available(void)
{
	pthread_once(&init_once, init_tables);
	return hw_ok;
}
