/*
 * weights_set.c - a Trainer-mode model for the given-weights tests
 * (tests/integration/test_init_weights.c): the parameters of linreg.c
 * ("linear.weight" 4 x 8, "linear.bias" 4) and a loss of half their sum
 * of squares, so that a run with --lr 0 keeps them as they started and
 * its dump shows what they started as.
 *
 *   ltrun [...] weights_set.so -- [--set DTYPE] [--poke] [--late]
 *         [--bad-dtype] [--null] [--rows N] [--extra] [--dump PATH]
 *
 *   --set DTYPE   in init, lt_param_set() of both parameters from values
 *                 given in DTYPE (f32, f64, f16, bf16): element i of the
 *                 weight is (i - 16) / 8, of the bias -i / 4, plus the rank
 *                 (rank 0's values must win on every rank)
 *   --poke        the mistake lt_param_set() replaces: the same values
 *                 written straight into lt_data()
 *   --late        lt_param_set() in train_step (after the parameters were
 *                 placed: ends the rank)
 *   --bad-dtype   lt_param_set() with LT_I32 values (ends the rank)
 *   --null        lt_param_set() with NULL values (ends the rank)
 *   --rows N      the weight is N x 8 (default 4)
 *   --extra       also registers "extra.scale" (3)
 *   --dump PATH   every rank writes PATH.<rank> at the end: the
 *                 parameters' lt_data(), as raw f32, in registration order
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "weights_set"

struct model {
	const char *set, *dump;
	int poke, late, bad_dtype, null, extra;
	int64_t rows;
	enum lt_dtype dt;
	lt_tensor *p[3];
	int np;
};

static enum lt_dtype parse_dtype(lt_ctx *ctx, const char *s)
{
	static const char *const names[] = { "f32", "f64", "f16", "bf16" };
	static const enum lt_dtype dts[] = { LT_F32, LT_F64, LT_F16, LT_BF16 };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return dts[i];
	lt_fatal(ctx, WHO ": --set '%s': give f32, f64, f16 or bf16", s);
}

/* The given value of element i of parameter k on this rank. */
static double given(lt_ctx *ctx, int k, int64_t i)
{
	return (k == 0 ? (double)(i - 16) / 8.0 : -(double)i / 4.0) + lt_rank(ctx);
}

/* lt_param_set() of parameter k from values of dt (or, with poke, the
 * values written into lt_data()). */
static void set_param(lt_ctx *ctx, struct model *m, int k, enum lt_dtype dt)
{
	lt_tensor *t = m->p[k];
	int64_t n = lt_numel(t);
	void *v = malloc((size_t)n * 8);

	if (!v)
		lt_fatal(ctx, WHO ": out of memory");
	for (int64_t i = 0; i < n; i++)
		store(m->poke ? lt_data(t) : v, m->poke ? m->dt : dt, (size_t)i, given(ctx, k, i));
	if (!m->poke)
		lt_param_set(ctx, t, m->null ? NULL : v, m->bad_dtype ? LT_I32 : dt);
	free(v);
}

static void parse(lt_ctx *ctx, struct model *m, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--set"))
			m->set = opt_value(ctx, WHO, argc, argv, &i);
		else if (!strcmp(argv[i], "--dump"))
			m->dump = opt_value(ctx, WHO, argc, argv, &i);
		else if (!strcmp(argv[i], "--rows"))
			m->rows = opt_count(ctx, WHO, "--rows", opt_value(ctx, WHO, argc, argv, &i), 1, 64);
		else if (!strcmp(argv[i], "--poke"))
			m->poke = 1;
		else if (!strcmp(argv[i], "--late"))
			m->late = 1;
		else if (!strcmp(argv[i], "--bad-dtype"))
			m->bad_dtype = 1;
		else if (!strcmp(argv[i], "--null"))
			m->null = 1;
		else if (!strcmp(argv[i], "--extra"))
			m->extra = 1;
		else
			lt_fatal(ctx, WHO ": unknown option '%s'", argv[i]);
	}
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, WHO ": out of memory");
	m->rows = 4;
	m->dt = lt_dtype(ctx);
	require_cpu(ctx, WHO);
	parse(ctx, m, argc, argv);
	m->p[m->np++] = lt_param(ctx, "linear.weight", LT_SHAPE(m->rows, 8), LT_KAIMING_UNIFORM);
	m->p[m->np++] = lt_param(ctx, "linear.bias", LT_SHAPE(4), LT_UNIFORM(-0.1, 0.1));
	if (m->extra)
		m->p[m->np++] = lt_param(ctx, "extra.scale", LT_SHAPE(3), LT_CONSTANT(1.0));
	if (m->set || m->poke)
		for (int k = 0; k < 2; k++)
			set_param(ctx, m, k, m->set ? parse_dtype(ctx, m->set) : LT_F32);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? 8 : 0;
}

/* loss = sum of squares / 2 of every parameter; d loss / d p = p. */
static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct model *m = self;
	double s = 0.0;

	(void)batch;
	if (m->late)
		set_param(ctx, m, 0, LT_F32);
	for (int k = 0; k < m->np; k++)
		for (int64_t i = 0; i < lt_numel(m->p[k]); i++) {
			double v = load(lt_data(m->p[k]), m->dt, (size_t)i);

			s += v * v / 2.0;
			store_add(lt_grad(m->p[k]), m->dt, (size_t)i, v * lt_loss_scale(ctx));
		}
	*loss = s;
	return 0;
}

static void dump(lt_ctx *ctx, struct model *m)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%d", m->dump, lt_rank(ctx));
	if (!(f = fopen(path, "wb")))
		lt_fatal(ctx, WHO ": cannot write '%s'", path);
	for (int k = 0; k < m->np; k++)
		for (int64_t i = 0; i < lt_numel(m->p[k]); i++) {
			float v = (float)load(lt_data(m->p[k]), m->dt, (size_t)i);

			fwrite(&v, sizeof(v), 1, f);
		}
	if (ferror(f) | fclose(f))
		lt_fatal(ctx, WHO ": cannot write '%s'", path);
}

static void fini(lt_ctx *ctx, void *self)
{
	struct model *m = self;

	if (m->dump)
		dump(ctx, m);
	free(m);
}

static const struct lt_module weights_set = {
	.size = sizeof(struct lt_module),
	.name = "weights_set",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &weights_set;
}
