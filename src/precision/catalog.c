/*
 * catalog.c - the built-in precision plugins, in the registry: the six
 * plugins (one a file) and the Lightning 1.x spellings (64, 32, 16,
 * bf16) as presets of them.
 */
#include "precision/precision.h"

#define PRECISION_ALIAS(n, base) \
	{ .kind = LT_KIND_PRECISION, .name = n, \
	  .description = "Lightning 1.x spelling of " base ".", \
	  .recommended_when = "porting a Lightning 1.x configuration", \
	  .alias_of = base }

static const struct lt_plugin aliases[] = {
	PRECISION_ALIAS("64", "64-true"),
	PRECISION_ALIAS("32", "32-true"),
	PRECISION_ALIAS("16", "16-mixed"),
	PRECISION_ALIAS("bf16", "bf16-mixed"),
};

static const struct lt_absent absent[] = { { .name = "transformer-engine" }, { .name = NULL } };

int lt_precision_catalog(struct lt_registry *reg, struct lt_err *err)
{
	const struct lt_plugin *const plugins[] = {
		&lt_precision_64_true, &lt_precision_32_true, &lt_precision_16_mixed,
		&lt_precision_bf16_mixed, &lt_precision_16_true, &lt_precision_bf16_true,
	};
	size_t i;

	for (i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		if (lt_registry_add(reg, plugins[i], err))
			return -1;
	return LT_REGISTRY_ADD_ALL(reg, aliases, absent, err);
}
