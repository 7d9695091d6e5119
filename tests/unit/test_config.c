/*
 * test_config.c - settings: parsing of every option type, the precedence
 * flag > LTRUN_* > config file > default whatever the order the sources are
 * read in, config files (types, unknown keys, syntax errors with line
 * numbers) and the plugin list.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"

static struct lt_config cfg;
static struct lt_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	cr_assert_eq(lt_config_init(&cfg, &err), 0);
}

static void teardown(void)
{
	lt_config_free(&cfg);
}

TestSuite(config, .init = setup, .fini = teardown);

static const struct lt_option *opt(enum lt_opt_id id)
{
	return &lt_options[id];
}

Test(config, defaults)
{
	cr_expect_str_eq(cfg.strategy, "auto");
	cr_expect_str_eq(cfg.precision, "32-true");
	cr_expect_str_eq(cfg.ckpt_io, "file");
	cr_expect_eq(cfg.devices, LT_AUTO);
	cr_expect_eq(cfg.num_nodes, LT_AUTO);
	cr_expect_eq(cfg.node_rank, LT_AUTO);
	cr_expect_eq(cfg.main_port, 0);
	cr_expect_eq(cfg.max_restarts, 0);
	cr_expect_eq(cfg.dry_run, false);
	cr_expect_eq(cfg.source[LT_OPT_DEVICES], LT_SRC_DEFAULT);
}

Test(config, table_is_indexed_by_id_and_has_env_names)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		char want[64];
		size_t j;

		cr_expect_eq((int)lt_options[i].id, i);
		snprintf(want, sizeof(want), "LTRUN_%s", lt_options[i].name);
		for (j = 6; want[j]; j++)
			want[j] = want[j] == '-' ? '_' : (char)(want[j] - 'a' + 'A');
		cr_expect_str_eq(lt_options[i].env, want);
		cr_expect_eq(lt_option_find(lt_options[i].name), &lt_options[i]);
	}
}

struct value_case {
	enum lt_opt_id id;
	const char *text;
	int ok;
	long want; /* ints; bools as 0/1 */
};

Test(config, parses_each_type)
{
	static const struct value_case cases[] = {
		{ LT_OPT_DEVICES, "4", 1, 4 }, { LT_OPT_DEVICES, "auto", 1, LT_AUTO },
		{ LT_OPT_DEVICES, "0", 0, 0 }, { LT_OPT_DEVICES, "4x", 0, 0 },
		{ LT_OPT_DEVICES, " 4", 0, 0 }, { LT_OPT_DEVICES, "+4", 0, 0 },
		{ LT_OPT_NUM_NODES, "1048576", 1, 1048576 }, { LT_OPT_NUM_NODES, "1048577", 0, 0 },
		{ LT_OPT_NODE_RANK, "0", 1, 0 }, { LT_OPT_NODE_RANK, "auto", 0, 0 },
		{ LT_OPT_MAIN_PORT, "65535", 1, 65535 }, { LT_OPT_MAIN_PORT, "65536", 0, 0 },
		{ LT_OPT_MAX_RESTARTS, "3", 1, 3 }, { LT_OPT_MAX_RESTARTS, "-1", 0, 0 },
		{ LT_OPT_TEE, "yes", 1, 1 }, { LT_OPT_TEE, "OFF", 1, 0 }, { LT_OPT_TEE, "2", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct value_case *c = &cases[i];
		int rc = lt_config_set(&cfg, opt(c->id), c->text, LT_SRC_FLAG, "--x", &err);
		cr_expect_eq(rc, c->ok ? 0 : -1, "%s '%s'", opt(c->id)->name, c->text);
		if (!c->ok) {
			cr_expect_eq(err.status, LT_EXIT_USAGE);
			cr_expect(strstr(err.msg, c->text) != NULL, "message names the value: %s", err.msg);
			continue;
		}
		if (c->id == LT_OPT_TEE)
			cr_expect_eq(cfg.tee, c->want);
		else if (c->id == LT_OPT_DEVICES)
			cr_expect_eq(cfg.devices, c->want);
		else if (c->id == LT_OPT_NUM_NODES)
			cr_expect_eq(cfg.num_nodes, c->want);
		else if (c->id == LT_OPT_MAIN_PORT)
			cr_expect_eq(cfg.main_port, c->want);
		else if (c->id == LT_OPT_MAX_RESTARTS)
			cr_expect_eq(cfg.max_restarts, c->want);
	}
}

Test(config, precedence_does_not_depend_on_order)
{
	const struct lt_option *o = opt(LT_OPT_DEVICES);

	/* strongest first: the weaker ones must not override */
	cr_assert_eq(lt_config_set(&cfg, o, "4", LT_SRC_FLAG, "--devices", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, o, "3", LT_SRC_ENV, "LTRUN_DEVICES", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, o, "2", LT_SRC_CONFIG, "config", &err), 0);
	cr_expect_eq(cfg.devices, 4);
	cr_expect_str_eq(cfg.source_name[LT_OPT_DEVICES], "--devices");
	/* weakest first: each stronger one overrides */
	o = opt(LT_OPT_PRECISION);
	cr_assert_eq(lt_config_set(&cfg, o, "64-true", LT_SRC_CONFIG, "config", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, o, "bf16-mixed", LT_SRC_ENV, "LTRUN_PRECISION", &err), 0);
	cr_expect_str_eq(cfg.precision, "bf16-mixed");
	cr_expect_eq(cfg.source[LT_OPT_PRECISION], LT_SRC_ENV);
	/* a bad value from a weaker source is not even parsed */
	cr_expect_eq(lt_config_set(&cfg, opt(LT_OPT_DEVICES), "junk", LT_SRC_ENV, "LTRUN_DEVICES", &err), 0);
}

Test(config, env_layer)
{
	static const char *const vars[] = { "LTRUN_DEVICES=8", "LTRUN_STRATEGY=ddp_fork",
					    "LTRUN_DRY_RUN=1", "LTRUN_PLUGIN=./a.so:./b.so", NULL };
	static const char *const bad[] = { "LTRUN_MAX_RESTARTS=many", NULL };
	struct lt_envsrc env = { .vars = vars };

	cr_assert_eq(lt_config_load_env(&cfg, &env, &err), 0, "%s", err.msg);
	cr_expect_eq(cfg.devices, 8);
	cr_expect_str_eq(cfg.strategy, "ddp_fork");
	cr_expect(cfg.dry_run);
	cr_assert_eq(cfg.num_plugins, 2);
	cr_expect_str_eq(cfg.plugins[1], "./b.so");
	env.vars = bad;
	cr_expect_eq(lt_config_load_env(&cfg, &env, &err), -1);
	cr_expect(strstr(err.msg, "LTRUN_MAX_RESTARTS 'many'") != NULL, "%s", err.msg);
}

Test(config, plugin_lists_accumulate_then_a_stronger_source_replaces)
{
	const struct lt_option *o = opt(LT_OPT_PLUGIN);

	cr_assert_eq(lt_config_set(&cfg, o, "./c1.so", LT_SRC_CONFIG, "config", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, o, "./c2.so", LT_SRC_CONFIG, "config", &err), 0);
	cr_expect_eq(cfg.num_plugins, 2);
	cr_assert_eq(lt_config_set(&cfg, o, "./f:1.so", LT_SRC_FLAG, "--plugin", &err), 0);
	cr_assert_eq(cfg.num_plugins, 1, "a flag replaces the config file's list");
	cr_expect_str_eq(cfg.plugins[0], "./f:1.so", "':' is a separator only in LTRUN_PLUGIN");
	cr_expect_eq(lt_config_set(&cfg, o, "./a.so:", LT_SRC_FLAG, "--plugin", &err), 0);
	cr_expect_eq(cfg.num_plugins, 2);
}

Test(config, config_text)
{
	static const char text[] = "{ \"devices\": 2, \"num-nodes\": \"auto\", \"tee\": true,\n"
				   "  \"plugin\": [\"./x:y.so\", \"./z.so\"], \"main-addr\": \"10.0.0.1\" }";

	cr_assert_eq(lt_config_load_text(&cfg, "c.json", text, strlen(text), &err), 0, "%s", err.msg);
	cr_expect_eq(cfg.devices, 2);
	cr_expect_eq(cfg.num_nodes, LT_AUTO);
	cr_expect(cfg.tee);
	cr_assert_eq(cfg.num_plugins, 2);
	cr_expect_str_eq(cfg.plugins[0], "./x:y.so");
	cr_expect_str_eq(cfg.main_addr, "10.0.0.1");
	cr_expect_eq(cfg.source[LT_OPT_DEVICES], LT_SRC_CONFIG);
}

struct bad_config {
	const char *text;
	const char *want;
};

/* Each config text is refused with a usage error whose message holds
 * its `want`. */
static void expect_bad_configs(const struct bad_config *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct lt_config c;
		cr_assert_eq(lt_config_init(&c, &err), 0);
		cr_expect_eq(lt_config_load_text(&c, "c.json", cases[i].text, strlen(cases[i].text), &err),
			     -1, "accepted: %s", cases[i].text);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "%s", cases[i].text);
		cr_expect(strstr(err.msg, cases[i].want) != NULL, "'%s' gave: %s", cases[i].text, err.msg);
		lt_config_free(&c);
	}
}

Test(config, config_errors_name_key_and_file)
{
	static const struct bad_config cases[] = {
		{ "", "not valid JSON (line 1)" },
		{ "{\n\n\"devices\": ,}", "not valid JSON (line 3)" },
		{ "\"devices\"", "must hold a JSON object" },
		{ "{\"devices\": -1}", "'devices' in config file 'c.json'" },
		{ "{\"devices\": 1e12}", "'devices' in config file" },
		{ "{\"node-rank\": \"auto\"}", "expected a whole number, got a string" },
		{ "{\"strategy\": 3}", "expected a string, got a number" },
		{ "{\"strategy\": \"\"}", "the value is empty" },
		{ "{\"config\": \"other.json\"}", "unknown key 'config'" },
		{ "{\"precison\": \"32\"}", "did you mean 'precision'?" },
		{ "{\"plugin\": {}}", "expected an array of paths, got an object" },
		{ "{\"main-addr\": \"no spaces please\"}", "expected a host name" },
		{ "{\"dry-run\": null}", "got null" },
		{ "{\"devices\": 2} trailing", "not valid JSON" },
	};

	expect_bad_configs(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Builds PREFIX, n copies of open, n of close, SUFFIX into a new string. */
static char *nest(const char *prefix, const char *open, const char *close, size_t n,
		  const char *suffix)
{
	size_t len = strlen(prefix) + n * (strlen(open) + strlen(close)) + strlen(suffix);
	char *text = malloc(len + 1), *p = text;
	size_t i;

	cr_assert_not_null(text);
	p += sprintf(p, "%s", prefix);
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s", open);
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s", close);
	sprintf(p, "%s", suffix);
	return text;
}

/* cJSON refuses more than CJSON_NESTING_LIMIT levels without saying why:
 * the message must, rather than "not valid JSON". */
Test(config, deep_nesting_names_the_limit)
{
	static const struct {
		const char *prefix, *open, *close, *suffix;
		size_t n;
		const char *want;
	} cases[] = {
		{ "{\"plugin\": ", "[", "]", "}", 10000, "is nested deeper than 1000 levels (line 1)" },
		{ "{\"plugin\": ", "{\"a\":", "}", "}", 10000, "is nested deeper than 1000 levels" },
		{ "{\"plugin\": ", "[", "]", "}", 1000, "is nested deeper than 1000 levels" },
		/* 1000 levels in all parse: what is wrong is the value */
		{ "{\"plugin\": ", "[", "]", "}", 999, "every element must be a path string" },
		/* brackets inside a string do not nest */
		{ "{\"strategy\": \"", "[", "{", "\",, }", 2000, "is not valid JSON (line 1)" },
	};
	struct lt_config c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = nest(cases[i].prefix, cases[i].open, cases[i].close, cases[i].n,
				  cases[i].suffix);

		cr_assert_eq(lt_config_init(&c, &err), 0);
		cr_expect_eq(lt_config_load_text(&c, "deep.json", text, strlen(text), &err), -1,
			     "case %zu", i);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "case %zu", i);
		cr_expect(strstr(err.msg, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i,
			  err.msg, cases[i].want);
		lt_config_free(&c);
		free(text);
	}
}

Test(config, values_print_back)
{
	char buf[64];

	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_DEVICES), buf, sizeof(buf)), "auto");
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_MAIN_PORT), buf, sizeof(buf)), "");
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_MAIN_PORT), "29500", LT_SRC_FLAG, "--main-port", &err), 0);
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_MAIN_PORT), buf, sizeof(buf)), "29500");
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_TEE), buf, sizeof(buf)), "false");
}

/* ------------------------------------------------------------ training */

Test(config, training_defaults)
{
	cr_expect_eq(cfg.max_epochs, 1);
	cr_expect_eq(cfg.max_steps, -1);
	cr_expect_eq(cfg.batch_size, 32);
	cr_expect_eq(cfg.accumulate, 1);
	cr_expect_eq(cfg.seed, 0);
	cr_expect_eq(cfg.val_every, 0);
	cr_expect_eq(cfg.log_every, 50);
	cr_expect_str_eq(cfg.optimizer, "sgd");
	cr_expect_eq(cfg.lr, 0.01);
	cr_expect_eq(cfg.momentum, 0.9);
	cr_expect_eq(cfg.weight_decay, 0.0);
	cr_expect_str_eq(cfg.lr_schedule, "constant");
	cr_expect_eq(cfg.warmup_steps, 0);
	cr_expect_eq(cfg.clip_val, 0.0);
	cr_expect_str_eq(cfg.clip_algorithm, "norm");
	cr_expect_eq(cfg.bucket_mb, 25.0);
	cr_expect_eq(cfg.source[LT_OPT_LR], LT_SRC_DEFAULT);
}

struct typed_case {
	enum lt_opt_id id;
	const char *text;
	const char *want; /* NULL: accepted; else a substring of the message */
};

Test(config, training_values_and_ranges)
{
	static const struct typed_case cases[] = {
		{ LT_OPT_LR, "0.1", NULL }, { LT_OPT_LR, "1e-300", NULL }, { LT_OPT_LR, "3", NULL },
		{ LT_OPT_LR, "0", "expected a number > 0" }, { LT_OPT_LR, "-0.1", "> 0" },
		{ LT_OPT_LR, "inf", "> 0" }, { LT_OPT_LR, "nan", "> 0" }, { LT_OPT_LR, "1e999", "> 0" },
		{ LT_OPT_LR, " 0.1", "> 0" }, { LT_OPT_LR, "0.1x", "> 0" }, { LT_OPT_LR, "", "> 0" },
		{ LT_OPT_LR, "0x1p-3", "> 0" },
		{ LT_OPT_MOMENTUM, "0", NULL }, { LT_OPT_MOMENTUM, "0.999", NULL },
		{ LT_OPT_MOMENTUM, "1", "expected a number >= 0 and < 1" }, { LT_OPT_MOMENTUM, "-0", NULL },
		{ LT_OPT_WEIGHT_DECAY, "0", NULL }, { LT_OPT_WEIGHT_DECAY, "-1e-9", "a number >= 0" },
		{ LT_OPT_CLIP_VAL, "1.5", NULL }, { LT_OPT_CLIP_VAL, "-1", ">= 0" },
		{ LT_OPT_BUCKET_MB, "4096", NULL }, { LT_OPT_BUCKET_MB, "0.25", NULL },
		{ LT_OPT_BUCKET_MB, "4096.5", "expected a number > 0 and <= 4096" },
		{ LT_OPT_BUCKET_MB, "0", "> 0 and <= 4096" },
		{ LT_OPT_MAX_EPOCHS, "1000000", NULL }, { LT_OPT_MAX_EPOCHS, "1000001", "from 1 to 1000000" },
		{ LT_OPT_MAX_EPOCHS, "0", "from 1 to 1000000" },
		{ LT_OPT_MAX_STEPS, "1", NULL }, { LT_OPT_MAX_STEPS, "-1", NULL }, { LT_OPT_MAX_STEPS, "none", NULL },
		{ LT_OPT_MAX_STEPS, "9223372036854775807", NULL },
		{ LT_OPT_MAX_STEPS, "0", "or none (-1) for no limit" }, { LT_OPT_MAX_STEPS, "-2", "none (-1)" },
		{ LT_OPT_MAX_STEPS, "None", "none (-1)" },
		{ LT_OPT_SEED, "9223372036854775807", NULL }, { LT_OPT_SEED, "9223372036854775808", "from 0 to" },
		{ LT_OPT_SEED, "-1", "from 0 to 9223372036854775807" }, { LT_OPT_SEED, "none", "from 0 to" },
		{ LT_OPT_BATCH_SIZE, "16777216", NULL }, { LT_OPT_BATCH_SIZE, "16777217", "from 1 to 16777216" },
		{ LT_OPT_ACCUMULATE, "65536", NULL }, { LT_OPT_ACCUMULATE, "0", "from 1 to 65536" },
		{ LT_OPT_VAL_EVERY, "0", NULL }, { LT_OPT_VAL_EVERY, "-1", "from 0 to" },
		{ LT_OPT_LOG_EVERY, "1", NULL }, { LT_OPT_LOG_EVERY, "0", "from 1 to" },
		{ LT_OPT_WARMUP_STEPS, "100", NULL }, { LT_OPT_WARMUP_STEPS, "x", "whole number" },
		{ LT_OPT_OPTIMIZER, "adamw", NULL }, { LT_OPT_OPTIMIZER, "sgd", NULL },
		{ LT_OPT_OPTIMIZER, "adam", "expected sgd, adamw or adamw_gpt; did you mean 'adamw'?" },
		{ LT_OPT_OPTIMIZER, "SGD", "did you mean 'sgd'?" },
		{ LT_OPT_OPTIMIZER, "rmsprop", "expected sgd, adamw or adamw_gpt" },
		{ LT_OPT_OPTIMIZER, "", "the value is empty" },
		{ LT_OPT_LR_SCHEDULE, "cosine", NULL },
		{ LT_OPT_LR_SCHEDULE, "cosin", "expected constant or cosine; did you mean 'cosine'?" },
		{ LT_OPT_CLIP_ALGORITHM, "value", NULL },
		{ LT_OPT_CLIP_ALGORITHM, "vaule", "did you mean 'value'?" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct typed_case *c = &cases[i];
		struct lt_config fresh;
		int rc;

		cr_assert_eq(lt_config_init(&fresh, &err), 0);
		rc = lt_config_set(&fresh, opt(c->id), c->text, LT_SRC_FLAG, "--x", &err);
		if (!c->want) {
			cr_expect_eq(rc, 0, "%s '%s': %s", opt(c->id)->name, c->text, err.msg);
		} else {
			cr_expect_eq(rc, -1, "%s '%s' accepted", opt(c->id)->name, c->text);
			cr_expect_eq(err.status, LT_EXIT_USAGE);
			cr_expect(strstr(err.msg, c->want) != NULL, "%s '%s': %s", opt(c->id)->name,
				  c->text, err.msg);
			cr_expect(strstr(err.msg, "--x") != NULL, "names the source: %s", err.msg);
			cr_expect(!strchr(err.msg, '\n'));
			cr_expect_eq(fresh.source[c->id], LT_SRC_DEFAULT, "unchanged on failure");
		}
		lt_config_free(&fresh);
	}
}

Test(config, training_values_land_in_their_fields)
{
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "0.003", LT_SRC_FLAG, "--lr", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_SEED), "9223372036854775807", LT_SRC_FLAG,
				   "--seed", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_MAX_STEPS), "500", LT_SRC_FLAG, "--max-steps", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_OPTIMIZER), "adamw", LT_SRC_FLAG, "--optimizer", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_ACCUMULATE), "4", LT_SRC_FLAG, "x", &err), 0);
	cr_expect_eq(cfg.lr, 0.003);
	cr_expect_eq(cfg.seed, 9223372036854775807L);
	cr_expect_eq(cfg.max_steps, 500);
	cr_expect_str_eq(cfg.optimizer, "adamw");
	cr_expect_eq(cfg.accumulate, 4);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_MAX_STEPS), "none", LT_SRC_FLAG, "--max-steps", &err), 0);
	cr_expect_eq(cfg.max_steps, -1);
}

Test(config, training_from_env_and_file_with_precedence)
{
	static const char *const vars[] = { "LTRUN_LR=0.5", "LTRUN_OPTIMIZER=adamw",
					    "LTRUN_MAX_STEPS=none", "LTRUN_ACCUMULATE_GRAD_BATCHES=8",
					    "LTRUN_GRADIENT_CLIP_VAL=1", NULL };
	static const char *const bad[] = { "LTRUN_OPTIMIZER=adamm", NULL };
	static const char text[] = "{ \"lr\": 0.25, \"momentum\": 0.5, \"max-steps\": 1000,\n"
				   "  \"seed\": \"9007199254740993\", \"optimizer\": \"sgd\",\n"
				   "  \"bucket-mb\": 1, \"lr-schedule\": \"cosine\", \"max-epochs\": 3 }";
	struct lt_envsrc env = { .vars = vars };

	cr_assert_eq(lt_config_load_env(&cfg, &env, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_load_text(&cfg, "c.json", text, strlen(text), &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "2", LT_SRC_FLAG, "--lr", &err), 0);
	cr_expect_eq(cfg.lr, 2.0, "flag beats the variable");
	cr_expect_str_eq(cfg.optimizer, "adamw", "the variable beats the file");
	cr_expect_eq(cfg.max_steps, -1);
	cr_expect_eq(cfg.accumulate, 8);
	cr_expect_eq(cfg.clip_val, 1.0);
	cr_expect_eq(cfg.momentum, 0.5, "the file beats the default");
	cr_expect_eq(cfg.seed, 9007199254740993L, "a string keeps a seed beyond 2^53 exact");
	cr_expect_eq(cfg.bucket_mb, 1.0);
	cr_expect_str_eq(cfg.lr_schedule, "cosine");
	cr_expect_eq(cfg.max_epochs, 3);
	cr_expect_str_eq(cfg.source_name[LT_OPT_MOMENTUM], "'momentum' in config file 'c.json'");
	env.vars = bad;
	cr_assert_eq(lt_config_load_env(&cfg, &env, &err), -1);
	cr_expect(strstr(err.msg, "invalid LTRUN_OPTIMIZER 'adamm': expected sgd, adamw or adamw_gpt; did you mean 'adamw'?")
		  != NULL, "%s", err.msg);
}

Test(config, training_config_errors)
{
	static const struct bad_config cases[] = {
		{ "{\"lr\": \"0.1\"}", "'lr' in config file 'c.json': expected a number, got a string" },
		{ "{\"lr\": 0}", "invalid 'lr' in config file 'c.json' '0': expected a number > 0" },
		{ "{\"lr\": true}", "expected a number, got a boolean" },
		{ "{\"momentum\": 1.5}", "expected a number >= 0 and < 1" },
		{ "{\"seed\": 1e20}", "a string such as" },
		{ "{\"seed\": 1.5}", "expected a whole number" },
		{ "{\"seed\": \"12x\"}", "'seed' in config file 'c.json' '12x'" },
		{ "{\"max-steps\": 0}", "none (-1) for no limit" },
		{ "{\"max-steps\": [1]}", "expected a whole number or \"none\", got an array" },
		{ "{\"batch-size\": \"32\"}", "expected a whole number, got a string" },
		{ "{\"optimizer\": 1}", "expected a string, got a number" },
		{ "{\"optimizer\": \"adma\"}", "did you mean 'adam" },
		{ "{\"lr-schedual\": \"cosine\"}", "did you mean 'lr-schedule'?" },
		{ "{\"gradient-clip-algorithm\": \"l2\"}", "expected norm or value" },
	};

	expect_bad_configs(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, training_values_print_back)
{
	char buf[64];

	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_LR), buf, sizeof(buf)), "0.01");
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_MAX_STEPS), buf, sizeof(buf)), "none");
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_BUCKET_MB), buf, sizeof(buf)), "25");
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_OPTIMIZER), buf, sizeof(buf)), "sgd");
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "0.1", LT_SRC_FLAG, "--lr", &err), 0);
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_LR), buf, sizeof(buf)), "0.1");
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "0.30000000000000004", LT_SRC_FLAG, "--lr", &err), 0);
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_LR), buf, sizeof(buf)), "0.30000000000000004",
			 "exact when it must be");
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_SEED), "123456789012", LT_SRC_FLAG, "--seed", &err), 0);
	cr_expect_str_eq(lt_config_value(&cfg, opt(LT_OPT_SEED), buf, sizeof(buf)), "123456789012");
}

/* ------------------------------------------------------------ export */

struct exported {
	char names[LT_OPT_COUNT][64], values[LT_OPT_COUNT][256];
	int n, stop_at;
};

static int collect(const char *name, const char *value, void *arg)
{
	struct exported *e = arg;

	if (e->n == e->stop_at)
		return 7;
	snprintf(e->names[e->n], sizeof(e->names[e->n]), "%s", name);
	snprintf(e->values[e->n], sizeof(e->values[e->n]), "%s", value);
	e->n++;
	return 0;
}

static const char *exported_value(const struct exported *e, const char *name)
{
	int i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->names[i], name))
			return e->values[i];
	return NULL;
}

Test(config, export_passes_every_non_default_setting)
{
	static const char text[] = "{ \"momentum\": 0.5, \"plugin\": [\"./a.so\", \"./b.so\"] }";
	struct exported e = { .stop_at = -1 };
	const char *vars[LT_OPT_COUNT + 1];
	char env_text[LT_OPT_COUNT][330];
	struct lt_config back;
	struct lt_envsrc env = { .vars = vars };
	int i;

	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_CONFIG), "c.json", LT_SRC_FLAG, "--config", &err), 0);
	cr_assert_eq(lt_config_load_text(&cfg, "c.json", text, strlen(text), &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "0.30000000000000004", LT_SRC_FLAG, "--lr", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_DEVICES), "4", LT_SRC_ENV, "LTRUN_DEVICES", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_MAX_STEPS), "-1", LT_SRC_FLAG, "--max-steps", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_OPTIMIZER), "adamw", LT_SRC_FLAG, "--optimizer", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_TEE), "yes", LT_SRC_FLAG, "--tee", &err), 0);
	cr_assert_eq(lt_config_export(&cfg, collect, &e), 0);

	cr_expect_eq(e.n, 7, "exported %d", e.n);
	cr_expect_str_eq(exported_value(&e, "LTRUN_LR"), "0.30000000000000004");
	cr_expect_str_eq(exported_value(&e, "LTRUN_MOMENTUM"), "0.5");
	cr_expect_str_eq(exported_value(&e, "LTRUN_DEVICES"), "4");
	cr_expect_str_eq(exported_value(&e, "LTRUN_MAX_STEPS"), "none");
	cr_expect_str_eq(exported_value(&e, "LTRUN_PLUGIN"), "./a.so:./b.so");
	cr_expect_str_eq(exported_value(&e, "LTRUN_TEE"), "true");
	cr_expect_null(exported_value(&e, "LTRUN_CONFIG"), "the file's values travel one by one");
	cr_expect_null(exported_value(&e, "LTRUN_BATCH_SIZE"), "defaults stay out");

	/* What a rank process reads back is what the agent had. */
	for (i = 0; i < e.n; i++) {
		snprintf(env_text[i], sizeof(env_text[i]), "%s=%s", e.names[i], e.values[i]);
		vars[i] = env_text[i];
	}
	vars[e.n] = NULL;
	cr_assert_eq(lt_config_init(&back, &err), 0);
	cr_assert_eq(lt_config_load_env(&back, &env, &err), 0, "%s", err.msg);
	cr_expect_eq(back.lr, cfg.lr);
	cr_expect_eq(back.momentum, 0.5);
	cr_expect_eq(back.max_steps, -1);
	cr_expect_eq(back.devices, 4);
	cr_expect_str_eq(back.optimizer, "adamw");
	cr_expect(back.tee);
	cr_assert_eq(back.num_plugins, 2);
	cr_expect_str_eq(back.plugins[1], "./b.so");
	lt_config_free(&back);
}

Test(config, export_stops_at_the_first_failure)
{
	struct exported e = { .stop_at = 1 };

	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_LR), "0.2", LT_SRC_FLAG, "--lr", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_SEED), "5", LT_SRC_FLAG, "--seed", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, opt(LT_OPT_BATCH_SIZE), "8", LT_SRC_FLAG, "--batch-size", &err), 0);
	cr_expect_eq(lt_config_export(&cfg, collect, &e), 7);
	cr_expect_eq(e.n, 1);
	e = (struct exported){ .stop_at = -1 };
	lt_config_free(&cfg);
	cr_assert_eq(lt_config_init(&cfg, &err), 0);
	cr_expect_eq(lt_config_export(&cfg, collect, &e), 0);
	cr_expect_eq(e.n, 0, "nothing to pass for an all-default config");
}
