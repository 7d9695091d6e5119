/*
 * ops_fabric.c - a Fabric-mode model for the operations tests
 * (tests/integration/test_ops.c): the threads ltrun gave each rank, a
 * rank's failure after a line on stdout, a failure the report is not
 * about.  test_ops.c also builds it with -fvisibility=hidden.
 *
 *   ltrun --devices N ops_fabric.so -- [--fatal R] [--exit R] [--late-fatal R]
 *                                       [--stream R]
 *
 * Every rank prints on stdout
 *   threads rank=R OMP_NUM_THREADS=V OPENBLAS_NUM_THREADS=V MKL_NUM_THREADS=V
 * (V "unset" when unset), then:
 *   --fatal R       rank R prints "ops: stdout of rank R before failing" on
 *                   stdout and fails with lt_fatal "ops: rank R gives up"
 *   --exit R        rank R prints the same on stdout and returns 3
 *   --late-fatal R  rank R ignores SIGTERM, sleeps 0.5 s, then fails with
 *                   lt_fatal "ops: late rank R gives up"
 *   --stream R      rank R names the default stream (lt_set_stream NULL:
 *                   fine anywhere), prints "stream NULL taken", then names
 *                   a stream (ltrun refuses it on the cpu)
 * then the others pass a barrier and print "bye rank=R".
 */
#include <ltrun.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env_or_unset(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "unset";
}

/* The rank named by option `opt` in argv, -1 when absent. */
static int rank_of(int argc, char **argv, const char *opt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], opt))
			return atoi(argv[i + 1]);
	return -1;
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	int r = lt_rank(ctx);

	printf("threads rank=%d OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s MKL_NUM_THREADS=%s\n", r,
	       env_or_unset("OMP_NUM_THREADS"), env_or_unset("OPENBLAS_NUM_THREADS"),
	       env_or_unset("MKL_NUM_THREADS"));
	fflush(stdout);
	if (rank_of(argc, argv, "--fatal") == r || rank_of(argc, argv, "--exit") == r) {
		printf("ops: stdout of rank %d before failing\n", r);
		if (rank_of(argc, argv, "--exit") == r)
			return 3;
		lt_fatal(ctx, "ops: rank %d gives up", r);
	}
	if (rank_of(argc, argv, "--late-fatal") == r) {
		signal(SIGTERM, SIG_IGN);
		usleep(500 * 1000);
		lt_fatal(ctx, "ops: late rank %d gives up", r);
	}
	if (rank_of(argc, argv, "--stream") == r) {
		lt_set_stream(ctx, NULL);
		printf("stream NULL taken\n");
		fflush(stdout);
		lt_set_stream(ctx, &r);
	}
	lt_barrier(ctx);
	printf("bye rank=%d\n", r);
	return 0;
}
