/*
 * linreg.c - a small Trainer-mode model for the trainer's tests: linear
 * regression y = W x + b (W is OUT x IN) on deterministic synthetic data,
 * mean squared error.  Small enough that every run takes milliseconds,
 * real enough that its parameters after K steps tell whether ddp on N
 * ranks computed what single_device computes with N times the batch.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) linreg.c -o linreg.so
 *   ltrun [--strategy ddp --devices N ...] linreg.so -- [--samples N]
 *         [--dump PATH] [--no-ready] [--fail-step S]
 *
 *   --samples N    training samples (default 96; validation: N / 4)
 *   --dump PATH    rank 0 writes every parameter at the end, raw
 *                  little-endian f32 in registration order (W then b)
 *   --no-ready     never call lt_grad_ready (sync after backward only)
 *   --fail-step S  rank 1 (or 0 alone) fails in train_step at step S
 */
#include <ltrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 8, OUT = 4 };

struct linreg {
	int64_t samples;
	const char *dump;
	int ready;
	int64_t fail_step;
	lt_tensor *w; /* (OUT, IN) */
	lt_tensor *b; /* (OUT) */
};

/* A deterministic value in [-1, 1) from (sample, feature). */
static float feature(int64_t sample, int j)
{
	uint64_t h = (uint64_t)sample * 0x9E3779B97F4A7C15ull + (uint64_t)j * 0xBF58476D1CE4E5B9ull;

	h ^= h >> 31;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 29;
	return (float)((double)(h >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

/* The target: a fixed W*, b* plus a little deterministic noise. */
static void target(int64_t sample, const float *x, float *y)
{
	for (int o = 0; o < OUT; o++) {
		float v = 0.1f * (float)(o + 1);
		for (int j = 0; j < IN; j++)
			v += (float)((o + 1) * (j % 3) - 1) * 0.25f * x[j];
		y[o] = v + 0.01f * feature(sample, 100 + o);
	}
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct linreg *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, "linreg: out of memory");
	m->samples = 96;
	m->ready = 1;
	m->fail_step = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-ready")) {
			m->ready = 0;
			continue;
		}
		if (i + 1 >= argc)
			lt_fatal(ctx, "linreg: option '%s' needs a value", argv[i]);
		if (!strcmp(argv[i], "--samples"))
			m->samples = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--dump"))
			m->dump = argv[++i];
		else if (!strcmp(argv[i], "--fail-step"))
			m->fail_step = atoll(argv[++i]);
		else
			lt_fatal(ctx, "linreg: unknown option '%s'", argv[i]);
	}
	m->w = lt_param(ctx, "linear.weight", LT_SHAPE(OUT, IN), LT_KAIMING_UNIFORM);
	m->b = lt_param(ctx, "linear.bias", LT_SHAPE(OUT), LT_UNIFORM(-0.1, 0.1));
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	struct linreg *m = self;

	(void)ctx;
	return split == LT_TRAIN ? m->samples : m->samples / 4;
}

/* Forward (and backward when grads): the batch's mean squared error. */
static double run_batch(lt_ctx *ctx, struct linreg *m, const struct lt_batch *batch, int grads)
{
	const float *w = lt_data(m->w), *b = lt_data(m->b);
	float *gw = lt_grad(m->w), *gb = lt_grad(m->b);
	float scale = lt_loss_scale(ctx) * 2.0f / (float)(batch->size * OUT);
	double loss = 0.0;

	for (int s = 0; s < batch->size; s++) {
		int64_t id = batch->index[s] + (batch->split == LT_VAL ? 1000000 : 0);
		float x[IN], y[OUT], pred[OUT];

		for (int j = 0; j < IN; j++)
			x[j] = feature(id, j);
		target(id, x, y);
		for (int o = 0; o < OUT; o++) {
			pred[o] = b[o];
			for (int j = 0; j < IN; j++)
				pred[o] += w[o * IN + j] * x[j];
			loss += (double)(pred[o] - y[o]) * (pred[o] - y[o]);
			if (!grads)
				continue;
			/* d loss / d pred = 2 (pred - y) / (size * OUT) */
			gb[o] += scale * (pred[o] - y[o]);
			for (int j = 0; j < IN; j++)
				gw[o * IN + j] += scale * (pred[o] - y[o]) * x[j];
		}
	}
	return loss / (double)(batch->size * OUT);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct linreg *m = self;
	int failer = lt_world_size(ctx) > 1 ? 1 : 0;

	if (batch->step == m->fail_step && lt_rank(ctx) == failer)
		lt_fatal(ctx, "linreg: failing at step %lld as asked", (long long)batch->step);
	*loss = run_batch(ctx, m, batch, 1);
	if (m->ready) {
		lt_grad_ready(ctx, m->b);
		lt_grad_ready(ctx, m->w);
	}
	return 0;
}

static int val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	*loss = run_batch(ctx, self, batch, 0);
	lt_log(ctx, "val_rmse_proxy", *loss);
	return 0;
}

static void dump(lt_ctx *ctx, struct linreg *m)
{
	FILE *f = fopen(m->dump, "wb");

	if (!f)
		lt_fatal(ctx, "linreg: cannot write '%s'", m->dump);
	fwrite(lt_data(m->w), sizeof(float), (size_t)lt_numel(m->w), f);
	fwrite(lt_data(m->b), sizeof(float), (size_t)lt_numel(m->b), f);
	if (fclose(f))
		lt_fatal(ctx, "linreg: cannot write '%s'", m->dump);
}

static void fini(lt_ctx *ctx, void *self)
{
	struct linreg *m = self;

	if (m->dump && lt_rank(ctx) == 0)
		dump(ctx, m);
	free(m);
}

static const struct lt_module linreg = {
	.size = sizeof(struct lt_module),
	.name = "linreg",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.val_step = val_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &linreg;
}
