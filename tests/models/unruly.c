/*
 * unruly.c - a Fabric-mode model whose ranks misbehave in the ways the
 * agent's supervision must survive: for the launch tests of hangs and
 * teardown (tests/integration/test_launch_hangs.c).
 *
 *   ltrun --devices N unruly.so -- [--barriers N] [--sleep S]
 *         [--read-stdin] [--stubborn R] [--fail R] [--leave R] [--orphan]
 *
 * Every rank prints "unruly rank=R pid=P" on stdout first, then:
 *   --read-stdin  reads its standard input to the end and prints
 *                 "stdin rank=R bytes=N"
 *   --orphan      forks a child that calls setsid() (leaving the ranks'
 *                 process group) and sleeps 60 s; prints
 *                 "orphan rank=R pid=P" once the child has left the group
 *   --sleep S     sleeps S seconds
 *   --stubborn R  rank R ignores SIGTERM, prints "stubborn rank=R" and
 *                 spins for ever
 *   --fail R      rank R exits with status 3
 *   --leave R     rank R returns 0 at once, before the barriers
 * then the others pass --barriers barriers (default 1) and print
 * "bye rank=R".
 */
#include <ltrun.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct options {
	int barriers, read_stdin, orphan, stubborn, fail, leave;
	double sleep_s;
};

static void parse(lt_ctx *ctx, int argc, char **argv, struct options *o)
{
	*o = (struct options){ .barriers = 1, .stubborn = -1, .fail = -1, .leave = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--read-stdin")) {
			o->read_stdin = 1;
			continue;
		}
		if (!strcmp(a, "--orphan")) {
			o->orphan = 1;
			continue;
		}
		if (!v)
			lt_fatal(ctx, "unruly: option '%s' needs a value", a);
		if (!strcmp(a, "--barriers"))
			o->barriers = atoi(v);
		else if (!strcmp(a, "--sleep"))
			o->sleep_s = atof(v);
		else if (!strcmp(a, "--stubborn"))
			o->stubborn = atoi(v);
		else if (!strcmp(a, "--fail"))
			o->fail = atoi(v);
		else if (!strcmp(a, "--leave"))
			o->leave = atoi(v);
		else
			lt_fatal(ctx, "unruly: unknown option '%s'", a);
		i++;
	}
}

static void read_stdin(lt_ctx *ctx)
{
	char buf[4096];
	long total = 0;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		total += n;
	printf("stdin rank=%d bytes=%ld%s\n", lt_rank(ctx), total, n < 0 ? " error" : "");
	fflush(stdout);
}

/* A child that leaves the process group and outlives its rank. */
static void orphan(lt_ctx *ctx)
{
	int p[2];
	char byte;
	pid_t pid;

	if (pipe(p))
		lt_fatal(ctx, "unruly: pipe failed");
	pid = fork();
	if (pid < 0)
		lt_fatal(ctx, "unruly: fork failed");
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (write(p[1], "", 1) != 1)
			_exit(1);
		close(p[1]);
		sleep(60);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &byte, 1) != 1)
		lt_fatal(ctx, "unruly: the orphan did not start");
	close(p[0]);
	printf("orphan rank=%d pid=%ld\n", lt_rank(ctx), (long)pid);
	fflush(stdout);
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct options o;
	int rank = lt_rank(ctx);

	parse(ctx, argc, argv, &o);
	printf("unruly rank=%d pid=%ld\n", rank, (long)getpid());
	fflush(stdout);
	if (o.read_stdin)
		read_stdin(ctx);
	if (o.orphan)
		orphan(ctx);
	if (o.sleep_s > 0)
		usleep((useconds_t)(o.sleep_s * 1e6));
	if (rank == o.stubborn) {
		signal(SIGTERM, SIG_IGN);
		printf("stubborn rank=%d\n", rank);
		fflush(stdout);
		for (;;)
			;
	}
	if (rank == o.fail) {
		fprintf(stderr, "unruly: rank %d fails with status 3\n", rank);
		exit(3);
	}
	if (rank == o.leave)
		return 0;
	for (int i = 0; i < o.barriers; i++)
		lt_barrier(ctx);
	printf("bye rank=%d\n", rank);
	return 0;
}
