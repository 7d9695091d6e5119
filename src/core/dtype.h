/*
 * dtype.h - the one table of ltrun.h's dtypes: each one's size, its name
 * in messages ("f32"), its name in safetensors files ("F32"), and element
 * access through a double.  lt_dtype_size() is also ltrun.h's, for models.
 * Nothing here can fail.
 */
#ifndef LT_CORE_DTYPE_H
#define LT_CORE_DTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include "ltrun.h"

/* True for a value of enum lt_dtype. */
bool lt_dtype_valid(enum lt_dtype dt);
/* True for LT_F32, LT_F64, LT_F16 and LT_BF16. */
bool lt_dtype_is_float(enum lt_dtype dt);
/* Bytes of one element (ltrun.h); 0 for a value outside enum lt_dtype. */
size_t lt_dtype_size(enum lt_dtype dt);
/* "f32", "f64", "f16", "bf16", "i32", "i64"; "?" for anything else. */
const char *lt_dtype_name(enum lt_dtype dt);
/* The safetensors name: "F32", "BF16"...; NULL outside enum lt_dtype. */
const char *lt_dtype_st_name(enum lt_dtype dt);
/* The dtype whose safetensors name is s: true and *dt set, or false with
 * *dt unchanged. */
bool lt_dtype_from_st_name(const char *s, enum lt_dtype *dt);

/* Element i of a buffer of dt, as a double (load), or set from one
 * (store: rounded to nearest even for f16/bf16, truncated for integers). */
double lt_dtype_load(const void *p, enum lt_dtype dt, size_t i);
void lt_dtype_store(void *p, enum lt_dtype dt, size_t i, double v);

#endif
