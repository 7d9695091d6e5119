/*
 * views_linreg.c - a Trainer-mode test model written against the f32
 * views alone (lt_data_f32, lt_grad_f32): linear regression y = W x + b
 * in f32, whatever --precision says, with W (L, IN) stacked the way
 * llm.c stacks its layers: row l is "layer" l.  It also makes, on
 * request, each of the silent gradient mistakes ltrun's guards catch.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) views_linreg.c -o views_linreg.so
 *   ltrun [...] views_linreg.so -- [--mark none|whole|layers]
 *         [--bad-range outside|overlap] [--forget-scale] [--early-ready]
 *         [--zero-grads] [--spike-step S] [--in N] [--dump PATH]
 *
 *   --mark MODE       lt_grad_ready: none (default), whole tensors after
 *                     backward, or W layer by layer as backward computes
 *                     each row, last layer first (lt_grad_ready_range)
 *   --bad-range WHAT  marks a range outside W, or two overlapping ones
 *   --forget-scale    seeds backward with 1 instead of lt_loss_scale()
 *   --early-ready     W's gradient comes in two halves (a tied weight
 *                     used twice) and W is marked ready after the first
 *   --zero-grads      zeroes lt_grad_f32() at the start of train_step,
 *                     as llm.c zeroes its gradients
 *   --spike-step S    at step S adds 1e6 x lt_loss_scale() to W's first
 *                     gradient element: finite in f32, beyond f16 once
 *                     scaled by 16-mixed's loss scale
 *   --in N            features (default 12: W and b are 52 floats); a large
 *                     N makes W larger than a ddp bucket
 *   --dump PATH       rank 0 writes W then b at the end, raw f32 (from
 *                     lt_data_f32)
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L = 4, SAMPLES = 128 };

struct views {
	const char *mark, *bad, *dump;
	int forget_scale, early_ready, zero_grads;
	int64_t spike_step;
	int in;                          /* features: IN */
	lt_tensor *w, *b;                /* W (L, IN), b (L) */
	const float *wv, *bv;            /* lt_data_f32 */
	float *gw, *gb;                  /* lt_grad_f32 */
};

/* Feature j of a sample, in [-1, 1). */
static float feature(int64_t sample, int j)
{
	return (float)((double)(mix64((uint64_t)sample * 64 + (uint64_t)j) >> 11) /
		       (double)(1ull << 53) * 2.0 - 1.0);
}

/* Target l of a sample: a fixed linear map of its in features. */
static float target(const float *x, int in, int l)
{
	float v = 0.05f * (float)l;

	for (int j = 0; j < in; j++)
		v += 0.1f * (float)((l + j) % 5 - 2) * x[j];
	return v;
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct views *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, "views_linreg: out of memory");
	m->mark = "none";
	m->spike_step = -1;
	m->in = 12;
	require_cpu(ctx, "views_linreg");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--forget-scale"))
			m->forget_scale = 1;
		else if (!strcmp(argv[i], "--early-ready"))
			m->early_ready = 1;
		else if (!strcmp(argv[i], "--zero-grads"))
			m->zero_grads = 1;
		else if (!strcmp(argv[i], "--mark"))
			m->mark = opt_value(ctx, "views_linreg", argc, argv, &i);
		else if (!strcmp(argv[i], "--bad-range"))
			m->bad = opt_value(ctx, "views_linreg", argc, argv, &i);
		else if (!strcmp(argv[i], "--spike-step"))
			m->spike_step = atoll(opt_value(ctx, "views_linreg", argc, argv, &i));
		else if (!strcmp(argv[i], "--in"))
			m->in = (int)opt_count(ctx, "views_linreg", "--in",
					       opt_value(ctx, "views_linreg", argc, argv, &i), 1, 1 << 20);
		else if (!strcmp(argv[i], "--dump"))
			m->dump = opt_value(ctx, "views_linreg", argc, argv, &i);
		else
			lt_fatal(ctx, "views_linreg: unknown option '%s'", argv[i]);
	}
	m->w = lt_param(ctx, "layers.weight", LT_SHAPE(L, m->in), LT_UNIFORM(-0.2, 0.2));
	m->b = lt_param(ctx, "layers.bias", LT_SHAPE(L), LT_ZEROS);
	m->wv = lt_data_f32(ctx, m->w);
	m->bv = lt_data_f32(ctx, m->b);
	m->gw = lt_grad_f32(ctx, m->w);
	m->gb = lt_grad_f32(ctx, m->b);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? SAMPLES : 0;
}

/* Adds row l of W's gradient over samples [s0, s1) of the batch. */
static void add_row(struct views *m, const float *x, const float *err, int s0, int s1, int l)
{
	int in = m->in;

	for (int s = s0; s < s1; s++)
		for (int j = 0; j < in; j++)
			m->gw[l * in + j] += err[s * L + l] * x[s * in + j];
}

static void mark_bad(lt_ctx *ctx, struct views *m)
{
	if (!strcmp(m->bad, "outside")) {
		lt_grad_ready_range(ctx, m->w, L * m->in - 2, 4);
	} else {
		lt_grad_ready_range(ctx, m->w, 0, m->in);
		lt_grad_ready_range(ctx, m->w, m->in / 2, m->in);
	}
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct views *m = self;
	int n = batch->size, in = m->in;
	float *x = malloc(sizeof(float) * (size_t)n * (size_t)in);
	float *err = malloc(sizeof(float) * (size_t)n * L);
	float dscale = m->forget_scale ? 1.0f : lt_loss_scale(ctx);
	double sum = 0.0;

	if (!x || !err)
		lt_fatal(ctx, "views_linreg: out of memory");
	if (m->zero_grads) {
		memset(m->gw, 0, sizeof(float) * L * (size_t)in);
		memset(m->gb, 0, sizeof(float) * L);
	}
	/* forward; err = d loss / d pred, times the loss scale */
	for (int s = 0; s < n; s++) {
		for (int j = 0; j < in; j++)
			x[s * in + j] = feature(batch->index[s], j);
		for (int l = 0; l < L; l++) {
			float pred = m->bv[l], d;

			for (int j = 0; j < in; j++)
				pred += m->wv[l * in + j] * x[s * in + j];
			d = pred - target(x + s * in, in, l);
			sum += (double)d * d;
			err[s * L + l] = dscale * 2.0f * d / (float)(n * L);
			m->gb[l] += err[s * L + l];
		}
	}
	if (batch->step == m->spike_step)
		m->gw[0] += 1e6f * dscale;
	/* backward, last layer first */
	if (!strcmp(m->mark, "whole") || !strcmp(m->mark, "layers"))
		lt_grad_ready(ctx, m->b);
	for (int l = L - 1; l >= 0; l--) {
		add_row(m, x, err, 0, m->early_ready ? n / 2 : n, l);
		if (!strcmp(m->mark, "layers"))
			lt_grad_ready_range(ctx, m->w, (int64_t)l * in, in);
	}
	if (m->early_ready)
		lt_grad_ready(ctx, m->w);
	for (int l = L - 1; m->early_ready && l >= 0; l--)
		add_row(m, x, err, n / 2, n, l);
	if (!strcmp(m->mark, "whole"))
		lt_grad_ready(ctx, m->w);
	if (m->bad)
		mark_bad(ctx, m);
	free(x);
	free(err);
	*loss = sum / (double)(n * L);
	return 0;
}

static void dump(lt_ctx *ctx, struct views *m)
{
	FILE *f = fopen(m->dump, "wb");

	if (!f)
		lt_fatal(ctx, "views_linreg: cannot write '%s'", m->dump);
	fwrite(m->wv, sizeof(float), L * (size_t)m->in, f);
	fwrite(m->bv, sizeof(float), L, f);
	if (ferror(f) | fclose(f))
		lt_fatal(ctx, "views_linreg: cannot write '%s'", m->dump);
}

static void fini(lt_ctx *ctx, void *self)
{
	struct views *m = self;

	if (m->dump && lt_rank(ctx) == 0)
		dump(ctx, m);
	free(m);
}

static const struct lt_module views_linreg = {
	.size = sizeof(struct lt_module),
	.name = "views_linreg",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &views_linreg;
}
