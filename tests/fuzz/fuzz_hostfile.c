/*
 * fuzz_hostfile.c - libFuzzer target for lt_hostfile_parse() and
 * lt_hostfile_filter(): the first half of the bytes is a hostfile, the
 * second half (up to a NUL) the filters, "INCLUDE\nEXCLUDE" or just
 * "INCLUDE", then the same text as an --exclude alone.  Any bytes must
 * give either a one-line usage error or hosts whose every used slot is in
 * range and ascending; a refused filter leaves the slots as they were.
 * Seed corpus: corpus/hostfile/.
 */
#include "core/error.h"
#include "launch/hostfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct lt_err *err, const char *head)
{
	if (err->status != LT_EXIT_USAGE || strchr(err->msg, '\n') ||
	    strncmp(err->msg, head, strlen(head)))
		abort();
}

/* Parsed: names valid and distinct from their neighbours, lines rising,
 * every slot used. */
static void check_parsed(const struct lt_hostfile *hf)
{
	int i, s;

	if (hf->n < 1 || hf->n > LT_HOSTFILE_MAX_HOSTS || !hf->hosts)
		abort();
	for (i = 0; i < hf->n; i++) {
		const struct lt_host *h = &hf->hosts[i];
		size_t len = strnlen(h->name, sizeof(h->name));

		if (len == 0 || len >= sizeof(h->name) || h->name[0] == '-' ||
		    strspn(h->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != len)
			abort();
		if (h->slots < 1 || h->slots > LT_HOSTFILE_MAX_SLOTS || h->nused != h->slots)
			abort();
		if (i && (h->line <= h[-1].line || !strcmp(h->name, h[-1].name)))
			abort();
		for (s = 0; s < h->nused; s++)
			if (h->used[s] != s)
				abort();
	}
}

/* Filtered: nused <= slots, used ascending and in range, some slot left.
 * Returns a checksum of the used slots. */
static unsigned long check_filtered(const struct lt_hostfile *hf)
{
	unsigned long sum = 0;
	long total = 0;
	int i, s;

	for (i = 0; i < hf->n; i++) {
		const struct lt_host *h = &hf->hosts[i];

		if (h->nused < 0 || h->nused > h->slots)
			abort();
		for (s = 0; s < h->nused; s++) {
			if (h->used[s] < 0 || h->used[s] >= h->slots ||
			    (s && h->used[s] <= h->used[s - 1]))
				abort();
			sum = sum * 31 + (unsigned long)h->used[s] + 1;
		}
		sum = sum * 31 + (unsigned long)h->nused;
		total += h->nused;
	}
	if (total < 1)
		abort();
	return sum;
}

static void filter(struct lt_hostfile *hf, const char *include, const char *exclude)
{
	struct lt_err err = { 0 };
	unsigned long before = check_filtered(hf);

	if (lt_hostfile_filter(hf, include, exclude, &err) == 0) {
		check_filtered(hf);
		return;
	}
	if (!strncmp(err.msg, "--include/--exclude leave no host: ", 35))
		check_error(&err, "--include/--exclude leave no host: ");
	else if (include && !strncmp(err.msg, "--include '", 11))
		check_error(&err, "--include '");
	else if (exclude)
		check_error(&err, "--exclude '");
	else
		abort();
	if (check_filtered(hf) != before)   /* a refusal changes nothing */
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	size_t half = size / 2;
	char *rules = malloc(size - half + 1), *nl;

	if (!rules)
		return 0;
	memcpy(rules, data + half, size - half);
	rules[size - half] = '\0';
	if (lt_hostfile_parse((const char *)data, half, "hosts", &hf, &err)) {
		check_error(&err, "hostfile 'hosts");
		if (hf.n || hf.hosts)
			abort();
		goto out_free;
	}
	check_parsed(&hf);
	nl = strchr(rules, '\n');
	if (nl) {
		*nl = '\0';
		filter(&hf, rules, nl + 1);
		*nl = '\n';
	} else {
		filter(&hf, rules, NULL);
	}
	filter(&hf, NULL, rules);
	lt_hostfile_free(&hf);
	lt_hostfile_free(&hf);

out_free:
	free(rules);
	return 0;
}
