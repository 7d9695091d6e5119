/*
 * ops_small_table.c - a Trainer-mode model whose lt_module table gives a
 * wrong size (as a model built against an older ltrun.h would): ltrun
 * refuses it, saying which size it expected (tests/integration/test_ops.c).
 */
#include <ltrun.h>

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	*self = NULL;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	(void)self;
	return split == LT_TRAIN ? 4 : 0;
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	(void)ctx;
	(void)self;
	(void)batch;
	*loss = 0;
	return 0;
}

static const struct lt_module small = {
	.size = sizeof(struct lt_module) - 3 * sizeof(void *),
	.name = "ops_small_table",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
};

const struct lt_module *lt_module_v1(void)
{
	return &small;
}
