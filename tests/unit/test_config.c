/*
 * test_config.c - settings: parsing of every option type, the precedence
 * flag > LTRUN_* > config file > default whatever the order the sources are
 * read in, config files (types, unknown keys, syntax errors with line
 * numbers) and the plugin list.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <stdio.h>

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
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lt_config c;
		cr_assert_eq(lt_config_init(&c, &err), 0);
		cr_expect_eq(lt_config_load_text(&c, "c.json", cases[i].text, strlen(cases[i].text), &err),
			     -1, "accepted: %s", cases[i].text);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "%s", cases[i].text);
		cr_expect(strstr(err.msg, cases[i].want) != NULL, "'%s' gave: %s", cases[i].text, err.msg);
		lt_config_free(&c);
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
