/*
 * owner.h - names that say which process made them.  A shared-memory
 * segment or a run directory carries its owner's tag, "<pid>.<pid
 * namespace>", so that what a killed process left behind can be told from
 * what a live process still holds, and removed at the next start.
 */
#ifndef LT_CORE_OWNER_H
#define LT_CORE_OWNER_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a tag and its NUL. */
#define LT_OWNER_TAG_MAX 48

/* This process's tag into buf (LT_OWNER_TAG_MAX bytes).  Cannot fail: the
 * namespace is 0 when /proc is not there. */
void lt_owner_tag(char *buf, size_t len);

/* True when text (n bytes, not NUL-terminated) is exactly a tag whose
 * process lived in this pid namespace and no longer exists.  A tag of a
 * live process, of another namespace (a container sharing /dev/shm), or
 * anything else that is not a tag, gives false: kept. */
bool lt_owner_gone(const char *text, size_t n);

#endif
