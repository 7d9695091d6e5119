/*
 * bf16-true.c - the `bf16-true` precision plugin: everything in
 * bf16, optimizer state included.
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_BF16,
	.state = LT_BF16,
	.mixed = false,
	.scaler = false,
	.warning = "precision bf16-true keeps parameters and optimizer state in bf16: expect a loss of accuracy (bf16-mixed keeps f32 master weights)",
};

const struct lt_plugin lt_precision_bf16_true = {
	.kind = LT_KIND_PRECISION,
	.name = "bf16-true",
	.description = "Everything in bf16, optimizer state included.",
	.recommended_when = "memory matters more than accuracy; expect a loss of accuracy",
	.ops = &ops,
};
