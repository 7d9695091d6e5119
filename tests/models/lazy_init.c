/*
 * lazy_init.c - a Trainer-mode model for stage 3's deferred first values
 * (runtime/lazy_fill.c; tests/integration/test_zero.c).
 *
 * Parameters: "a" and "b", 4M elements each (16 MiB under f32), each its
 * own unit, and "c", 20000 elements in no unit.  The loss is linear,
 * 1e-6 times the sum of every value, so a step moves every value by the
 * same amount and the first values stay visible in the dump.
 *
 * It prints, on every rank:
 *   "lazy_init: rank R registered_kib K": how much the resident set grew
 *     while init registered the parameters (deferred: a few pages; drawn
 *     at once: all 32 MiB of them);
 *   "lazy_init: rank R setup_peak_kib K": at the first step, how far the
 *     peak resident set (VmHWM) rose above the resident set before the
 *     registration (deferred on 2 ranks: about the rank's half of a and
 *     b; drawn at once: all of them).
 *
 * With $LAZY_INIT_TOUCH set, init, after registering, reads a[100]
 * (prints it: "lazy_init: rank R a100 V"), writes b[5] = 0.5 on every
 * rank, and on rank 1 only writes c[7] = 9: rank 0's values must be
 * every rank's after setup, as when every value is drawn at once.
 *
 * At the end rank 0 writes a, b and c (raw little-endian f32, in that
 * order) to $LAZY_INIT_DUMP when set.  f32 or mixed precision (values
 * read through examples/common/params.h's load).
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BIG = 1 << 22, LOOSE = 20000 };

struct lazy_init {
	enum lt_dtype dt;
	lt_tensor *a, *b, *c;
	lt_unit *ua, *ub;
	long rss0_kib;
	int probed;
};

/* A field of /proc/self/status in KiB ("VmRSS:", "VmHWM:"), -1 if absent. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field));
	fclose(f);
	return v;
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct lazy_init *m = calloc(1, sizeof(*m));

	(void)argv;
	if (!m)
		lt_fatal(ctx, "lazy_init: out of memory");
	if (argc > 1)
		lt_fatal(ctx, "lazy_init: takes no options");
	m->dt = lt_dtype(ctx);
	m->rss0_kib = status_kib("VmRSS:");
	m->a = lt_param(ctx, "a", LT_SHAPE(BIG), LT_NORMAL(0.0, 0.02));
	m->b = lt_param(ctx, "b", LT_SHAPE(BIG), LT_KAIMING_UNIFORM);
	m->c = lt_param(ctx, "c", LT_SHAPE(LOOSE), LT_UNIFORM(-0.1, 0.1));
	m->ua = lt_unit_new(ctx, "ua", m->a, m->a);
	m->ub = lt_unit_new(ctx, "ub", m->b, m->b);
	printf("lazy_init: rank %d registered_kib %ld\n", lt_rank(ctx),
	       status_kib("VmRSS:") - m->rss0_kib);
	if (getenv("LAZY_INIT_TOUCH")) {
		printf("lazy_init: rank %d a100 %.9g\n", lt_rank(ctx), load(lt_data(m->a), m->dt, 100));
		store(lt_data(m->b), m->dt, 5, 0.5);
		if (lt_rank(ctx) == 1)
			store(lt_data(m->c), m->dt, 7, 9.0);
	}
	fflush(stdout);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? 16 : 0;
}

static double sum_of(struct lazy_init *m, lt_tensor *t)
{
	double s = 0.0;

	for (int64_t i = 0; i < lt_numel(t); i++)
		s += load(lt_data(t), m->dt, (size_t)i);
	return s;
}

static void add_grad(lt_ctx *ctx, struct lazy_init *m, lt_tensor *t, double g)
{
	for (int64_t i = 0; i < lt_numel(t); i++)
		store_add(lt_grad(t), m->dt, (size_t)i, g);
	lt_grad_ready(ctx, t);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct lazy_init *m = self;
	double g = 1e-6 * lt_loss_scale(ctx), s;

	(void)batch;
	if (!m->probed++) {
		printf("lazy_init: rank %d setup_peak_kib %ld\n", lt_rank(ctx),
		       status_kib("VmHWM:") - m->rss0_kib);
		fflush(stdout);
	}
	lt_unit_begin(ctx, m->ua, LT_FORWARD);
	s = sum_of(m, m->a);
	lt_unit_end(ctx, m->ua, LT_FORWARD);
	lt_unit_begin(ctx, m->ub, LT_FORWARD);
	s += sum_of(m, m->b);
	lt_unit_end(ctx, m->ub, LT_FORWARD);
	s += sum_of(m, m->c);
	*loss = 1e-6 * s;
	add_grad(ctx, m, m->c, g);
	lt_unit_begin(ctx, m->ub, LT_BACKWARD);
	add_grad(ctx, m, m->b, g);
	lt_unit_end(ctx, m->ub, LT_BACKWARD);
	lt_unit_begin(ctx, m->ua, LT_BACKWARD);
	add_grad(ctx, m, m->a, g);
	lt_unit_end(ctx, m->ua, LT_BACKWARD);
	return 0;
}

static void write_f32(lt_ctx *ctx, FILE *f, struct lazy_init *m, lt_tensor *t)
{
	for (int64_t i = 0; i < lt_numel(t); i++) {
		float v = (float)load(lt_data(t), m->dt, (size_t)i);

		if (fwrite(&v, sizeof(v), 1, f) != 1)
			lt_fatal(ctx, "lazy_init: cannot write $LAZY_INIT_DUMP");
	}
}

static void fini(lt_ctx *ctx, void *self)
{
	struct lazy_init *m = self;
	const char *path = getenv("LAZY_INIT_DUMP");
	FILE *f = path && lt_rank(ctx) == 0 ? fopen(path, "wb") : NULL;

	if (path && lt_rank(ctx) == 0 && !f)
		lt_fatal(ctx, "lazy_init: cannot write '%s'", path);
	/* the gathering is collective: every rank begins the units */
	lt_unit_begin(ctx, m->ua, LT_FORWARD);
	if (f)
		write_f32(ctx, f, m, m->a);
	lt_unit_end(ctx, m->ua, LT_FORWARD);
	lt_unit_begin(ctx, m->ub, LT_FORWARD);
	if (f)
		write_f32(ctx, f, m, m->b);
	lt_unit_end(ctx, m->ub, LT_FORWARD);
	if (f) {
		write_f32(ctx, f, m, m->c);
		if (fclose(f))
			lt_fatal(ctx, "lazy_init: cannot write '%s'", path);
	}
	free(m);
}

static const struct lt_module lazy_init = {
	.size = sizeof(struct lt_module),
	.name = "lazy_init",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &lazy_init;
}
