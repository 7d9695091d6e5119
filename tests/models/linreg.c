/*
 * linreg.c - a small Trainer-mode model for the trainer's tests: linear
 * regression y = W x + b (W is OUT x IN) on deterministic synthetic data,
 * mean squared error.  Small enough that every run takes milliseconds,
 * real enough that its parameters after K steps tell whether ddp on N
 * ranks computed what single_device computes with N times the batch.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) linreg.c -o linreg.so
 *   ltrun [--strategy ddp --devices N ...] linreg.so -- [--samples N]
 *         [--dump PATH] [--no-ready] [--fail-step S [--kill]] [--inf-step S]
 *         [--log-name NAME]
 *
 *   --samples N    training samples (default 96; validation: N / 4)
 *   --dump PATH    rank 0 writes every parameter at the end, raw
 *                  little-endian f32 in registration order (W then b),
 *                  converted to f32 whatever the compute dtype
 *   --no-ready     never call lt_grad_ready (sync after backward only)
 *   --log-name NAME  also lt_log()s the loss as NAME in every train step
 *                  (the logger tests give a name no logger may take)
 * Rank 0 prints "linreg run_id=ID" (LTRUN_RUN_ID) first.
 *
 *   --fail-step S  rank 1 (or 0 alone) fails in train_step at step S,
 *                  through lt_fatal, or with --kill by SIGKILL while the
 *                  others wait in the step's all-reduce
 *   --inf-step S   rank 1 (or 0 alone) writes +inf into element 0 of its
 *                  weight gradient in every micro-batch of step S, after
 *                  backward: under 16-mixed every rank must skip that
 *                  optimizer step (and lower the loss scale)
 *
 * Any compute dtype (lt_dtype()): the parameters are read into doubles
 * once a batch, forward and backward run in double, and each gradient
 * element is added to lt_grad() once, rounded once to the dtype
 * (store_add(), examples/common/params.h).
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 8, OUT = 4 };

struct linreg {
	int64_t samples;
	const char *dump;
	int ready;
	int64_t fail_step;
	int kill;
	int64_t inf_step;
	const char *log_name; /* --log-name, or NULL */
	enum lt_dtype dt; /* lt_dtype(ctx) */
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
	m->inf_step = -1;
	m->dt = lt_dtype(ctx);
	require_cpu(ctx, "linreg");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-ready") || !strcmp(argv[i], "--kill")) {
			*(argv[i][2] == 'n' ? &m->ready : &m->kill) = argv[i][2] == 'k';
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
		else if (!strcmp(argv[i], "--inf-step"))
			m->inf_step = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--log-name"))
			m->log_name = argv[++i];
		else
			lt_fatal(ctx, "linreg: unknown option '%s'", argv[i]);
	}
	/* The tests look for this job's shared-memory segments by run id. */
	if (lt_rank(ctx) == 0 && getenv("LTRUN_RUN_ID")) {
		printf("linreg run_id=%s\n", getenv("LTRUN_RUN_ID"));
		fflush(stdout);
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
	double w[OUT * IN], b[OUT], gw[OUT * IN] = { 0 }, gb[OUT] = { 0 };
	double scale = (double)lt_loss_scale(ctx) * 2.0 / (double)(batch->size * OUT);
	double loss = 0.0;

	for (int i = 0; i < OUT * IN; i++)
		w[i] = load(lt_data(m->w), m->dt, (size_t)i);
	for (int o = 0; o < OUT; o++)
		b[o] = load(lt_data(m->b), m->dt, (size_t)o);
	for (int s = 0; s < batch->size; s++) {
		int64_t id = batch->index[s] + (batch->split == LT_VAL ? 1000000 : 0);
		float x[IN], y[OUT];

		for (int j = 0; j < IN; j++)
			x[j] = feature(id, j);
		target(id, x, y);
		for (int o = 0; o < OUT; o++) {
			double pred = b[o];

			for (int j = 0; j < IN; j++)
				pred += w[o * IN + j] * x[j];
			loss += (pred - y[o]) * (pred - y[o]);
			if (!grads)
				continue;
			/* d loss / d pred = 2 (pred - y) / (size * OUT) */
			gb[o] += scale * (pred - y[o]);
			for (int j = 0; j < IN; j++)
				gw[o * IN + j] += scale * (pred - y[o]) * x[j];
		}
	}
	for (int i = 0; grads && i < OUT * IN; i++)
		store_add(lt_grad(m->w), m->dt, (size_t)i, gw[i]);
	for (int o = 0; grads && o < OUT; o++)
		store_add(lt_grad(m->b), m->dt, (size_t)o, gb[o]);
	return loss / (double)(batch->size * OUT);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct linreg *m = self;
	int failer = lt_world_size(ctx) > 1 ? 1 : 0;

	if (batch->step == m->fail_step && lt_rank(ctx) == failer) {
		if (m->kill)
			raise(SIGKILL);
		lt_fatal(ctx, "linreg: failing at step %lld as asked", (long long)batch->step);
	}
	*loss = run_batch(ctx, m, batch, 1);
	if (m->log_name)
		lt_log(ctx, m->log_name, *loss);
	if (batch->step == m->inf_step && lt_rank(ctx) == failer)
		store(lt_grad(m->w), m->dt, 0, INFINITY);
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

/* Writes n elements of p (dtype dt) to f as f32. */
static void write_f32(FILE *f, const void *p, enum lt_dtype dt, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		float v = (float)load(p, dt, (size_t)i);

		fwrite(&v, sizeof(v), 1, f);
	}
}

static void dump(lt_ctx *ctx, struct linreg *m)
{
	FILE *f = fopen(m->dump, "wb");

	if (!f)
		lt_fatal(ctx, "linreg: cannot write '%s'", m->dump);
	write_f32(f, lt_data(m->w), m->dt, lt_numel(m->w));
	write_f32(f, lt_data(m->b), m->dt, lt_numel(m->b));
	if (ferror(f) | fclose(f))
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
