/*
 * export.h - `ltrun ckpt export CKPT OUT.safetensors [--dtype D]`: a
 * checkpoint's parameters alone, for inference elsewhere or for
 * `--init-weights`.
 */
#ifndef LT_CKPT_EXPORT_H
#define LT_CKPT_EXPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "core/registry.h"

/* What dtype the exported tensors get. */
enum lt_export_dtype {
	LT_EXPORT_F32 = 0, /* f32 (the default) */
	LT_EXPORT_COMPUTE, /* the compute dtype of the checkpoint's precision */
	LT_EXPORT_BF16,
	LT_EXPORT_F16,
};

/* Parses "f32", "compute", "bf16" or "f16".  True and *out, or false. */
bool lt_export_dtype_parse(const char *s, enum lt_export_dtype *out);

/* Reads the checkpoint at path (as lt_ckpt_inspect opens it, through IO
 * io of reg; NULL: file, http for a URL) and writes its parameters (every
 * tensor but the optimizer.* state), under the names the model
 * registered, converted to dt, to the safetensors file out, atomically
 * (a temporary file renamed), with no metadata but "format":
 * "ltrun-export", the source "step" and the checksums.  An existing out
 * is refused unless force.  Prints one line saying what was written.
 * Returns 0, or -1 with err (out is then untouched). */
int lt_ckpt_export(const struct lt_registry *reg, const char *io, const char *path,
		   const char *out, enum lt_export_dtype dt, bool force, FILE *msg,
		   struct lt_err *err);

#endif
