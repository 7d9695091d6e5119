/*
 * parse.h - strict parsers for the small values users type: integers,
 * booleans, host names.  Nothing is accepted that is not wholly the thing: no leading
 * blanks, no trailing junk, no overflow.
 */
#ifndef LT_CORE_PARSE_H
#define LT_CORE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "ltrun/plugin.h"

/* Parses a decimal integer in [min, max].  Returns 0 and sets *out, or -1
 * (text empty, not a number, or out of range) with *out unchanged. */
int lt_parse_long(const char *text, long min, long max, long *out);

/* The environment variable name as a decimal integer in [min, max], or
 * def when it is unset, empty or not such a number (a tuning knob, whose
 * bad value leaves the default). */
long lt_env_long_or(const char *name, long def, long min, long max);

/* Parses a node count, "N" or "MIN:MAX" (torchrun's --nnodes), each in
 * [1, max] with MIN <= MAX.  Returns 0 and sets *min and *max (equal for
 * "N"), or -1 with both unchanged. */
int lt_parse_nodes(const char *text, long max, long *min, long *maxout);

/* Accepts 1/0, true/false, yes/no, on/off (any case).  Returns 0 and sets
 * *out, or -1 with *out unchanged. */
int lt_parse_bool(const char *text, bool *out);

/* Returns true when text is a plausible host name or IPv4/IPv6 address. */
bool lt_valid_host(const char *text);

/* Returns true when text is an IPv4 or IPv6 address (inet_pton's forms). */
bool lt_ip_literal(const char *text);

/* Length of host's short name: up to its first '.', or all of it when it
 * is an IP address, which is never shortened.  Can't fail. */
size_t lt_short_host_len(const char *host);

/* Copies this node's whole host name (the envsrc's, else gethostname())
 * into buf, unshortened; lt_env_hostname() is its short form.  Returns 0,
 * or -1 with err set. */
int lt_env_hostname_full(const struct lt_envsrc *src, char *buf, size_t len,
			 struct lt_err *err);

/* Levenshtein distance between a and b, capped at 255. */
int lt_edit_distance(const char *a, const char *b);

#endif
