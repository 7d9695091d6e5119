/*
 * mlp.c - a Trainer-mode model: a two-layer MLP (64 -> hidden -> 10, ReLU,
 * softmax cross-entropy) on the UCI handwritten digits.  ltrun owns the
 * loop, the sampler, the optimizer and the gradient synchronisation; this
 * file only says what a batch computes.  The model itself (parameters,
 * forward, backward) is examples/common/mlp.h, shared with the Fabric-mode
 * twin examples/fabric/fabric.c.
 *
 *   make          # builds build/examples/mlp/mlp.so, unpacks the data
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) -O2 mlp.c -o mlp.so -lm
 *   ltrun --devices 4 --max-epochs 20 --lr 0.05 build/examples/mlp/mlp.so
 *   ltrun ... mlp.so -- [--data PATH] [--hidden N] [--val-fraction F]
 *                       [--dump PATH]
 *
 *   --data PATH        the CSV (64 pixels 0..16, then the label, a line);
 *                      default: ../data/digits.csv beside this .so's
 *                      directory, i.e. build/examples/data/digits.csv
 *   --hidden N         hidden units (default 128)
 *   --val-fraction F   share of the samples held out for validation
 *                      (default 0.2; a fixed shuffle, the same on every rank)
 *   --dump PATH        at the end, rank 0 writes every parameter to PATH
 *                      as text, "NAME INDEX VALUE" lines (%.9g), in
 *                      registration order: fc1.weight, fc1.bias,
 *                      fc2.weight, fc2.bias (see examples/common/params.h)
 *
 * Validation logs val_acc besides the loss.  Runs on the cpu, under every
 * --precision: it computes in f64 under 64-true and in f32 otherwise,
 * converting f16 and bf16 parameters and gradients at the boundaries
 * (examples/common/mlp.h).
 */
#define _GNU_SOURCE /* dladdr() in digits.h */
#include "../common/mlp.h"

#define WHO "mlp"

struct model {
	struct mlp_options opt;
	struct mlp net;
};

static int mlp_init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct model *s = calloc(1, sizeof(*s));
	if (!s)
		lt_fatal(ctx, WHO ": out of memory");
	mlp_parse(ctx, WHO, argc, argv, 0, &s->opt);
	mlp_setup(ctx, WHO, &s->opt, &s->net);
	*self = s;
	return 0;
}

static int64_t mlp_num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	struct model *s = self;
	return digits_count(&s->net.data, split);
}

static int mlp_train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch,
			  double *loss)
{
	struct model *s = self;
	int64_t correct = 0;
	mlp_gather(ctx, &s->net, LT_TRAIN, batch->index, batch->size);
	*loss = mlp_forward(ctx, &s->net, batch->size, &correct) / batch->size;
	mlp_backward(ctx, &s->net, batch->size, lt_loss_scale(ctx) / batch->size);
	return 0;
}

static int mlp_val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch,
			double *loss)
{
	struct model *s = self;
	int64_t correct = 0;
	mlp_gather(ctx, &s->net, LT_VAL, batch->index, batch->size);
	*loss = mlp_forward(ctx, &s->net, batch->size, &correct) / batch->size;
	lt_log(ctx, "val_acc", (double)correct / batch->size);
	return 0;
}

static void mlp_fini(lt_ctx *ctx, void *self)
{
	struct model *s = self;
	mlp_dump(ctx, WHO, &s->opt, &s->net);
	mlp_free(&s->net);
	free(s);
}

static const struct lt_module mlp_module = {
	.size = sizeof(struct lt_module),
	.name = WHO,
	.init = mlp_init,
	.num_samples = mlp_num_samples,
	.train_step = mlp_train_step,
	.val_step = mlp_val_step,
	.fini = mlp_fini,
};

__attribute__((visibility("default"))) const struct lt_module *lt_module_v1(void)
{
	return &mlp_module;
}
