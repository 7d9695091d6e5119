/*
 * bf16-true.c - the `bf16-true` precision plugin's runtime: everything in
 * bf16, optimizer state included.
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_bf16_true = {
	.name = "bf16-true",
	.compute = LT_BF16,
	.state = LT_BF16,
	.mixed = false,
	.scaler = false,
	.warning = "precision bf16-true keeps parameters and optimizer state in bf16: expect a loss of accuracy (bf16-mixed keeps f32 master weights)",
};
