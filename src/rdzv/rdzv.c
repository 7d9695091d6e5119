/*
 * rdzv.c - the rendezvous backends by name, and the choice of `auto`.
 */
#include "rdzv/rdzv.h"
#include "core/pmix_client.h"

#include <stdlib.h>
#include <string.h>

const struct lt_rdzv_ops *lt_rdzv_find(const char *name, bool adopted)
{
	static const struct lt_rdzv_ops *const all[] = { &lt_rdzv_tcp, &lt_rdzv_file,
							  &lt_rdzv_pmix };

	char why[256];

	if (!strcmp(name, "auto"))
		return adopted && getenv("PMIX_RANK") && lt_pmix_client(why, sizeof(why))
			       ? &lt_rdzv_pmix : &lt_rdzv_tcp;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
