/*
 * io.c - calls through any checkpoint IO plugin: opening a resolved
 * choice (its parameters, its name in the message when it fails), flush
 * for an IO without one, checked reads.
 */
#include <stdio.h>
#include <string.h>

#include "ckpt/crc32c.h"
#include "ckpt/io.h"

int lt_ckpt_io_blame(const struct lt_choice *c, struct lt_err *err)
{
	char prefix[128], msg[sizeof(err->msg)];

	snprintf(prefix, sizeof(prefix), "checkpoint IO '%s': ", c->named->name);
	if (strncmp(err->msg, prefix, strlen(prefix))) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		snprintf(err->msg, sizeof(err->msg), "%s%s", prefix, msg);
	}
	return -1;
}

int lt_ckpt_io_open(const struct lt_registry *reg, const struct lt_choice *c, const char *base,
		    void **state, struct lt_err *err)
{
	const struct lt_ckpt_io_args a = { .base = base, .params = c->params, .reg = reg };
	struct lt_err e = { .status = LT_EXIT_FAILURE };

	*state = NULL;
	if (!lt_ckpt_io_of(c)->open(&a, state, &e))
		return 0;
	*state = NULL;
	lt_err_set(err, e.status ? e.status : LT_EXIT_FAILURE, "%s",
		   e.msg[0] ? e.msg : "open failed without saying why");
	return lt_ckpt_io_blame(c, err);
}

int lt_ckpt_io_open_spec(const struct lt_registry *reg, const char *spec, const char *base,
			 struct lt_choice *c, void **state, struct lt_err *err)
{
	if (lt_registry_resolve(reg, LT_KIND_CKPT_IO, spec, c, err))
		return -1;
	if (!lt_ckpt_io_open(reg, c, base, state, err))
		return 0;
	lt_choice_free(c);
	return -1;
}

int lt_ckpt_io_flush(const struct lt_ckpt_io_ops *io, void *state, struct lt_err *err)
{
	return io->flush ? io->flush(state, err) : 0;
}

int lt_ckpt_io_read_crc(const struct lt_ckpt_io_ops *io, void *state, const char *rel,
			uint64_t off, void *buf, size_t len, uint32_t *crc, struct lt_err *err)
{
	if (io->read_crc)
		return io->read_crc(state, rel, off, buf, len, crc, err);
	if (len && io->read(state, rel, off, buf, len, err))
		return -1;
	*crc = lt_crc32c(0, buf, len);
	return 0;
}
