/*
 * ckpt_util.h - what the checkpoint IO tests share: one-buffer writes
 * through a plugin and recognisable test data.
 */
#ifndef LT_TEST_CKPT_UTIL_H
#define LT_TEST_CKPT_UTIL_H

#include <criterion/criterion.h>

#include <stdlib.h>
#include <sys/uio.h>

#include "ckpt/io.h"

/* Opens checkpoint IO spec ("http:retries=1", "async:inner=http") of the
 * built-in registry on base, as a run does. */
static inline int io_open(const char *spec, const char *base, void **st, struct lt_err *err)
{
	struct lt_registry *reg = lt_registry_new(err);
	struct lt_choice c;
	int rc;

	if (!reg)
		return -1;
	rc = lt_ckpt_io_open_spec(reg, spec, base, &c, st, err);
	if (!rc)
		lt_choice_free(&c);
	lt_registry_free(reg);
	return rc;
}

/* Writes len bytes at p as file rel through io. */
static inline int io_put(const struct lt_ckpt_io_ops *io, void *st, const char *rel,
			 const void *p, size_t len, struct lt_err *err)
{
	struct iovec v = { (void *)p, len };

	return io->write(st, rel, &v, 1, err);
}

/* len bytes that differ with seed and along the buffer (malloc'ed). */
static inline char *pattern(size_t len, unsigned seed)
{
	char *p = malloc(len);

	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)((i * 2654435761u + seed) >> 13);
	return p;
}

#endif
