/*
 * bf16-mixed.c - the `bf16-mixed` precision plugin's runtime: f32 master
 * weights and optimizer state, a bf16 compute view refreshed after every
 * step, no loss scaling (bf16 has f32's range).
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_bf16_mixed = {
	.name = "bf16-mixed",
	.compute = LT_BF16,
	.state = LT_F32,
	.mixed = true,
	.scaler = false,
	.warning = NULL,
};
