/*
 * ckpt.h - checkpoints: a directory step-<N>/ under a base (a directory
 * or a URL), holding model.safetensors (safetensors layout: 8-byte
 * little-endian header length, a JSON header giving each tensor's dtype,
 * shape and byte offsets, 8-byte aligned raw little-endian data; ltrun's
 * state and a checksum per tensor in the header's __metadata__) and an
 * index; the file `last` names the newest complete checkpoint.  A save
 * writes the step's files, then `last`, then removes checkpoints beyond
 * the newest `keep`; a crash at any moment leaves `last` naming a
 * complete one.  Reading checks the header before anything is loaded and
 * every tensor's checksum as it is read.
 */
#ifndef LT_CKPT_CKPT_H
#define LT_CKPT_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/io.h"
#include "core/error.h"
#include "ltrun.h"

struct cJSON;

/* One tensor to save, or as a reader describes it. */
struct lt_ckpt_tensor {
	const char *name;
	enum lt_dtype dtype;
	int ndim;
	int64_t shape[LT_MAX_DIMS];
	const void *data; /* save: bytes to write */
	size_t bytes;
};

/* Saves step `step` under io's base: the tensors (names unique, at most
 * 255 bytes) and meta, a cJSON object whose values are strings (ltrun's
 * state: "step", "epoch", "world_size", "strategy", "precision"...).
 * keep > 0 removes all but the newest keep complete checkpoints after the
 * new one is complete.  Returns 0 or -1 with err; a save that fails
 * before step-<N> is complete removes step-<N> (unless it was a complete
 * checkpoint before this save). */
int lt_ckpt_save(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step,
		 const struct lt_ckpt_tensor *t, size_t n, const struct cJSON *meta, int keep,
		 struct lt_err *err);

struct lt_ckpt_reader;

/* Opens a checkpoint: where is "last" (the newest under io's base), a
 * step directory "step-<N>", or the path of a model.safetensors relative
 * to the base.  Reads and validates its header (lengths, JSON, dtypes,
 * shapes, offsets in range and not overlapping).  NULL with err naming
 * the file and what is wrong. */
struct lt_ckpt_reader *lt_ckpt_open(const struct lt_ckpt_io_ops *io, void *io_state,
				    const char *where, struct lt_err *err);
/* The header's __metadata__ (an object of strings), owned by r. */
const struct cJSON *lt_ckpt_meta(const struct lt_ckpt_reader *r);
/* The tensors, in file order, owned by r (data is NULL). */
const struct lt_ckpt_tensor *lt_ckpt_tensors(const struct lt_ckpt_reader *r, size_t *n);
/* Reads tensor name into dst, which the caller sized for dtype dt and
 * shape (ndim, shape); a different dtype or shape, a missing tensor or a
 * checksum mismatch is an error naming the file and the tensor (dst may
 * then hold part of the data: the caller loads nothing it has not
 * checked... see lt_ckpt_verify). */
int lt_ckpt_read(struct lt_ckpt_reader *r, const char *name, enum lt_dtype dt, int ndim,
		 const int64_t *shape, void *dst, struct lt_err *err);
/* Reads every tensor and checks its checksum.  Returns 0 or -1 with err. */
int lt_ckpt_verify(struct lt_ckpt_reader *r, struct lt_err *err);
/* The path the reader opened, relative to the base ("step-120/model.safetensors"). */
const char *lt_ckpt_path(const struct lt_ckpt_reader *r);
void lt_ckpt_close(struct lt_ckpt_reader *r);

/* Parses a header (the bytes after the 8-byte length) of a file of
 * file_size bytes: what lt_ckpt_open checks, for the fuzzer and the
 * tests.  Returns a reader without IO (lt_ckpt_read fails on it), or NULL
 * with err. */
struct lt_ckpt_reader *lt_ckpt_parse_header(const char *name, const void *header, size_t len,
					    uint64_t file_size, struct lt_err *err);

#endif
