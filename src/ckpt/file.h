/*
 * file.h - what the file IO plugin (file.c) offers beyond struct
 * lt_ckpt_io_ops: the checkpoint code lists a base directory with it to
 * find old checkpoints, where other plugins rely on checkpoints.json; and
 * the start of a run clears what interrupted saves left there.
 */
#ifndef LT_CKPT_FILE_H
#define LT_CKPT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct lt_ckpt_step_dir {
	int64_t step;
	bool complete; /* step-<N>/index.json exists */
};

/* Lists the step-<N> directories of the base state (of lt_ckpt_io_file)
 * was opened on, in no order, into *dirs (the caller frees it).  Returns
 * 0, or -1 with err (*dirs NULL). */
int lt_ckpt_io_file_steps(void *state, struct lt_ckpt_step_dir **dirs, size_t *n,
			  struct lt_err *err);
/* What lt_ckpt_io_file_clean removed. */
struct lt_ckpt_cleaned {
	unsigned files; /* temporaries and spares */
	unsigned dirs;  /* incomplete step directories */
	uint64_t bytes; /* of the files */
};

/* Removes what interrupted saves left under base (a directory; none:
 * nothing to do): temporaries of file_write (".<name>.tmp-<pid>-<n>")
 * in base and in its step-<N> directories, spares, and step-<N>
 * directories without index.json.  Only this user's entries, never
 * through a symbolic link.  Call it only while holding base's lock
 * (lock.h), before this run saves: the lock proves that no other run
 * writes there, so every temporary belongs to a process that is gone.
 * Best effort (what cannot be removed stays); returns 0, or -1 with err
 * when base cannot be listed. */
int lt_ckpt_io_file_clean(const char *base, struct lt_ckpt_cleaned *c, struct lt_err *err);
/* mkdir -p path, each directory made fsynced into its parent.  Returns
 * 0, or -1 with err (path is a file, or cannot be made). */
int lt_ckpt_make_dirs(const char *path, struct lt_err *err);
/* The base directory state was opened on. */
const char *lt_ckpt_io_file_base(void *state);

/* Parses "step-<N>" (digits only, N <= INT64_MAX) of exactly len bytes. */
bool lt_ckpt_parse_step(const char *s, size_t len, int64_t *step);

#endif
