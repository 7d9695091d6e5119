/*
 * base64.h - standard base64 (RFC 4648, with padding), as etcd's JSON
 * gateway writes keys and values.
 */
#ifndef LT_CORE_BASE64_H
#define LT_CORE_BASE64_H

#include <stddef.h>

/* Encodes n bytes into a malloc'ed NUL-terminated string, or NULL when out
 * of memory. */
char *lt_base64_encode(const void *p, size_t n);
/* Decodes text into a malloc'ed buffer (NUL-terminated beyond *len).
 * Returns it, or NULL when text is not base64 or memory runs out. */
void *lt_base64_decode(const char *text, size_t *len);

#endif
