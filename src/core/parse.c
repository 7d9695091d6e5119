/*
 * parse.c - strict integer and boolean parsing, host names, and the edit
 * distance behind every "did you mean" hint.
 */
#include "core/parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int lt_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	if (!text || !*text || !(isdigit((unsigned char)text[0]) ||
				 (text[0] == '-' && isdigit((unsigned char)text[1]))))
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long lt_env_long_or(const char *name, long def, long min, long max)
{
	long v = def;

	return lt_parse_long(getenv(name), min, max, &v) ? def : v;
}

int lt_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	if (!text)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int lt_edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	int prev[MAXLEN + 1], cur[MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > MAXLEN || lb > MAXLEN)
		return 255;
	for (j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
						 tolower((unsigned char)b[j - 1]));
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			int best = sub < del ? sub : del;
			cur[j] = best < ins ? best : ins;
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb] > 255 ? 255 : prev[lb];
}

bool lt_valid_host(const char *text)
{
	size_t i, n = text ? strlen(text) : 0;

	if (n == 0 || n > 253 || text[0] == '-' || text[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]%",
			    text[i]))
			return false;
	return true;
}

bool lt_ip_literal(const char *text)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, text, addr) == 1 ||
	       inet_pton(AF_INET6, text, addr) == 1;
}

size_t lt_short_host_len(const char *host)
{
	return lt_ip_literal(host) ? strlen(host) : strcspn(host, ".");
}

int lt_parse_nodes(const char *text, long max, long *min, long *maxout)
{
	const char *colon = strchr(text, ':');
	char lo[24];
	long a, b;

	if (!colon)
		return lt_parse_long(text, 1, max, &a) ? -1 : (*min = *maxout = a, 0);
	if ((size_t)(colon - text) >= sizeof(lo))
		return -1;
	memcpy(lo, text, (size_t)(colon - text));
	lo[colon - text] = '\0';
	if (lt_parse_long(lo, 1, max, &a) || lt_parse_long(colon + 1, 1, max, &b) || a > b)
		return -1;
	*min = a;
	*maxout = b;
	return 0;
}
