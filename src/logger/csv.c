/*
 * csv.c - the `csv` logger: --log-dir/metrics.csv as Lightning's
 * CSVLogger writes it (metrics.h keeps the table and rewrites the
 * file whole at each row, so a reader never sees half a row).  A resumed
 * or restarted run keeps the rows up to the step it goes on from; a
 * second job logging into the same directory at once is refused (its run
 * goes on without metrics.csv), never mixed in.
 */
#include "logger/logger.h"
#include "logger/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct csv {
	struct lt_metrics *m;
	int lock;   /* DIR/.metrics.csv.lock, held for the run */
};

/* One job at a time writes a directory's metrics.csv (it is rewritten
 * whole at each row: two jobs would each overwrite the other's rows).
 * Returns the lock's fd, or -1 with err naming the other job. */
static int take_lock(const char *dir, struct lt_err *err)
{
	char path[PATH_MAX], pid[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/.metrics.csv.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot open '%s': %s (check --log-dir)", path,
				  strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "another job%s%s writes '%s/metrics.csv': give this run a --log-dir of its own",
				  pid[0] ? ", pid " : "", pid, dir);
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* the pid is only for the message above */
	}
	return fd;
}

static int csv_open(const struct lt_logger_run *run, const struct lt_params *params, void **self,
		    struct lt_err *err)
{
	struct csv *c = calloc(1, sizeof(*c));
	char path[PATH_MAX];
	bool again = run->first_step > 0 || run->restart > 0;

	(void)params;
	if (!c)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	c->lock = take_lock(run->log_dir, err);
	if (c->lock < 0) {
		free(c);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/metrics.csv", run->log_dir);
	c->m = lt_metrics_new(path, again ? run->first_step : -1, err);
	if (!c->m) {
		close(c->lock);
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
	close(c->lock);
	free(c);
	return 0;
}

const struct lt_logger_ops lt_logger_csv = {
	.open = csv_open,
	.log_metrics = csv_log,
	.close = csv_close,
};
