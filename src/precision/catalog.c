/*
 * catalog.c - the precision plugins: their dtypes, loss scaling, and the
 * Lightning 1.x spellings (64, 32, 16, bf16) as aliases;
 * lt_precision_runtime() maps a name to its runtime (precision.h).
 */
#include "core/registry.h"
#include "ltrun/precision.h"
#include "precision/precision.h"

#include <string.h>

static const struct lt_precision_ops f64_ops = { "f64", "f64", false };
static const struct lt_precision_ops f32_ops = { "f32", "f32", false };
static const struct lt_precision_ops f16_mixed_ops = { "f32", "f16", true };
static const struct lt_precision_ops bf16_mixed_ops = { "f32", "bf16", false };
static const struct lt_precision_ops f16_true_ops = { "f16", "f16", false };
static const struct lt_precision_ops bf16_true_ops = { "bf16", "bf16", false };

#define PRECISION(n, d, r, o) \
	{ .kind = LT_KIND_PRECISION, .name = n, .description = d, \
	  .recommended_when = r, .ops = o }
#define PRECISION_ALIAS(n, base) \
	{ .kind = LT_KIND_PRECISION, .name = n, \
	  .description = "Lightning 1.x spelling of " base ".", \
	  .recommended_when = "porting a Lightning 1.x configuration", \
	  .alias_of = base }

static const struct lt_plugin precisions[] = {
	PRECISION("64-true", "Parameters, gradients, optimizer state and compute in f64.",
		  "checking numerics against a double-precision reference", &f64_ops),
	PRECISION("32-true", "Everything in f32 (the default).",
		  "in doubt: the reference for the other precisions", &f32_ops),
	PRECISION("16-mixed", "f32 master weights and optimizer state, f16 compute, dynamic loss scaling.",
		  "the hardware is fast in f16 and has no bf16", &f16_mixed_ops),
	PRECISION("bf16-mixed", "f32 master weights and optimizer state, bf16 compute, no loss scaling.",
		  "the hardware supports bf16: halves activation memory and gradient traffic", &bf16_mixed_ops),
	PRECISION("16-true", "Everything in f16, optimizer state included.",
		  "memory matters more than accuracy; expect a loss of accuracy", &f16_true_ops),
	PRECISION("bf16-true", "Everything in bf16, optimizer state included.",
		  "memory matters more than accuracy; expect a loss of accuracy", &bf16_true_ops),
	PRECISION_ALIAS("64", "64-true"),
	PRECISION_ALIAS("32", "32-true"),
	PRECISION_ALIAS("16", "16-mixed"),
	PRECISION_ALIAS("bf16", "bf16-mixed"),
};

static const char *const absent[] = { "transformer-engine", NULL };

int lt_precision_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, precisions, absent, err);
}

const struct lt_precision_rt *lt_precision_runtime(const char *name)
{
	static const struct { const char *name; const struct lt_precision_rt *rt; } table[] = {
		{ "64-true", &lt_precision_64_true }, { "64", &lt_precision_64_true },
		{ "32-true", &lt_precision_32_true }, { "32", &lt_precision_32_true },
		{ "16-mixed", &lt_precision_16_mixed }, { "16", &lt_precision_16_mixed },
		{ "bf16-mixed", &lt_precision_bf16_mixed }, { "bf16", &lt_precision_bf16_mixed },
		{ "16-true", &lt_precision_16_true }, { "bf16-true", &lt_precision_bf16_true },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return table[i].rt;
	return NULL;
}
