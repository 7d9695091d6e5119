/*
 * fatal.c - how a rank dies: the one-line message on stderr, and the small
 * JSON error file ({"rank", "host", "pid", "time", "message", "signal"})
 * the agent reads for its failure report, written by lt_fatal() and by
 * the handler of fatal signals (SIGSEGV, SIGBUS, ...).
 */
#include "core/io.h"
#include "rank/fatal.h"
#include "core/error.h"
#include "runtime/ctx.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/signals.h"

/* The one context of this process: lt_fatal() and the signal handler
 * need it, and a rank runs one model. */
static struct lt_ctx *the_ctx;

/* --- the error file --- */

/* Written by the fatal-signal handler, which may use only write(2)
 * (lt_write_all is async-signal-safe): everything but the signal's name
 * is formatted beforehand.  A failed write leaves the error file short. */
static char sig_prefix[512];
static size_t sig_prefix_len;

static void fatal_signal(int sig)
{
	int saved = errno;
	char buf[16];
	const char *name = lt_signal_name(sig, buf);
	int fd;

	if (the_ctx && the_ctx->info.error_file[0]) {
		fd = open(the_ctx->info.error_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			static const char middle[] = "\", \"message\": \"killed by ";
			static const char end[] = "\"}\n";
			(void)lt_write_all(fd, sig_prefix, sig_prefix_len);
			(void)lt_write_all(fd, name, strlen(name));
			(void)lt_write_all(fd, middle, sizeof(middle) - 1);
			(void)lt_write_all(fd, name, strlen(name));
			(void)lt_write_all(fd, end, sizeof(end) - 1);
			close(fd);
		}
	}
	errno = saved;
	/* SA_RESETHAND restored the default action: die of the same signal. */
	raise(sig);
}

void lt_fatal_setup(struct lt_ctx *ctx)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS };
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_handler = fatal_signal,
				.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER };

	the_ctx = ctx;
	if (!ctx->info.error_file[0])
		return;
	snprintf(sig_prefix, sizeof(sig_prefix),
		 "{\"rank\": %d, \"host\": \"%s\", \"pid\": %ld, \"time\": %ld, \"signal\": \"",
		 ctx->info.rank, ctx->host, (long)getpid(), (long)time(NULL));
	sig_prefix_len = strlen(sig_prefix);
	sigaltstack(&ss, NULL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void write_error_file(const struct lt_ctx *ctx, const char *message)
{
	char tmp[4200];
	cJSON *json;
	char *text;
	FILE *f;

	if (!ctx->info.error_file[0])
		return;
	json = cJSON_CreateObject();
	cJSON_AddNumberToObject(json, "rank", ctx->info.rank);
	cJSON_AddStringToObject(json, "host", ctx->host);
	cJSON_AddNumberToObject(json, "pid", (double)getpid());
	cJSON_AddNumberToObject(json, "time", (double)time(NULL));
	cJSON_AddStringToObject(json, "message", message);
	text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	if (!text)
		return;
	/* Written aside and renamed: the agent never reads half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", ctx->info.error_file);
	f = fopen(tmp, "w");
	if (f) {
		fprintf(f, "%s\n", text);
		if (fclose(f) == 0)
			rename(tmp, ctx->info.error_file);
	}
	free(text);
}

/* Leaves the error file and prints the line. */
static void say_fatal(struct lt_ctx *ctx, const char *msg)
{
	if (!ctx)
		ctx = the_ctx;
	fflush(stdout);
	/* The error file first: the agent, reading the line below, holds it
	 * back from the terminal (launch/output.c), and its report shows the
	 * file's message. */
	if (ctx)
		write_error_file(ctx, msg);
	fprintf(stderr, "ltrun: rank %d: %s\n", ctx ? ctx->info.rank : -1, msg);
}

void lt_fatal_exit_status(struct lt_ctx *ctx, int status, const char *msg)
{
	say_fatal(ctx, msg);
	exit(status);
}

void lt_fatal_exit_now(struct lt_ctx *ctx, const char *msg)
{
	say_fatal(ctx, msg);
	fflush(NULL);
	_exit(LT_EXIT_FAILURE);
}

void lt_fatal_exit(struct lt_ctx *ctx, const char *msg)
{
	lt_fatal_exit_status(ctx, LT_EXIT_FAILURE, msg);
}

