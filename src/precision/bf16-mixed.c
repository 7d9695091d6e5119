/*
 * bf16-mixed.c - the `bf16-mixed` precision plugin: f32 master
 * weights and optimizer state, a bf16 compute view refreshed after every
 * step, no loss scaling (bf16 has f32's range).
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_BF16,
	.state = LT_F32,
	.mixed = true,
	.scaler = false,
};

const struct lt_plugin lt_precision_bf16_mixed = {
	.kind = LT_KIND_PRECISION,
	.name = "bf16-mixed",
	.description = "f32 master weights and optimizer state, bf16 compute, no loss scaling.",
	.recommended_when = "the hardware supports bf16: halves activation memory and gradient traffic",
	.ops = &ops,
};
