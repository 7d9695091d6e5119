/*
 * unit_fault.c - the SIGSEGV handler naming a parameter used outside its
 * unit under a fully sharded strategy (unit_fault.h).
 *
 * The handler may call only async-signal-safe functions: the parts of
 * the message that do not depend on the faulting parameter (the error
 * file's JSON prefix, the strategy) are formatted at install time, the
 * parameter is found by a binary search over the packed arenas
 * (units.h), and the message is assembled with memcpy and written with
 * write(2) (lt_write_all).  The error file is written aside and renamed,
 * as lt_fatal() does, so the agent never reads half of it.
 */
#include "runtime/unit_fault.h"
#include "core/error.h"
#include "core/io.h"
#include "runtime/units.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct lt_ctx *fault_ctx;
static struct sigaction previous;
static bool installed;

/* Formatted at install time (snprintf is not async-signal-safe). */
static char json_prefix[640]; /* {"rank": .., "host": .., "pid": .., "time": .., "message": " */
static char line_prefix[64];  /* ltrun: rank N:  */
static char suffix[256];      /* ) was used outside ... */
static char tmp_path[sizeof(((struct lt_rank_info *)0)->error_file) + 8];

/* A message assembled without the C library's formatting. */
struct msg {
	char text[1024];
	size_t len;
};

static void put(struct msg *m, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(m->text) - m->len)
		n = sizeof(m->text) - m->len;
	memcpy(m->text + m->len, s, n);
	m->len += n;
}

static void write_error_file(const struct lt_ctx *ctx, const struct msg *m)
{
	static const char end[] = "\"}\n";
	int fd;

	if (!ctx->info.error_file[0])
		return;
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (!lt_write_all(fd, json_prefix, strlen(json_prefix)) &&
	    !lt_write_all(fd, m->text, m->len) && !lt_write_all(fd, end, sizeof(end) - 1) &&
	    !close(fd))
		(void)rename(tmp_path, ctx->info.error_file);
	else
		close(fd);
}

/* Ends the rank naming t: the error file first, then the line (the
 * agent holds the line back once it has the file, as for lt_fatal). */
__attribute__((noreturn)) static void die_naming(const struct lt_ctx *ctx,
						 const struct lt_tensor *t)
{
	struct msg m = { .len = 0 };

	put(&m, "parameter '");
	put(&m, t->name);
	put(&m, "' (");
	if (t->unit >= 0 && (size_t)t->unit < ctx->nunits) {
		put(&m, "unit '");
		put(&m, ctx->units[t->unit]->name);
		put(&m, "'");
	} else {
		put(&m, "in no unit");
	}
	put(&m, suffix);
	write_error_file(ctx, &m);
	(void)lt_write_all(STDERR_FILENO, line_prefix, strlen(line_prefix));
	(void)lt_write_all(STDERR_FILENO, m.text, m.len);
	(void)lt_write_all(STDERR_FILENO, "\n", 1);
	_exit(LT_EXIT_FAILURE);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	const struct lt_tensor *t = fault_ctx ? lt_units_param_at_address(fault_ctx, si->si_addr)
					      : NULL;

	(void)uc;
	if (t)
		die_naming(fault_ctx, t);
	/* Not a parameter's page: the handler from before takes it.  Returning
	 * runs the faulting instruction again, which faults into it (the
	 * default action kills the process with SIGSEGV). */
	sigaction(sig, &previous, NULL);
	installed = false;
	errno = saved;
}

int lt_fault_altstack(struct lt_err *err)
{
	static char altstack[64 * 1024];
	stack_t cur, ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };

	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0;
	if (sigaltstack(&ss, NULL))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot set the signal stack of the SIGSEGV handlers: %s",
				  strerror(errno));
	return 0;
}

static void format_parts(const struct lt_ctx *ctx)
{
	snprintf(json_prefix, sizeof(json_prefix),
		 "{\"rank\": %d, \"host\": \"%s\", \"pid\": %ld, \"time\": %ld, \"message\": \"",
		 ctx->info.rank, ctx->host, (long)getpid(), (long)time(NULL));
	snprintf(line_prefix, sizeof(line_prefix), "ltrun: rank %d: ", ctx->info.rank);
	snprintf(suffix, sizeof(suffix),
		 ") was used outside lt_unit_begin/lt_unit_end under strategy '%s': bracket every use of a unit's parameters",
		 ctx->strategy_name ? ctx->strategy_name : "?");
	snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", ctx->info.error_file);
}

int lt_unit_fault_install(struct lt_ctx *ctx, struct lt_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK };

	if (lt_fault_altstack(err))
		return -1;
	format_parts(ctx);
	fault_ctx = ctx;
	if (installed)
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot install the unit guard's SIGSEGV handler: %s",
				  strerror(errno));
	installed = true;
	return 0;
}

void lt_unit_fault_remove(void)
{
	if (installed)
		sigaction(SIGSEGV, &previous, NULL);
	installed = false;
	fault_ctx = NULL;
}
