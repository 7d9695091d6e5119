/* preset_bad_value.c - a preset whose value is outside its parameter's
 * range (ddp's bucket_mb=-5): refused when registered. */
#include <ltrun/plugin.h>

static const struct lt_plugin negative = {
	.kind = LT_KIND_STRATEGY,
	.name = "ddp_negative",
	.description = "ddp with a negative bucket size.",
	.recommended_when = "never",
	.alias_of = "ddp",
	.preset = "bucket_mb=-5",
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &negative, err);
}
