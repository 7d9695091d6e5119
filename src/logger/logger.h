/*
 * logger.h - the loggers of a run (--logger csv,tensorboard): the list's
 * syntax, its check against the registry, and the set rank 0 opens, feeds
 * and closes.  A logger that fails costs a warning, never the run.
 */
#ifndef LT_LOGGER_LOGGER_H
#define LT_LOGGER_LOGGER_H

#include <stdint.h>
#include <stdio.h>

#include "core/registry.h"
#include "ltrun/logger.h"

extern const struct lt_logger_ops lt_logger_csv;
extern const struct lt_logger_ops lt_logger_tensorboard;

/* At most this many loggers in one --logger list. */
#define LT_MAX_LOGGERS 8

/* Splits --logger's text into one spec per logger: "csv,tensorboard:
 * flush_secs=5,max_queue=100" is "csv" and "tensorboard:flush_secs=5,
 * max_queue=100" (a word holding '=' belongs to the logger before it).
 * "none" (alone) is no logger.  Returns the count, each spec malloc'd in
 * specs[], or -1 with err (usage) naming `where`. */
int lt_logger_split(const char *text, const char *where, char *specs[LT_MAX_LOGGERS],
		    struct lt_err *err);

/* Checks every logger of text against the registry, as the rank will
 * resolve it.  Returns 0, or -1 with err (usage). */
int lt_loggers_check(const struct lt_registry *reg, const char *text, const char *where,
		     struct lt_err *err);

struct lt_loggers;

/* Opens each logger of text for run, warning (on warn) about each one
 * that cannot open.  NULL only when out of memory. */
struct lt_loggers *lt_loggers_open(const struct lt_registry *reg, const char *text,
				   const struct lt_logger_run *run, FILE *warn);
/* One row to every open logger; a logger's first failure is warned
 * about (later ones are counted), and the others go on. */
void lt_loggers_log(struct lt_loggers *set, int64_t step, int epoch, double wall_time,
		    const char *const *names, const double *values, int n);
/* Closes every logger (warning about failures) and frees set. */
void lt_loggers_close(struct lt_loggers *set);

#endif
