/*
 * 16-mixed.c - the `16-mixed` precision plugin's runtime: f32 master
 * weights and optimizer state, an f16 compute view refreshed after every
 * step, dynamic loss scaling.
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_16_mixed = {
	.name = "16-mixed",
	.compute = LT_F16,
	.state = LT_F32,
	.mixed = true,
	.scaler = true,
	.warning = NULL,
};
