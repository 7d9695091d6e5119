/*
 * signals.h - signal names both ways, and the --signals list (checked by
 * config.c, forwarded by the agent, named by a dying rank).
 */
#ifndef LT_CORE_SIGNALS_H
#define LT_CORE_SIGNALS_H

#include <signal.h>

#include "core/error.h"

#define LT_MAX_SIGNALS 16

/* "SIGSEGV" for SIGSEGV, "signal 42" style text for others; buf is used
 * only for the latter and must hold 16 bytes.  Async-signal-safe. */
const char *lt_signal_name(int sig, char *buf);

/* Parses "INT,TERM,USR1" (names with or without SIG, any case, or numbers)
 * into sigs (at most LT_MAX_SIGNALS).  `where` names the input.  SIGKILL,
 * SIGSTOP and SIGCHLD cannot be forwarded and are refused.  Returns the
 * count, or -1 with err (usage status) set. */
int lt_signals_parse(const char *text, const char *where, int *sigs,
		     struct lt_err *err);

#endif
