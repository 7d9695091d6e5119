/*
 * hostlist.h - Slurm host lists ("gpu-node[001-004,010],login1") expanded
 * into host names, after Slurm's own hostlist.h: an opaque list with paired
 * create/destroy and size caps.
 *
 * The text is first checked against a strict grammar (below), then expanded
 * by libslurm, whose parser accepts too much (`node[01-` becomes "node]",
 * `a,,b` loses an item) and prints to stderr on some errors; a build
 * without libslurm (./configure --without-slurm) expands it with ltrun's
 * own code, to the same hosts.  Like Slurm, "alpha, host[5-9], gamma" is
 * three items:
 *
 *   list  := blank* item (sep item)* blank*
 *   sep   := blank* ',' blank* | blank+        blank: ' ' or '\t', as Slurm
 *   item  := part+            at most one trailing run of host characters
 *   part  := host-chars | '[' range (',' range)* ']'
 *   range := digits | digits '-' digits      (low <= high)
 *
 * host-chars are [A-Za-z0-9._-]; an item does not start with '-' or '.' and
 * has no host characters after its last bracket group (libslurm cannot
 * expand "a[1-2]b").  An item's hosts come in libslurm's order: its last
 * bracket group turns fastest, then its first, its second and so on
 * ("n[1-2]x[3-4]" is n1x3 n1x4 n2x3 n2x4; "a[1-2]b[3-4]c[5-6]" begins
 * a1b3c5 a1b3c6 a2b3c5).  Numbers have at most 18 digits; the text is at most
 * LT_HOSTLIST_MAX_TEXT bytes, expands to at most LT_HOSTLIST_MAX_HOSTS hosts
 * and no host name is longer than LT_HOSTLIST_MAX_NAME.
 */
#ifndef LT_ENV_HOSTLIST_H
#define LT_ENV_HOSTLIST_H

#include <stddef.h>

#include "ltrun/plugin.h"

#define LT_HOSTLIST_MAX_HOSTS 65536
#define LT_HOSTLIST_MAX_TEXT (64 * 1024)
#define LT_HOSTLIST_MAX_NAME 255

struct lt_hostlist;

/* Expands text, a host list read from `what` (the variable or file it came
 * from, e.g. "SLURM_JOB_NODELIST", named in messages).  Returns a new list,
 * which the caller frees with lt_hostlist_destroy(), or NULL with err set
 * (status LT_EXIT_FAILURE, one line "invalid WHAT='TEXT': what is wrong and
 * where") when the text breaks the grammar or a cap, or memory runs out. */
struct lt_hostlist *lt_hostlist_create(const char *what, const char *text,
				       struct lt_err *err);

/* The same list, always expanded by ltrun's own code (what
 * lt_hostlist_create() does in a build without libslurm): for the tests
 * and the fuzz target, which compare the two where libslurm is built in. */
struct lt_hostlist *lt_hostlist_create_own(const char *what, const char *text,
					   struct lt_err *err);

/* Returns the number of hosts (at least 1).  Can't fail. */
size_t lt_hostlist_count(const struct lt_hostlist *hl);

/* Returns host i (0-based, in the order of the text, duplicates kept), or
 * NULL when i >= count.  The string belongs to the list: it is valid until
 * lt_hostlist_destroy(). */
const char *lt_hostlist_nth(const struct lt_hostlist *hl, size_t i);

/* Returns the index of the first host equal to host, or -1 when none is. */
long lt_hostlist_find(const struct lt_hostlist *hl, const char *host);

/* Frees the list and every string it returned.  NULL is allowed. */
void lt_hostlist_destroy(struct lt_hostlist *hl);

#endif
