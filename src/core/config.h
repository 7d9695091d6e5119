/*
 * config.h - ltrun's settings (struct lt_config) and the one table of
 * options behind the CLI, the LTRUN_* environment variables and the
 * --config JSON file.
 *
 * Every setting remembers where its value came from.  A value is taken only
 * from a source at least as strong as the one that set it before, so the
 * sources can be read in any order and the precedence is always
 * flag > LTRUN_* variable > config file > default.
 */
#ifndef LT_CORE_CONFIG_H
#define LT_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ltrun/plugin.h"

struct lt_registry;
struct cJSON;

enum lt_source { LT_SRC_DEFAULT, LT_SRC_CONFIG, LT_SRC_ENV, LT_SRC_FLAG };

enum lt_opt_type {
	LT_OPT_NAME,       /* a registry name of opt->kind (or "auto" when allowed) */
	LT_OPT_COUNT_AUTO, /* positive integer or "auto" (LT_AUTO) */
	LT_OPT_INT,        /* integer in [min, max]; LT_AUTO when unset */
	LT_OPT_HOST,       /* host name or address */
	LT_OPT_PATH,       /* any non-empty string */
	LT_OPT_BOOL,       /* flag on the command line; 1/0/true/false elsewhere */
	LT_OPT_LIST,       /* repeatable path; ':'-separated in LTRUN_*; array in JSON */
	LT_OPT_LONG,       /* long in [min, max]; with none_ok also "none" or -1 (stored -1) */
	LT_OPT_FLOAT,      /* finite double in [fmin, fmax], ends excluded when *_open */
	LT_OPT_CHOICE,     /* one of the '|'-separated words of choices ("sgd|adamw") */
};

enum lt_opt_id {
	LT_OPT_STRATEGY,
	LT_OPT_ACCELERATOR,
	LT_OPT_DEVICES,
	LT_OPT_NUM_NODES,
	LT_OPT_NODE_RANK,
	LT_OPT_MAIN_ADDR,
	LT_OPT_MAIN_PORT,
	LT_OPT_PRECISION,
	LT_OPT_CLUSTER,
	LT_OPT_COMM,
	LT_OPT_CKPT_IO,
	LT_OPT_PLUGIN,
	LT_OPT_MAX_RESTARTS,
	LT_OPT_LOG_DIR,
	LT_OPT_TEE,
	LT_OPT_CONFIG,
	LT_OPT_DRY_RUN,
	LT_OPT_JSON,
	LT_OPT_VERBOSE,
	LT_OPT_TERM_TIMEOUT,
	LT_OPT_SIGNALS,
	LT_OPT_NO_SRUN,
	LT_OPT_RDZV,
	LT_OPT_RDZV_TIMEOUT,
	LT_OPT_RDZV_LAST_CALL,
	LT_OPT_RDZV_ENDPOINT,
	/* training (Trainer mode, and lt_optimizer_step() in Fabric mode) */
	LT_OPT_MAX_EPOCHS,
	LT_OPT_MAX_STEPS,
	LT_OPT_BATCH_SIZE,
	LT_OPT_ACCUMULATE,
	LT_OPT_SEED,
	LT_OPT_VAL_EVERY,
	LT_OPT_LOG_EVERY,
	LT_OPT_OPTIMIZER,
	LT_OPT_LR,
	LT_OPT_MOMENTUM,
	LT_OPT_WEIGHT_DECAY,
	LT_OPT_LR_SCHEDULE,
	LT_OPT_WARMUP_STEPS,
	LT_OPT_CLIP_VAL,
	LT_OPT_CLIP_ALGORITHM,
	LT_OPT_BUCKET_MB,
	LT_OPT_CKPT_DIR,
	LT_OPT_CKPT_EVERY,
	LT_OPT_CKPT_KEEP,
	LT_OPT_RESUME,
	LT_OPT_INIT_WEIGHTS,
	LT_OPT_INIT_WEIGHTS_STRICT,
	LT_OPT_ADAM_BETAS,
	LT_OPT_ADAM_EPS,
	LT_OPT_MIN_LR,
	LT_OPT_WEIGHT_DECAY_ON,
	LT_OPT_CHECK_REPLICAS,
	LT_OPT_DEBUG,
	/* launch, again: kept last to ease merges */
	LT_OPT_INSECURE_STORE,
	LT_OPT_PREEMPT_SIGNALS,
	LT_OPT_REQUEUE,
	LT_OPT_HEARTBEAT_INTERVAL,
	LT_OPT_HEARTBEAT_TIMEOUT,
	LT_OPT_TIMEOUT,
	LT_OPT_DEBUG_COLLECTIVES,
	/* launch over ssh (src/launch/ssh.c) and binding (src/launch/bind.c) */
	LT_OPT_HOSTFILE,
	LT_OPT_INCLUDE,
	LT_OPT_EXCLUDE,
	LT_OPT_LAUNCHER_CMD,
	LT_OPT_EXPORT,
	LT_OPT_CPU_BIND,
	LT_OPT_LOGGER,
	LT_OPT_COUNT
};

struct lt_option {
	enum lt_opt_id id;
	const char *name;     /* long option and config key: "max-restarts" */
	const char *env;      /* "LTRUN_MAX_RESTARTS" */
	const char *arg;      /* argument name in --help, NULL for flags */
	enum lt_opt_type type;
	int kind;             /* LT_OPT_NAME only: enum lt_kind */
	bool auto_ok;         /* LT_OPT_NAME: "auto" is accepted */
	long min, max;        /* LT_OPT_INT, LT_OPT_LONG */
	size_t offset;        /* of the field in struct lt_config */
	const char *def;      /* default, as text, for --help and the plan */
	const char *doc;      /* --help text */
	double fmin, fmax;    /* LT_OPT_FLOAT: the range... */
	bool fmin_open, fmax_open; /* ...with these ends excluded */
	const char *choices;  /* LT_OPT_CHOICE: "sgd|adamw" */
	bool none_ok;         /* LT_OPT_LONG: "none" or -1 means no limit */
};

/* The option table, LT_OPT_COUNT entries indexed by enum lt_opt_id. */
extern const struct lt_option lt_options[LT_OPT_COUNT];

/* Returns the option whose long name is `name` ("devices"), or NULL. */
const struct lt_option *lt_option_find(const char *name);
/* Returns the long name closest to `name`, or NULL when none is close. */
const char *lt_option_suggest(const char *name);

struct lt_config {
	char *strategy, *accelerator, *precision, *cluster, *comm, *ckpt_io;
	int devices, num_nodes, node_rank, main_port, max_restarts;
	int term_timeout, rdzv_timeout; /* seconds */
	int min_nodes;                  /* --num-nodes MIN:MAX: MIN (num_nodes is MAX) */
	int rdzv_last_call;             /* seconds */
	char *rdzv_endpoint;            /* --rdzv etcd: HOST:PORT, or NULL */
	char *main_addr, *log_dir, *config_path, *signals, *rdzv;
	bool tee, dry_run, json, verbose, no_srun;
	char **plugins;
	size_t num_plugins;
	/* training */
	int max_epochs;           /* 1..1e6 */
	long max_steps;           /* -1: no limit */
	int batch_size;           /* samples per rank per micro-batch */
	int accumulate;           /* micro-batches per optimizer step */
	long seed;
	int val_every;            /* optimizer steps; 0: at the end of every epoch */
	int log_every;            /* optimizer steps */
	char *optimizer;          /* "sgd", "adamw" or "adamw_gpt" (adamw; its preset is
				   * applied to adam_betas and weight_decay_on) */
	double lr, momentum, weight_decay;
	char *lr_schedule;        /* "constant" or "cosine" */
	int warmup_steps;
	double clip_val;          /* 0: no clipping */
	char *clip_algorithm;     /* "norm" or "value" */
	double bucket_mb;         /* DDP gradient bucket size, MiB */
	char *ckpt_dir;           /* checkpoints' base: a directory or a URL; NULL: none */
	int ckpt_every;           /* save every N steps; 0: at the end only */
	int ckpt_keep;            /* complete checkpoints kept; 0: all */
	char *resume;             /* "last", "auto", a checkpoint path or URL; NULL: start afresh */
	bool insecure_store;      /* run without a secret token source (store_token.c) */
	char *preempt_signals;    /* signals that make every rank save and stop (exit 75) */
	char *requeue;            /* "auto", "on" or "off": node 0 requeues a preempted Slurm job */
	char *init_weights;       /* safetensors file or directory of first values; NULL: none */
	bool init_weights_strict; /* refuse tensors the model does not have */
	char *adam_betas;         /* "B1,B2" as given; the numbers below once checked */
	double adam_beta1, adam_beta2, adam_eps;
	double min_lr;            /* the schedule's floor */
	char *weight_decay_on;    /* "all" or "matrices" (tensors of 2+ dimensions) */
	int check_replicas;       /* compare the ranks' parameters every N steps; 0: never */
	bool debug;               /* the checks of --debug (ltrun(1)) */
	double heartbeat_interval; /* seconds between an agent's keep-alives */
	double heartbeat_timeout;  /* a node not heard from this long is lost */
	int timeout;              /* seconds a collective may wait (--timeout) */
	bool debug_collectives;   /* every rank's collectives compared first */
	char *hostfile;           /* --hostfile: start every host's agent over ssh; NULL: none */
	char *include, *exclude;  /* DeepSpeed's "host1:0,1@host2" filters; NULL: none */
	char *launcher_cmd;       /* the ssh command ("ssh"), split on blanks */
	char *export_vars;        /* --export "NAME[=VALUE],..." for the other hosts; NULL: none */
	char *cpu_bind;           /* "none", "cores", "numa" or "list:SET:SET..." (bind.h) */
	char *logger;             /* "csv,tensorboard:flush_secs=5" (logger/logger.h), or "none" */
	/* The config file's "presets" section as JSON text (NULL: none), and
	 * where it came from; the ranks get it as LTRUN_PRESETS. */
	char *presets;
	enum lt_source presets_source;
	char presets_origin[256];
	enum lt_source source[LT_OPT_COUNT];
	char source_name[LT_OPT_COUNT][80]; /* "--devices", "LTRUN_DEVICES", ... */
};

/* Sets every option to its default.  Returns 0, or -1 with err set. */
int lt_config_init(struct lt_config *cfg, struct lt_err *err);
void lt_config_free(struct lt_config *cfg);

/* Sets option o from text, coming from src; `where` names the input for
 * messages ("--devices", "LTRUN_DEVICES", "'devices' in config file 'x'").
 * A weaker source than the current one is ignored (returns 0).  Returns 0,
 * or -1 with err (usage status) naming `where` and the value; cfg is then
 * unchanged. */
int lt_config_set(struct lt_config *cfg, const struct lt_option *o,
		  const char *text, enum lt_source src, const char *where,
		  struct lt_err *err);

/* Reads every option's LTRUN_* variable from env.  Returns 0 or -1. */
int lt_config_load_env(struct lt_config *cfg, const struct lt_envsrc *env,
		       struct lt_err *err);

/* Reads a JSON config file (an object whose keys are the long option
 * names) of at most 1 MiB.  Returns 0, or -1 with err set: status 1 when
 * the file cannot be read, 2 when its contents are wrong. */
int lt_config_load_file(struct lt_config *cfg, const char *path,
			struct lt_err *err);
/* The same for text already in memory (len bytes, no NUL needed); `path`
 * names it in messages. */
int lt_config_load_text(struct lt_config *cfg, const char *path,
			const char *text, size_t len, struct lt_err *err);

/* The variable that carries the config file's presets to the ranks. */
#define LT_PRESETS_ENV "LTRUN_PRESETS"

/* Checks every plugin name against the registry (after --plugin files are
 * loaded).  Returns 0, or -1 with err naming the option and its source. */
int lt_config_check_names(const struct lt_config *cfg,
			  const struct lt_registry *reg, struct lt_err *err);

/* Checks what one option's value cannot tell alone, once every source is
 * loaded: --signals and --preempt-signals name signals that can be
 * forwarded, --resume last or auto comes with --ckpt-dir, a URL
 * --ckpt-dir or --resume comes with a --ckpt-io other than file, --rdzv
 * file has LTRUN_RDZV_DIR, --heartbeat-timeout is above twice
 * --heartbeat-interval.  Called by
 * cmd/ltrun.c before anything starts and by each rank on the settings the
 * agent exported.  Returns 0, or -1 with err (status 2) naming the option
 * and, where it is not the command line, its source. */
int lt_config_check(const struct lt_config *cfg, struct lt_err *err);

/* Option o's current value as text ("auto", "4", "ddp", "a.so:b.so"),
 * written into buf.  Returns buf. */
const char *lt_config_value(const struct lt_config *cfg,
			    const struct lt_option *o, char *buf, size_t len);

/* Calls setvar(o->env, value, arg) for every option o whose value did not
 * come from its default (value as lt_config_value() writes it, which
 * lt_config_set() reads back), so that rank processes started with those
 * variables see the same settings.  LTRUN_CONFIG itself is skipped: the
 * file's values are passed one by one.  Plugin paths are joined with ':'
 * as LTRUN_PLUGIN wants them.  Returns 0, the first nonzero value setvar
 * returned (stopping there), or -1 when out of memory. */
int lt_config_export(const struct lt_config *cfg,
		     int (*setvar)(const char *name, const char *value, void *arg),
		     void *arg);

/* "default", "config file", "environment" or "command line". */
const char *lt_source_name(enum lt_source src);

#endif
