/*
 * units_mlp.c - a small Trainer-mode model with layers, for the tests of
 * units (tests/integration/test_units.c): L tanh layers of D x D on
 * deterministic synthetic data, mean squared error.  Forward and
 * backward go layer by layer over the whole micro-batch, so that each
 * layer's use can be bracketed as one unit.
 *
 *   ltrun [...] units_mlp.so -- [--units] [--self-ready] [--dump PATH]
 *         [--misuse KIND]
 *
 *   --units       one unit per layer ("layer0".."layer2"), begun and
 *                 ended around each layer's forward and backward; the
 *                 model never calls lt_grad_ready (the units' ends mark)
 *   --self-ready  with --units: the model marks each layer's bias itself
 *                 (lt_grad_ready) inside the unit, before its end
 *   --dump PATH   rank 0 writes every parameter at the end (params.h's
 *                 text dump, f32 values exactly)
 *   --misuse KIND one mistake with units, which must end the rank:
 *                 bad-name, dup-name, null-first, buffer, reversed,
 *                 overlap, late-new, double-begin, end-no-begin,
 *                 bad-pass, null-unit; write-after-end (with --units:
 *                 a gradient written after its unit's backward ended,
 *                 which --debug catches because the end marked it ready)
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L = 3, D = 6, MAXB = 64 };

struct mlp {
	int units, self_ready;
	const char *dump, *misuse;
	enum lt_dtype dt;
	lt_tensor *w[L], *b[L]; /* (D, D), (D) */
	lt_unit *unit[L];
	lt_tensor *buf;
};

static float feature(int64_t sample, int j)
{
	uint64_t h = mix64((uint64_t)sample * 0x9E3779B97F4A7C15ull + (uint64_t)j);

	return (float)((double)(h >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static int is(const struct mlp *m, const char *kind)
{
	return m->misuse && !strcmp(m->misuse, kind);
}

/* The mistakes lt_unit_new() refuses. */
static void make_units(lt_ctx *ctx, struct mlp *m)
{
	char name[32];

	for (int l = 0; l < L; l++) {
		snprintf(name, sizeof(name), "layer%d", is(m, "dup-name") ? 0 : l);
		if (is(m, "bad-name"))
			snprintf(name, sizeof(name), "layer %d", l);
		m->unit[l] = lt_unit_new(ctx, name, is(m, "null-first") ? NULL
						  : is(m, "buffer")   ? m->buf
								      : m->w[l],
					 m->b[l]);
	}
	if (is(m, "reversed"))
		lt_unit_new(ctx, "reversed", m->b[1], m->w[0]);
	if (is(m, "overlap"))
		lt_unit_new(ctx, "overlap", m->b[0], m->w[1]);
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct mlp *m = calloc(1, sizeof(*m));
	char name[32];

	if (!m)
		lt_fatal(ctx, "units_mlp: out of memory");
	m->dt = lt_dtype(ctx);
	require_cpu(ctx, "units_mlp");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--units"))
			m->units = 1;
		else if (!strcmp(argv[i], "--self-ready"))
			m->self_ready = 1;
		else if (!strcmp(argv[i], "--dump"))
			m->dump = opt_value(ctx, "units_mlp", argc, argv, &i);
		else if (!strcmp(argv[i], "--misuse"))
			m->misuse = opt_value(ctx, "units_mlp", argc, argv, &i);
		else
			lt_fatal(ctx, "units_mlp: unknown option '%s'", argv[i]);
	}
	m->buf = lt_buffer(ctx, "steps_seen", LT_SHAPE(1), LT_F32, LT_ZEROS, LT_BUFFER_BROADCAST);
	for (int l = 0; l < L; l++) {
		snprintf(name, sizeof(name), "layer%d.w", l);
		m->w[l] = lt_param(ctx, name, LT_SHAPE(D, D), LT_KAIMING_UNIFORM);
		snprintf(name, sizeof(name), "layer%d.b", l);
		m->b[l] = lt_param(ctx, name, LT_SHAPE(D), LT_UNIFORM(-0.1, 0.1));
	}
	if (m->units || m->misuse)
		make_units(ctx, m);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	(void)self;
	return split == LT_TRAIN ? 48 : 16;
}

static void unit_begin(lt_ctx *ctx, struct mlp *m, int l, enum lt_pass pass)
{
	if (m->units)
		lt_unit_begin(ctx, m->unit[l], pass);
}

static void unit_end(lt_ctx *ctx, struct mlp *m, int l, enum lt_pass pass)
{
	if (m->units)
		lt_unit_end(ctx, m->unit[l], pass);
}

/* act[s][l] is layer l's input for sample s (act[s][L]: the output). */
static void forward(lt_ctx *ctx, struct mlp *m, int n, double act[][L + 1][D])
{
	for (int l = 0; l < L; l++) {
		unit_begin(ctx, m, l, LT_FORWARD);
		for (int s = 0; s < n; s++)
			for (int o = 0; o < D; o++) {
				double z = load(lt_data(m->b[l]), m->dt, (size_t)o);

				for (int j = 0; j < D; j++)
					z += load(lt_data(m->w[l]), m->dt, (size_t)(o * D + j)) *
					     act[s][l][j];
				act[s][l + 1][o] = l < L - 1 ? tanh(z) : z;
			}
		unit_end(ctx, m, l, LT_FORWARD);
	}
}

/* dz[s]: d loss / d (layer l's pre-activation) in; d loss / d (layer
 * l - 1's) out.  Adds layer l's gradients. */
static void backward_layer(lt_ctx *ctx, struct mlp *m, int l, int n, double act[][L + 1][D],
			   double dz[][D])
{
	double gw[D * D] = { 0 }, gb[D] = { 0 };

	unit_begin(ctx, m, l, LT_BACKWARD);
	for (int s = 0; s < n; s++) {
		double da[D] = { 0 };

		for (int o = 0; o < D; o++) {
			gb[o] += dz[s][o];
			for (int j = 0; j < D; j++) {
				gw[o * D + j] += dz[s][o] * act[s][l][j];
				da[j] += load(lt_data(m->w[l]), m->dt, (size_t)(o * D + j)) * dz[s][o];
			}
		}
		for (int j = 0; j < D; j++)
			dz[s][j] = da[j] * (l > 0 ? 1.0 - act[s][l][j] * act[s][l][j] : 1.0);
	}
	for (int i = 0; i < D * D; i++)
		store_add(lt_grad(m->w[l]), m->dt, (size_t)i, gw[i]);
	for (int o = 0; o < D; o++)
		store_add(lt_grad(m->b[l]), m->dt, (size_t)o, gb[o]);
	if (m->units && m->self_ready)
		lt_grad_ready(ctx, m->b[l]);
	unit_end(ctx, m, l, LT_BACKWARD);
}

static double run_batch(lt_ctx *ctx, struct mlp *m, const struct lt_batch *batch, int grads)
{
	static double act[MAXB][L + 1][D], dz[MAXB][D];
	double scale = (double)lt_loss_scale(ctx) * 2.0 / (double)(batch->size * D);
	double loss = 0.0;
	int n = batch->size < MAXB ? batch->size : MAXB;

	for (int s = 0; s < n; s++)
		for (int j = 0; j < D; j++)
			act[s][0][j] = feature(batch->index[s] + (batch->split == LT_VAL ? 100000 : 0), j);
	forward(ctx, m, n, act);
	for (int s = 0; s < n; s++)
		for (int o = 0; o < D; o++) {
			double y = 0.5 * act[s][0][(o + 1) % D] - 0.25 * act[s][0][o];

			loss += (act[s][L][o] - y) * (act[s][L][o] - y);
			dz[s][o] = scale * (act[s][L][o] - y);
		}
	for (int l = L - 1; grads && l >= 0; l--)
		backward_layer(ctx, m, l, n, act, dz);
	return loss / (double)(n * D);
}

/* The mistakes lt_unit_begin/lt_unit_end refuse, at the first step. */
static void misuse_step(lt_ctx *ctx, struct mlp *m)
{
	if (is(m, "late-new"))
		lt_unit_new(ctx, "late", m->w[0], m->b[0]);
	if (is(m, "double-begin")) {
		lt_unit_begin(ctx, m->unit[1], LT_FORWARD);
		lt_unit_begin(ctx, m->unit[1], LT_FORWARD);
	}
	if (is(m, "end-no-begin"))
		lt_unit_end(ctx, m->unit[2], LT_BACKWARD);
	if (is(m, "bad-pass"))
		lt_unit_begin(ctx, m->unit[0], (enum lt_pass)7);
	if (is(m, "null-unit"))
		lt_unit_begin(ctx, NULL, LT_FORWARD);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct mlp *m = self;

	if (m->misuse)
		misuse_step(ctx, m);
	*loss = run_batch(ctx, m, batch, 1);
	if (is(m, "write-after-end"))
		store_add(lt_grad(m->w[2]), m->dt, 0, 1.0);
	return 0;
}

static int val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	*loss = run_batch(ctx, self, batch, 0);
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	struct mlp *m = self;

	lt_tensor *all[2 * L];

	for (int l = 0; l < L; l++) {
		all[2 * l] = m->w[l];
		all[2 * l + 1] = m->b[l];
	}
	if (m->dump)
		dump_params(ctx, "units_mlp", m->dump, all, 2 * L);
	free(m);
}

static const struct lt_module mlp = {
	.size = sizeof(struct lt_module),
	.name = "units_mlp",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.val_step = val_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &mlp;
}
