/*
 * shards.h - sharded checkpoints: step-<N>/ holding one safetensors file
 * per saving rank, shard-RRRRR-of-WWWWW.safetensors, each tensor there a
 * 1-D slice of the flattened tensor under the tensor's own name (so that
 * any safetensors reader opens every shard), and step-<N>/index.json
 * ({"format": "ltrun-shards-1", "step", "world_size", "files",
 * "metadata": the run's state as a whole checkpoint's __metadata__,
 * "tensors": {name: {"dtype", "shape", "pieces": [{"file", "begin",
 * "end"}]}}}: which element range of each tensor is in which file).
 * index.json is written last: the step is complete when it exists.
 *
 * struct lt_ckpt_set reads either kind, whole (model.safetensors) or
 * sharded, as element ranges of whole tensors: what resuming under
 * another world size, `ltrun ckpt verify` and consolidating need.
 */
#ifndef LT_CKPT_SHARDS_H
#define LT_CKPT_SHARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"

struct cJSON;

#define LT_CKPT_SHARDS_FORMAT "ltrun-shards-1"

/* "shard-00002-of-00004.safetensors" into buf (at least 40 bytes). */
const char *lt_ckpt_shard_file(char *buf, size_t len, int rank, int world);

/* One piece of a tensor in a sharded checkpoint: elements [begin, end)
 * of the flattened tensor, in shard file `file`. */
struct lt_ckpt_piece {
	const char *name;
	enum lt_dtype dtype;
	int ndim;
	int64_t shape[LT_MAX_DIMS]; /* the whole tensor's */
	int file;
	uint64_t begin, end;
};

/* Writes this rank's shard step-<step>/<lt_ckpt_shard_file(rank, world)>
 * (t: the slices, 1-D, named as their tensors; meta may be NULL), then
 * reads it back through io and checks every checksum.  Returns 0, or -1
 * with err naming the file. */
int lt_ckpt_shard_save(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step, int rank,
		       int world, const struct lt_ckpt_tensor *t, size_t n, struct lt_err *err);

/* After every shard is saved: step-<step>/index.json describing pieces
 * p[0..n) of `world` files, with meta; then checkpoints.json, `last` and
 * pruning as lt_ckpt_save does.  Returns 0, or -1 with err. */
int lt_ckpt_shards_publish(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step,
			   int world, const struct lt_ckpt_piece *p, size_t n,
			   const struct cJSON *meta, int keep, struct lt_err *err);

/* history.c: after step's files are complete, its index.json written:
 * checkpoints.json, `last`, then the checkpoints beyond keep go. */
int lt_ckpt_finish_save(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step, int keep,
			struct lt_err *err);
/* Removes step-<step> unless it is a complete checkpoint (a failed save). */
void lt_ckpt_step_discard(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step);

struct lt_ckpt_set;

/* Opens the checkpoint `where` names under base (as lt_ckpt_open_at:
 * "last", "step-<N>", a .safetensors path), whole or sharded: reads the
 * index and every shard's header (a missing or unreadable shard is an
 * error naming it).  NULL with err. */
struct lt_ckpt_set *lt_ckpt_set_open(const struct lt_ckpt_io_ops *io, void *io_state,
				     const char *base, const char *where, struct lt_err *err);
bool lt_ckpt_set_sharded(const struct lt_ckpt_set *s);
/* The run's metadata (an object of strings), owned by s. */
const struct cJSON *lt_ckpt_set_meta(const struct lt_ckpt_set *s);
/* The whole tensors (data NULL; bytes of the whole tensor), owned by s. */
const struct lt_ckpt_tensor *lt_ckpt_set_tensors(const struct lt_ckpt_set *s, size_t *n);
/* The files: how many, and file i's label ("base/step-5/shard-...") and
 * reader. */
size_t lt_ckpt_set_files(const struct lt_ckpt_set *s);
struct lt_ckpt_reader *lt_ckpt_set_reader(const struct lt_ckpt_set *s, size_t i);
/* What messages name the checkpoint by: the whole file, or the step directory. */
const char *lt_ckpt_set_label(const struct lt_ckpt_set *s);
/* Elements [first, first + count) of the flattened tensor name, of dtype
 * dt, into dst, from whichever files hold them, every piece read checked
 * against its checksum.  Returns 0, or -1 with err naming the file. */
int lt_ckpt_set_read(struct lt_ckpt_set *s, const char *name, enum lt_dtype dt, uint64_t first,
		     uint64_t count, void *dst, struct lt_err *err);
/* Every file's every checksum (lt_ckpt_verify).  0, or -1 with err. */
int lt_ckpt_set_verify(struct lt_ckpt_set *s, struct lt_err *err);
void lt_ckpt_set_close(struct lt_ckpt_set *s);

#endif
