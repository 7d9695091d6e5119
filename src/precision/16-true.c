/*
 * 16-true.c - the `16-true` precision plugin: everything in f16,
 * optimizer state included.
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_F16,
	.state = LT_F16,
	.mixed = false,
	.scaler = false,
	.warning = "precision 16-true keeps parameters and optimizer state in f16: expect a loss of accuracy (16-mixed keeps f32 master weights)",
};

const struct lt_plugin lt_precision_16_true = {
	.kind = LT_KIND_PRECISION,
	.name = "16-true",
	.description = "Everything in f16, optimizer state included.",
	.recommended_when = "memory matters more than accuracy; expect a loss of accuracy",
	.ops = &ops,
};
