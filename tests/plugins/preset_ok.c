/* preset_ok.c - a plugin that adds only a preset: "ddp_bigbucket", ddp
 * with 100 MiB gradient buckets (a preset names its base and sets some of
 * the base's parameters; it has no ops of its own). */
#include <ltrun/plugin.h>

static const struct lt_plugin bigbucket = {
	.kind = LT_KIND_STRATEGY,
	.name = "ddp_bigbucket",
	.description = "ddp with 100 MiB gradient buckets.",
	.recommended_when = "a large model on a fast interconnect",
	.alias_of = "ddp",
	.preset = "bucket_mb=100",
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &bigbucket, err);
}
