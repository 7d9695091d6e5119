/*
 * error.h - how ltrun reports trouble (after git's usage.c).
 *
 * lt_die() prints "ltrun: <message>" and exits with the given status;
 * lt_warn() prints "ltrun: warning: <message>" and returns.  Library code
 * never dies: it fills a struct lt_err (include/ltrun/plugin.h) and returns
 * -1, and cmd/ltrun.c turns that into one line on stderr and an exit status.
 * LT_BUG() is for programmer mistakes only.
 */
#ifndef LT_CORE_ERROR_H
#define LT_CORE_ERROR_H

#include "ltrun/plugin.h"

__attribute__((noreturn)) void lt_die(int status, const char *fmt, ...)
	LT_PRINTF(2, 3);
void lt_warn(const char *fmt, ...) LT_PRINTF(1, 2);

/* Prints err's message and exits with its status. */
__attribute__((noreturn)) void lt_die_err(const struct lt_err *err);

__attribute__((noreturn)) void lt_bug(const char *file, int line,
				      const char *fmt, ...) LT_PRINTF(3, 4);
#define LT_BUG(...) lt_bug(__FILE__, __LINE__, __VA_ARGS__)

/* Copies at most 64 bytes of user-supplied text into buf (of size >= 72),
 * replacing control characters with '?' and marking truncation with "...",
 * so that a message can quote anything a user typed.  Returns buf. */
char *lt_quote(char *buf, size_t len, const char *text);
#define LT_QUOTE_MAX 72

#endif
