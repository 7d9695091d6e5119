/*
 * preempt_linreg.c - linreg (linreg.c, the same model and parameters) for
 * the preemption and restart tests (tests/integration/test_preempt.c):
 *
 *   ltrun ... preempt_linreg.so -- [linreg's options] [--fail-once S]
 *         [--slow MS] [--say-step S]
 *
 *   --fail-once S  rank 1 (or 0 alone) fails at step S in the job's first
 *                  attempt only (lt_restart_count() == 0): a restart that
 *                  resumes from the checkpoint trains on to the end
 *   --slow MS      every train_step sleeps MS milliseconds first, so that
 *                  a signal lands mid-run
 *   --say-step S   rank 0 prints "preempt_linreg: at step S" on stdout
 *                  when it reaches step S, for the test to signal then
 * Rank 0 prints "preempt_linreg: first step N restart R" at the first
 * step of each attempt: where a resumed run went on from.  With
 * PREEMPT_LINREG_SLOW_LOAD_MS=MS in its environment, rank 1 takes MS
 * milliseconds to load (dlopen runs a constructor), printing
 * "preempt_linreg: loading slowly" first, while rank 0 waits for it at the
 * rendezvous: a signal then lands before the trainer runs.
 */
#include <ltrun.h>

#define lt_module_v1 linreg_module_v1
#include "linreg.c"
#undef lt_module_v1

#include <time.h>

__attribute__((constructor)) static void slow_load(void)
{
	const char *ms = getenv("PREEMPT_LINREG_SLOW_LOAD_MS"), *rank = getenv("RANK");
	long v;

	if (!ms || !rank || strcmp(rank, "1"))
		return;
	printf("preempt_linreg: loading slowly\n");
	fflush(stdout);
	v = atol(ms);
	nanosleep(&(struct timespec){ .tv_sec = v / 1000, .tv_nsec = v % 1000 * 1000000L }, NULL);
}

struct preempt {
	void *inner;      /* linreg's self */
	int64_t fail_once, say_step;
	long slow_ms;
	int said_first;
};

static int p_init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct preempt *p = calloc(1, sizeof(*p));
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0;

	if (!p || !rest)
		lt_fatal(ctx, "preempt_linreg: out of memory");
	p->fail_once = p->say_step = -1;
	for (int i = 0; i < argc; i++) {
		int mine = i > 0 && i + 1 < argc &&
			   (!strcmp(argv[i], "--fail-once") || !strcmp(argv[i], "--slow") ||
			    !strcmp(argv[i], "--say-step"));
		if (!mine) {
			rest[n++] = argv[i];
			continue;
		}
		if (!strcmp(argv[i], "--fail-once"))
			p->fail_once = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--slow"))
			p->slow_ms = atol(argv[i + 1]);
		else
			p->say_step = atoll(argv[i + 1]);
		i++;
	}
	*self = p;
	int rc = init(ctx, n, rest, &p->inner);
	free(rest);
	return rc;
}

static int64_t p_num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	return num_samples(ctx, ((struct preempt *)self)->inner, split);
}

static int p_train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct preempt *p = self;
	int failer = lt_world_size(ctx) > 1 ? 1 : 0;

	if (!p->said_first && lt_rank(ctx) == 0) {
		printf("preempt_linreg: first step %lld restart %d\n", (long long)batch->step,
		       lt_restart_count(ctx));
		fflush(stdout);
	}
	p->said_first = 1;
	if (batch->step == p->say_step && batch->micro == 0 && lt_rank(ctx) == 0) {
		printf("preempt_linreg: at step %lld\n", (long long)batch->step);
		fflush(stdout);
	}
	if (p->slow_ms > 0)
		nanosleep(&(struct timespec){ .tv_sec = p->slow_ms / 1000,
					      .tv_nsec = p->slow_ms % 1000 * 1000000L }, NULL);
	if (batch->step == p->fail_once && lt_restart_count(ctx) == 0 && lt_rank(ctx) == failer)
		lt_fatal(ctx, "preempt_linreg: failing at step %lld of the first attempt as asked",
			 (long long)batch->step);
	return train_step(ctx, p->inner, batch, loss);
}

static int p_val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	return val_step(ctx, ((struct preempt *)self)->inner, batch, loss);
}

static void p_fini(lt_ctx *ctx, void *self)
{
	struct preempt *p = self;

	fini(ctx, p->inner);
	free(p);
}

static const struct lt_module preempt_linreg = {
	.size = sizeof(struct lt_module),
	.name = "preempt_linreg",
	.init = p_init,
	.num_samples = p_num_samples,
	.train_step = p_train_step,
	.val_step = p_val_step,
	.fini = p_fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &preempt_linreg;
}
