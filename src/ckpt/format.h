/*
 * format.h - checkpoint functions beyond ckpt.h's contract: the file
 * names of a checkpoint directory, opening with the base named in
 * messages, and a tensor's checksum (for inspect.c and the tests).  The
 * file format is safetensors.c's, the directory's list history.c's; dtype
 * names are core/dtype.h's.
 */
#ifndef LT_CKPT_FORMAT_H
#define LT_CKPT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt/ckpt.h"

/* The file ltrun keeps beside `last`: {"format": "ltrun-ckpt-1", "steps":
 * [N, ...]}, the complete checkpoints ascending, so that plugins that
 * cannot list a directory (http) still find the old ones to remove. */
#define LT_CKPT_HISTORY "checkpoints.json"
#define LT_CKPT_FORMAT "ltrun-ckpt-1"
/* The one file of a step: step-<N>/model.safetensors. */
#define LT_CKPT_MODEL_FILE "model.safetensors"

/* lt_ckpt_open(), but messages name the file as "<base>/<path>" (base a
 * directory or URL; NULL: as lt_ckpt_open does, the base of the file
 * plugin, else the relative path alone). */
struct lt_ckpt_reader *lt_ckpt_open_at(const struct lt_ckpt_io_ops *io, void *io_state,
				       const char *base, const char *where, struct lt_err *err);
/* The file `where` names under the base ("last", "step-<N>" or a
 * .safetensors path): "step-<N>/model.safetensors" for the first two
 * (last read through io), malloc'd.  NULL with err. */
char *lt_ckpt_resolve(const struct lt_ckpt_io_ops *io, void *io_state, const char *base,
		      const char *where, struct lt_err *err);
/* The file as messages name it. */
const char *lt_ckpt_label(const struct lt_ckpt_reader *r);
/* Tensor i's (in lt_ckpt_tensors() order) CRC-32C from the header:
 * true and *crc, or false when the file has none for it. */
bool lt_ckpt_checksum(const struct lt_ckpt_reader *r, size_t i, uint32_t *crc);

/* "[5, 6]": a shape for messages, into buf (LT_CKPT_SHAPE_MAX bytes hold
 * any); returns buf. */
#define LT_CKPT_SHAPE_MAX (LT_MAX_DIMS * 22 + 4)
const char *lt_ckpt_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

#endif
