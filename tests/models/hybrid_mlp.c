/*
 * hybrid_mlp.c - a tiny Trainer-mode model for the sharded strategies'
 * equivalence tests (test_hybrid.c): y = W2 tanh(W1 x + b1) + b2 on
 * deterministic synthetic data, mean squared error, one unit per layer
 * (lt_unit_new), every read of a layer's values and every write of its
 * gradients inside that unit's brackets, so that it runs unchanged under
 * ddp and under ZeRO-3 / hybrid_shard.  57 parameters in all (odd, so
 * that no world size above 1 divides them), one of them (fc2.bias, 3
 * elements) smaller than 4 ranks.
 *
 *   ltrun [--strategy S ...] hybrid_mlp.so -- [--samples N] [--dump PATH]
 *
 *   --samples N   training samples (default 128)
 *   --dump PATH   at the end, rank 0 writes every parameter in the text
 *                 format of examples/common/params.h (every rank takes
 *                 part: the units are begun to read them)
 *
 * Computes in double, whatever the compute dtype.
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 5, HID = 6, OUT = 3, NPARAM = 4 };

struct mlp {
	int64_t samples;
	const char *dump;
	enum lt_dtype dt;
	lt_tensor *p[NPARAM]; /* fc1.weight (HID, IN), fc1.bias (HID), fc2.weight (OUT, HID), fc2.bias (OUT) */
	lt_unit *unit[2];     /* fc1, fc2 */
};

/* A deterministic value in [-1, 1) from (sample, feature). */
static double feature(int64_t sample, int j)
{
	return (double)(mix64((uint64_t)sample * 131 + (uint64_t)j) >> 11) / (double)(1ull << 53) *
		       2.0 - 1.0;
}

static void target(int64_t id, const double *x, double *y)
{
	for (int o = 0; o < OUT; o++) {
		y[o] = 0.2 * (o + 1);
		for (int j = 0; j < IN; j++)
			y[o] += sin((double)(o + 2 * j)) * x[j];
	}
	y[0] += 0.05 * feature(id, 99);
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct mlp *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, "hybrid_mlp: out of memory");
	m->samples = 128;
	m->dt = lt_dtype(ctx);
	require_cpu(ctx, "hybrid_mlp");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--samples"))
			m->samples = opt_count(ctx, "hybrid_mlp", argv[i],
					       opt_value(ctx, "hybrid_mlp", argc, argv, &i), 1, 1 << 20);
		else if (!strcmp(argv[i], "--dump"))
			m->dump = opt_value(ctx, "hybrid_mlp", argc, argv, &i);
		else
			lt_fatal(ctx, "hybrid_mlp: unknown option '%s'", argv[i]);
	}
	m->p[0] = lt_param(ctx, "fc1.weight", LT_SHAPE(HID, IN), LT_KAIMING_UNIFORM);
	m->p[1] = lt_param(ctx, "fc1.bias", LT_SHAPE(HID), LT_UNIFORM(-0.1, 0.1));
	m->p[2] = lt_param(ctx, "fc2.weight", LT_SHAPE(OUT, HID), LT_KAIMING_UNIFORM);
	m->p[3] = lt_param(ctx, "fc2.bias", LT_SHAPE(OUT), LT_UNIFORM(-0.1, 0.1));
	m->unit[0] = lt_unit_new(ctx, "fc1", m->p[0], m->p[1]);
	m->unit[1] = lt_unit_new(ctx, "fc2", m->p[2], m->p[3]);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	struct mlp *m = self;

	(void)ctx;
	return split == LT_TRAIN ? m->samples : 0;
}

/* Reads n values of tensor t into out. */
static void read_param(const struct mlp *m, lt_tensor *t, double *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = load(lt_data(t), m->dt, (size_t)i);
}

/* Adds n gradient values to tensor t and marks it ready. */
static void add_grad(lt_ctx *ctx, const struct mlp *m, lt_tensor *t, const double *g, int n)
{
	for (int i = 0; i < n; i++)
		store_add(lt_grad(t), m->dt, (size_t)i, g[i]);
	lt_grad_ready(ctx, t);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct mlp *m = self;
	double w1[HID * IN], b1[HID], w2[OUT * HID], b2[OUT];
	double gw1[HID * IN] = { 0 }, gb1[HID] = { 0 }, gw2[OUT * HID] = { 0 }, gb2[OUT] = { 0 };
	double scale = (double)lt_loss_scale(ctx) * 2.0 / (double)(batch->size * OUT);

	*loss = 0.0;
	lt_unit_begin(ctx, m->unit[0], LT_FORWARD);
	read_param(m, m->p[0], w1, HID * IN);
	read_param(m, m->p[1], b1, HID);
	lt_unit_end(ctx, m->unit[0], LT_FORWARD);
	lt_unit_begin(ctx, m->unit[1], LT_FORWARD);
	read_param(m, m->p[2], w2, OUT * HID);
	read_param(m, m->p[3], b2, OUT);
	lt_unit_end(ctx, m->unit[1], LT_FORWARD);
	for (int s = 0; s < batch->size; s++) {
		double x[IN], y[OUT], h[HID], dh[HID] = { 0 };

		for (int j = 0; j < IN; j++)
			x[j] = feature(batch->index[s], j);
		target(batch->index[s], x, y);
		for (int k = 0; k < HID; k++) {
			h[k] = b1[k];
			for (int j = 0; j < IN; j++)
				h[k] += w1[k * IN + j] * x[j];
			h[k] = tanh(h[k]);
		}
		for (int o = 0; o < OUT; o++) {
			double d = b2[o];

			for (int k = 0; k < HID; k++)
				d += w2[o * HID + k] * h[k];
			d -= y[o];
			*loss += d * d;
			gb2[o] += scale * d;
			for (int k = 0; k < HID; k++) {
				gw2[o * HID + k] += scale * d * h[k];
				dh[k] += scale * d * w2[o * HID + k];
			}
		}
		for (int k = 0; k < HID; k++) {
			double dz = dh[k] * (1.0 - h[k] * h[k]);

			gb1[k] += dz;
			for (int j = 0; j < IN; j++)
				gw1[k * IN + j] += dz * x[j];
		}
	}
	*loss /= (double)(batch->size * OUT);
	/* Backward: the last layer first, as a real backward runs. */
	lt_unit_begin(ctx, m->unit[1], LT_BACKWARD);
	add_grad(ctx, m, m->p[3], gb2, OUT);
	add_grad(ctx, m, m->p[2], gw2, OUT * HID);
	lt_unit_end(ctx, m->unit[1], LT_BACKWARD);
	lt_unit_begin(ctx, m->unit[0], LT_BACKWARD);
	add_grad(ctx, m, m->p[1], gb1, HID);
	add_grad(ctx, m, m->p[0], gw1, HID * IN);
	lt_unit_end(ctx, m->unit[0], LT_BACKWARD);
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	struct mlp *m = self;

	if (m->dump) {
		lt_unit_begin(ctx, m->unit[0], LT_FORWARD);
		lt_unit_begin(ctx, m->unit[1], LT_FORWARD);
		dump_params(ctx, "hybrid_mlp", m->dump, m->p, NPARAM);
		lt_unit_end(ctx, m->unit[1], LT_FORWARD);
		lt_unit_end(ctx, m->unit[0], LT_FORWARD);
	}
	free(m);
}

static const struct lt_module hybrid_mlp = {
	.size = sizeof(struct lt_module),
	.name = "hybrid_mlp",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &hybrid_mlp;
}
