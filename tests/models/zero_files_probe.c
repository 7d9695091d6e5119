/*
 * zero_files_probe.c - a tiny Trainer-mode model for the tests of
 * parameters in files (tests/integration/test_zero_files.c): one
 * parameter "w" of 4096 elements (four pages of f32) in one unit, pulled
 * towards a fixed target by mean squared error, every read of it and
 * every write of its gradient inside the unit's brackets.
 *
 * With $ZERO_FILES_READ_OWN set, rank 0 reads w's element 0 (its own
 * shard: a page that stage 3 keeps resident in memory, but releases with
 * offload_params=nvme) in train_step outside the unit.
 *
 * With $ZERO_FILES_FSIZE_AT=K, every rank lowers its file size limit
 * (RLIMIT_FSIZE) to one byte at the start of step K, ignoring SIGXFSZ:
 * the files already made can be read but no longer written (EFBIG), a
 * disk that fails under a running step.
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

enum { N = 4096, SAMPLES = 32 };

struct probe {
	enum lt_dtype dt;
	lt_tensor *w;
	lt_unit *u;
};

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct probe *m = calloc(1, sizeof(*m));

	(void)argv;
	if (!m)
		lt_fatal(ctx, "zero_files_probe: out of memory");
	if (argc > 1)
		lt_fatal(ctx, "zero_files_probe: takes no options");
	require_cpu(ctx, "zero_files_probe");
	m->dt = lt_dtype(ctx);
	m->w = lt_param(ctx, "w", LT_SHAPE(N), LT_UNIFORM(-0.1, 0.1));
	m->u = lt_unit_new(ctx, "w", m->w, m->w);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? SAMPLES : 0;
}

/* A file size limit of one byte from now on, SIGXFSZ ignored. */
static void limit_files(void)
{
	struct rlimit rl = { .rlim_cur = 1, .rlim_max = RLIM_INFINITY };

	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct probe *m = self;
	const char *at = getenv("ZERO_FILES_FSIZE_AT");
	double scale = (double)lt_loss_scale(ctx) * 2.0 / N, sum = 0.0;

	if (at && batch->step == atoll(at) && batch->micro == 0)
		limit_files();
	if (getenv("ZERO_FILES_READ_OWN") && lt_rank(ctx) == 0) {
		volatile double v = load(lt_data(m->w), m->dt, 0);

		(void)v;
	}
	lt_unit_begin(ctx, m->u, LT_FORWARD);
	lt_unit_end(ctx, m->u, LT_FORWARD);
	lt_unit_begin(ctx, m->u, LT_BACKWARD);
	for (size_t i = 0; i < N; i++) {
		double d = load(lt_data(m->w), m->dt, i) - 0.5 * (double)(i % 7) / 7.0;

		sum += d * d;
		store_add(lt_grad(m->w), m->dt, i, scale * d);
	}
	lt_unit_end(ctx, m->u, LT_BACKWARD);
	*loss = sum / N;
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	(void)ctx;
	free(self);
}

static const struct lt_module probe = {
	.size = sizeof(struct lt_module),
	.name = "zero_files_probe",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &probe;
}
