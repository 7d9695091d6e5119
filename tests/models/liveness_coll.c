/*
 * liveness_coll.c - a Fabric-mode model that all-reduces a few floats per
 * step, for the tests of collective timeouts and --debug-collectives
 * (tests/integration/test_liveness.c).
 *
 *   ltrun --devices N liveness_coll.so -- [--steps N] [--sleep S]
 *         [--stop R] [--count R] [--bcast R]
 *
 * Every rank prints "liveness rank=R pid=P" first, then runs --steps
 * (default 5) all-reduces of 8 floats, --sleep seconds apart, and prints
 * "done rank=R sum=X".  At step 2:
 *   --stop R   rank R stops itself (SIGSTOP) before the all-reduce, as a
 *              hung rank would stop arriving
 *   --count R  rank R all-reduces 7 floats, not 8
 *   --bcast R  rank R broadcasts its 8 floats from rank 0 instead
 */
#include <ltrun.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct options {
	int steps, stop, count, bcast;
	double sleep_s;
};

static void parse(lt_ctx *ctx, int argc, char **argv, struct options *o)
{
	*o = (struct options){ .steps = 5, .stop = -1, .count = -1, .bcast = -1 };
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--steps"))
			o->steps = atoi(v);
		else if (!strcmp(a, "--sleep"))
			o->sleep_s = atof(v);
		else if (!strcmp(a, "--stop"))
			o->stop = atoi(v);
		else if (!strcmp(a, "--count"))
			o->count = atoi(v);
		else if (!strcmp(a, "--bcast"))
			o->bcast = atoi(v);
		else
			lt_fatal(ctx, "liveness_coll: unknown option '%s'", a);
	}
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct options o;
	int rank = lt_rank(ctx);
	float v[8];
	double sum = 0;

	parse(ctx, argc, argv, &o);
	printf("liveness rank=%d pid=%ld\n", rank, (long)getpid());
	fflush(stdout);
	for (int step = 0; step < o.steps; step++) {
		for (int k = 0; k < 8; k++)
			v[k] = (float)(rank + k);
		if (o.sleep_s > 0) {
			struct timespec ts = { (time_t)o.sleep_s,
					       (long)((o.sleep_s - (time_t)o.sleep_s) * 1e9) };
			nanosleep(&ts, NULL);
		}
		if (step == 2 && rank == o.stop)
			raise(SIGSTOP);
		if (step == 2 && rank == o.bcast)
			lt_broadcast(ctx, v, 8, LT_F32, 0);
		else
			lt_all_reduce(ctx, v, step == 2 && rank == o.count ? 7 : 8, LT_F32, LT_SUM);
		sum += v[0];
	}
	printf("done rank=%d sum=%g\n", rank, sum);
	return 0;
}
