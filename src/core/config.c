/*
 * config.c - the option table and the three ways to set an option: the
 * command line (cmd/ltrun.c calls lt_config_set), LTRUN_* variables and a
 * JSON config file.  Every value is validated here, once, whatever its
 * source, and every message names the source it came from.
 */
#include "core/config.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/registry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1 << 20)
#define MAX_PLUGINS 64

#define OFF(field) offsetof(struct lt_config, field)

const struct lt_option lt_options[LT_OPT_COUNT] = {
	[LT_OPT_STRATEGY] = { LT_OPT_STRATEGY, "strategy", "LTRUN_STRATEGY", "NAME",
		LT_OPT_NAME, LT_KIND_STRATEGY, true, 0, 0, OFF(strategy), "auto",
		"how the model is distributed: auto (single_device for one rank, ddp otherwise) or a name from --list strategy" },
	[LT_OPT_ACCELERATOR] = { LT_OPT_ACCELERATOR, "accelerator", "LTRUN_ACCELERATOR", "NAME",
		LT_OPT_NAME, LT_KIND_ACCELERATOR, true, 0, 0, OFF(accelerator), "auto",
		"where tensors live: auto, or a name from --list accelerator" },
	[LT_OPT_DEVICES] = { LT_OPT_DEVICES, "devices", "LTRUN_DEVICES", "N|auto",
		LT_OPT_COUNT_AUTO, -1, false, 1, 1 << 20, OFF(devices), "auto",
		"ranks per node; auto: what the launcher started, else the accelerator's default (1 on cpu)" },
	[LT_OPT_NUM_NODES] = { LT_OPT_NUM_NODES, "num-nodes", "LTRUN_NUM_NODES", "N|auto",
		LT_OPT_COUNT_AUTO, -1, false, 1, 1 << 20, OFF(num_nodes), "auto",
		"nodes in the job; auto: what the cluster says, else 1" },
	[LT_OPT_NODE_RANK] = { LT_OPT_NODE_RANK, "node-rank", "LTRUN_NODE_RANK", "K",
		LT_OPT_INT, -1, false, 0, (1 << 20) - 1, OFF(node_rank), "auto",
		"this node's index, 0 to nodes-1; default: what the cluster says, else 0" },
	[LT_OPT_MAIN_ADDR] = { LT_OPT_MAIN_ADDR, "main-addr", "LTRUN_MAIN_ADDR", "HOST",
		LT_OPT_HOST, -1, false, 0, 0, OFF(main_addr), NULL,
		"address of node 0, where the rendezvous store runs; default: from the cluster, MASTER_ADDR or this host" },
	[LT_OPT_MAIN_PORT] = { LT_OPT_MAIN_PORT, "main-port", "LTRUN_MAIN_PORT", "PORT",
		LT_OPT_INT, -1, false, 1, 65535, OFF(main_port), NULL,
		"port of the rendezvous store on node 0; default: MASTER_PORT, derived from the job id, or a free port" },
	[LT_OPT_PRECISION] = { LT_OPT_PRECISION, "precision", "LTRUN_PRECISION", "NAME",
		LT_OPT_NAME, LT_KIND_PRECISION, false, 0, 0, OFF(precision), "32-true",
		"compute dtype, master weights and loss scaling: a name from --list precision" },
	[LT_OPT_CLUSTER] = { LT_OPT_CLUSTER, "cluster", "LTRUN_CLUSTER", "NAME",
		LT_OPT_NAME, LT_KIND_CLUSTER, true, 0, 0, OFF(cluster), "auto",
		"cluster environment: auto (detect) or a name from --list cluster" },
	[LT_OPT_COMM] = { LT_OPT_COMM, "comm", "LTRUN_COMM", "NAME",
		LT_OPT_NAME, LT_KIND_COMM, false, 0, 0, OFF(comm), "auto",
		"communicator for collectives: a name from --list comm" },
	[LT_OPT_CKPT_IO] = { LT_OPT_CKPT_IO, "ckpt-io", "LTRUN_CKPT_IO", "NAME",
		LT_OPT_NAME, LT_KIND_CKPT_IO, false, 0, 0, OFF(ckpt_io), "file",
		"how checkpoints are written and read: a name from --list ckpt-io" },
	[LT_OPT_PLUGIN] = { LT_OPT_PLUGIN, "plugin", "LTRUN_PLUGIN", "PATH.so",
		LT_OPT_LIST, -1, false, 0, 0, OFF(plugins), NULL,
		"load a plugin shared object (repeatable; ':'-separated in LTRUN_PLUGIN)" },
	[LT_OPT_MAX_RESTARTS] = { LT_OPT_MAX_RESTARTS, "max-restarts", "LTRUN_MAX_RESTARTS", "N",
		LT_OPT_INT, -1, false, 0, 10000, OFF(max_restarts), "0",
		"restart every rank up to N times after a failure" },
	[LT_OPT_LOG_DIR] = { LT_OPT_LOG_DIR, "log-dir", "LTRUN_LOG_DIR", "DIR",
		LT_OPT_PATH, -1, false, 0, 0, OFF(log_dir), NULL,
		"write each rank's output to DIR/rank-N.{out,err}" },
	[LT_OPT_TEE] = { LT_OPT_TEE, "tee", "LTRUN_TEE", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(tee), "false",
		"with --log-dir, also print the ranks' output on the terminal" },
	[LT_OPT_CONFIG] = { LT_OPT_CONFIG, "config", "LTRUN_CONFIG", "FILE.json",
		LT_OPT_PATH, -1, false, 0, 0, OFF(config_path), NULL,
		"read settings from a JSON object whose keys are these long option names" },
	[LT_OPT_DRY_RUN] = { LT_OPT_DRY_RUN, "dry-run", "LTRUN_DRY_RUN", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(dry_run), "false",
		"print the resolved plan and exit without starting anything" },
	[LT_OPT_JSON] = { LT_OPT_JSON, "json", "LTRUN_JSON", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(json), "false",
		"with --list or --dry-run, print JSON" },
	[LT_OPT_VERBOSE] = { LT_OPT_VERBOSE, "verbose", "LTRUN_VERBOSE", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(verbose), "false",
		"say which cluster environments were probed and why each was taken or skipped" },
	[LT_OPT_TERM_TIMEOUT] = { LT_OPT_TERM_TIMEOUT, "term-timeout", "LTRUN_TERM_TIMEOUT", "SECONDS",
		LT_OPT_INT, -1, false, 0, 86400, OFF(term_timeout), "30",
		"after forwarding a stop signal, wait this long for the ranks (to checkpoint) before SIGKILL" },
	[LT_OPT_SIGNALS] = { LT_OPT_SIGNALS, "signals", "LTRUN_SIGNALS", "LIST",
		LT_OPT_PATH, -1, false, 0, 0, OFF(signals), "INT,TERM,HUP,QUIT,USR1,USR2",
		"signals forwarded to every rank, ','-separated names or numbers" },
	[LT_OPT_NO_SRUN] = { LT_OPT_NO_SRUN, "no-srun", "LTRUN_NO_SRUN", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(no_srun), "false",
		"in a multi-node sbatch script, fail instead of starting one ltrun per node with srun" },
	[LT_OPT_RDZV] = { LT_OPT_RDZV, "rdzv", "LTRUN_RDZV", "NAME",
		LT_OPT_NAME, LT_KIND_RDZV, false, 0, 0, OFF(rdzv), "auto",
		"how ranks meet: tcp (a store hosted by node 0's agent, or by rank 0 of adopted ranks), file (a shared directory, LTRUN_RDZV_DIR), pmix (the launcher's PMIx server); auto: pmix for ranks a PMIx launcher made, else tcp" },
	[LT_OPT_RDZV_TIMEOUT] = { LT_OPT_RDZV_TIMEOUT, "rdzv-timeout", "LTRUN_RDZV_TIMEOUT", "SECONDS",
		LT_OPT_INT, -1, false, 1, 86400, OFF(rdzv_timeout), "300",
		"how long a rank waits for the others at the rendezvous and at barriers" },
	/* training */
	[LT_OPT_MAX_EPOCHS] = { LT_OPT_MAX_EPOCHS, "max-epochs", "LTRUN_MAX_EPOCHS", "N",
		LT_OPT_INT, -1, false, 1, 1000000, OFF(max_epochs), "1",
		"stop after N passes over the training data (or at --max-steps, if sooner)" },
	[LT_OPT_MAX_STEPS] = { LT_OPT_MAX_STEPS, "max-steps", "LTRUN_MAX_STEPS", "N|none",
		LT_OPT_LONG, -1, false, 1, LONG_MAX, OFF(max_steps), "none",
		"stop after N optimizer steps (or at --max-epochs, if sooner); none or -1: no limit",
		.none_ok = true },
	[LT_OPT_BATCH_SIZE] = { LT_OPT_BATCH_SIZE, "batch-size", "LTRUN_BATCH_SIZE", "N",
		LT_OPT_INT, -1, false, 1, 1 << 24, OFF(batch_size), "32",
		"samples per micro-batch on each rank; a step sees N x ranks x --accumulate-grad-batches" },
	[LT_OPT_ACCUMULATE] = { LT_OPT_ACCUMULATE, "accumulate-grad-batches",
		"LTRUN_ACCUMULATE_GRAD_BATCHES", "N",
		LT_OPT_INT, -1, false, 1, 1 << 16, OFF(accumulate), "1",
		"micro-batches summed into each optimizer step; gradients are synchronised on the last only" },
	[LT_OPT_SEED] = { LT_OPT_SEED, "seed", "LTRUN_SEED", "N",
		LT_OPT_LONG, -1, false, 0, LONG_MAX, OFF(seed), "0",
		"seed of the parameters' first values and of every epoch's shuffle (the same on every rank)" },
	[LT_OPT_VAL_EVERY] = { LT_OPT_VAL_EVERY, "val-every-n-steps", "LTRUN_VAL_EVERY_N_STEPS", "N",
		LT_OPT_INT, -1, false, 0, 1 << 30, OFF(val_every), "0",
		"validate every N optimizer steps; 0: at the end of every epoch" },
	[LT_OPT_LOG_EVERY] = { LT_OPT_LOG_EVERY, "log-every-n-steps", "LTRUN_LOG_EVERY_N_STEPS", "N",
		LT_OPT_INT, -1, false, 1, 1 << 30, OFF(log_every), "50",
		"average the training metrics over N steps for metrics.csv and the progress lines" },
	[LT_OPT_OPTIMIZER] = { LT_OPT_OPTIMIZER, "optimizer", "LTRUN_OPTIMIZER", "sgd|adamw",
		LT_OPT_CHOICE, -1, false, 0, 0, OFF(optimizer), "sgd",
		"sgd (with --momentum, as torch.optim.SGD) or adamw (betas 0.9, 0.999, eps 1e-8, as torch.optim.AdamW)",
		.choices = "sgd|adamw" },
	[LT_OPT_LR] = { LT_OPT_LR, "lr", "LTRUN_LR", "X",
		LT_OPT_FLOAT, -1, false, 0, 0, OFF(lr), "0.01",
		"learning rate (after the warmup, before the schedule's decay)",
		.fmin = 0, .fmax = INFINITY, .fmin_open = true, .fmax_open = true },
	[LT_OPT_MOMENTUM] = { LT_OPT_MOMENTUM, "momentum", "LTRUN_MOMENTUM", "X",
		LT_OPT_FLOAT, -1, false, 0, 0, OFF(momentum), "0.9",
		"sgd's momentum, from 0 (plain SGD) to below 1",
		.fmin = 0, .fmax = 1, .fmax_open = true },
	[LT_OPT_WEIGHT_DECAY] = { LT_OPT_WEIGHT_DECAY, "weight-decay", "LTRUN_WEIGHT_DECAY", "X",
		LT_OPT_FLOAT, -1, false, 0, 0, OFF(weight_decay), "0",
		"sgd: X x param added to the gradient; adamw: decoupled, param *= 1 - lr x X",
		.fmin = 0, .fmax = INFINITY, .fmax_open = true },
	[LT_OPT_LR_SCHEDULE] = { LT_OPT_LR_SCHEDULE, "lr-schedule", "LTRUN_LR_SCHEDULE", "constant|cosine",
		LT_OPT_CHOICE, -1, false, 0, 0, OFF(lr_schedule), "constant",
		"after the warmup: constant, or cosine decay to 0 at the last step",
		.choices = "constant|cosine" },
	[LT_OPT_WARMUP_STEPS] = { LT_OPT_WARMUP_STEPS, "warmup-steps", "LTRUN_WARMUP_STEPS", "N",
		LT_OPT_INT, -1, false, 0, 1 << 30, OFF(warmup_steps), "0",
		"raise the learning rate linearly to --lr over the first N optimizer steps" },
	[LT_OPT_CLIP_VAL] = { LT_OPT_CLIP_VAL, "gradient-clip-val", "LTRUN_GRADIENT_CLIP_VAL", "X",
		LT_OPT_FLOAT, -1, false, 0, 0, OFF(clip_val), "0",
		"clip the gradients at X before each step (see --gradient-clip-algorithm); 0: no clipping",
		.fmin = 0, .fmax = INFINITY, .fmax_open = true },
	[LT_OPT_CLIP_ALGORITHM] = { LT_OPT_CLIP_ALGORITHM, "gradient-clip-algorithm",
		"LTRUN_GRADIENT_CLIP_ALGORITHM", "norm|value",
		LT_OPT_CHOICE, -1, false, 0, 0, OFF(clip_algorithm), "norm",
		"norm: scale every gradient so that their global L2 norm is at most X; value: clamp each element to [-X, X]",
		.choices = "norm|value" },
	[LT_OPT_BUCKET_MB] = { LT_OPT_BUCKET_MB, "bucket-mb", "LTRUN_BUCKET_MB", "X",
		LT_OPT_FLOAT, -1, false, 0, 0, OFF(bucket_mb), "25",
		"size in MiB of the gradient buckets that ddp all-reduces while backward runs",
		.fmin = 0, .fmax = 4096, .fmin_open = true },
	[LT_OPT_CKPT_DIR] = { LT_OPT_CKPT_DIR, "ckpt-dir", "LTRUN_CKPT_DIR", "DIR|URL",
		LT_OPT_PATH, -1, false, 0, 0, OFF(ckpt_dir), NULL,
		"save checkpoints under DIR (or an http(s) URL with --ckpt-io http): DIR/step-N/, DIR/last names the newest complete one; rank 0 saves at the end of every epoch and of the run; one run at a time per DIR (DIR/.lock)" },
	[LT_OPT_CKPT_EVERY] = { LT_OPT_CKPT_EVERY, "ckpt-every-n-steps", "LTRUN_CKPT_EVERY_N_STEPS", "N",
		LT_OPT_INT, -1, false, 0, 1 << 30, OFF(ckpt_every), "0",
		"with --ckpt-dir, also save every N optimizer steps; default 0: only at the end of each epoch and of the run (and when stopped by SIGTERM or SIGUSR1)" },
	[LT_OPT_CKPT_KEEP] = { LT_OPT_CKPT_KEEP, "ckpt-keep", "LTRUN_CKPT_KEEP", "K",
		LT_OPT_INT, -1, false, 0, 1 << 20, OFF(ckpt_keep), "1",
		"keep the newest K complete checkpoints, deleting older ones only once a newer one is complete; default 1: the last one (as Lightning's ModelCheckpoint); 0: keep all" },
	[LT_OPT_RESUME] = { LT_OPT_RESUME, "resume", "LTRUN_RESUME", "last|PATH|URL",
		LT_OPT_PATH, -1, false, 0, 0, OFF(resume), NULL,
		"resume from a checkpoint: last (the newest under --ckpt-dir), a step directory or model.safetensors, or a URL" },
	[LT_OPT_INSECURE_STORE] = { LT_OPT_INSECURE_STORE, "insecure-store", "LTRUN_INSECURE_STORE", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(insecure_store), "false",
		"on several nodes without LTRUN_STORE_TOKEN, PMIx or a usable secret file, run anyway with a store token that anyone who sees the job can compute (see SECURITY in ltrun(1))" },
};

const struct lt_option *lt_option_find(const char *name)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++)
		if (!strcmp(lt_options[i].name, name))
			return &lt_options[i];
	return NULL;
}

const char *lt_option_suggest(const char *name)
{
	const char *best = NULL;
	int i, best_d = 4;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		int d = lt_edit_distance(name, lt_options[i].name);
		if (d < best_d) {
			best_d = d;
			best = lt_options[i].name;
		}
	}
	return best;
}

const char *lt_source_name(enum lt_source src)
{
	switch (src) {
	case LT_SRC_DEFAULT: return "default";
	case LT_SRC_CONFIG: return "config file";
	case LT_SRC_ENV: return "environment";
	case LT_SRC_FLAG: return "command line";
	}
	return "?";
}

static void *field(struct lt_config *cfg, const struct lt_option *o)
{
	return (char *)cfg + o->offset;
}

static const void *cfield(const struct lt_config *cfg, const struct lt_option *o)
{
	return (const char *)cfg + o->offset;
}

static void free_plugins(struct lt_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->num_plugins; i++)
		free(cfg->plugins[i]);
	free(cfg->plugins);
	cfg->plugins = NULL;
	cfg->num_plugins = 0;
}

/* Appends each ':'-separated path of text (a single path when split is
 * false) to cfg->plugins.  On failure cfg->plugins is unchanged. */
static int add_plugins(struct lt_config *cfg, const char *text, bool split,
		       const char *where, struct lt_err *err)
{
	size_t old = cfg->num_plugins, n = old;
	const char *p = text;
	bool too_many = false;
	char **grown;

	grown = realloc(cfg->plugins, MAX_PLUGINS * sizeof(*grown));
	if (!grown)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	cfg->plugins = grown;
	for (;;) {
		size_t len = split ? strcspn(p, ":") : strlen(p);

		too_many = n == MAX_PLUGINS;
		if (len == 0 || too_many)
			goto out_undo;
		grown[n] = strndup(p, len);
		if (!grown[n])
			goto out_undo;
		n++;
		p += len;
		if (!*p)
			break;
		p++; /* the ':' */
	}
	cfg->num_plugins = n;
	return 0;
out_undo:
	while (n > old)
		free(grown[--n]);
	if (too_many)
		return lt_err_set(err, LT_EXIT_USAGE, "too many plugins in %s: at most %d",
				  where, MAX_PLUGINS);
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: an empty plugin path; give PATH.so%s",
			  where, split ? " (several separated by ':')" : "");
}

static bool is_string_type(enum lt_opt_type t)
{
	return t == LT_OPT_NAME || t == LT_OPT_HOST || t == LT_OPT_PATH || t == LT_OPT_CHOICE;
}

/* A parsed option value: l for integers and booleans, d for floats. */
union opt_value {
	long l;
	double d;
};

/* Parses a finite decimal number, wholly: no blanks, no "inf", no hex.
 * Returns 0 and sets *out, or -1. */
static int parse_double(const char *text, double *out)
{
	char *end;
	double d;

	if (!*text || strspn(text, "0123456789+-.eE") != strlen(text))
		return -1;
	errno = 0;
	d = strtod(text, &end);
	if (*end || errno == ERANGE || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* "a number > 0", "a number >= 0 and < 1": o's range in words, into buf. */
static const char *float_range(const struct lt_option *o, char *buf, size_t len)
{
	int n = snprintf(buf, len, "a number");

	if (isfinite(o->fmin))
		n += snprintf(buf + n, len - (size_t)n, " %s %g", o->fmin_open ? ">" : ">=", o->fmin);
	if (isfinite(o->fmax))
		snprintf(buf + n, len - (size_t)n, "%s %s %g", isfinite(o->fmin) ? " and" : "",
			 o->fmax_open ? "<" : "<=", o->fmax);
	return buf;
}

static int check_float(const struct lt_option *o, const char *text, const char *where,
		       const char *q, double *out, struct lt_err *err)
{
	char range[96];
	double d;

	if (parse_double(text, &d) || d < o->fmin || (o->fmin_open && d == o->fmin) ||
	    d > o->fmax || (o->fmax_open && d == o->fmax))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s", where, q,
				  float_range(o, range, sizeof(range)));
	*out = d;
	return 0;
}

/* The choices of o as "sgd or adamw" ("a, b or c"), into buf. */
static const char *choice_list(const struct lt_option *o, char *buf, size_t len)
{
	const char *p = o->choices, *bar;
	size_t n = 0;

	buf[0] = '\0';
	while (n < len) {
		size_t w = strcspn(p, "|");
		bar = p[w] ? p + w : NULL;
		n += (size_t)snprintf(buf + n, len - n, "%s%.*s", p == o->choices ? "" :
				      bar ? ", " : " or ", (int)w, p);
		if (!bar)
			break;
		p = bar + 1;
	}
	return buf;
}

/* Checks text against o's '|'-separated choices; a near miss ("adam",
 * "SGD") gets a did-you-mean. */
static int check_choice(const struct lt_option *o, const char *text, const char *where,
			const char *q, struct lt_err *err)
{
	const char *p = o->choices, *best = NULL;
	char word[64], list[256];
	int best_d = 3;

	for (;;) {
		size_t w = strcspn(p, "|");
		int d;

		snprintf(word, sizeof(word), "%.*s", (int)w, p);
		if (!strcmp(word, text))
			return 0;
		d = strcasecmp(word, text) ? lt_edit_distance(word, text) : 0;
		if (d < best_d && (size_t)d < w) {
			best_d = d;
			best = p;
		}
		if (!p[w])
			break;
		p += w + 1;
	}
	choice_list(o, list, sizeof(list));
	if (best)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s; did you mean '%.*s'?",
				  where, q, list, (int)strcspn(best, "|"), best);
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s", where, q, list);
}

static int check_long(const struct lt_option *o, const char *text, const char *where,
		      const char *q, long *out, struct lt_err *err)
{
	if (o->none_ok && (!strcmp(text, "none") || !strcmp(text, "-1"))) {
		*out = -1;
		return 0;
	}
	if (lt_parse_long(text, o->min, o->max, out))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': expected a whole number from %ld to %ld%s",
				  where, q, o->min, o->max, o->none_ok ? ", or none (-1) for no limit" : "");
	return 0;
}

/* The form of a plugin choice: NAME or NAME:KEY=VALUE,... (the inline
 * form); lt_config_check_names() checks the name and the parameters
 * against the registry once the plugins are loaded. */
static int check_name_form(const struct lt_option *o, const char *text, const char *where,
			   const char *q, struct lt_err *err)
{
	size_t n = strcspn(text, ":");

	if (n == 0 || strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': a %s name has only a-z 0-9 . _ -, optionally followed by :KEY=VALUE,... (see 'ltrun --list %s')",
				  where, q, lt_kind_name(o->kind), lt_kind_name(o->kind));
	if (text[n] == ':' && !strchr(text + n, '='))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': after ':' come KEY=VALUE parameters separated by ',' (see 'ltrun --list %s')",
				  where, q, lt_kind_name(o->kind));
	return 0;
}

/* Checks a string option's text (not empty, not huge, the right characters). */
static int check_string(const struct lt_option *o, const char *text, const char *where,
			const char *q, struct lt_err *err)
{
	if (!*text)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: the value is empty", where);
	if (strlen(text) > 4096)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': longer than 4096 bytes",
				  where, q);
	if (o->type == LT_OPT_NAME && check_name_form(o, text, where, q, err))
		return -1;
	if (o->type == LT_OPT_HOST && !lt_valid_host(text))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': expected a host name or IP address", where, q);
	if (o->type == LT_OPT_CHOICE)
		return check_choice(o, text, where, q, err);
	return 0;
}

/* Parses text for option o into *val (numbers, booleans) or checks it
 * (strings).  Returns 0, or -1 with err naming where. */
static int parse_value(const struct lt_option *o, const char *text,
		       const char *where, union opt_value *val, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	bool b;

	lt_quote(q, sizeof(q), text);
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
		if (!strcmp(text, "auto")) {
			val->l = LT_AUTO;
			return 0;
		}
		if (lt_parse_long(text, o->min, o->max, &val->l))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld, or 'auto'",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_INT:
		if (lt_parse_long(text, o->min, o->max, &val->l))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_LONG:
		return check_long(o, text, where, q, &val->l, err);
	case LT_OPT_FLOAT:
		return check_float(o, text, where, q, &val->d, err);
	case LT_OPT_BOOL:
		if (lt_parse_bool(text, &b))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected 1, 0, true, false, yes, no, on or off",
					  where, q);
		val->l = b;
		return 0;
	case LT_OPT_NAME:
	case LT_OPT_HOST:
	case LT_OPT_PATH:
	case LT_OPT_LIST:
	case LT_OPT_CHOICE:
		return check_string(o, text, where, q, err);
	}
	return 0;
}

/* Replaces the plugin list with, or (same source) appends to it, text's paths. */
static int set_list(struct lt_config *cfg, const struct lt_option *o, const char *text,
		    enum lt_source src, const char *where, struct lt_err *err)
{
	/* Lists accumulate within one source; a stronger source replaces.
	 * Only an LTRUN_* variable packs several, with ':'. */
	size_t kept = cfg->num_plugins, i;

	if (add_plugins(cfg, text, src == LT_SRC_ENV, where, err))
		return -1;
	if (src > cfg->source[o->id] && kept) {
		for (i = 0; i < kept; i++)
			free(cfg->plugins[i]);
		cfg->num_plugins -= kept;
		memmove(cfg->plugins, cfg->plugins + kept,
			cfg->num_plugins * sizeof(*cfg->plugins));
	}
	return 0;
}

int lt_config_set(struct lt_config *cfg, const struct lt_option *o,
		  const char *text, enum lt_source src, const char *where,
		  struct lt_err *err)
{
	union opt_value val = { 0 };
	char *copy;

	if (!text)
		text = "";
	if (src < cfg->source[o->id])
		return 0;
	if (parse_value(o, text, where, &val, err))
		return -1;
	if (o->type == LT_OPT_LIST) {
		if (set_list(cfg, o, text, src, where, err))
			return -1;
	} else if (o->type == LT_OPT_BOOL) {
		*(bool *)field(cfg, o) = val.l;
	} else if (o->type == LT_OPT_INT || o->type == LT_OPT_COUNT_AUTO) {
		*(int *)field(cfg, o) = (int)val.l;
	} else if (o->type == LT_OPT_LONG) {
		*(long *)field(cfg, o) = val.l;
	} else if (o->type == LT_OPT_FLOAT) {
		*(double *)field(cfg, o) = val.d;
	} else {
		copy = strdup(text);
		if (!copy)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		free(*(char **)field(cfg, o));
		*(char **)field(cfg, o) = copy;
	}
	cfg->source[o->id] = src;
	snprintf(cfg->source_name[o->id], sizeof(cfg->source_name[o->id]), "%s", where);
	return 0;
}

int lt_config_init(struct lt_config *cfg, struct lt_err *err)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->devices = cfg->num_nodes = cfg->node_rank = LT_AUTO;
	cfg->main_port = 0;
	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		bool numeric_default = o->type == LT_OPT_COUNT_AUTO ||
				       (o->type == LT_OPT_INT && o->def && !strcmp(o->def, "auto"));
		if (o->def && !numeric_default &&
		    lt_config_set(cfg, o, o->def, LT_SRC_DEFAULT, "default", err))
			goto out_free;
		snprintf(cfg->source_name[i], sizeof(cfg->source_name[i]), "default");
	}
	return 0;
out_free:
	lt_config_free(cfg);
	return -1;
}

void lt_config_free(struct lt_config *cfg)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		if (is_string_type(o->type)) {
			free(*(char **)field(cfg, o));
			*(char **)field(cfg, o) = NULL;
		}
	}
	free_plugins(cfg);
	free(cfg->presets);
	cfg->presets = NULL;
}

/* ------------------------------------------------------------ presets */

/* Keeps a "presets" section (JSON text) from src, unless a stronger source
 * set it already; the registry checks it (lt_registry_add_presets_json). */
static int set_presets(struct lt_config *cfg, const char *json, enum lt_source src,
		       const char *origin, struct lt_err *err)
{
	char *copy;

	if (cfg->presets && src < cfg->presets_source)
		return 0;
	copy = strdup(json);
	if (!copy)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	free(cfg->presets);
	cfg->presets = copy;
	cfg->presets_source = src;
	snprintf(cfg->presets_origin, sizeof(cfg->presets_origin), "%s", origin);
	return 0;
}

/* LTRUN_PRESETS: the presets of the launcher's config file, as the ranks
 * get them (lt_config_export). */
static int load_presets_env(struct lt_config *cfg, const struct lt_envsrc *env,
			    struct lt_err *err)
{
	const char *v = lt_env_get(env, LT_PRESETS_ENV);

	return v ? set_presets(cfg, v, LT_SRC_ENV, LT_PRESETS_ENV, err) : 0;
}

static const char *json_type_name(const cJSON *v);

/* The "presets" key of a config file: an object of objects, kept as text. */
static int load_presets(struct lt_config *cfg, const char *path, const cJSON *item,
			struct lt_err *err)
{
	char pq[LT_QUOTE_MAX], *text;
	int rc;

	lt_quote(pq, sizeof(pq), path);
	if (!cJSON_IsObject(item))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid 'presets' in config file '%s': expected an object such as {\"strategy\": {\"ddp_big\": {\"base\": \"ddp\", \"bucket_mb\": 100}}}, got %s",
				  pq, json_type_name(item));
	text = cJSON_PrintUnformatted(item);
	if (!text)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	rc = set_presets(cfg, text, LT_SRC_CONFIG, path, err);
	free(text);
	return rc;
}

int lt_config_load_env(struct lt_config *cfg, const struct lt_envsrc *env,
		       struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *v = lt_env_get(env, o->env);
		char where[80];

		if (!v)
			continue;
		snprintf(where, sizeof(where), "%s", o->env);
		if (lt_config_set(cfg, o, v, LT_SRC_ENV, where, err))
			return -1;
	}
	return load_presets_env(cfg, env, err);
}

/* ---------------------------------------------------------- config file */

/* Line number of position pos in text (1-based). */
static int line_of(const char *text, size_t len, size_t pos)
{
	int line = 1;
	size_t i;

	for (i = 0; i < pos && i < len; i++)
		line += text[i] == '\n';
	return line;
}

/* True when the JSON text up to and including pos opens more than
 * CJSON_NESTING_LIMIT arrays or objects at once (outside strings): cJSON
 * stops there and reports only where. */
static bool nested_too_deep(const char *text, size_t len, size_t pos)
{
	size_t i, depth = 0;
	bool in_string = false;

	for (i = 0; i <= pos && i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CJSON_NESTING_LIMIT)
				return true;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return false;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "something else";
}

static const char *expected_json(const struct lt_option *o)
{
	switch (o->type) {
	case LT_OPT_COUNT_AUTO: return "a whole number or \"auto\"";
	case LT_OPT_INT: return "a whole number";
	case LT_OPT_LONG: return o->none_ok ? "a whole number or \"none\"" : "a whole number";
	case LT_OPT_FLOAT: return "a number";
	case LT_OPT_BOOL: return "true or false";
	case LT_OPT_LIST: return "an array of paths";
	default: return "a string";
	}
}

static bool is_numeric(enum lt_opt_type t)
{
	return t == LT_OPT_COUNT_AUTO || t == LT_OPT_INT || t == LT_OPT_LONG || t == LT_OPT_FLOAT;
}

/* A JSON number as option text: whole numbers for integer options (up to
 * 2^53 for longs: a double holds no more exactly), any for floats. */
static int json_number_text(const struct lt_option *o, double d, const char *where,
			    char *buf, size_t len, struct lt_err *err)
{
	double lim = o->type == LT_OPT_LONG ? 9007199254740992.0 : 1e9;

	if (o->type == LT_OPT_FLOAT) {
		snprintf(buf, len, "%.17g", d);
		return 0;
	}
	if (!(d >= -lim && d <= lim) || d != (double)(long)d)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s %g: expected %s%s", where, d,
				  expected_json(o), o->type == LT_OPT_LONG ?
				  " (a string such as \"9223372036854775807\" beyond 2^53)" : "");
	snprintf(buf, len, "%ld", (long)d);
	return 0;
}

/* Whether a JSON string is acceptable text for o: strings for string
 * options, "auto" for counts, any string for longs (seeds beyond 2^53,
 * "none"), parsed later like a flag's text. */
static bool json_string_ok(const struct lt_option *o, const char *s)
{
	if (o->type == LT_OPT_COUNT_AUTO)
		return !strcmp(s, "auto");
	if (o->type == LT_OPT_LONG)
		return true;
	return !is_numeric(o->type) && o->type != LT_OPT_BOOL;
}

/* Converts one JSON value to option text in buf, or fails with a message
 * saying which type was expected. */
static int json_to_text(const struct lt_option *o, const cJSON *v,
			const char *where, char *buf, size_t len,
			struct lt_err *err)
{
	if (is_numeric(o->type) && cJSON_IsNumber(v))
		return json_number_text(o, v->valuedouble, where, buf, len, err);
	if (o->type == LT_OPT_BOOL && cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return 0;
	}
	if (cJSON_IsString(v) && json_string_ok(o, v->valuestring)) {
		snprintf(buf, len, "%s", v->valuestring);
		if (strlen(v->valuestring) >= len)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: longer than %zu bytes",
					  where, len - 1);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s", where,
			  expected_json(o), json_type_name(v));
}

static int load_key(struct lt_config *cfg, const char *path, const cJSON *item,
		    struct lt_err *err)
{
	const struct lt_option *o = lt_option_find(item->string);
	char where[160], q[LT_QUOTE_MAX], pq[LT_QUOTE_MAX], text[4097];
	const cJSON *el;

	lt_quote(pq, sizeof(pq), path);
	if (!o || o->id == LT_OPT_CONFIG) {
		const char *hint = o ? NULL : lt_option_suggest(item->string);
		lt_quote(q, sizeof(q), item->string);
		if (hint)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "unknown key '%s' in config file '%s'; did you mean '%s'?",
					  q, pq, hint);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "unknown key '%s' in config file '%s' (keys are the long option names: see ltrun --help)",
				  q, pq);
	}
	snprintf(where, sizeof(where), "'%s' in config file '%s'", o->name, pq);
	if (o->type != LT_OPT_LIST || !cJSON_IsArray(item)) {
		if (o->type == LT_OPT_LIST && !cJSON_IsString(item))
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s",
					  where, expected_json(o), json_type_name(item));
		if (json_to_text(o, item, where, text, sizeof(text), err))
			return -1;
		return lt_config_set(cfg, o, text, LT_SRC_CONFIG, where, err);
	}
	cJSON_ArrayForEach(el, item) {
		/* One element at a time: a ':' inside a JSON path is not a separator. */
		if (!cJSON_IsString(el))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s: every element must be a path string, got %s",
					  where, json_type_name(el));
		if (lt_config_set(cfg, o, el->valuestring, LT_SRC_CONFIG, where, err))
			return -1;
	}
	return 0;
}

int lt_config_load_text(struct lt_config *cfg, const char *path,
			const char *text, size_t len, struct lt_err *err)
{
	const char *end = NULL;
	char pq[LT_QUOTE_MAX];
	cJSON *root, *item;
	int rc = 0;

	lt_quote(pq, sizeof(pq), path);
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		const char *ep = cJSON_GetErrorPtr();
		end = ep && ep >= text && ep <= text + len ? ep : end;
	} else {
		/* Text after the object ("{...} x") is a mistake, not a comment. */
		while (end && end < text + len && *end && strchr(" \t\r\n", *end))
			end++;
		if (end && end < text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root && end && nested_too_deep(text, len, (size_t)(end - text)))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' is nested deeper than %d levels (line %d): a config file is one object of settings",
				  pq, CJSON_NESTING_LIMIT, line_of(text, len, (size_t)(end - text)));
	if (!root)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' is not valid JSON (line %d): fix the syntax there",
				  pq, line_of(text, len, end ? (size_t)(end - text) : 0));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' must hold a JSON object such as {\"devices\": 4}, not %s",
				  pq, json_type_name(root));
	}
	cJSON_ArrayForEach(item, root) {
		rc = !strcmp(item->string, "presets") ? load_presets(cfg, path, item, err)
						       : load_key(cfg, path, item, err);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

int lt_config_load_file(struct lt_config *cfg, const char *path,
			struct lt_err *err)
{
	char pq[LT_QUOTE_MAX], *buf;
	size_t len;
	FILE *f;
	int rc;

	lt_quote(pq, sizeof(pq), path);
	f = fopen(path, "rb");
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				  pq, strerror(errno));
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				pq, strerror(errno));
	} else if (len > CONFIG_MAX_BYTES) {
		rc = lt_err_set(err, LT_EXIT_USAGE,
				"config file '%s' is larger than 1 MiB: is it the right file?", pq);
	} else {
		rc = lt_config_load_text(cfg, path, buf, len, err);
	}
	free(buf);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------ checking */

int lt_config_check_names(const struct lt_config *cfg,
			  const struct lt_registry *reg, struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *name;
		struct lt_choice c;

		if (o->type != LT_OPT_NAME)
			continue;
		name = *(char *const *)cfield(cfg, o);
		if (o->auto_ok && !strcmp(name, "auto"))
			continue;
		/* the name and its inline parameters, as the ranks will resolve them */
		if (!lt_registry_resolve(reg, (enum lt_kind)o->kind, name, &c, err)) {
			lt_choice_free(&c);
		} else {
			if (cfg->source[i] != LT_SRC_FLAG) {
				size_t n = strlen(err->msg);
				snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)",
					 cfg->source_name[i]);
			}
			return -1;
		}
	}
	return 0;
}

/* The shortest text of d that reads back as d ("0.01", not 0.01000...02). */
static void format_double(double d, char *buf, size_t len)
{
	int prec;

	for (prec = 6; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, len, "%.17g", d);
}

const char *lt_config_value(const struct lt_config *cfg,
			    const struct lt_option *o, char *buf, size_t len)
{
	const void *f = cfield(cfg, o);
	size_t i, n = 0;

	buf[0] = '\0';
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
	case LT_OPT_INT:
		if (*(const int *)f == LT_AUTO || (o->id == LT_OPT_MAIN_PORT && !*(const int *)f))
			snprintf(buf, len, "%s", o->def ? o->def : "");
		else
			snprintf(buf, len, "%d", *(const int *)f);
		break;
	case LT_OPT_LONG:
		if (o->none_ok && *(const long *)f == -1)
			snprintf(buf, len, "none");
		else
			snprintf(buf, len, "%ld", *(const long *)f);
		break;
	case LT_OPT_FLOAT:
		format_double(*(const double *)f, buf, len);
		break;
	case LT_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
		break;
	case LT_OPT_LIST:
		for (i = 0; i < cfg->num_plugins && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ":" : "",
					      cfg->plugins[i]);
		break;
	default:
		snprintf(buf, len, "%s", *(char *const *)f ? *(char *const *)f : "");
	}
	return buf;
}

/* Room for the text of o's value: the plugin list can be long. */
static size_t value_room(const struct lt_config *cfg, const struct lt_option *o)
{
	size_t i, n = 64;

	if (o->type == LT_OPT_LIST)
		for (i = 0; i < cfg->num_plugins; i++)
			n += strlen(cfg->plugins[i]) + 1;
	else if (is_string_type(o->type) && *(char *const *)cfield(cfg, o))
		n += strlen(*(char *const *)cfield(cfg, o));
	return n;
}

int lt_config_export(const struct lt_config *cfg,
		     int (*setvar)(const char *name, const char *value, void *arg),
		     void *arg)
{
	int i, rc = 0;

	for (i = 0; i < LT_OPT_COUNT && !rc; i++) {
		const struct lt_option *o = &lt_options[i];
		size_t room;
		char *buf;

		if (cfg->source[i] == LT_SRC_DEFAULT || o->id == LT_OPT_CONFIG)
			continue;
		room = value_room(cfg, o);
		buf = malloc(room);
		if (!buf)
			return -1;
		rc = setvar(o->env, lt_config_value(cfg, o, buf, room), arg);
		free(buf);
	}
	if (!rc && cfg->presets)
		rc = setvar(LT_PRESETS_ENV, cfg->presets, arg);
	return rc;
}
