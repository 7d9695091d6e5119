/* preset_bad_key.c - a preset whose key is not a parameter of its base
 * ("bukcet_mb" for ddp's bucket_mb): refused when registered. */
#include <ltrun/plugin.h>

static const struct lt_plugin typo = {
	.kind = LT_KIND_STRATEGY,
	.name = "ddp_typo",
	.description = "ddp with a misspelt parameter.",
	.recommended_when = "never",
	.alias_of = "ddp",
	.preset = "bukcet_mb=100",
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &typo, err);
}
