/*
 * file.h - what the file IO plugin (file.c) offers beyond struct
 * lt_ckpt_io_rt: the checkpoint code lists a base directory with it to
 * find old checkpoints, where other plugins rely on checkpoints.json.
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
/* The base directory state was opened on. */
const char *lt_ckpt_io_file_base(void *state);

/* Parses "step-<N>" (digits only, N <= INT64_MAX) of exactly len bytes. */
bool lt_ckpt_parse_step(const char *s, size_t len, int64_t *step);

#endif
