/*
 * inspect.h - `ltrun ckpt inspect` and `ltrun ckpt verify`: a checkpoint
 * named by a path a user types.
 */
#ifndef LT_CKPT_INSPECT_H
#define LT_CKPT_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "core/registry.h"

struct lt_ckpt_set;

/* path: a checkpoint base directory (its `last` is opened), a step-<N>
 * directory, a .safetensors file, a directory holding model.safetensors, or an http(s):// URL of any of these
 * (through the http IO plugin), read through the checkpoint IO io of
 * reg ("zstd", "http:retries=0"; NULL: http for a URL, else file).  Prints each tensor's name, dtype, shape,
 * bytes and checksum, then the metadata: an aligned table, or with json
 * one object {"path", "tensors": [{"name", "dtype", "shape", "bytes",
 * "checksum"}], "metadata"} (the checksum/ keys appear only as the
 * tensors' "checksum").  Returns 0, or -1 with err (nothing printed). */
int lt_ckpt_inspect(const struct lt_registry *reg, const char *io, const char *path, bool json,
		    FILE *out, struct lt_err *err);

/* Reads (as lt_ckpt_inspect) every tensor of the checkpoint at path and checks its checksum,
 * and that a file in step-<N>/ holds step N (its metadata's "step");
 * prints "ok: N tensors, B bytes, every checksum matches".  Returns 0, or
 * -1 with err naming the file and the first bad tensor or the steps. */
int lt_ckpt_verify_path(const struct lt_registry *reg, const char *io, const char *path,
			FILE *out, struct lt_err *err);

/* Opens the checkpoint file at path as lt_ckpt_inspect reads it (a
 * checkpoint base directory's `last`, a step-<N> directory, a
 * .safetensors file, a directory holding model.safetensors, or a URL of
 * these) for reading through lt_ckpt_path_reader().  NULL with err naming
 * the path and what is wrong.  Close with lt_ckpt_path_close (NULL: nothing). */
struct lt_ckpt_path;
struct lt_ckpt_path *lt_ckpt_path_open(const struct lt_registry *reg, const char *io,
				       const char *path, struct lt_err *err);
struct lt_ckpt_reader *lt_ckpt_path_reader(const struct lt_ckpt_path *p);
/* The same for a checkpoint whole or sharded (shards.h), read through
 * lt_ckpt_path_set(). */
struct lt_ckpt_path *lt_ckpt_path_open_set(const struct lt_registry *reg, const char *io,
					   const char *path, struct lt_err *err);
struct lt_ckpt_set *lt_ckpt_path_set(const struct lt_ckpt_path *p);
void lt_ckpt_path_close(struct lt_ckpt_path *p);

#endif
