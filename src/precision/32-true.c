/*
 * 32-true.c - the `32-true` precision plugin: f32 everywhere
 * (the default).
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_F32,
	.state = LT_F32,
	.mixed = false,
	.scaler = false,
};

const struct lt_plugin lt_precision_32_true = {
	.kind = LT_KIND_PRECISION,
	.name = "32-true",
	.description = "Everything in f32 (the default).",
	.recommended_when = "in doubt: the reference for the other precisions",
	.ops = &ops,
};
