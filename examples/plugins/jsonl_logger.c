/*
 * jsonl_logger.c - an example logger plugin, `jsonl`: every row of
 * metrics as one JSON object on a line of --log-dir/metrics.jsonl (or the
 * parameter `file`), appended:
 *
 *   {"step": 46, "epoch": 1, "time": 1733338123.25, "loss": 1.733, "lr": 0.01}
 *
 * A value that is not finite (NaN, inf) is written as null, as JSON has no
 * such numbers.  Each line goes out in one write(2) with O_APPEND, so two
 * writers never interleave inside a line, and a crash loses at most the
 * line being written.  A resumed run appends after the earlier lines; its
 * first line says where it went on from ({"resumed_after_step": N}), so a
 * reader drops the earlier lines of later steps.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) -o jsonl_logger.so jsonl_logger.c
 *   ltrun --plugin ./jsonl_logger.so --logger csv,jsonl --log-dir logs model.so
 *   ltrun --plugin ./jsonl_logger.so --logger jsonl:file=run.jsonl ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ltrun/logger.h"

struct jsonl {
	int fd;
	char path[4096];
};

/* Appends s to buf as a JSON string (quotes, backslashes and control
 * bytes escaped); returns the new length, or len when it would not fit. */
static size_t put_string(char *buf, size_t len, size_t cap, const char *s)
{
	size_t at = len;

	if (at + 2 >= cap)
		return len;
	buf[at++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (at + 7 >= cap)
			return len;
		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c < 0x20) {
			at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
		} else {
			buf[at++] = (char)c;
		}
	}
	buf[at++] = '"';
	return at;
}

static int write_line(struct jsonl *j, const char *line, size_t n, struct lt_err *err)
{
	ssize_t w = write(j->fd, line, n);

	if (w == (ssize_t)n)
		return 0;
	return lt_err_set(err, 1, "cannot append to '%s': %s", j->path,
			  w < 0 ? strerror(errno) : "short write (disk full?)");
}

static int jsonl_open(const struct lt_logger_run *run, const struct lt_params *params,
		      void **self, struct lt_err *err)
{
	const char *file = lt_params_str(params, "file");
	struct jsonl *j = calloc(1, sizeof(*j));
	char line[128];

	if (!j)
		return lt_err_set(err, 1, "out of memory");
	if (file && file[0] == '/')
		snprintf(j->path, sizeof(j->path), "%s", file);
	else
		snprintf(j->path, sizeof(j->path), "%s/%s", run->log_dir,
			 file ? file : "metrics.jsonl");
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		lt_err_set(err, 1, "cannot open '%s': %s (check --log-dir)", j->path,
			   strerror(errno));
		free(j);
		return -1;
	}
	if (run->first_step > 0 || run->restart > 0) {
		int n = snprintf(line, sizeof(line), "{\"resumed_after_step\": %lld}\n",
				 (long long)run->first_step);
		if (write_line(j, line, (size_t)n, err)) {
			close(j->fd);
			free(j);
			return -1;
		}
	}
	*self = j;
	return 0;
}

static int jsonl_log(void *self, int64_t step, int epoch, double wall_time,
		     const char *const *names, const double *values, int n, struct lt_err *err)
{
	struct jsonl *j = self;
	char line[8192];
	size_t at = (size_t)snprintf(line, sizeof(line), "{\"step\": %lld, \"epoch\": %d, \"time\": %.3f",
				     (long long)step, epoch, wall_time);

	for (int i = 0; i < n; i++) {
		size_t before = at;
		if (at + 4 >= sizeof(line))
			break;
		line[at++] = ',';
		line[at++] = ' ';
		at = put_string(line, at, sizeof(line), names[i]);
		if (at == before + 2 || at + 32 >= sizeof(line)) {
			at = before;
			break;
		}
		if (isfinite(values[i]))
			at += (size_t)snprintf(line + at, sizeof(line) - at, ": %.9g", values[i]);
		else
			at += (size_t)snprintf(line + at, sizeof(line) - at, ": null");
	}
	line[at++] = '}';
	line[at++] = '\n';
	return write_line(j, line, at, err);
}

static int jsonl_close(void *self, struct lt_err *err)
{
	struct jsonl *j = self;
	int rc = 0;

	if (fsync(j->fd) && errno != EINVAL)
		rc = lt_err_set(err, 1, "cannot sync '%s': %s", j->path, strerror(errno));
	close(j->fd);
	free(j);
	return rc;
}

static const struct lt_logger_ops jsonl_ops = {
	.open = jsonl_open,
	.log_metrics = jsonl_log,
	.close = jsonl_close,
};

static const struct lt_param_spec jsonl_params[] = {
	{ .name = "file", .type = LT_PARAM_STRING,
	  .help = "the file: relative to --log-dir, or absolute (default metrics.jsonl)" },
	{ 0 }
};

static const struct lt_plugin jsonl_plugin = {
	.kind = LT_KIND_LOGGER,
	.name = "jsonl",
	.description = "Every row of metrics as a JSON object on a line of --log-dir/metrics.jsonl, appended.",
	.recommended_when = "a tool reads JSON lines (jq, pandas.read_json(lines=True)) (example plugin)",
	.params = jsonl_params,
	.ops = &jsonl_ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &jsonl_plugin, err);
}
