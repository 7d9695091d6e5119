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

#include "core/dtype.h" /* lt_dtype_name, _size, _load, _store */
#include "ltrun.h"

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


/* The f16/bf16 <-> f32 conversions are ltrun.h's inline functions. */

#endif
