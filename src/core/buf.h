/*
 * buf.h - growable memory, instead of realloc by hand (after git's strbuf).
 *
 * struct lt_buf is a byte buffer: `data` holds `len` bytes followed by a
 * NUL (so text can be built in it), `cap` bytes are allocated.  It starts
 * as LT_BUF_INIT (data NULL, nothing allocated); lt_buf_free() returns it
 * there.  Usage:
 *
 *	struct lt_buf b = LT_BUF_INIT;
 *	if (lt_buf_append(&b, "key=", 4) || lt_buf_printf(&b, "%d", v))
 *		goto out_nomem;
 *	... use b.data, b.len ...
 *	lt_buf_free(&b);
 *
 * LT_ARRAY_RESERVE(v, cap, need) grows an array of any type the same way:
 * after it returns 0, v has room for at least `need` elements.
 *
 * Every function that can fail returns 0, or -1 with errno ENOMEM (out of
 * memory, or a size that overflows size_t) leaving the buffer or array
 * unchanged and still valid.
 */
#ifndef LT_CORE_BUF_H
#define LT_CORE_BUF_H

#include <stddef.h>

#include "ltrun/plugin.h" /* LT_PRINTF */

struct lt_buf {
	char *data; /* NULL until something is reserved; then data[len] == '\0' */
	size_t len; /* bytes held */
	size_t cap; /* bytes allocated */
};
#define LT_BUF_INIT { .data = NULL, .len = 0, .cap = 0 }

/* Makes room for `more` bytes after len (and the NUL after them). */
int lt_buf_reserve(struct lt_buf *b, size_t more);
/* Appends n bytes from p. */
int lt_buf_append(struct lt_buf *b, const void *p, size_t n);
/* Appends the NUL-terminated text s. */
int lt_buf_puts(struct lt_buf *b, const char *s);
/* Appends printf's output. */
int lt_buf_printf(struct lt_buf *b, const char *fmt, ...) LT_PRINTF(2, 3);
/* Frees the memory and returns b to LT_BUF_INIT.  Can't fail. */
void lt_buf_free(struct lt_buf *b);
/* Hands data over to the caller (who frees it; NULL if nothing was ever
 * reserved) and returns b to LT_BUF_INIT.  Can't fail. */
char *lt_buf_detach(struct lt_buf *b);

/* Grows the array whose address is `array` (a pointer to any T *, holding
 * *cap elements of elem bytes) so that it holds at least need elements:
 * to twice its capacity, and at least `first`.  LT_ARRAY_RESERVE is the
 * usual call (first 16). */
int lt_array_reserve(void *array, size_t *cap, size_t need, size_t elem, size_t first);
#define LT_ARRAY_RESERVE(v, cap, need) \
	lt_array_reserve(&(v), &(cap), (need), sizeof(*(v)), 16)

#endif
