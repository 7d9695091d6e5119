/*
 * fuzz_hostlist.c - libFuzzer target for lt_hostlist_create(): any bytes
 * must give either a one-line error or a list whose every host is a
 * non-empty name of at most LT_HOSTLIST_MAX_NAME characters.  A text the
 * strict check accepts but libslurm expands differently is a hole in the
 * grammar, so that error aborts too; so does any difference between
 * libslurm's list and ltrun's own expansion (lt_hostlist_create_own(),
 * what a build without libslurm uses), or their errors.  Seed corpus:
 * corpus/hostlist/.
 */
#include "core/built.h"
#include "core/error.h"
#include "env/hostlist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* find() is linear: on long lists, probe about 64 hosts, not all. */
static void check_find(const struct lt_hostlist *hl, size_t i)
{
	long at = lt_hostlist_find(hl, lt_hostlist_nth(hl, i));

	if (at < 0 || (size_t)at > i)
		abort();
}

static void check_list(const struct lt_hostlist *hl)
{
	size_t i, n = lt_hostlist_count(hl), len;
	size_t step = n <= 64 ? 1 : n / 64;
	const char *host;

	if (n < 1 || n > LT_HOSTLIST_MAX_HOSTS)
		abort();
	for (i = 0; i < n; i++) {
		host = lt_hostlist_nth(hl, i);
		if (!host)
			abort();
		len = strlen(host);
		if (len == 0 || len > LT_HOSTLIST_MAX_NAME)
			abort();
		if (i % step == 0 || i == n - 1)
			check_find(hl, i);
	}
	if (lt_hostlist_nth(hl, n) != NULL)
		abort();
}

/* One line, "invalid SLURM_JOB_NODELIST='TEXT': DETAIL", and the detail
 * is not a disagreement with libslurm. */
static void check_error(const struct lt_err *err, const char *text)
{
	char q[LT_QUOTE_MAX], head[LT_QUOTE_MAX + 64];
	size_t n;

	if (err->status != LT_EXIT_FAILURE || strchr(err->msg, '\n'))
		abort();
	n = (size_t)snprintf(head, sizeof(head), "invalid SLURM_JOB_NODELIST='%s': ",
			     lt_quote(q, sizeof(q), text));
	if (strncmp(err->msg, head, n) || !err->msg[n] ||
	    strstr(err->msg + n, "libslurm"))
		abort();
}

/* ltrun's own expansion gives what lt_hostlist_create() gave: the same
 * hosts in the same order, or the same error. */
static void check_own(const char *text, const struct lt_hostlist *hl, const struct lt_err *err)
{
	struct lt_err own_err = { 0 };
	struct lt_hostlist *own = lt_hostlist_create_own("SLURM_JOB_NODELIST", text, &own_err);
	size_t i;

	if (!hl != !own || (!hl && strcmp(err->msg, own_err.msg)))
		abort();
	if (!own)
		return;
	if (lt_hostlist_count(own) != lt_hostlist_count(hl))
		abort();
	for (i = 0; i < lt_hostlist_count(hl); i++)
		if (strcmp(lt_hostlist_nth(own, i), lt_hostlist_nth(hl, i)))
			abort();
	lt_hostlist_destroy(own);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_err err = { 0 };
	struct lt_hostlist *hl;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	hl = lt_hostlist_create("SLURM_JOB_NODELIST", text, &err);
	if (hl)
		check_list(hl);
	else
		check_error(&err, text);
	if (LT_HAVE_SLURM)
		check_own(text, hl, &err);
	lt_hostlist_destroy(hl);
	free(text);
	return 0;
}
