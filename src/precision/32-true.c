/*
 * 32-true.c - the `32-true` precision plugin's runtime: f32 everywhere
 * (the default).
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_32_true = {
	.name = "32-true",
	.compute = LT_F32,
	.state = LT_F32,
	.mixed = false,
	.scaler = false,
	.warning = NULL,
};
