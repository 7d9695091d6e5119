/*
 * 16-true.c - the `16-true` precision plugin's runtime: everything in f16,
 * optimizer state included.
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_16_true = {
	.name = "16-true",
	.compute = LT_F16,
	.state = LT_F16,
	.mixed = false,
	.scaler = false,
	.warning = "precision 16-true keeps parameters and optimizer state in f16: expect a loss of accuracy (16-mixed keeps f32 master weights)",
};
