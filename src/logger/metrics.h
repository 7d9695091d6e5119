/*
 * metrics.h - metrics.csv, as Lightning's CSVLogger writes it: one row per
 * logging interval or validation, "step,epoch" then one column per metric
 * in the order the metrics first appeared; a row that lacks a column
 * leaves it empty.  The file is rewritten whole at each commit (temporary
 * file + rename), so a reader never sees half a row, even after a crash.
 */
#ifndef LT_LOGGER_METRICS_H
#define LT_LOGGER_METRICS_H

#include <stdint.h>

#include "ltrun/plugin.h"

struct lt_metrics; /* opaque */

/* Metrics written to `path` (NULL: kept for lt_metrics_last(), no file).
 * keep >= 0: a resumed or restarted run; the rows the file holds up to
 * step keep stay (those after it are steps the run logs again), else the
 * file starts afresh.  The file is (re)written at once, so that a path
 * that cannot be written fails here.  Returns NULL with err naming the
 * file (or saying out of memory). */
struct lt_metrics *lt_metrics_new(const char *path, int64_t keep, struct lt_err *err);

/* Sets column `name` of the current row (a later set of the same name in
 * the same row wins).  A new name becomes the last column.  Cannot fail:
 * running out of memory is reported by the next commit. */
void lt_metrics_set(struct lt_metrics *m, const char *name, double value);

/* Ends the current row as (step, epoch) and rewrites the file with every
 * row so far.  A commit of a row with no values adds nothing.  Returns 0,
 * or -1 with err naming the file; the row is kept in memory either way
 * (the next commit writes it). */
int lt_metrics_commit(struct lt_metrics *m, int64_t step, int epoch,
		      struct lt_err *err);

/* The last value committed for name, or NAN when it never was. */
double lt_metrics_last(const struct lt_metrics *m, const char *name);

/* Frees m (the file stays); NULL is ignored. */
void lt_metrics_free(struct lt_metrics *m);

#endif
