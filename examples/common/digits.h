/*
 * digits.h - the UCI handwritten digits data for the example models:
 * loading the CSV, scaling it to [0, 1] and a fixed train/validation split.
 *
 * Header-only (static inline), included by examples/mlp/mlp.c and
 * examples/fabric/fabric.c; nothing to build on its own.  The file is one
 * sample a line, 64 pixel values 0..16 (an 8x8 image, row by row) and then
 * the label 0..9, comma-separated: what `make` unpacks into
 * build/examples/data/digits.csv from examples/data/digits.csv.gz.
 *
 * Usage:
 *
 *	struct digits d;
 *	digits_load(ctx, "mlp", path, &d);         // lt_fatal()s on bad input
 *	digits_split(&d, 0.2);                      // the same on every rank
 *	const float *x = digits_x(&d, LT_TRAIN, i); // 64 pixels of train sample i
 *	int y = digits_y(&d, LT_TRAIN, i);
 *	...
 *	digits_free(&d);
 *
 * The split does not depend on the rank, the world size nor --seed: a
 * fixed shuffle, so every rank (and every run) sees the same samples in
 * each split, as distributed samplers require.
 */
#ifndef LTRUN_EXAMPLES_DIGITS_H
#define LTRUN_EXAMPLES_DIGITS_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before the first #include: digits.h needs dladdr()"
#endif

#include <ltrun.h>

#include "params.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGITS_PIXELS 64   /* values per image, 8x8 */
#define DIGITS_CLASSES 10  /* labels 0..9 */
#define DIGITS_MAX_PIXEL 16

struct digits {
	int64_t n;        /* samples in the file */
	float *x;         /* (n, DIGITS_PIXELS), pixel / 16, in [0, 1] */
	int *y;           /* (n), 0..DIGITS_CLASSES-1 */
	int64_t n_train;  /* first n_train entries of order */
	int64_t n_val;    /* the next n_val entries */
	int64_t *order;   /* (n), a permutation of 0..n-1: train then val */
};

/* The default data file: ../data/digits.csv beside the directory of the
 * .so this code is compiled into (build/examples/mlp/mlp.so ->
 * build/examples/mlp/../data/digits.csv).  Writes into buf (size bytes);
 * falls back to a path relative to the working directory when dladdr()
 * cannot say where the .so is.  Cannot fail. */
static inline const char *digits_default_path(char *buf, size_t size)
{
	Dl_info info;
	const char *so = NULL, *slash;
	if (dladdr((void *)digits_default_path, &info) && info.dli_fname)
		so = info.dli_fname;
	if (!so || !(slash = strrchr(so, '/'))) {
		snprintf(buf, size, "../data/digits.csv");
		return buf;
	}
	snprintf(buf, size, "%.*s/../data/digits.csv", (int)(slash - so), so);
	return buf;
}

/* Parses one line "p0,...,p63,label" into x (scaled) and *y.  Returns NULL
 * on success, or what was wrong (a static string) on malformed input. */
static inline const char *digits_parse_line(const char *line, float *x, int *y)
{
	const char *p = line;
	for (int k = 0; k <= DIGITS_PIXELS; k++) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno)
			return k < DIGITS_PIXELS ? "a pixel is not an integer"
						 : "the label is not an integer";
		if (k < DIGITS_PIXELS) {
			if (v < 0 || v > DIGITS_MAX_PIXEL)
				return "a pixel is outside 0..16";
			if (*end != ',')
				return "fewer than 65 comma-separated values";
			x[k] = (float)v / DIGITS_MAX_PIXEL;
		} else {
			if (v < 0 || v >= DIGITS_CLASSES)
				return "the label is outside 0..9";
			while (*end == ' ' || *end == '\r' || *end == '\n')
				end++;
			if (*end)
				return "more than 65 comma-separated values";
			*y = (int)v;
		}
		p = end + 1;
	}
	return NULL;
}

/* Reads the whole file into d (n samples, unsplit: order is 0..n-1, all
 * train).  A missing, unreadable, empty or malformed file ends the rank
 * through lt_fatal(), naming the path, the line and the fix; `who` (the
 * model's name) starts the message. */
static inline void digits_load(lt_ctx *ctx, const char *who, const char *path,
			       struct digits *d)
{
	static const char hint[] =
		"hint: run `make` to unpack examples/data/digits.csv.gz into "
		"build/examples/data/digits.csv, or pass -- --data PATH";
	FILE *f = fopen(path, "r");
	if (!f)
		lt_fatal(ctx, "%s: cannot open data file '%s': %s; %s", who, path,
			 strerror(errno), hint);
	*d = (struct digits){ 0 };
	int64_t cap = 0;
	char line[1024];
	long lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n')
			lt_fatal(ctx, "%s: '%s' line %ld: line longer than %zu bytes; %s",
				 who, path, lineno, sizeof(line) - 2, hint);
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			continue; /* a blank line, as at the end of some copies */
		if (d->n == cap) {
			cap = cap ? 2 * cap : 2048;
			d->x = realloc(d->x, (size_t)cap * DIGITS_PIXELS * sizeof(*d->x));
			d->y = realloc(d->y, (size_t)cap * sizeof(*d->y));
			if (!d->x || !d->y)
				lt_fatal(ctx, "%s: out of memory reading '%s'", who, path);
		}
		const char *why = digits_parse_line(line, d->x + d->n * DIGITS_PIXELS,
						    d->y + d->n);
		if (why)
			lt_fatal(ctx, "%s: '%s' line %ld: %s (expected 64 pixels 0..16, "
				 "then the label 0..9, comma-separated); %s",
				 who, path, lineno, why, hint);
		d->n++;
	}
	if (ferror(f))
		lt_fatal(ctx, "%s: cannot read data file '%s': %s; %s", who, path,
			 strerror(errno), hint);
	fclose(f);
	if (d->n == 0)
		lt_fatal(ctx, "%s: data file '%s' has no samples; %s", who, path, hint);
	d->order = malloc((size_t)d->n * sizeof(*d->order));
	if (!d->order)
		lt_fatal(ctx, "%s: out of memory reading '%s'", who, path);
	for (int64_t i = 0; i < d->n; i++)
		d->order[i] = i;
	d->n_train = d->n;
	d->n_val = 0;
}

/* Shuffles d->order with a fixed seed (Fisher-Yates, splitmix64) and puts
 * round(n * val_fraction) samples, at least one of each split when n >= 2
 * and 0 < val_fraction < 1, into validation.  Cannot fail; val_fraction
 * outside [0, 1) is the caller's to refuse. */
static inline void digits_split(struct digits *d, double val_fraction)
{
	uint64_t state = 0x6c7472756eull; /* "ltrun": fixed, not --seed */
	for (int64_t i = d->n - 1; i > 0; i--) {
		state = mix64(state);
		int64_t j = (int64_t)(state % (uint64_t)(i + 1));
		int64_t t = d->order[i];
		d->order[i] = d->order[j];
		d->order[j] = t;
	}
	int64_t n_val = (int64_t)(val_fraction * (double)d->n + 0.5);
	if (val_fraction > 0 && n_val == 0 && d->n >= 2)
		n_val = 1;
	if (n_val >= d->n)
		n_val = d->n - 1;
	d->n_val = n_val;
	d->n_train = d->n - n_val;
}

static inline int64_t digits_count(const struct digits *d, enum lt_split split)
{
	return split == LT_TRAIN ? d->n_train : d->n_val;
}

/* Sample i (0..digits_count(split)-1) of a split: its index in the file. */
static inline int64_t digits_sample(const struct digits *d, enum lt_split split,
				    int64_t i)
{
	return d->order[(split == LT_TRAIN ? 0 : d->n_train) + i];
}

static inline const float *digits_x(const struct digits *d, enum lt_split split,
				    int64_t i)
{
	return d->x + digits_sample(d, split, i) * DIGITS_PIXELS;
}

static inline int digits_y(const struct digits *d, enum lt_split split, int64_t i)
{
	return d->y[digits_sample(d, split, i)];
}

static inline void digits_free(struct digits *d)
{
	free(d->x);
	free(d->y);
	free(d->order);
	*d = (struct digits){ 0 };
}

#endif /* LTRUN_EXAMPLES_DIGITS_H */
