/*
 * zero_lin.c - a tiny Trainer-mode model for the `zero` strategy's
 * tests (tests/integration/test_zero.c): y = W x + b + c (W is 5 x 7,
 * b has 5 elements, c is one scalar), mean squared error on
 * deterministic synthetic data.  41 parameters, a number no world size
 * of 2, 3 or 4 divides, and a parameter (c) smaller than the world size,
 * so that shards cut through parameters and the last one is padded.
 *
 * Backward marks c, b and W ready in that order (the reverse of their
 * registration), so that stage 2's buckets travel during backward.  At
 * the end rank 0 writes every parameter, raw little-endian f32 in
 * registration order, to the file $ZERO_LIN_DUMP names (when set).
 *
 * With $ZERO_LIN_PROBE set, every rank prints, at the start of
 * micro-batch 1 of step 0, what lin.shift's gradient holds then
 * ("zero_lin: rank R shift grad G"): micro-batch 0's own gradient under
 * ddp and stage 1, zero under stage 2 on a rank that does not own it.
 *
 * Any compute dtype: the parameters are read into doubles, and each
 * gradient element is added once (store_add, examples/common/params.h).
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>

enum { IN = 7, OUT = 5, SAMPLES = 96 };

struct zero_lin {
	enum lt_dtype dt;
	lt_tensor *w, *b, *c;
};

/* A deterministic value in [-1, 1) from (sample, feature). */
static double feature(int64_t sample, int j)
{
	uint64_t h = mix64((uint64_t)sample * 131u + (uint64_t)j);

	return (double)(h >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static double target(int64_t sample, int o, const double *x)
{
	double v = 0.2 * (o - 2);

	for (int j = 0; j < IN; j++)
		v += (double)((o + j) % 4 - 1.5) * 0.3 * x[j];
	return v + 0.01 * feature(sample, 100 + o);
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct zero_lin *m = calloc(1, sizeof(*m));

	(void)argv;
	if (!m)
		lt_fatal(ctx, "zero_lin: out of memory");
	if (argc > 1)
		lt_fatal(ctx, "zero_lin: takes no options");
	require_cpu(ctx, "zero_lin");
	m->dt = lt_dtype(ctx);
	m->w = lt_param(ctx, "lin.weight", LT_SHAPE(OUT, IN), LT_KAIMING_UNIFORM);
	m->b = lt_param(ctx, "lin.bias", LT_SHAPE(OUT), LT_UNIFORM(-0.1, 0.1));
	m->c = lt_param(ctx, "lin.shift", LT_SHAPE(1), LT_UNIFORM(-0.1, 0.1));
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? SAMPLES : SAMPLES / 4;
}

static double run_batch(lt_ctx *ctx, struct zero_lin *m, const struct lt_batch *batch, int grads)
{
	double w[OUT * IN], b[OUT], c, gw[OUT * IN] = { 0 }, gb[OUT] = { 0 }, gc = 0.0;
	double scale = (double)lt_loss_scale(ctx) * 2.0 / (double)(batch->size * OUT);
	double loss = 0.0;

	for (int i = 0; i < OUT * IN; i++)
		w[i] = load(lt_data(m->w), m->dt, (size_t)i);
	for (int o = 0; o < OUT; o++)
		b[o] = load(lt_data(m->b), m->dt, (size_t)o);
	c = load(lt_data(m->c), m->dt, 0);
	for (int s = 0; s < batch->size; s++) {
		int64_t id = batch->index[s] + (batch->split == LT_VAL ? 1000000 : 0);
		double x[IN];

		for (int j = 0; j < IN; j++)
			x[j] = feature(id, j);
		for (int o = 0; o < OUT; o++) {
			double pred = b[o] + c, d;

			for (int j = 0; j < IN; j++)
				pred += w[o * IN + j] * x[j];
			d = pred - target(id, o, x);
			loss += d * d;
			gb[o] += scale * d;
			gc += scale * d;
			for (int j = 0; j < IN; j++)
				gw[o * IN + j] += scale * d * x[j];
		}
	}
	if (grads) {
		store_add(lt_grad(m->c), m->dt, 0, gc);
		lt_grad_ready(ctx, m->c);
		for (int o = 0; o < OUT; o++)
			store_add(lt_grad(m->b), m->dt, (size_t)o, gb[o]);
		lt_grad_ready(ctx, m->b);
		for (int i = 0; i < OUT * IN; i++)
			store_add(lt_grad(m->w), m->dt, (size_t)i, gw[i]);
		lt_grad_ready(ctx, m->w);
	}
	return loss / (double)(batch->size * OUT);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct zero_lin *m = self;

	if (getenv("ZERO_LIN_PROBE") && batch->step == 0 && batch->micro == 1) {
		printf("zero_lin: rank %d shift grad %.9g\n", lt_rank(ctx),
		       load(lt_grad(m->c), m->dt, 0));
		fflush(stdout);
	}
	*loss = run_batch(ctx, self, batch, 1);
	return 0;
}

static int val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	*loss = run_batch(ctx, self, batch, 0);
	return 0;
}

static void write_f32(lt_ctx *ctx, FILE *f, struct zero_lin *m, lt_tensor *t)
{
	for (int64_t i = 0; i < lt_numel(t); i++) {
		float v = (float)load(lt_data(t), m->dt, (size_t)i);

		if (fwrite(&v, sizeof(v), 1, f) != 1)
			lt_fatal(ctx, "zero_lin: cannot write $ZERO_LIN_DUMP");
	}
}

static void fini(lt_ctx *ctx, void *self)
{
	struct zero_lin *m = self;
	const char *path = getenv("ZERO_LIN_DUMP");

	if (path && lt_rank(ctx) == 0) {
		FILE *f = fopen(path, "wb");

		if (!f)
			lt_fatal(ctx, "zero_lin: cannot write '%s'", path);
		write_f32(ctx, f, m, m->w);
		write_f32(ctx, f, m, m->b);
		write_f32(ctx, f, m, m->c);
		if (fclose(f))
			lt_fatal(ctx, "zero_lin: cannot write '%s'", path);
	}
	free(m);
}

static const struct lt_module zero_lin = {
	.size = sizeof(struct lt_module),
	.name = "zero_lin",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.val_step = val_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &zero_lin;
}
