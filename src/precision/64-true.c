/*
 * 64-true.c - the `64-true` precision plugin's runtime: f64 everywhere:
 * parameters, gradients, optimizer state and the model's compute.
 */
#include "precision/precision.h"

const struct lt_precision_rt lt_precision_64_true = {
	.name = "64-true",
	.compute = LT_F64,
	.state = LT_F64,
	.mixed = false,
	.scaler = false,
	.warning = NULL,
};
