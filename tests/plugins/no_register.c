/* no_register.c - declares the ABI but forgets ltrun_plugin_register(). */
#include <ltrun/plugin.h>

LT_PLUGIN_DECLARE_ABI();
