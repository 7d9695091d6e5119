/*
 * ltrun.c - the command line: argp options built from the one option table
 * (src/core/config.c), then LTRUN_* variables and the --config file, the
 * registry with --plugin files, and the plan.
 *
 *   ltrun [OPTIONS] MODEL.so [-- MODEL_ARGS]
 *   ltrun ckpt inspect PATH [--json]     list a checkpoint's tensors and metadata
 *   ltrun ckpt verify PATH               check every tensor's checksum
 *   ltrun ckpt export PATH OUT.safetensors [--dtype D] [--force]
 *   ltrun ckpt consolidate PATH OUT.safetensors [--force]  the f32 parameters
 *     of a checkpoint, whole or sharded, in one file
 *                                        the parameters alone, for --init-weights
 *     (all: [--plugin SO]... [--ckpt-io NAME] read through that IO)
 *
 * Exit statuses: 0 success, 1 failure (the cluster's environment, a plugin,
 * a file), 2 usage (a flag, an LTRUN_* variable, the config file), 3
 * stopped by a signal after every rank saved a checkpoint.
 */
#include "ckpt/export.h"
#include "ckpt/inspect.h"
#include "ckpt/lock.h"
#include "core/built.h"
#include "core/config.h"
#include "core/error.h"
#include "core/registry.h"
#include "env/env.h"
#include "launch/agent.h"
#include "launch/elastic.h"
#include "launch/plan.h"
#include "logger/logger.h"
#include "launch/remote.h"
#include "launch/ssh.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"
#include "trainer/checkpoint.h"
#include "trainer/init_weights.h"
#include "ltrun.h"

#include <argp.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	KEY_OPTION_BASE = 0x100, /* + enum lt_opt_id */
	KEY_LIST = 0x200,
	KEY_HELP = 'h',
	KEY_USAGE = 0x201,
	KEY_VERSION = 'V',
};

struct cli {
	struct lt_config cfg;
	struct lt_err err;
	bool list;
	const char *list_kind;
	const char *model;     /* lt_so_path() of the argument, in model_path */
	char model_path[PATH_MAX];
	char **model_argv;
	int model_argc;
};

static const char doc[] =
	"ltrun -- launch and run a native training program on one node or many"
	"\v"
	"Every option also reads LTRUN_<NAME> (--num-nodes: LTRUN_NUM_NODES); a flag "
	"beats the variable, which beats the --config file, which beats the default. "
	"A plugin option takes parameters inline: --strategy ddp:bucket_mb=100 "
	"(ltrun --list shows them). Plugins load from LTRUN_PLUGIN_PATH, "
	LT_PLUGIN_DIR " and --plugin. "
	"See ltrun(1) for PLUGINS, the cluster environments and the exit statuses "
	"(3: stopped by a signal, checkpoint saved).";

static struct argp_option *build_options(void)
{
	static struct argp_option opts[LT_OPT_COUNT + 7];
	int i, n = 0;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		if (o->id == LT_OPT_MAX_EPOCHS) /* the training options have a heading */
			opts[n++] = (struct argp_option){ .doc = "Training (Trainer mode; see TRAINING in ltrun(1)):",
							  .group = 2 };
		opts[n++] = (struct argp_option){
			.name = o->name,
			.key = KEY_OPTION_BASE + (int)o->id,
			.arg = o->arg,
			.doc = o->doc,
			.group = o->id >= LT_OPT_MAX_EPOCHS && o->id <= LT_OPT_RESUME ? 2 : 1,
		};
	}
	opts[n++] = (struct argp_option){ "list", KEY_LIST, "KIND", OPTION_ARG_OPTIONAL,
		"list the plugins and presets of every kind (or of KIND: strategy, precision, ckpt-io, cluster, comm, accelerator, rdzv, logger) with their parameters and origin, and exit", 3 };
	opts[n++] = (struct argp_option){ "help", KEY_HELP, NULL, 0, "give this help list", 4 };
	opts[n++] = (struct argp_option){ "usage", KEY_USAGE, NULL, 0, "give a short usage message", 4 };
	opts[n++] = (struct argp_option){ "version", KEY_VERSION, NULL, 0, "print the version and the ABI versions a model and a plugin must be built for", 4 };
	return opts;
}

/* --version's second line, in a build ./configure left libraries out of:
 * "left out of this build: slurm, gloo (...)". */
static void print_left_out(void)
{
	static const struct {
		bool built;
		const char *name;
	} deps[] = {
		{ LT_HAVE_SLURM, "slurm" }, { LT_HAVE_PMIX, "pmix" }, { LT_HAVE_GLOO, "gloo" },
		{ LT_HAVE_MPI, "mpi" },     { LT_HAVE_CURL, "curl" },   { LT_HAVE_CUDA, "cuda" },
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
		if (!deps[i].built)
			printf("%s%s", n++ ? ", " : "left out of this build: ", deps[i].name);
	if (n)
		printf(" (./configure --without-...; 'ltrun --list' names what is not built)\n");
}

/* With ARGP_NO_ERRS argp reports a bad option through ARGP_KEY_ERROR;
 * say which one and what it needs, on one line. */
static void bad_option(struct cli *cli, struct argp_state *state)
{
	const char *arg = state->next > 0 && state->next <= state->argc
				  ? state->argv[state->next - 1] : "?";
	char name[128], q[LT_QUOTE_MAX];
	const struct lt_option *o;
	const char *hint;

	lt_quote(q, sizeof(q), arg);
	if (strncmp(arg, "--", 2)) {
		lt_err_set(&cli->err, LT_EXIT_USAGE,
			   "unknown option '%s': ltrun has long options only (try 'ltrun --help')", q);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
	o = lt_option_find(name);
	if (o && o->arg) {
		lt_err_set(&cli->err, LT_EXIT_USAGE, "option '--%s' needs a value: --%s %s",
			   o->name, o->name, o->arg);
	} else if (o || !strcmp(name, "help") || !strcmp(name, "usage") ||
		   !strcmp(name, "version")) {
		lt_err_set(&cli->err, LT_EXIT_USAGE, "option '--%s' takes no value", name);
	} else if ((hint = lt_option_suggest(name)) != NULL) {
		lt_err_set(&cli->err, LT_EXIT_USAGE, "unknown option '%s'; did you mean '--%s'?",
			   q, hint);
	} else {
		lt_err_set(&cli->err, LT_EXIT_USAGE, "unknown option '%s' (try 'ltrun --help')", q);
	}
}

/* The first positional argument is the model; everything after it (less
 * one leading "--") belongs to the model, as with torchrun. */
static void take_model(struct cli *cli, char *arg, struct argp_state *state)
{
	/* "model.so" is the file here, for this process and the ranks it
	 * execs in the same directory: dlopen() would search the library
	 * path for a name without '/'. */
	cli->model = lt_so_path(arg, cli->model_path, sizeof(cli->model_path));
	if (!cli->model)
		lt_die(LT_EXIT_USAGE, "the model's path is longer than %zu bytes",
		       sizeof(cli->model_path) - 1);
	cli->model_argv = state->argv + state->next;
	cli->model_argc = state->argc - state->next;
	if (cli->model_argc > 0 && !strcmp(cli->model_argv[0], "--")) {
		cli->model_argv++;
		cli->model_argc--;
	}
	state->next = state->argc;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct cli *cli = state->input;
	char where[96];

	if (key >= KEY_OPTION_BASE && key < KEY_OPTION_BASE + LT_OPT_COUNT) {
		const struct lt_option *o = &lt_options[key - KEY_OPTION_BASE];
		snprintf(where, sizeof(where), "--%s", o->name);
		if (lt_config_set(&cli->cfg, o, o->arg ? arg : "true", LT_SRC_FLAG, where,
				  &cli->err))
			return EINVAL;
		return 0;
	}
	switch (key) {
	case KEY_LIST:
		cli->list = true;
		cli->list_kind = arg;
		return 0;
	/* argp_state_help() prints nothing under ARGP_NO_ERRS; argp_help() does. */
	case KEY_HELP:
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP & ~ARGP_HELP_BUG_ADDR,
			  "ltrun");
		exit(0);
	case KEY_USAGE:
		argp_help(state->root_argp, stdout, ARGP_HELP_USAGE, "ltrun");
		exit(0);
	case KEY_VERSION:
		/* what a model (ltrun.h) and a plugin (ltrun/plugin.h) must be
		 * built for */
		printf("ltrun %s (model ABI %u, plugin ABI %u)\n", LT_VERSION,
		       (unsigned)LT_ABI_VERSION, (unsigned)LT_PLUGIN_ABI_VERSION);
		print_left_out();
		exit(0);
	case ARGP_KEY_ARG:
		/* `--list strategy`: a kind may follow --list as its own word. */
		if (cli->list && !cli->list_kind && !cli->model) {
			cli->list_kind = arg;
			return 0;
		}
		take_model(cli, arg, state);
		return 0;
	case ARGP_KEY_ERROR:
		if (!cli->err.msg[0])
			bad_option(cli, state);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static void parse_command_line(struct cli *cli, int argc, char **argv)
{
	struct argp argp = {
		.options = build_options(),
		.parser = parse_opt,
		.args_doc = "MODEL.so [-- MODEL_ARGS...]",
		.doc = doc,
	};
	int err;

	err = argp_parse(&argp, argc, argv, ARGP_IN_ORDER | ARGP_NO_ERRS | ARGP_NO_HELP,
			 NULL, cli);
	if (cli->err.msg[0])
		lt_die_err(&cli->err);
	if (err)
		lt_die(LT_EXIT_USAGE, "cannot parse the command line (try 'ltrun --help')");
}

static void print_json(cJSON *json)
{
	char *text = json ? cJSON_Print(json) : NULL;

	if (!text)
		lt_die(LT_EXIT_FAILURE, "out of memory printing JSON");
	puts(text);
	free(text);
	cJSON_Delete(json);
}

static void list_plugins(struct cli *cli, const struct lt_registry *reg)
{
	enum lt_kind kind;
	int k = -1;

	if (cli->list_kind) {
		if (lt_kind_parse(cli->list_kind, &kind, &cli->err))
			lt_die_err(&cli->err);
		k = (int)kind;
	}
	if (cli->cfg.json)
		print_json(lt_registry_json(reg, k));
	else
		lt_registry_print(reg, stdout, k);
}

/* Whether this process starts rank 0 (its node's agent) or is it (an
 * adopted rank): the one that reads a --resume checkpoint and holds the
 * --ckpt-dir lock. */
static bool starts_rank0(const struct lt_plan *plan)
{
	const struct lt_topology *t = &plan->topo;

	/* Elastic: which node starts rank 0 is known at the rendezvous only;
	 * rank 0 takes the lock itself then. */
	if (lt_elastic(t))
		return false;
	return t->external ? t->rank == 0 : t->first_rank == 0;
}

/* A second run on one --ckpt-dir is refused here, before any rank starts,
 * by the process that starts rank 0 (or is it): a probe of the lock that
 * rank 0 then takes for the whole run (src/ckpt/lock.h). */
static int check_ckpt_dir_free(const struct lt_plan *plan, const struct lt_config *c,
			       struct lt_err *err)
{
	struct lt_ckpt_lock *lock;

	if (!lt_ckpt_dir_is_local(c->ckpt_dir, c->ckpt_io) || !starts_rank0(plan))
		return 0;
	if (lt_ckpt_lock_take(c->ckpt_dir, NULL, NULL, &lock, err))
		return -1;
	lt_ckpt_lock_release(lock);
	return 0;
}

static struct lt_registry *load_registry(struct cli *cli)
{
	struct lt_registry *reg = lt_registry_load(&cli->cfg, &cli->err);

	if (!reg)
		lt_die_err(&cli->err);
	return reg;
}

/* The registry of `ltrun ckpt`: the built-ins, the plugin directories and
 * the --plugin files. */
static struct lt_registry *ckpt_registry(char **plugins, size_t nplugins)
{
	struct lt_err err = { 0 };
	struct lt_config cfg;
	struct lt_registry *reg;

	if (lt_config_init(&cfg, &err))
		lt_die_err(&err);
	cfg.plugins = plugins;
	cfg.num_plugins = nplugins;
	reg = lt_registry_load(&cfg, &err);
	cfg.plugins = NULL;
	cfg.num_plugins = 0;
	lt_config_free(&cfg);
	if (!reg)
		lt_die_err(&err);
	return reg;
}

/* `ltrun ckpt inspect|verify PATH [--json]`, `ltrun ckpt export PATH
 * OUT.safetensors [--dtype D] [--force]`, `ltrun ckpt consolidate PATH
 * OUT.safetensors [--force]` (export in f32), each with [--plugin SO]...
 * [--ckpt-io NAME]. */
static int ckpt_command(int argc, char **argv)
{
	static const char usage[] =
		"usage: ltrun ckpt inspect PATH [--json] | ltrun ckpt verify PATH | ltrun ckpt export PATH OUT.safetensors [--dtype f32|compute|bf16|f16] [--force] | ltrun ckpt consolidate PATH OUT.safetensors [--force], then [--plugin SO]... [--ckpt-io NAME] (PATH: a checkpoint directory, step-N, model.safetensors or URL)";
	struct lt_err err = { 0 };
	struct lt_registry *reg;
	char *plugins[64];
	size_t nplugins = 0;
	bool json = false, force = false, export;
	const char *path = NULL, *out = NULL, *io = NULL;
	enum lt_export_dtype dt = LT_EXPORT_F32;
	int rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		puts(usage);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "inspect") && strcmp(argv[1], "verify") &&
			 strcmp(argv[1], "export") && strcmp(argv[1], "consolidate")))
		lt_die(LT_EXIT_USAGE, "%s", usage);
	export = !strcmp(argv[1], "export") || !strcmp(argv[1], "consolidate");
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json") && !strcmp(argv[1], "inspect"))
			json = true;
		else if (!strcmp(argv[i], "--force") && export)
			force = true;
		else if (!strcmp(argv[i], "--dtype") && !strcmp(argv[1], "export") && i + 1 < argc) {
			if (!lt_export_dtype_parse(argv[++i], &dt))
				lt_die(LT_EXIT_USAGE, "ltrun ckpt export: --dtype '%s': give f32, compute, bf16 or f16",
				       argv[i]);
		} else if (!strcmp(argv[i], "--plugin") && i + 1 < argc &&
			 nplugins < sizeof(plugins) / sizeof(plugins[0]))
			plugins[nplugins++] = argv[++i];
		else if (!strcmp(argv[i], "--ckpt-io") && i + 1 < argc)
			io = argv[++i];
		else if (argv[i][0] == '-' || (path && (!export || out)))
			lt_die(LT_EXIT_USAGE, "ltrun ckpt %s: unexpected '%s'; %s", argv[1], argv[i], usage);
		else
			*(path ? &out : &path) = argv[i];
	}
	if (!path || (export && !out))
		lt_die(LT_EXIT_USAGE, "ltrun ckpt %s: no %s given; %s", argv[1],
		       path ? "OUT.safetensors" : "PATH", usage);
	reg = ckpt_registry(plugins, nplugins);
	if (export)
		rc = lt_ckpt_export(reg, io, path, out, dt, force, stdout, &err);
	else if (!strcmp(argv[1], "inspect"))
		rc = lt_ckpt_inspect(reg, io, path, json, stdout, &err);
	else
		rc = lt_ckpt_verify_path(reg, io, path, stdout, &err);
	lt_registry_free(reg);
	if (rc)
		lt_die_err(&err);
	return 0;
}

/* --hostfile: every host's agent over ssh, from here (src/launch/ssh.h). */
static int hostfile_launch(struct cli *cli, int argc, char **argv)
{
	int status;

	if (!cli->model && !cli->cfg.dry_run)
		lt_die(LT_EXIT_USAGE,
		       "no model given: ltrun --hostfile FILE [OPTIONS] MODEL.so [-- MODEL_ARGS] (or --dry-run to see the plan)");
	if (cli->model && lt_model_check(cli->model, &cli->err))
		lt_die_err(&cli->err);
	if (cli->cfg.dry_run)
		status = lt_ssh_dry_run(&cli->cfg, argc, argv, stdout, &cli->err);
	else
		status = lt_ssh_launch(&cli->cfg, argc, argv, &cli->err);
	if (status < 0)
		lt_die_err(&cli->err);
	return status;
}

int main(int argc, char **argv)
{
	static struct cli cli;
	struct lt_registry *reg;
	struct lt_plan plan;

	/* A rank the agent exec'ed: nothing to parse, its identity is in the
	 * environment. */
	if (getenv(LT_ENV_RANK_ENTRY))
		return lt_rank_entry(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "ckpt"))
		return ckpt_command(argc - 1, argv + 1);
	/* ssh started this for a --hostfile launch: the job's environment is
	 * on stdin (src/launch/remote.h). */
	if (lt_remote_begin(&cli.err))
		lt_die_err(&cli.err);
	if (lt_config_init(&cli.cfg, &cli.err))
		lt_die_err(&cli.err);
	parse_command_line(&cli, argc, argv);
	if (lt_config_load_env(&cli.cfg, NULL, &cli.err) ||
	    lt_kubeflow_rdzv_vars(&cli.cfg, NULL, &cli.err))
		lt_die_err(&cli.err);
	if (cli.cfg.config_path && lt_config_load_file(&cli.cfg, cli.cfg.config_path, &cli.err))
		lt_die_err(&cli.err);

	reg = load_registry(&cli);
	if (cli.list) {
		list_plugins(&cli, reg);
		goto out;
	}
	if (lt_config_check_names(&cli.cfg, reg, &cli.err) || lt_config_check(&cli.cfg, &cli.err) ||
	    lt_loggers_check(reg, cli.cfg.logger, cli.cfg.source_name[LT_OPT_LOGGER], &cli.err))
		lt_die_err(&cli.err);
	/* The launcher's options: this host's agent ignores them. */
	if (lt_remote_active()) {
		free(cli.cfg.hostfile);
		cli.cfg.hostfile = NULL;
		cli.cfg.source[LT_OPT_HOSTFILE] = LT_SRC_DEFAULT;
	}
	if (cli.cfg.hostfile) {
		int status = hostfile_launch(&cli, argc, argv);
		lt_registry_free(reg);
		lt_config_free(&cli.cfg);
		return status;
	}
	if (!cli.model && !cli.cfg.dry_run)
		lt_die(LT_EXIT_USAGE,
		       "no model given: ltrun [OPTIONS] MODEL.so [-- MODEL_ARGS] (or --dry-run to see the plan)");
	if (cli.model && lt_model_check(cli.model, &cli.err))
		lt_die_err(&cli.err);
	if (lt_plan_make(&plan, &cli.cfg, reg, NULL, cli.cfg.verbose ? stderr : NULL,
			 &cli.err))
		lt_die_err(&cli.err);
	/* once, here, rather than in every rank; a dry run checks the shape */
	if (lt_trainer_ckpt_check_resume(&cli.cfg, !cli.cfg.dry_run && starts_rank0(&plan),
					 &cli.err) ||
	    lt_init_weights_check(&cli.cfg, reg, !cli.cfg.dry_run && starts_rank0(&plan), &cli.err))
		lt_die_err(&cli.err);
	plan.model = cli.model;
	plan.model_argv = cli.model_argv;
	plan.model_argc = cli.model_argc;
	if (!cli.cfg.dry_run) {
		int status;

		if (check_ckpt_dir_free(&plan, &cli.cfg, &cli.err))
			lt_die_err(&cli.err);
		status = lt_launch(&plan, &cli.cfg, argc, argv, &cli.err);
		if (status < 0)
			lt_die_err(&cli.err);
		lt_plan_free(&plan);
		lt_registry_free(reg);
		lt_config_free(&cli.cfg);
		return status;
	}
	if (cli.cfg.json)
		print_json(lt_plan_json(&plan, &cli.cfg, reg));
	else
		lt_plan_print(&plan, &cli.cfg, reg, stdout);
	lt_plan_free(&plan);
out:
	lt_registry_free(reg);
	lt_config_free(&cli.cfg);
	return 0;
}
