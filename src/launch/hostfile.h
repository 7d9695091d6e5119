/*
 * hostfile.h - the hosts of a --hostfile launch: the file (DeepSpeed's and
 * Open MPI's format, "HOST slots=N" a line) and the --include/--exclude
 * filters in DeepSpeed's syntax ("host1:0,1@host2").
 */
#ifndef LT_LAUNCH_HOSTFILE_H
#define LT_LAUNCH_HOSTFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define LT_HOSTFILE_MAX_HOSTS 4096
#define LT_HOSTFILE_MAX_SLOTS 1024   /* slots a host, as DeepSpeed's GPUs a node */
#define LT_HOST_NAME_MAX 256         /* bytes, NUL included */

struct lt_host {
	char name[LT_HOST_NAME_MAX];
	int line;          /* in the hostfile, for messages */
	int slots;         /* slots=N (1 when the line gives none) */
	/* After lt_hostfile_filter(): the slots this job uses, ascending,
	 * nused of them (0: the host is left out); room for slots of them. */
	int *used;
	int nused;
};

struct lt_hostfile {
	char path[4096];   /* as given, for messages */
	struct lt_host *hosts;
	int n;             /* in the file's order */
};

/* Parses a hostfile's text (len bytes, need not end in '\n'), named path
 * in messages, into hf (overwritten: free an old one first).  Returns 0,
 * or -1 with err (usage status) naming path and the line: a bad line,
 * slots=0 or out of range, a host listed twice, no host at all; hf is
 * then empty.  Every host starts with all its slots used.  Host names
 * are checked for their characters only, never resolved. */
int lt_hostfile_parse(const char *text, size_t len, const char *path,
		      struct lt_hostfile *hf, struct lt_err *err);
/* Reads and parses the file at path.  Returns 0, or -1 with err (usage
 * status): "cannot read hostfile 'X': <strerror>" for a missing,
 * unreadable or directory path, a file over 4 MiB, or parse's errors. */
int lt_hostfile_load(const char *path, struct lt_hostfile *hf, struct lt_err *err);
/* Applies --include (NULL: every host) then --exclude (NULL: none), each
 * "HOST[:SLOT,SLOT...]@HOST..." as in DeepSpeed: a host without slots
 * means all of them, slots count from 0; an IPv6 host may be bracketed,
 * "[fe80::1]:0,1".  Each call starts again from all the file's slots.
 * Returns 0, or -1 with err (usage status) naming the filter and the
 * fix, and hf unchanged: a host not in the file, a slot past the host's
 * slots, a bad spelling (empty host or slot, a host or slot named twice),
 * or filters that leave no slot at all. */
int lt_hostfile_filter(struct lt_hostfile *hf, const char *include,
		       const char *exclude, struct lt_err *err);
/* Frees hf's hosts and zeroes it; safe on a zeroed or freed hf. */
void lt_hostfile_free(struct lt_hostfile *hf);

#endif
