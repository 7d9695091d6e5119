/*
 * tensorboard.c - the `tensorboard` logger: event files in --log-dir that
 * `tensorboard --logdir DIR` shows (tb_event.h writes them).  Training
 * metrics go in as "train/NAME", validation ones ("val_NAME") as
 * "val/NAME"; the run's settings as a text summary and as hparams.  A
 * resumed or restarted run writes a new file that starts with a
 * SessionLog START at its first step, so TensorBoard drops what an
 * earlier run logged from there on and no step shows twice.
 */
#include "logger/logger.h"
#include "logger/tb_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"

struct tb {
	struct lt_tb_writer *w;
	double flush_secs;
	double last_flush;   /* monotonic seconds */
	bool durable;
};

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The run's settings as a Markdown table, for the text summary. */
static char *config_text(const struct lt_logger_run *run)
{
	struct lt_buf b = LT_BUF_INIT;
	int bad = lt_buf_puts(&b, "| setting | value |\n|---|---|\n");

	for (int i = 0; i < run->nconfig && !bad; i++)
		bad = lt_buf_printf(&b, "| %s | `%s` |\n", run->config_names[i],
				    run->config_values[i]);
	if (bad) {
		lt_buf_free(&b);
		return NULL;
	}
	return lt_buf_detach(&b);
}

static int tb_open(const struct lt_logger_run *run, const struct lt_params *params, void **self,
		   struct lt_err *err)
{
	struct tb *t = calloc(1, sizeof(*t));
	char *text;

	if (!t)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	t->flush_secs = lt_params_float(params, "flush_secs");
	t->durable = lt_params_bool(params, "fsync");
	t->w = lt_tb_open(run->log_dir, run->host, run->wall_time, err);
	if (!t->w) {
		free(t);
		return -1;
	}
	/* a run that goes on from first_step: TensorBoard forgets later steps */
	if ((run->first_step > 0 || run->restart > 0) &&
	    lt_tb_session_start(t->w, run->first_step + 1, run->wall_time, err))
		goto fail;
	text = config_text(run);
	if (!text) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		goto fail;
	}
	if (lt_tb_text(t->w, "config", run->first_step, run->wall_time, text, err)) {
		free(text);
		goto fail;
	}
	free(text);
	if (lt_params_bool(params, "hparams") && run->nconfig > 0 &&
	    lt_tb_hparams(t->w, run->config_names, run->config_values, run->nconfig,
			  run->wall_time, err))
		goto fail;
	/* at once: a directory that cannot take the file fails here */
	if (lt_tb_flush(t->w, false, err))
		goto fail;
	t->last_flush = mono_s();
	*self = t;
	return 0;
fail:
	lt_tb_close(t->w);
	free(t);
	return -1;
}

/* "val_loss" -> "val/loss", "loss" -> "train/loss"; a name TensorBoard
 * would not take has its other bytes made '_'.  Returns whether name was
 * taken as it is. */
static bool tag_of(const char *name, char *tag, size_t len)
{
	bool val = !strncmp(name, "val_", 4) && name[4];
	bool ok;

	snprintf(tag, len, "%s/%s", val ? "val" : "train", val ? name + 4 : name);
	ok = lt_tb_tag_valid(tag) && strlen(name) < len - 7;
	if (!ok)
		for (char *c = tag + (val ? 4 : 6); *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-' ||
			      *c == '/'))
				*c = '_';
	return ok;
}

static int tb_log(void *self, int64_t step, int epoch, double wall_time,
		  const char *const *names, const double *values, int n, struct lt_err *err)
{
	struct tb *t = self;
	const char *renamed = NULL;
	char tag[256], first[256] = "";

	(void)epoch;
	for (int i = 0; i < n; i++) {
		if (!tag_of(names[i], tag, sizeof(tag)) && !renamed) {
			renamed = names[i];
			snprintf(first, sizeof(first), "%s", tag);
		}
		if (lt_tb_scalar(t->w, tag, step, wall_time, (float)values[i], err))
			return -1;
	}
	if (mono_s() - t->last_flush >= t->flush_secs) {
		t->last_flush = mono_s();
		if (lt_tb_flush(t->w, t->durable, err))
			return -1;
	}
	if (renamed) {
		char q[LT_QUOTE_MAX];
		return lt_err_set(err, LT_EXIT_USAGE,
				  "metric name '%s' is not a TensorBoard tag (letters, digits, '_', '.', '/', '-'): written as '%s'; rename it in the model",
				  lt_quote(q, sizeof(q), renamed), first);
	}
	return 0;
}

static int tb_close(void *self, struct lt_err *err)
{
	struct tb *t = self;
	int rc = lt_tb_flush(t->w, true, err);

	if (!rc && lt_tb_dropped(t->w))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"%llu records were dropped while '%s' could not be written",
				(unsigned long long)lt_tb_dropped(t->w), lt_tb_path(t->w));
	lt_tb_close(t->w);
	free(t);
	return rc;
}

const struct lt_logger_ops lt_logger_tensorboard = {
	.open = tb_open,
	.log_metrics = tb_log,
	.close = tb_close,
};
