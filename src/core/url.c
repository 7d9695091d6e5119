/*
 * url.c - lt_is_url (url.h).
 */
#include "core/url.h"

#include <string.h>

bool lt_is_url(const char *text)
{
	return text && (!strncmp(text, "http://", 7) || !strncmp(text, "https://", 8));
}
