/*
 * signals.c - signal names both ways, and the --signals list.
 */
#include "core/signals.h"
#include "core/parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *lt_signal_name(int sig, char *buf)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL",   [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",   [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
		[SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",
		[SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",
		[SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
		[SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
		[SIGIO] = "SIGIO",     [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",
	};
	char digits[12];
	int n = 0, v = sig < 0 ? 0 : sig;

	if (sig > 0 && (size_t)sig < sizeof(names) / sizeof(names[0]) && names[sig])
		return names[sig];
	/* Hand-made "signal N": snprintf is not async-signal-safe. */
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	memcpy(buf, "signal ", 7);
	for (int i = 0; i < n; i++)
		buf[7 + i] = digits[n - 1 - i];
	buf[7 + n] = '\0';
	return buf;
}

/* One name or number; 0 when it is neither. */
static int parse_one(const char *text, size_t len)
{
	char word[16], buf[16];
	long num;

	if (!len || len >= sizeof(word))
		return 0;
	memcpy(word, text, len);
	word[len] = '\0';
	if (!lt_parse_long(word, 1, SIGRTMAX, &num))
		return (int)num;
	for (int sig = 1; sig < 32; sig++) {
		const char *name = lt_signal_name(sig, buf);
		if (!strncmp(name, "SIG", 3) &&
		    (!strcasecmp(word, name) || !strcasecmp(word, name + 3)))
			return sig;
	}
	return 0;
}

int lt_signals_parse(const char *text, const char *where, int *sigs,
		     struct lt_err *err)
{
	char q[LT_QUOTE_MAX], buf[16];
	const char *p = text;
	int n = 0;

	lt_quote(q, sizeof(q), text);
	for (;;) {
		size_t len = strcspn(p, ",");
		int sig = parse_one(p, len);

		if (!sig)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': '%.*s' is not a signal name or number (e.g. INT,TERM,USR1)",
					  where, q, (int)(len > 16 ? 16 : len), p);
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': %s cannot be forwarded; leave it out",
					  where, q, lt_signal_name(sig, buf));
		if (n == LT_MAX_SIGNALS)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': more than %d signals", where, q,
					  LT_MAX_SIGNALS);
		sigs[n++] = sig;
		if (!p[len])
			return n;
		p += len + 1;
	}
}
