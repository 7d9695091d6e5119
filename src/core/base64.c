/*
 * base64.c - standard base64 (base64.h).
 */
#include "core/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *lt_base64_encode(const void *p, size_t n)
{
	const unsigned char *in = p;
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = digits[v >> 18 & 63];
		*o++ = digits[v >> 12 & 63];
		*o++ = i + 1 < n ? digits[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? digits[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int value_of(char c)
{
	const char *d = c ? strchr(digits, c) : NULL;

	return d ? (int)(d - digits) : -1;
}

void *lt_base64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text), pad = 0;
	unsigned char *out;

	if (n % 4)
		return NULL;
	if (n && text[n - 1] == '=')
		pad = n >= 2 && text[n - 2] == '=' ? 2 : 1;
	if (!(out = malloc(n / 4 * 3 + 1)))
		return NULL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			v[k] = i + (size_t)k >= n - pad ? 0 : value_of(text[i + (size_t)k]);
			if (v[k] < 0) {
				free(out);
				return NULL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		out[i / 4 * 3] = (unsigned char)(w >> 16);
		out[i / 4 * 3 + 1] = (unsigned char)(w >> 8);
		out[i / 4 * 3 + 2] = (unsigned char)w;
	}
	*len = n / 4 * 3 - pad;
	out[*len] = '\0';
	return out;
}
