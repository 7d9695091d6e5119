/*
 * io.h - checkpoint IO plugins: how a checkpoint's files are written and
 * read, under a base that is a directory (file) or a URL (http).  One
 * plugin a file, named after it: file.c, async.c (wraps another), http.c.
 * The registry's side (names, descriptions) is catalog.c.
 *
 * Paths given to the ops are relative to the base ("step-120/model.safetensors",
 * "last").  Every op returns 0, or -1 with err naming the file (or URL)
 * and the fix; a failed write never leaves a partial file under the
 * final name, and never replaces a complete one.
 */
#ifndef LT_CKPT_IO_H
#define LT_CKPT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/error.h"

struct cJSON;
struct lt_ckpt_tensor;

/* Settings an IO plugin may read (the http plugin's come from the
 * environment: LTRUN_CKPT_TOKEN for a bearer token, LTRUN_CKPT_CA for a
 * CA bundle, LTRUN_CKPT_INSECURE=1 to skip TLS verification). */
struct lt_ckpt_io_opts {
	const char *inner; /* async: the plugin it wraps ("file" when NULL) */
	int retries;       /* http: attempts on 5xx and connection errors */
};

struct lt_ckpt_io_rt {
	const char *name;
	/* Opens the IO for base; *state is passed to every other op. */
	int (*open)(const char *base, const struct lt_ckpt_io_opts *opts, void **state,
		    struct lt_err *err);
	/* Writes file rel (its directories made as needed) from iov,
	 * atomically: complete under its name, or not at all. */
	int (*write)(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		     struct lt_err *err);
	/* The size of file rel. */
	int (*size)(void *state, const char *rel, uint64_t *size, struct lt_err *err);
	/* Reads exactly len bytes of file rel from offset off into buf. */
	int (*read)(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		    struct lt_err *err);
	/* Optional: read, and *crc = the CRC-32C of the bytes read, in one
	 * pass over them (file: copied out of a mapping of the file).  Call
	 * it through lt_ckpt_io_read_crc, which falls back on read. */
	int (*read_crc)(void *state, const char *rel, uint64_t off, void *buf, size_t len,
			uint32_t *crc, struct lt_err *err);
	/* Whether read and read_crc may be called from several threads at
	 * once (NULL: no); large checked reads then go on several threads. */
	bool (*parallel_reads)(void *state);
	/* Removes the directory rel and what it holds (an old checkpoint). */
	int (*remove)(void *state, const char *rel, struct lt_err *err);
	/* Optional (async): lt_ckpt_save's work (step, t, n, meta, keep as
	 * there) moved off the caller's thread.  Returns once the save is
	 * queued; the IO copies the tensors' bytes on its own thread, in t's
	 * order, and saves the copy, so the caller must leave each tensor's
	 * bytes unchanged until release() says it is copied.  A failure
	 * surfaces at the next write, save, remove or flush, as for write. */
	int (*save_deferred)(void *state, int64_t step, const struct lt_ckpt_tensor *t, size_t n,
			     const struct cJSON *meta, int keep, struct lt_err *err);
	/* Optional (async): waits until the IO holds none of the caller's
	 * bytes of the first n tensors given to the last save_deferred (they
	 * are copied; SIZE_MAX: all of them).  Cannot fail. */
	void (*release)(void *state, size_t n);
	/* Waits until every write handed over has reached its destination
	 * and returns the first failure among them (async; others: 0). */
	int (*flush)(void *state, struct lt_err *err);
	/* Flushes (failures are lost: flush first to see them) and frees. */
	void (*close)(void *state);
};

extern const struct lt_ckpt_io_rt lt_ckpt_io_file;
extern const struct lt_ckpt_io_rt lt_ckpt_io_async;
extern const struct lt_ckpt_io_rt lt_ckpt_io_http;

/* The IO plugin called name, or NULL. */
const struct lt_ckpt_io_rt *lt_ckpt_io_find(const char *name);

/* io->read_crc, or for an IO without it io->read and then lt_crc32c. */
int lt_ckpt_io_read_crc(const struct lt_ckpt_io_rt *io, void *state, const char *rel,
			uint64_t off, void *buf, size_t len, uint32_t *crc, struct lt_err *err);

#endif
