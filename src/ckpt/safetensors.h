/*
 * safetensors.h - the file codec of safetensors.c as history.c uses it:
 * checking a save's tensors, writing one file, and the header's integers.
 * (The reader's functions are ckpt.h's and format.h's.)
 */
#ifndef LT_CKPT_SAFETENSORS_H
#define LT_CKPT_SAFETENSORS_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt/ckpt.h"

struct cJSON;

/* Checks what lt_ckpt_save() was given: step >= 0, names (non-empty, at
 * most 255 bytes, no control character, not __metadata__, none twice),
 * dtypes, shapes against bytes, metadata of strings.  Returns 0, or -1
 * with err naming the step and the tensor. */
int lt_safetensors_check(int64_t step, const struct lt_ckpt_tensor *t, size_t n,
			 const struct cJSON *meta, struct lt_err *err);

/* Writes tensors t[0..n) (checked by lt_safetensors_check) and meta
 * through io as the file rel, one write call.  Returns 0, or -1 with err
 * set; the file is then as the plugin's write leaves it on failure. */
int lt_safetensors_write(const struct lt_ckpt_io_ops *io, void *io_state, const char *rel,
			 int64_t step, const struct lt_ckpt_tensor *t, size_t n,
			 const struct cJSON *meta, struct lt_err *err);

/* A JSON number that is a non-negative integer a double holds exactly
 * (below 2^53): true and *out, or false with *out unchanged. */
bool lt_ckpt_json_uint(const struct cJSON *v, uint64_t *out);

#endif
