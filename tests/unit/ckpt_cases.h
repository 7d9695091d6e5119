/*
 * ckpt_cases.h - helpers for the checkpoint tests: a temporary base
 * directory opened with the file plugin, a model of one tensor of every
 * dtype (0-d and empty ones among them) with known bytes, and reading a
 * whole file.
 */
#ifndef LT_TESTS_CKPT_CASES_H
#define LT_TESTS_CKPT_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/ckpt.h"

struct ckpt_dir {
	char path[64];
	void *io; /* lt_ckpt_io_file state */
};

/* The built-in plugins, for lt_ckpt_inspect/lt_ckpt_verify_path (made
 * once, kept for the process). */
const struct lt_registry *builtins(void);

/* mkdtemp + open; asserts on failure. */
void ckpt_dir_make(struct ckpt_dir *d);
/* Closes the IO and removes the directory. */
void ckpt_dir_done(struct ckpt_dir *d);

#define MODEL_TENSORS 9
struct model {
	struct lt_ckpt_tensor t[MODEL_TENSORS];
	void *buf[MODEL_TENSORS];
};

/* A model whose bytes depend on seed; model_free() frees it. */
void model_make(struct model *m, unsigned seed);
void model_free(struct model *m);

/* The bytes of path (asserts), *len set. */
unsigned char *slurp(const char *path, size_t *len);
/* Writes len bytes to path (asserts). */
void spit(const char *path, const void *data, size_t len);
/* Whether dir/rel exists (not following a last symbolic link); *size
 * (when size is not NULL) its size. */
bool exists_in(const char *dir, const char *rel, off_t *size);

/* p[0..n) = xorshift bytes from seed. */
void fill_bytes(unsigned char *p, size_t n, unsigned seed);

#endif
