/*
 * single_device.c - the `single_device` strategy's runtime: one rank, its
 * parameters where lt_param() put them, no communication.  Gradients are
 * complete when train_step returns.
 */
#include "trainer/runtime.h"

static int single_setup(struct lt_ctx *ctx, struct lt_err *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

static int single_grad_ready(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	(void)ctx;
	(void)t;
	(void)err;
	return 0;
}

static int single_sync(struct lt_ctx *ctx, struct lt_err *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

static void single_teardown(struct lt_ctx *ctx)
{
	(void)ctx;
}

const struct lt_strategy_rt lt_strategy_single_device = {
	.name = "single_device",
	.setup = single_setup,
	.grad_ready = single_grad_ready,
	.sync = single_sync,
	.teardown = single_teardown,
};
