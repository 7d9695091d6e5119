/*
 * test_reduce.c - the kernels of src/comm/reduce.c: every op of
 * lt_reduce_into, lt_reduce3 and lt_divide for every dtype against
 * element-wise double arithmetic.  (The f16/bf16 conversions they go
 * through are tested in test_precision_convert.c.)
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/reduce.h"

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
