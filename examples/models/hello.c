/*
 * hello.c - the smallest ltrun model: every rank says where it is, then all
 * ranks meet at a barrier.  The launch tests and bench/launch run it; its
 * options make a rank fail in each of the ways the agent must report.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) hello.c -o hello.so
 *   ltrun --devices 4 hello.so -- [--barriers N] [--sleep S]
 *         [--fail-rank R --fail exit:N|signal:NAME|fatal|hang] [--fail-once]
 *
 * Each rank prints one line on stdout:
 *   hello rank=R world=W local=L/LW node=N/NN restart=K main=ADDR:PORT pid=P
 * and, after the barriers, "bye rank=R".
 */
#include <ltrun.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct options {
	int barriers;
	double sleep_s;
	int fail_rank;
	const char *fail;
	int fail_once;
};

static void parse(lt_ctx *ctx, int argc, char **argv, struct options *o)
{
	*o = (struct options){ .barriers = 1, .fail_rank = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--fail-once")) {
			o->fail_once = 1;
			continue;
		}
		if (!v)
			lt_fatal(ctx, "hello: option '%s' needs a value", a);
		if (!strcmp(a, "--barriers"))
			o->barriers = atoi(v);
		else if (!strcmp(a, "--sleep"))
			o->sleep_s = atof(v);
		else if (!strcmp(a, "--fail-rank"))
			o->fail_rank = atoi(v);
		else if (!strcmp(a, "--fail"))
			o->fail = v;
		else
			lt_fatal(ctx, "hello: unknown option '%s'", a);
		i++;
	}
}

static int signal_number(const char *name)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "SEGV", SIGSEGV }, { "ABRT", SIGABRT }, { "KILL", SIGKILL },
		{ "TERM", SIGTERM }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
	};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(name, sigs[i].name))
			return sigs[i].sig;
	return 0;
}

static void fail(lt_ctx *ctx, const char *how)
{
	fprintf(stderr, "hello: rank %d fails as asked (%s)\n", lt_rank(ctx), how);
	fflush(NULL);
	if (!strncmp(how, "exit:", 5))
		exit(atoi(how + 5));
	if (!strncmp(how, "signal:", 7)) {
		int sig = signal_number(how + 7);
		if (!sig)
			lt_fatal(ctx, "hello: unknown signal '%s'", how + 7);
		raise(sig);
	}
	if (!strcmp(how, "hang"))
		for (;;)
			pause();
	lt_fatal(ctx, "hello: rank %d failed on purpose", lt_rank(ctx));
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct options o;
	const char *addr = getenv("MASTER_ADDR"), *port = getenv("MASTER_PORT");

	parse(ctx, argc, argv, &o);
	printf("hello rank=%d world=%d local=%d/%d node=%d/%d restart=%d main=%s:%s pid=%ld\n",
	       lt_rank(ctx), lt_world_size(ctx), lt_local_rank(ctx),
	       lt_local_world_size(ctx), lt_node_rank(ctx), lt_num_nodes(ctx),
	       lt_restart_count(ctx), addr ? addr : "?", port ? port : "?", (long)getpid());
	fflush(stdout);
	if (o.sleep_s > 0)
		usleep((useconds_t)(o.sleep_s * 1e6));
	if (o.fail && lt_rank(ctx) == o.fail_rank && !(o.fail_once && lt_restart_count(ctx) > 0))
		fail(ctx, o.fail);
	for (int i = 0; i < o.barriers; i++)
		lt_barrier(ctx);
	printf("bye rank=%d\n", lt_rank(ctx));
	return 0;
}
