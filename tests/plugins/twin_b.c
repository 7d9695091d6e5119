/* twin_b.c - registers strategy "twin", as twin_a.c also does:
 * loading both is refused, naming both files. */
#include <ltrun/plugin.h>

static const struct lt_plugin twin = {
	.kind = LT_KIND_STRATEGY,
	.name = "twin",
	.description = "ddp under another name (from twin_b.so).",
	.recommended_when = "testing duplicate names",
	.alias_of = "ddp",
	.preset = "",
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &twin, err);
}
