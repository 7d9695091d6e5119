/*
 * io.c - finds a checkpoint IO plugin by name.
 */
#include <string.h>

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
