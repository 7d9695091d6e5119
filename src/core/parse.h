/*
 * parse.h - strict parsers for the small values users type: integers,
 * booleans.  Nothing is accepted that is not wholly the thing: no leading
 * blanks, no trailing junk, no overflow.
 */
#ifndef LT_CORE_PARSE_H
#define LT_CORE_PARSE_H

#include <stdbool.h>

/* Parses a decimal integer in [min, max].  Returns 0 and sets *out, or -1
 * (text empty, not a number, or out of range) with *out unchanged. */
int lt_parse_long(const char *text, long min, long max, long *out);

/* Accepts 1/0, true/false, yes/no, on/off (any case).  Returns 0 and sets
 * *out, or -1 with *out unchanged. */
int lt_parse_bool(const char *text, bool *out);

/* Returns true when text is a plausible host name or IPv4/IPv6 address. */
bool lt_valid_host(const char *text);

/* Levenshtein distance between a and b, capped at 255. */
int lt_edit_distance(const char *a, const char *b);

#endif
