/*
 * 64-true.c - the `64-true` precision plugin: f64 everywhere:
 * parameters, gradients, optimizer state and the model's compute.
 */
#include "precision/precision.h"

static const struct lt_precision_ops ops = {
	.compute = LT_F64,
	.state = LT_F64,
	.mixed = false,
	.scaler = false,
};

const struct lt_plugin lt_precision_64_true = {
	.kind = LT_KIND_PRECISION,
	.name = "64-true",
	.description = "Parameters, gradients, optimizer state and compute in f64.",
	.recommended_when = "checking numerics against a double-precision reference",
	.ops = &ops,
};
