/*
 * ltrun/logger.h - the logger plugin kind: where a Trainer-mode run's
 * metrics go (Lightning's loggers).  ltrun has `csv` (metrics.csv, as
 * Lightning's CSVLogger) and `tensorboard` (event files TensorBoard reads);
 * `--logger csv,tensorboard` runs several, and a user logger is a
 * `--plugin` .so (examples/plugins/jsonl_logger.c appends JSON lines).
 *
 * Only global rank 0 opens its loggers.  A logger that fails (its
 * directory cannot be written, the disk is full) costs a one-line warning
 * and its own output: training goes on.
 */
#ifndef LTRUN_LOGGER_H
#define LTRUN_LOGGER_H

#include <stdint.h>

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a logger is told when the run starts. */
struct lt_logger_run {
	const char *log_dir;     /* --log-dir: never NULL (no --log-dir, no loggers) */
	const char *host;        /* this host's name */
	const char *run_id;      /* the job's run id (16 hex digits) */
	int world_size;
	int64_t first_step;      /* 0, or the step a resumed run starts after:
				  * what an earlier run logged at later steps
				  * is to be dropped, never shown twice */
	int restart;             /* how often the job was restarted before */
	double wall_time;        /* seconds since the epoch */
	/* The run's settings (flags, variables, config file), for a logger
	 * that records them (TensorBoard's hparams): nconfig name = value. */
	const char *const *config_names;
	const char *const *config_values;
	int nconfig;
};

struct lt_logger_ops {
	/* Starts the logger's output for this run, its state in *self.
	 * params: the values of the plugin's schema.  Returns 0, or -1 with
	 * err (one line naming the file and the fix): the run goes on
	 * without this logger. */
	int (*open)(const struct lt_logger_run *run, const struct lt_params *params, void **self,
		    struct lt_err *err);
	/* One row of metrics: at optimizer step `step` (epoch `epoch`), n
	 * values by name ("loss", "lr", "val_loss", "val_acc", the model's
	 * own), wall_time in seconds since the epoch.  A name starting
	 * "val_" is a validation metric, the others training ones.  Returns
	 * 0, or -1 with err: ltrun warns once and goes on calling. */
	int (*log_metrics)(void *self, int64_t step, int epoch, double wall_time,
			   const char *const *names, const double *values, int n, struct lt_err *err);
	/* Writes everything out and frees self.  Returns 0, or -1 with err
	 * (warned). */
	int (*close)(void *self, struct lt_err *err);
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_LOGGER_H */
