/*
 * reduce.h - element-wise reductions and conversions for every dtype of
 * ltrun.h, shared by the communicators that reduce on the CPU (shm, the
 * f16/bf16 paths of mpi and gloo, auto) and by the strategies.
 *
 * f16 and bf16 are reduced through f32 and rounded back to nearest even,
 * so a sum of small integers is exact as long as the result is
 * representable.  All functions are total: they cannot fail.
 */
#ifndef LT_COMM_REDUCE_H
#define LT_COMM_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "ltrun.h"

/* "f32", "f64", "f16", "bf16", "i32", "i64"; "?" for anything else. */
const char *lt_dtype_name(enum lt_dtype dt);
/* "sum", "avg", "min", "max". */
const char *lt_op_name(enum lt_op op);

/* dst[i] = dst[i] op src[i] for i < count; LT_AVG reduces as LT_SUM. */
void lt_reduce_into(void *dst, const void *src, size_t count,
		    enum lt_dtype dt, enum lt_op op);
/* dst[i] = a[i] op b[i] (dst may alias a or b). */
void lt_reduce3(void *dst, const void *a, const void *b, size_t count,
		enum lt_dtype dt, enum lt_op op);
/* buf[i] /= divisor (integers: truncating division, as torch does). */
void lt_divide(void *buf, size_t count, enum lt_dtype dt, int divisor);

/* Element i of a buffer of dt, as a double (load), or set from one
 * (store: rounded to nearest even for f16/bf16, truncated for integers). */
double lt_dtype_load(const void *p, enum lt_dtype dt, size_t i);
void lt_dtype_store(void *p, enum lt_dtype dt, size_t i, double v);

/* The f16/bf16 <-> f32 conversions are ltrun.h's inline functions. */

#endif
