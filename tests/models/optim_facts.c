/*
 * optim_facts.c - a Trainer-mode test model for optimizer groups and the
 * run's facts (tests/integration/test_optim_groups.c).  Its parameters
 * and gradients are optim_grad.h's: f32 compute only (32-true), the
 * gradient of step s added once per step (each micro-batch adds its
 * share, lt_loss_scale()).  Rank 0 prints every parameter at the end:
 * "optim_param NAME INDEX VALUE".
 *
 *   --samples N        training samples (default 64; validation: N / 4)
 *   --facts            print "optim_facts rank=R micro=M accumulate=A
 *                      total=T train=N val=V" from init, and size the
 *                      batch buffer by lt_micro_batch_size()
 *   --facts-early      ask lt_total_steps() in init before *self is set
 *   --no-decay NAME    lt_param_weight_decay(NAME, 0) (w or b); --decay
 *                      NAME: (NAME, 1)
 *   --lr-scale NAME=X  lt_param_lr_scale(NAME, X)
 *   --late-group       lt_param_weight_decay(b, 0) in the first train_step
 *   --print-lr         rank 0 prints "optim_lr STEP LR" (lt_lr()) in each
 *                      step's first micro-batch
 */
#include <ltrun.h>

#include "optim_grad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model {
	int64_t samples;
	int late_group;
	int print_lr;
	int cap;      /* the batch buffer's room: lt_micro_batch_size() */
	float *batch; /* one value per sample of a micro-batch */
	lt_tensor *w, *b;
};

static lt_tensor *named(lt_ctx *ctx, struct model *m, const char *name)
{
	if (!strcmp(name, "w"))
		return m->w;
	if (!strcmp(name, "b"))
		return m->b;
	lt_fatal(ctx, "optim_facts: no parameter '%s' (w or b)", name);
}

static void print_facts(lt_ctx *ctx, struct model *m)
{
	m->cap = lt_micro_batch_size(ctx);
	m->batch = calloc((size_t)m->cap, sizeof(*m->batch));
	if (!m->batch)
		lt_fatal(ctx, "optim_facts: out of memory");
	printf("optim_facts rank=%d micro=%d accumulate=%d total=%lld train=%lld val=%lld\n",
	       lt_rank(ctx), m->cap, lt_accumulate(ctx), (long long)lt_total_steps(ctx),
	       (long long)lt_samples_per_rank(ctx, LT_TRAIN),
	       (long long)lt_samples_per_rank(ctx, LT_VAL));
	fflush(stdout);
}

/* Applies the group options of argv (after the parameters exist). */
static void set_groups(lt_ctx *ctx, struct model *m, int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--no-decay") || !strcmp(argv[i], "--decay")) {
			lt_param_weight_decay(ctx, named(ctx, m, argv[i + 1]), argv[i][2] == 'd');
		} else if (!strcmp(argv[i], "--lr-scale")) {
			char name[8];
			double x;
			if (sscanf(argv[i + 1], "%1[wb]=%lf", name, &x) != 2)
				lt_fatal(ctx, "optim_facts: --lr-scale '%s': give NAME=X", argv[i + 1]);
			lt_param_lr_scale(ctx, named(ctx, m, name), x);
		}
	}
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct model *m = calloc(1, sizeof(*m));
	int facts = 0;

	if (!m)
		lt_fatal(ctx, "optim_facts: out of memory");
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "optim_facts: runs in f32 only (--precision 32-true)");
	m->samples = 64;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--facts"))
			facts = 1;
		else if (!strcmp(argv[i], "--facts-early"))
			lt_total_steps(ctx);
		else if (!strcmp(argv[i], "--late-group"))
			m->late_group = 1;
		else if (!strcmp(argv[i], "--print-lr"))
			m->print_lr = 1;
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			m->samples = atoll(argv[++i]);
		else if (i + 1 < argc && (!strcmp(argv[i], "--no-decay") || !strcmp(argv[i], "--decay") ||
					  !strcmp(argv[i], "--lr-scale")))
			i++;
		else
			lt_fatal(ctx, "optim_facts: unknown option '%s'", argv[i]);
	}
	m->w = lt_param(ctx, "w", LT_SHAPE(OPTIM_ROWS, OPTIM_COLS), LT_CONSTANT(OPTIM_W0));
	m->b = lt_param(ctx, "b", LT_SHAPE(OPTIM_ROWS), LT_CONSTANT(OPTIM_B0));
	set_groups(ctx, m, argc, argv);
	*self = m;
	if (facts)
		print_facts(ctx, m);
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	struct model *m = self;

	(void)ctx;
	return split == LT_TRAIN ? m->samples : m->samples / 4;
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct model *m = self;
	float *gw = lt_grad(m->w), *gb = lt_grad(m->b);
	double scale = lt_loss_scale(ctx);

	if (m->late_group)
		lt_param_weight_decay(ctx, m->b, 0);
	if (m->print_lr && batch->micro == 0 && lt_rank(ctx) == 0)
		printf("optim_lr %lld %.17g\n", (long long)batch->step, lt_lr(ctx));
	if (m->batch) {
		if (batch->size > m->cap)
			lt_fatal(ctx, "optim_facts: a batch of %d samples, lt_micro_batch_size() said %d",
				 batch->size, m->cap);
		for (int i = 0; i < batch->size; i++)
			m->batch[i] = (float)batch->index[i];
	}
	for (int k = 0; k < OPTIM_W; k++)
		gw[k] += (float)(optim_grad(batch->step, k) * scale);
	for (int k = 0; k < OPTIM_ROWS; k++)
		gb[k] += (float)(optim_grad(batch->step, OPTIM_W + k) * scale);
	*loss = 1.0;
	return 0;
}

static int val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	(void)ctx;
	(void)self;
	(void)batch;
	*loss = 0.0;
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	struct model *m = self;
	if (lt_rank(ctx) == 0)
		optim_print(lt_data(m->w), lt_data(m->b));
	free(m->batch);
	free(m);
}

static const struct lt_module module = {
	.size = sizeof(struct lt_module),
	.name = "optim_facts",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.val_step = val_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &module;
}
