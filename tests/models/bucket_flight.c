/*
 * bucket_flight.c - a Trainer-mode model that shows how many gradient
 * buckets stage 2 keeps in flight (tests/integration/test_zero.c).
 *
 * Eight parameters p0..p7 of 1.5 Mi f32 elements (6 MiB) each; with
 * `zero:stage=2,bucket_mb=7` each is one bucket, and on 2 ranks rank 0
 * owns p0..p3.  The loss is linear, 1e-3 times the sum of every value,
 * so every gradient element is written (its page made resident) in
 * backward, which marks p7 down to p0 ready in turn.
 *
 * In step 0, rank 1 sleeps 300 ms before its backward, so rank 0's
 * reduce-scatters wait for it.  Right after marking p5 ready, rank 0
 * counts the pages wholly inside p6's gradient that are resident
 * (mincore), less the first and last 2 MiB (a bucket's edges share their
 * huge page with the next bucket, so stage 2 zeroes them in place), and
 * prints "bucket_flight: rank 0 p6 resident R of T".  p6 is not rank
 * 0's: once its bucket is reduced it is given back, so R is 0 when the
 * strategy waits for the older bucket before it lets backward run two
 * buckets ahead, and T when it lets them pile up.  Right before its
 * backward writes p4, rank 0 prints the same count for p4 ("p4 resident
 * before its backward"): T when stage 2 took p4's pages back as it gave
 * p6's (two buckets on), 0 when the model's writes are left to fault
 * them in.
 */
#define _GNU_SOURCE
#include <ltrun.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { NP = 8, NUMEL = 1572864, EDGE = 2 << 20 };

struct bucket_flight {
	lt_tensor *p[NP];
};

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct bucket_flight *m = calloc(1, sizeof(*m));
	char name[8];

	(void)argv;
	if (!m)
		lt_fatal(ctx, "bucket_flight: out of memory");
	if (argc > 1)
		lt_fatal(ctx, "bucket_flight: takes no options");
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "bucket_flight: runs in f32 only (--precision 32)");
	for (int i = 0; i < NP; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		m->p[i] = lt_param(ctx, name, LT_SHAPE(NUMEL), LT_UNIFORM(-0.1, 0.1));
	}
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx, (void)self;
	return split == LT_TRAIN ? 16 : 0;
}

/* Pages wholly inside t's gradient less its first and last EDGE bytes
 * that are resident, and how many. */
static void resident(lt_ctx *ctx, lt_tensor *t, size_t *in, size_t *total)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)lt_grad(t) + EDGE;
	uintptr_t hi = (uintptr_t)lt_grad(t) + (size_t)lt_numel(t) * sizeof(float) - EDGE;
	uintptr_t a = (lo + pg - 1) / pg * pg, e = hi / pg * pg;
	unsigned char vec[NUMEL * sizeof(float) / 4096 + 1];

	*in = *total = 0;
	if (e <= a)
		return;
	*total = (e - a) / pg;
	if (*total > sizeof(vec) || mincore((void *)a, e - a, vec))
		lt_fatal(ctx, "bucket_flight: mincore failed");
	for (size_t i = 0; i < *total; i++)
		*in += vec[i] & 1;
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct bucket_flight *m = self;
	float g = (float)(1e-3 * lt_loss_scale(ctx));
	double sum = 0.0;
	int probe = batch->step == 0 && batch->micro == 0;

	for (int i = 0; i < NP; i++)
		for (int64_t k = 0; k < NUMEL; k++)
			sum += ((const float *)lt_data(m->p[i]))[k];
	*loss = 1e-3 * sum;
	if (probe && lt_rank(ctx) == 1)
		nanosleep(&(struct timespec){ .tv_nsec = 300000000 }, NULL);
	for (int i = NP; i-- > 0;) {
		float *gr = lt_grad(m->p[i]);

		if (probe && i == 4 && lt_rank(ctx) == 0) {
			size_t in, total;

			resident(ctx, m->p[4], &in, &total);
			printf("bucket_flight: rank 0 p4 resident before its backward %zu of %zu\n", in,
			       total);
			fflush(stdout);
		}
		for (int64_t k = 0; k < NUMEL; k++)
			gr[k] += g;
		lt_grad_ready(ctx, m->p[i]);
		if (probe && i == 5 && lt_rank(ctx) == 0) {
			size_t in, total;

			resident(ctx, m->p[6], &in, &total);
			printf("bucket_flight: rank 0 p6 resident %zu of %zu\n", in, total);
			fflush(stdout);
		}
	}
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	(void)ctx;
	free(self);
}

static const struct lt_module bucket_flight = {
	.size = sizeof(struct lt_module),
	.name = "bucket_flight",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &bucket_flight;
}
