/*
 * ltrun/ckpt_io.h - the checkpoint IO plugin kind: how the files of a
 * checkpoint are written and read under a base (a directory, a URL, or
 * whatever the plugin makes of it).
 *
 * A checkpoint IO plugin is a struct lt_plugin of kind LT_KIND_CKPT_IO
 * whose ops point to a struct lt_ckpt_io_ops; `--ckpt-io NAME[:k=v,...]`
 * picks it for training (rank 0 saves and loads through it), and
 * `ltrun ckpt inspect|verify --ckpt-io NAME` reads through it.  ltrun
 * decides what goes into the files (safetensors, `last`,
 * checkpoints.json) and when they are complete; the plugin only stores
 * and returns bytes, and may change them on the way (compress, encrypt)
 * as long as read gives back what write was given.
 *
 * Paths given to the ops are relative to the base
 * ("step-120/model.safetensors", "last").  Every op that can fail returns
 * 0, or -1 with err set (one line naming the file and the fix: ltrun adds
 * the plugin's name); a failed write never leaves a partial file under
 * the final name and never replaces a complete one: a save that fails
 * keeps the previous checkpoint (`last`) whole.
 *
 * examples/plugins/zstd_io.c is a complete one: zstd-compressed files.
 */
#ifndef LTRUN_CKPT_IO_H
#define LTRUN_CKPT_IO_H

#include <stdint.h>
#include <sys/uio.h>

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What open gets. */
struct lt_ckpt_io_args {
	const char *base;               /* the directory or URL */
	const struct lt_params *params; /* the plugin's parameters for this run */
	const struct lt_registry *reg;  /* the run's plugins (ltrun's async wraps another) */
};

struct lt_ckpt_tensor; /* ltrun's own (save_deferred) */

struct lt_ckpt_io_ops {
	/* Opens the IO for a->base; *state is passed to every other op.
	 * Called once per run by rank 0 (by every rank for a sharded
	 * checkpoint), and by `ltrun ckpt`. */
	int (*open)(const struct lt_ckpt_io_args *a, void **state, struct lt_err *err);
	/* Writes file rel (its directories made as needed) from iov,
	 * atomically: complete under its name, or not at all. */
	int (*write)(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		     struct lt_err *err);
	/* The size of file rel, as read returns it. */
	int (*size)(void *state, const char *rel, uint64_t *size, struct lt_err *err);
	/* Reads exactly len bytes of file rel from offset off into buf. */
	int (*read)(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		    struct lt_err *err);
	/* Removes the directory rel and what it holds (an old checkpoint). */
	int (*remove)(void *state, const char *rel, struct lt_err *err);
	/* Optional: waits until every write handed over has reached its
	 * destination and returns the first failure among them (NULL: every
	 * write is done when it returns). */
	int (*flush)(void *state, struct lt_err *err);
	/* Flushes (failures are lost: flush first to see them) and frees. */
	void (*close)(void *state);

	/* Optional: read, and *crc = the CRC-32C (Castagnoli) of the bytes
	 * read, in one pass over them (NULL: ltrun reads, then checksums). */
	int (*read_crc)(void *state, const char *rel, uint64_t off, void *buf, size_t len,
			uint32_t *crc, struct lt_err *err);
	/* Optional: whether read and read_crc may be called from several
	 * threads at once (NULL: no); large checked reads then use several. */
	bool (*parallel_reads)(void *state);

	/* ltrun's own (the async plugin), NULL in a user plugin: the whole
	 * checkpoint save moved off the caller's thread (meta is ltrun's
	 * metadata object; ready, when not NULL, is called with ready_arg on
	 * the plugin's thread before it reads the caller's bytes: they are
	 * still being copied out of a device into a stage the caller keeps
	 * until release(SIZE_MAX) returns, so they are written from there),
	 * and the wait for the caller's bytes to be copied, or with ready,
	 * written (n tensors; SIZE_MAX: all).  See src/ckpt/io.h. */
	int (*save_deferred)(void *state, int64_t step, const struct lt_ckpt_tensor *t, size_t n,
			     const void *meta, int keep, int (*ready)(void *arg, struct lt_err *err),
			     void *ready_arg, struct lt_err *err);
	void (*release)(void *state, size_t n);
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_CKPT_IO_H */
