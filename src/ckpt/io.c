/*
 * io.c - finds a checkpoint IO plugin by name; checked reads through any
 * plugin.
 */
#include <string.h>

#include "ckpt/crc32c.h"
#include "ckpt/io.h"

const struct lt_ckpt_io_rt *lt_ckpt_io_find(const char *name)
{
	const struct lt_ckpt_io_rt *const table[] = {
		&lt_ckpt_io_file,
		&lt_ckpt_io_async,
		&lt_ckpt_io_http,
	};

	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i]->name, name))
			return table[i];
	return NULL;
}

int lt_ckpt_io_read_crc(const struct lt_ckpt_io_rt *io, void *state, const char *rel,
			uint64_t off, void *buf, size_t len, uint32_t *crc, struct lt_err *err)
{
	if (io->read_crc)
		return io->read_crc(state, rel, off, buf, len, crc, err);
	if (len && io->read(state, rel, off, buf, len, err))
		return -1;
	*crc = lt_crc32c(0, buf, len);
	return 0;
}
