/*
 * url.h - tells a URL from a path: "http://..." and "https://..." name a
 * remote location (checkpoint directories, checkpoint files); anything
 * else is a local path.
 */
#ifndef LT_CORE_URL_H
#define LT_CORE_URL_H

#include <stdbool.h>

/* True when text starts with "http://" or "https://" (lower case, as
 * libcurl's scheme check).  NULL is not a URL. */
bool lt_is_url(const char *text);

#endif
