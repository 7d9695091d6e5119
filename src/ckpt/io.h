/*
 * io.h - ltrun's side of the checkpoint IO plugins (the interface is the
 * public include/ltrun/ckpt_io.h): the built-in ones, one a file (file.c,
 * async.c which wraps another, http.c; catalog.c registers them), and
 * the calls the checkpoint code makes through any plugin.  A run's IO is
 * the registry's choice (--ckpt-io), never looked up by name here.
 *
 * The http plugin's other settings come from the environment:
 * LTRUN_CKPT_TOKEN for a bearer token, LTRUN_CKPT_CA for a CA bundle,
 * LTRUN_CKPT_INSECURE=1 to skip TLS verification.
 */
#ifndef LT_CKPT_IO_H
#define LT_CKPT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/registry.h"
#include "ltrun/ckpt_io.h"

/* The built-in plugins' ops (the registry's entries point to them). */
extern const struct lt_ckpt_io_ops lt_ckpt_io_file;
extern const struct lt_ckpt_io_ops lt_ckpt_io_async;
extern const struct lt_ckpt_io_ops lt_ckpt_io_http;

/* The ops of a resolved --ckpt-io choice. */
static inline const struct lt_ckpt_io_ops *lt_ckpt_io_of(const struct lt_choice *c)
{
	return (const struct lt_ckpt_io_ops *)c->base->ops;
}

/* Opens choice c (of reg) for base: *state for the other ops.  Returns 0,
 * or -1 with err naming the plugin. */
int lt_ckpt_io_open(const struct lt_registry *reg, const struct lt_choice *c, const char *base,
		    void **state, struct lt_err *err);

/* Resolves spec ("file", "http:retries=2", a --plugin's name) in reg and
 * opens it for base: *c must be freed with lt_choice_free.  Returns 0, or
 * -1 with err (c is then empty). */
int lt_ckpt_io_open_spec(const struct lt_registry *reg, const char *spec, const char *base,
			 struct lt_choice *c, void **state, struct lt_err *err);

/* Names the plugin of choice c in err ("checkpoint IO 'zstd': ...")
 * unless it does already; returns -1. */
int lt_ckpt_io_blame(const struct lt_choice *c, struct lt_err *err);

/* io->flush, or 0 for an IO without one. */
int lt_ckpt_io_flush(const struct lt_ckpt_io_ops *io, void *state, struct lt_err *err);

/* io->read_crc, or for an IO without it io->read and then lt_crc32c. */
int lt_ckpt_io_read_crc(const struct lt_ckpt_io_ops *io, void *state, const char *rel,
			uint64_t off, void *buf, size_t len, uint32_t *crc, struct lt_err *err);

#endif
