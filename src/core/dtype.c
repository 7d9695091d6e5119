/*
 * dtype.c - the dtype table of dtype.h.
 */
#include "core/dtype.h"
#include "ltrun/plugin.h" /* LT_API */

#include <stdint.h>
#include <string.h>

static const struct {
	const char *name;    /* in messages */
	const char *st_name; /* in safetensors headers */
	size_t size;
} dtypes[LT_DTYPE_COUNT] = {
	[LT_F32] = { .name = "f32", .st_name = "F32", .size = 4 },
	[LT_F64] = { .name = "f64", .st_name = "F64", .size = 8 },
	[LT_F16] = { .name = "f16", .st_name = "F16", .size = 2 },
	[LT_BF16] = { .name = "bf16", .st_name = "BF16", .size = 2 },
	[LT_I32] = { .name = "i32", .st_name = "I32", .size = 4 },
	[LT_I64] = { .name = "i64", .st_name = "I64", .size = 8 },
};

bool lt_dtype_valid(enum lt_dtype dt)
{
	return (unsigned)dt < LT_DTYPE_COUNT;
}

bool lt_dtype_is_float(enum lt_dtype dt)
{
	return dt == LT_F32 || dt == LT_F64 || dt == LT_F16 || dt == LT_BF16;
}

LT_API size_t lt_dtype_size(enum lt_dtype dt)
{
	return lt_dtype_valid(dt) ? dtypes[dt].size : 0;
}

const char *lt_dtype_name(enum lt_dtype dt)
{
	return lt_dtype_valid(dt) ? dtypes[dt].name : "?";
}

const char *lt_dtype_st_name(enum lt_dtype dt)
{
	return lt_dtype_valid(dt) ? dtypes[dt].st_name : NULL;
}

bool lt_dtype_from_st_name(const char *s, enum lt_dtype *dt)
{
	for (int i = 0; i < LT_DTYPE_COUNT; i++)
		if (!strcmp(dtypes[i].st_name, s)) {
			*dt = (enum lt_dtype)i;
			return true;
		}
	return false;
}

double lt_dtype_load(const void *p, enum lt_dtype dt, size_t i)
{
	switch (dt) {
	case LT_F32: return ((const float *)p)[i];
	case LT_F64: return ((const double *)p)[i];
	case LT_F16: return lt_f16_to_f32(((const uint16_t *)p)[i]);
	case LT_BF16: return lt_bf16_to_f32(((const uint16_t *)p)[i]);
	case LT_I32: return ((const int32_t *)p)[i];
	case LT_I64: return (double)((const int64_t *)p)[i];
	}
	return 0;
}

void lt_dtype_store(void *p, enum lt_dtype dt, size_t i, double v)
{
	switch (dt) {
	case LT_F32: ((float *)p)[i] = (float)v; break;
	case LT_F64: ((double *)p)[i] = v; break;
	case LT_F16: ((uint16_t *)p)[i] = lt_f32_to_f16((float)v); break;
	case LT_BF16: ((uint16_t *)p)[i] = lt_f32_to_bf16((float)v); break;
	case LT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
	case LT_I64: ((int64_t *)p)[i] = (int64_t)v; break;
	}
}
