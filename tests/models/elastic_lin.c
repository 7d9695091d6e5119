/*
 * elastic_lin.c - a slow Trainer-mode model for the elastic tests
 * (tests/integration/test_elastic.c): one parameter pulled toward 1, and
 * each training step sleeps, so that a test can change the job's nodes
 * while it trains.  Rank 0 says where each attempt starts:
 *
 *   elastic_lin: restart R world W first step S
 *
 *   ltrun ... elastic_lin.so -- [--step-ms MS] [--samples N]
 */
#include <ltrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct elastic_lin {
	long step_ms;
	int64_t samples;
	int said;
	lt_tensor *w;
};

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct elastic_lin *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, "elastic_lin: out of memory");
	m->step_ms = 100;
	m->samples = 4096;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--step-ms"))
			m->step_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--samples"))
			m->samples = atoll(argv[i + 1]);
		else
			lt_fatal(ctx, "elastic_lin: unknown option '%s'", argv[i]);
	}
	m->w = lt_param(ctx, "w", LT_SHAPE(1), LT_ZEROS);
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	struct elastic_lin *m = self;

	(void)ctx;
	return split == LT_TRAIN ? m->samples : 0;
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct elastic_lin *m = self;
	struct timespec nap = { .tv_sec = m->step_ms / 1000,
				.tv_nsec = (m->step_ms % 1000) * 1000000L };
	float w = ((float *)lt_data(m->w))[0];

	if (!m->said && lt_rank(ctx) == 0) {
		fprintf(stderr, "elastic_lin: restart %d world %d first step %lld\n",
			lt_restart_count(ctx), lt_world_size(ctx), (long long)batch->step);
		m->said = 1;
	}
	if (lt_rank(ctx) == 0)
		fprintf(stderr, "elastic_lin: step %lld\n", (long long)batch->step);
	nanosleep(&nap, NULL);
	*loss = (double)(w - 1.0f) * (w - 1.0f);
	((float *)lt_grad(m->w))[0] += 2.0f * (w - 1.0f) * (float)lt_loss_scale(ctx);
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	(void)ctx;
	free(self);
}

static const struct lt_module elastic_lin = {
	.size = sizeof(struct lt_module),
	.name = "elastic_lin",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &elastic_lin;
}
