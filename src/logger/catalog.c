/*
 * catalog.c - the loggers this build has, in the registry (`ltrun --list
 * logger`); --logger picks one or several (logger.h).
 */
#include "core/registry.h"
#include "logger/logger.h"

static const struct lt_param_spec tensorboard_params[] = {
	{ .name = "flush_secs", .type = LT_PARAM_FLOAT, .default_value = "5", .min = 0.001,
	  .max = 86400, .help = "seconds between writes of the buffered events (and at the end): a crash loses at most this much" },
	{ .name = "hparams", .type = LT_PARAM_BOOL, .default_value = "true",
	  .help = "record the run's settings in TensorBoard's HPARAMS tab (they are in the text tab either way)" },
	{ .name = "fsync", .type = LT_PARAM_BOOL, .default_value = "false",
	  .help = "fdatasync the event file at each write, not only at the end" },
	{ 0 }
};

static const struct lt_plugin loggers[] = {
	{
		.kind = LT_KIND_LOGGER,
		.name = "csv",
		.description = "--log-dir/metrics.csv, a row per logging interval or validation (Lightning's CSVLogger).",
		.recommended_when = "always: a file any tool reads (the default)",
		.ops = &lt_logger_csv,
	},
	{
		.kind = LT_KIND_LOGGER,
		.name = "tensorboard",
		.description = "TensorBoard event files in --log-dir: train/ and val/ scalars, the run's settings as text and hparams.",
		.recommended_when = "to watch curves with 'tensorboard --logdir DIR' (Lightning's default logger)",
		.params = tensorboard_params,
		.ops = &lt_logger_tensorboard,
	},
};

int lt_logger_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, loggers, NULL, err);
}
