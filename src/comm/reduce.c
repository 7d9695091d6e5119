/*
 * reduce.c - the element-wise kernels of reduce.h: sum, min and max for
 * every dtype, division (for AVG), and the f16/bf16 <-> f32 conversions
 * (the dtype table itself is core/dtype.c).
 * The f32, f64 and integer loops are written so the compiler vectorises
 * them (restrict pointers, no calls, O3 and an AVX2 clone on x86); f16
 * and bf16 are widened to f32 a block at a time, reduced, and rounded
 * back to nearest even.  Integer sums wrap (unsigned arithmetic), floating
 * min/max propagate NaN as torch does.  Nothing here can fail.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include "comm/reduce.h"
#include "ltrun/plugin.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

/* Half-precision values are widened this many at a time. */
#define HALF_BLOCK 512

const char *lt_op_name(enum lt_op op)
{
	static const char *const names[] = { "sum", "avg", "min", "max" };

	return (unsigned)op < 4 ? names[op] : "?";
}

/* ------------------------------------------------------------ conversions */

/* f16/bf16 through f32 with ltrun.h's conversions. */
static void widen(float *out, const uint16_t *in, size_t n, bool bf)
{
	if (bf)
		for (size_t i = 0; i < n; i++)
			out[i] = lt_bf16_to_f32(in[i]);
	else
		for (size_t i = 0; i < n; i++)
			out[i] = lt_f16_to_f32(in[i]);
}

static void narrow(uint16_t *out, const float *in, size_t n, bool bf)
{
	if (bf)
		for (size_t i = 0; i < n; i++)
			out[i] = lt_f32_to_bf16(in[i]);
	else
		for (size_t i = 0; i < n; i++)
			out[i] = lt_f32_to_f16(in[i]);
}

/* ------------------------------------------------------------ kernels */

#define K_SUM(a, b) ((a) + (b))
/* NaN in either operand gives NaN (a NaN a keeps a: b < a is false). */
#define K_FMIN(a, b) (((b) < (a) || (b) != (b)) ? (b) : (a))
#define K_FMAX(a, b) (((b) > (a) || (b) != (b)) ? (b) : (a))
#define K_IMIN(a, b) ((b) < (a) ? (b) : (a))
#define K_IMAX(a, b) ((b) > (a) ? (b) : (a))
#define K_I32SUM(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define K_I64SUM(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))

typedef void (*into_fn)(void *, const void *, size_t);
typedef void (*three_fn)(void *, const void *, const void *, size_t);

#define KERNELS(NAME, T, OP, ATTR)                                                 \
	ATTR static void into_##NAME(void *dv, const void *sv, size_t n)           \
	{                                                                          \
		T *__restrict d = dv;                                              \
		const T *__restrict s = sv;                                        \
		for (size_t i = 0; i < n; i++)                                     \
			d[i] = OP(d[i], s[i]);                                     \
	}                                                                          \
	ATTR static void three_##NAME(void *dv, const void *av, const void *bv,    \
				      size_t n)                                    \
	{                                                                          \
		T *__restrict d = dv;                                              \
		const T *__restrict a = av, *__restrict b = bv;                    \
		for (size_t i = 0; i < n; i++)                                     \
			d[i] = OP(a[i], b[i]);                                     \
	}

KERNELS(f32_sum, float, K_SUM, HOT)
KERNELS(f32_min, float, K_FMIN, HOT)
KERNELS(f32_max, float, K_FMAX, HOT)
KERNELS(f64_sum, double, K_SUM, HOT)
KERNELS(f64_min, double, K_FMIN, HOT)
KERNELS(f64_max, double, K_FMAX, HOT)
KERNELS(i32_sum, int32_t, K_I32SUM, )
KERNELS(i32_min, int32_t, K_IMIN, )
KERNELS(i32_max, int32_t, K_IMAX, )
KERNELS(i64_sum, int64_t, K_I64SUM, )
KERNELS(i64_min, int64_t, K_IMIN, )
KERNELS(i64_max, int64_t, K_IMAX, )

/* Index: [dtype][0 sum, 1 min, 2 max]; f16/bf16 rows stay NULL. */
static const into_fn into_tab[LT_DTYPE_COUNT][3] = {
	[LT_F32] = { into_f32_sum, into_f32_min, into_f32_max },
	[LT_F64] = { into_f64_sum, into_f64_min, into_f64_max },
	[LT_I32] = { into_i32_sum, into_i32_min, into_i32_max },
	[LT_I64] = { into_i64_sum, into_i64_min, into_i64_max },
};
static const three_fn three_tab[LT_DTYPE_COUNT][3] = {
	[LT_F32] = { three_f32_sum, three_f32_min, three_f32_max },
	[LT_F64] = { three_f64_sum, three_f64_min, three_f64_max },
	[LT_I32] = { three_i32_sum, three_i32_min, three_i32_max },
	[LT_I64] = { three_i64_sum, three_i64_min, three_i64_max },
};

static int op_index(enum lt_op op)
{
	return op == LT_MIN ? 1 : op == LT_MAX ? 2 : 0;
}

/* dst = a op b for f16/bf16, through f32 blocks (dst may alias a or b:
 * each block is read whole before it is written). */
static void half_reduce3(uint16_t *dst, const uint16_t *a, const uint16_t *b, size_t n,
			 bool bf, enum lt_op op)
{
	float fa[HALF_BLOCK], fb[HALF_BLOCK];
	into_fn f = into_tab[LT_F32][op_index(op)];

	for (size_t off = 0; off < n; off += HALF_BLOCK) {
		size_t m = n - off < HALF_BLOCK ? n - off : HALF_BLOCK;
		widen(fa, a + off, m, bf);
		widen(fb, b + off, m, bf);
		f(fa, fb, m);
		narrow(dst + off, fa, m, bf);
	}
}

static bool is_half(enum lt_dtype dt)
{
	return dt == LT_F16 || dt == LT_BF16;
}

void lt_reduce_into(void *dst, const void *src, size_t count, enum lt_dtype dt,
		    enum lt_op op)
{
	if ((unsigned)dt >= LT_DTYPE_COUNT || count == 0)
		return;
	if (is_half(dt))
		half_reduce3(dst, dst, src, count, dt == LT_BF16, op);
	else
		into_tab[dt][op_index(op)](dst, src, count);
}

void lt_reduce3(void *dst, const void *a, const void *b, size_t count, enum lt_dtype dt,
		enum lt_op op)
{
	if ((unsigned)dt >= LT_DTYPE_COUNT || count == 0)
		return;
	if (is_half(dt))
		half_reduce3(dst, a, b, count, dt == LT_BF16, op);
	else if (dst == a)
		into_tab[dt][op_index(op)](dst, b, count);
	else if (dst == b)
		into_tab[dt][op_index(op)](dst, a, count);
	else
		three_tab[dt][op_index(op)](dst, a, b, count);
}

/* ------------------------------------------------------------ division */

HOT static void divide_f32(float *b, size_t n, float d)
{
	for (size_t i = 0; i < n; i++)
		b[i] /= d;
}

HOT static void divide_f64(double *b, size_t n, double d)
{
	for (size_t i = 0; i < n; i++)
		b[i] /= d;
}

static void divide_half(uint16_t *b, size_t n, bool bf, float d)
{
	float f[HALF_BLOCK];

	for (size_t off = 0; off < n; off += HALF_BLOCK) {
		size_t m = n - off < HALF_BLOCK ? n - off : HALF_BLOCK;
		widen(f, b + off, m, bf);
		divide_f32(f, m, d);
		narrow(b + off, f, m, bf);
	}
}

void lt_divide(void *buf, size_t count, enum lt_dtype dt, int divisor)
{
	if (divisor == 0 || divisor == 1)
		return;
	switch (dt) {
	case LT_F32: divide_f32(buf, count, (float)divisor); break;
	case LT_F64: divide_f64(buf, count, (double)divisor); break;
	case LT_F16: divide_half(buf, count, false, (float)divisor); break;
	case LT_BF16: divide_half(buf, count, true, (float)divisor); break;
	case LT_I32:
		for (size_t i = 0; i < count; i++)
			((int32_t *)buf)[i] /= divisor;
		break;
	case LT_I64:
		for (size_t i = 0; i < count; i++)
			((int64_t *)buf)[i] /= divisor;
		break;
	}
}

