/*
 * cuda_visible.c - CUDA_VISIBLE_DEVICES and the device of a local rank
 * (cuda_visible.h).  No CUDA here: what the runtime would do with the
 * variable, done first, so that a mistake gets a message instead of a
 * device silently hidden.
 */
#include "accel/cuda_visible.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A UUID name as nvidia-smi -L prints it: GPU-<hex and dashes> or
 * MIG-<hex, dashes and slashes> (the older MIG-GPU-<uuid>/<gi>/<ci> too). */
static bool uuid_name(const char *s)
{
	const char *p;

	if (!strncmp(s, "GPU-", 4))
		p = s + 4;
	else if (!strncmp(s, "MIG-", 4))
		p = s + 4;
	else
		return false;
	if (!*p)
		return false;
	for (; *p; p++)
		if (!isxdigit((unsigned char)*p) && *p != '-' && *p != '/' &&
		    !(s[0] == 'M' && isalpha((unsigned char)*p)))
			return false;
	return true;
}

/* 1: a device number (*num set); 0: not a number; the sign counts. */
static int number(const char *s, long *num)
{
	char *end;

	if (!*s || (!isdigit((unsigned char)*s) && *s != '-' && *s != '+'))
		return 0;
	*num = strtol(s, &end, 10);
	return *end == '\0' && end != s && (isdigit((unsigned char)end[-1]));
}

/* Copies the entry [b, e) of the list without the blanks around it. */
static void trimmed(const char *b, const char *e, char *out, size_t len)
{
	size_t n;

	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - b) < len - 1 ? (size_t)(e - b) : len - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

int lt_cuda_visible_parse(const char *value, struct lt_cuda_visible *out, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], qe[LT_QUOTE_MAX];
	const char *p;
	int pos = 0;

	memset(out, 0, sizeof(*out));
	if (!value)
		return 0;
	out->set = true;
	lt_quote(out->value, sizeof(out->value), value);
	for (p = value; *p;) {
		const char *e = strchr(p, ',');
		char entry[LT_CUDA_ENTRY_MAX];
		long num;

		if (!e)
			e = p + strlen(p);
		pos++;
		if ((size_t)(e - p) >= LT_CUDA_ENTRY_MAX)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "CUDA_VISIBLE_DEVICES='%s': entry %d is longer than %d characters: list device numbers or GPU-/MIG- UUIDs (nvidia-smi -L)",
					  lt_quote(q, sizeof(q), value), pos, LT_CUDA_ENTRY_MAX - 1);
		trimmed(p, e, entry, sizeof(entry));
		if (number(entry, &num)) {
			if (num < 0)
				return 0; /* the end of the list, as CUDA reads it */
			snprintf(entry, sizeof(entry), "%ld", num);
		} else if (!uuid_name(entry)) {
			return lt_err_set(err, LT_EXIT_USAGE,
					  "CUDA_VISIBLE_DEVICES='%s': entry %d ('%s') is neither a device number nor a GPU-/MIG- UUID: list devices as 0,1 or by the names nvidia-smi -L prints",
					  lt_quote(q, sizeof(q), value), pos,
					  lt_quote(qe, sizeof(qe), entry));
		}
		for (int i = 0; i < out->n; i++)
			if (!strcmp(out->entry[i], entry))
				return lt_err_set(err, LT_EXIT_USAGE,
						  "CUDA_VISIBLE_DEVICES='%s': device '%s' is listed twice: list each device once",
						  lt_quote(q, sizeof(q), value),
						  lt_quote(qe, sizeof(qe), entry));
		if (out->n == LT_CUDA_VISIBLE_MAX)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "CUDA_VISIBLE_DEVICES='%s': more than %d devices listed",
					  lt_quote(q, sizeof(q), value), LT_CUDA_VISIBLE_MAX);
		snprintf(out->entry[out->n++], LT_CUDA_ENTRY_MAX, "%s", entry);
		p = *e ? e + 1 : e;
		if (*e && !*p)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "CUDA_VISIBLE_DEVICES='%s' ends with a comma: remove it",
					  lt_quote(q, sizeof(q), value));
	}
	return 0;
}

int lt_cuda_pick_device(int local_rank, int local_world, int count,
			const struct lt_cuda_visible *v, int *ordinal, struct lt_err *err)
{
	char shown[200];

	if (v->set)
		snprintf(shown, sizeof(shown), " (CUDA_VISIBLE_DEVICES='%s')", v->value);
	else
		shown[0] = '\0';
	if (count <= 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--accelerator cuda: no CUDA device is visible to this process%s: check nvidia-smi and CUDA_VISIBLE_DEVICES",
				  shown);
	if (local_rank < 0 || local_rank >= local_world)
		return lt_err_set(err, LT_EXIT_FAILURE, "local rank %d of %d is out of range",
				  local_rank, local_world);
	if (local_world <= count) {
		*ordinal = local_rank;
		return 0;
	}
	/* each rank its own single device (srun --gpus-per-task=1) */
	if (count == 1 && v->set) {
		*ordinal = 0;
		return 0;
	}
	return lt_err_set(err, LT_EXIT_USAGE,
			  "--accelerator cuda: %d ranks on this node but %d CUDA device%s visible%s: two ranks on one device are refused (NCCL fails with 'Duplicate GPU detected'): use --devices %d or fewer",
			  local_world, count, count == 1 ? " is" : "s are", shown, count);
}

bool lt_cuda_find_shared(const char *const *ids, int n, int *first, int *second)
{
	for (int j = 1; j < n; j++)
		for (int i = 0; i < j; i++)
			if (ids[i] && ids[j] && !strcmp(ids[i], ids[j])) {
				*first = i;
				*second = j;
				return true;
			}
	return false;
}

void lt_cuda_uuid_text(const unsigned char b[16], char *out, size_t len)
{
	snprintf(out, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}
