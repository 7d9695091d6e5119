/*
 * convert.h - bulk dtype conversions for the precision runtimes: f32 <->
 * f16 / bf16 / f64 over whole buffers, and the unscale-and-check pass of
 * loss scaling, written to run near memory bandwidth.
 *
 * Every function gives, element for element, exactly what ltrun.h's
 * scalar lt_f32_to_f16(), lt_f16_to_f32(), lt_f32_to_bf16() and
 * lt_bf16_to_f32() give (round to nearest even, subnormals kept,
 * infinities kept, a NaN stays a NaN of the same sign with the quiet bit
 * set and as much of its payload as fits), whichever kernel runs.  The
 * kernel is chosen once, at the first call: "avx512" (the f16c kernel
 * with AVX-512 narrowing conversions) where the CPU has AVX-512 F, BW,
 * DQ, VL and AVX512_BF16, else "f16c" (F16C and AVX2 instructions) where
 * it has both, otherwise "scalar", portable loops the compiler
 * vectorises.  They assume the default floating-point
 * environment (round to nearest, no flush-to-zero or denormals-are-zero).
 *
 * n = 0 is allowed everywhere (nothing is read or written); dst and src
 * must not overlap.  None of these can fail; all are safe to call from
 * several threads at once.
 */
#ifndef LT_PRECISION_CONVERT_H
#define LT_PRECISION_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dst[i] = src[i] rounded to f16 / bf16 (to nearest even, as ltrun.h's
 * scalar functions, bit for bit, NaN handling included). */
void lt_convert_f32_to_f16(uint16_t *dst, const float *src, size_t n);
void lt_convert_f32_to_bf16(uint16_t *dst, const float *src, size_t n);
/* dst[i] = src[i] widened to f32 (exact). */
void lt_convert_f16_to_f32(float *dst, const uint16_t *src, size_t n);
void lt_convert_bf16_to_f32(float *dst, const uint16_t *src, size_t n);

/* dst[i] = (float)src[i] * scale, src being f16 (is_bf16 false) or bf16;
 * the product is rounded once, as lt_f16_to_f32(src[i]) * scale is.
 * Returns true when any dst[i] is an infinity or a NaN; all n elements
 * are written either way. */
bool lt_unscale_half(float *dst, const uint16_t *src, size_t n, bool is_bf16, float scale);
/* buf[i] *= scale in place; returns true when any result is an infinity
 * or a NaN (all n elements are still multiplied). */
bool lt_unscale_f32(float *buf, size_t n, float scale);

/* dst[i] = src[i]: exact widening, and narrowing rounded to nearest even
 * (C's own conversions: overflow gives an infinity, a NaN stays a NaN). */
void lt_convert_f32_to_f64(double *dst, const float *src, size_t n);
void lt_convert_f64_to_f32(float *dst, const double *src, size_t n);

/* The kernel the functions above run: "avx512", "f16c" or "scalar" (for the
 * benchmark's table and --verbose lines).  Never NULL. */
const char *lt_convert_kernel(void);

/* Test and benchmark hook: makes every later call run the kernel `name`
 * ("avx512", "f16c" or "scalar"), or the automatic choice when name is
 * NULL.
 * Returns false, changing nothing, when name is unknown or this CPU
 * cannot run it.  Not for use while another thread converts. */
bool lt_convert_use_kernel(const char *name);

#endif
