/*
 * io.c - finds a checkpoint IO plugin by name.  The async and http
 * plugins are weak references: a build without their files still links,
 * and lt_ckpt_io_find() then does not know them.
 */
#include <string.h>

#include "ckpt/io.h"

extern const struct lt_ckpt_io_rt lt_ckpt_io_async __attribute__((weak));
extern const struct lt_ckpt_io_rt lt_ckpt_io_http __attribute__((weak));

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
		if (table[i] && table[i]->name && !strcmp(table[i]->name, name))
			return table[i];
	return NULL;
}
