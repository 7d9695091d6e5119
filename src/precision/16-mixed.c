/*
 * 16-mixed.c - the `16-mixed` precision plugin: f32 master
 * weights and optimizer state, an f16 compute view refreshed after every
 * step, dynamic loss scaling.
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_F16,
	.state = LT_F32,
	.mixed = true,
	.scaler = true,
};

const struct lt_plugin lt_precision_16_mixed = {
	.kind = LT_KIND_PRECISION,
	.name = "16-mixed",
	.description = "f32 master weights and optimizer state, f16 compute, dynamic loss scaling.",
	.recommended_when = "the hardware is fast in f16 and has no bf16",
	.ops = &ops,
};
