/* bad_abi.c - a plugin built for a plugin ABI this ltrun does not have. */
#include <ltrun/plugin.h>

LT_API const unsigned ltrun_plugin_abi = LT_PLUGIN_ABI_VERSION + 41;

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	(void)reg;
	(void)err;
	return 0;
}
