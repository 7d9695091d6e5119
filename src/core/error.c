/*
 * error.c - ltrun's error and warning output, and struct lt_err.
 *
 * Every message is one line, "ltrun: " first, lowercase, no full stop,
 * saying what is wrong first and naming the input (git's CodingGuidelines).
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lt_err_set(struct lt_err *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void lt_die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ltrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

void lt_die_err(const struct lt_err *err)
{
	lt_die(err->status ? err->status : LT_EXIT_FAILURE, "%s", err->msg);
}

void lt_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("ltrun: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void lt_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ltrun: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *lt_quote(char *buf, size_t len, const char *text)
{
	size_t i, n = 0, max = len < LT_QUOTE_MAX ? len : LT_QUOTE_MAX;

	if (!text)
		text = "(null)";
	for (i = 0; text[i] && n + 4 < max && i < 64; i++) {
		unsigned char c = (unsigned char)text[i];
		buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (text[i]) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}
