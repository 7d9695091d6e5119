/*
 * prefetch_units.c - a Trainer-mode model for zero's stage-3 prefetch
 * (tests/integration/test_prefetch.c): K = 4 units "u0".."u3", unit k a
 * weight w_k of D = 2048 elements and a bias b_k, plus a scalar "shift"
 * in no unit.  Unit k predicts p_k(s) = w_k . x_k(s) + b_k + shift for
 * sample s (x_k deterministic features in [-1, 1)) against a fixed
 * target; the loss is the mean of (p_k - t_k)^2 over the batch and the
 * units.  Forward begins the units one after the other, backward in the
 * reverse order, each use bracketed.
 *
 *   ltrun [...] prefetch_units.so -- [--branch] [--stray] [--dump PATH]
 *
 *   --branch     from step 2 on, even steps use the units in the order
 *                2, 0, 3, 1 (backward 1, 3, 0, 2), and every third step
 *                begins u3 twice in forward: an order other than the
 *                first step's
 *   --stray      on step 2, rank 1 reads w_0[1000] while inside u2's
 *                forward: under stage 3 on 2 ranks that page is rank 0's
 *                and u0 is neither in use nor among the next units, so
 *                the read must fault
 *   --dump PATH  rank 0 writes every parameter at the end (params.h's
 *                text dump)
 *
 * Any compute dtype: values are read into doubles and each gradient
 * element is added once (store_add).
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "prefetch_units"

enum { K = 4, D = 2048, MAXB = 64 };

struct model {
	int branch, stray;
	const char *dump;
	enum lt_dtype dt;
	lt_tensor *param[2 * K + 1]; /* w_0, b_0, ..., w_3, b_3, shift */
	lt_unit *unit[K];
};

static double feature(int64_t sample, int k, int j)
{
	uint64_t h = mix64((uint64_t)sample * 0x9E3779B97F4A7C15ull + (uint64_t)(k * D + j));

	return (double)(h >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
}

static double target(int64_t sample, int k)
{
	return 0.25 * (k - 1.5) + 0.5 * feature(sample, k, 7) - 0.3 * feature(sample, k, 100);
}

static void parse(lt_ctx *ctx, struct model *m, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--branch"))
			m->branch = 1;
		else if (!strcmp(argv[i], "--stray"))
			m->stray = 1;
		else if (!strcmp(argv[i], "--dump"))
			m->dump = opt_value(ctx, WHO, argc, argv, &i);
		else
			lt_fatal(ctx, WHO ": unknown option '%s': use --branch, --stray or --dump PATH",
				 argv[i]);
	}
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct model *m = calloc(1, sizeof(*m));
	char name[32];

	if (!m)
		lt_fatal(ctx, WHO ": out of memory");
	require_cpu(ctx, WHO);
	parse(ctx, m, argc, argv);
	m->dt = lt_dtype(ctx);
	for (int k = 0; k < K; k++) {
		snprintf(name, sizeof(name), "u%d.weight", k);
		m->param[2 * k] = lt_param(ctx, name, LT_SHAPE(D), LT_UNIFORM(-0.02, 0.02));
		snprintf(name, sizeof(name), "u%d.bias", k);
		m->param[2 * k + 1] = lt_param(ctx, name, LT_SHAPE(1), LT_UNIFORM(-0.1, 0.1));
		snprintf(name, sizeof(name), "u%d", k);
		m->unit[k] = lt_unit_new(ctx, name, m->param[2 * k], m->param[2 * k + 1]);
	}
	m->param[2 * K] = lt_param(ctx, "shift", LT_SHAPE(1), LT_UNIFORM(-0.1, 0.1));
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? 256 : 0;
}

/* The order step uses the units in (forward; backward reverses it). */
static void order_of(const struct model *m, int64_t step, int *ord)
{
	static const int branched[K] = { 2, 0, 3, 1 };

	for (int k = 0; k < K; k++)
		ord[k] = m->branch && step >= 2 && step % 2 == 0 ? branched[k] : k;
}

/* Unit k's residuals p_k(s) - t_k(s) for the batch, into r. */
static void forward_unit(lt_ctx *ctx, struct model *m, const struct lt_batch *batch, int k,
			 double shift, double *r)
{
	const void *w = lt_data(m->param[2 * k]);
	double b;

	lt_unit_begin(ctx, m->unit[k], LT_FORWARD);
	if (m->stray && k == 2 && batch->step == 2 && lt_rank(ctx) == 1) {
		volatile double v = load(lt_data(m->param[0]), m->dt, 1000);

		(void)v;
	}
	b = load(lt_data(m->param[2 * k + 1]), m->dt, 0);
	for (int s = 0; s < batch->size; s++) {
		double p = b + shift;

		for (int j = 0; j < D; j++)
			p += load(w, m->dt, (size_t)j) * feature(batch->index[s], k, j);
		r[s] = p - target(batch->index[s], k);
	}
	lt_unit_end(ctx, m->unit[k], LT_FORWARD);
}

/* Unit k's gradients from its residuals r (dloss = scale * r). */
static void backward_unit(lt_ctx *ctx, struct model *m, const struct lt_batch *batch, int k,
			  const double *r, double scale)
{
	double gb = 0.0;

	lt_unit_begin(ctx, m->unit[k], LT_BACKWARD);
	for (int j = 0; j < D; j++) {
		double g = 0.0;

		for (int s = 0; s < batch->size; s++)
			g += scale * r[s] * feature(batch->index[s], k, j);
		store_add(lt_grad(m->param[2 * k]), m->dt, (size_t)j, g);
	}
	for (int s = 0; s < batch->size; s++)
		gb += scale * r[s];
	store_add(lt_grad(m->param[2 * k + 1]), m->dt, 0, gb);
	lt_unit_end(ctx, m->unit[k], LT_BACKWARD);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct model *m = self;
	double r[K][MAXB], gshift = 0.0, l = 0.0;
	double scale = (double)lt_loss_scale(ctx) * 2.0 / (double)(batch->size * K);
	double shift = load(lt_data(m->param[2 * K]), m->dt, 0);
	int ord[K];

	if (batch->size > MAXB)
		lt_fatal(ctx, WHO ": --batch-size %d is over %d", batch->size, MAXB);
	order_of(m, batch->step, ord);
	for (int i = 0; i < K; i++) {
		forward_unit(ctx, m, batch, ord[i], shift, r[ord[i]]);
		if (m->branch && batch->step >= 2 && batch->step % 3 == 0 && ord[i] == 3)
			forward_unit(ctx, m, batch, 3, shift, r[3]);
	}
	for (int k = 0; k < K; k++)
		for (int s = 0; s < batch->size; s++) {
			l += r[k][s] * r[k][s];
			gshift += scale * r[k][s];
		}
	store_add(lt_grad(m->param[2 * K]), m->dt, 0, gshift);
	lt_grad_ready(ctx, m->param[2 * K]);
	for (int i = K - 1; i >= 0; i--)
		backward_unit(ctx, m, batch, ord[i], r[ord[i]], scale);
	*loss = l / (double)(batch->size * K);
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	struct model *m = self;

	if (m->dump) {
		/* the gathering is collective: every rank begins the units */
		for (int k = 0; k < K; k++)
			lt_unit_begin(ctx, m->unit[k], LT_FORWARD);
		dump_params(ctx, WHO, m->dump, m->param, 2 * K + 1);
		for (int k = 0; k < K; k++)
			lt_unit_end(ctx, m->unit[k], LT_FORWARD);
	}
	free(m);
}

static const struct lt_module prefetch_units = {
	.size = sizeof(struct lt_module),
	.name = WHO,
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &prefetch_units;
}
