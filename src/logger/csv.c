/*
 * csv.c - the `csv` logger: --log-dir/metrics.csv as Lightning's
 * CSVLogger writes it (trainer/metrics.h keeps the table and rewrites the
 * file whole at each row, so a reader never sees half a row).  A resumed
 * or restarted run keeps the rows up to the step it goes on from.
 */
#include "logger/logger.h"
#include "trainer/metrics.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

struct csv {
	struct lt_metrics *m;
};

static int csv_open(const struct lt_logger_run *run, const struct lt_params *params, void **self,
		    struct lt_err *err)
{
	struct csv *c = calloc(1, sizeof(*c));
	char path[PATH_MAX];
	bool again = run->first_step > 0 || run->restart > 0;

	(void)params;
	if (!c)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	snprintf(path, sizeof(path), "%s/metrics.csv", run->log_dir);
	c->m = lt_metrics_new(path, again ? run->first_step : -1, err);
	if (!c->m) {
		free(c);
		return -1;
	}
	*self = c;
	return 0;
}

static int csv_log(void *self, int64_t step, int epoch, double wall_time,
		   const char *const *names, const double *values, int n, struct lt_err *err)
{
	struct csv *c = self;

	(void)wall_time;
	for (int i = 0; i < n; i++)
		lt_metrics_set(c->m, names[i], values[i]);
	return lt_metrics_commit(c->m, step, epoch, err);
}

static int csv_close(void *self, struct lt_err *err)
{
	struct csv *c = self;

	(void)err;
	lt_metrics_free(c->m);
	free(c);
	return 0;
}

const struct lt_logger_ops lt_logger_csv = {
	.open = csv_open,
	.log_metrics = csv_log,
	.close = csv_close,
};
