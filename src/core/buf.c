/*
 * buf.c - growable byte buffers and arrays (buf.h).  Capacity doubles, so
 * n appends cost O(n) copies in all.
 */
#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The capacity to grow cap to for at least need: doubling, at least first.
 * 0 when need is beyond what size_t can count in elem-sized elements. */
static size_t grown_cap(size_t cap, size_t need, size_t elem, size_t first)
{
	size_t c = cap ? cap : first;

	if (!elem || need > SIZE_MAX / elem)
		return 0;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : 2 * c;
	return c > SIZE_MAX / elem ? need : c;
}

int lt_array_reserve(void *array, size_t *cap, size_t need, size_t elem, size_t first)
{
	void *old, *p;
	size_t c;

	if (need <= *cap)
		return 0;
	c = grown_cap(*cap, need, elem, first);
	if (!c) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(&old, array, sizeof(old));
	p = realloc(old, c * elem);
	if (!p)
		return -1;
	memcpy(array, &p, sizeof(p));
	*cap = c;
	return 0;
}

int lt_buf_reserve(struct lt_buf *b, size_t more)
{
	if (more > SIZE_MAX - 1 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	if (lt_array_reserve(&b->data, &b->cap, b->len + more + 1, 1, 64))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

int lt_buf_append(struct lt_buf *b, const void *p, size_t n)
{
	if (lt_buf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int lt_buf_puts(struct lt_buf *b, const char *s)
{
	return lt_buf_append(b, s, strlen(s));
}

int lt_buf_printf(struct lt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || lt_buf_reserve(b, (size_t)n))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void lt_buf_free(struct lt_buf *b)
{
	free(b->data);
	*b = (struct lt_buf)LT_BUF_INIT;
}

char *lt_buf_detach(struct lt_buf *b)
{
	char *p = b->data;

	*b = (struct lt_buf)LT_BUF_INIT;
	return p;
}
