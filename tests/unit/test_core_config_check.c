/*
 * test_core_config_check.c - lt_config_check (core/config.c): the checks
 * of values that depend on each other or on the environment, done once
 * for the launcher and the ranks, with the messages cmd/ltrun.c gave.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static struct lt_config cfg;
static struct lt_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	unsetenv("LTRUN_RDZV_DIR");
	cr_assert_eq(lt_config_init(&cfg, &err), 0);
}

static void teardown(void)
{
	lt_config_free(&cfg);
}

TestSuite(config_check, .init = setup, .fini = teardown);

static void set(enum lt_opt_id id, const char *text, enum lt_source src, const char *where)
{
	cr_assert_eq(lt_config_set(&cfg, &lt_options[id], text, src, where, &err), 0, "%s", err.msg);
}

static void expect_refused(const char *a, const char *b)
{
	cr_expect_eq(lt_config_check(&cfg, &err), -1, "accepted");
	cr_expect_eq(err.status, LT_EXIT_USAGE, "%s", err.msg);
	cr_expect(strstr(err.msg, a) && (!b || strstr(err.msg, b)), "'%s' lacks '%s' or '%s'", err.msg,
		  a, b ? b : "");
	cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
}

Test(config_check, defaults_pass)
{
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(config_check, signals)
{
	set(LT_OPT_SIGNALS, "TERM,KILL", LT_SRC_ENV, "LTRUN_SIGNALS");
	expect_refused("LTRUN_SIGNALS", "SIGKILL cannot be forwarded");
}

Test(config_check, resume_last_needs_ckpt_dir)
{
	set(LT_OPT_RESUME, "last", LT_SRC_FLAG, "--resume");
	expect_refused("--resume is 'last'", "needs --ckpt-dir");
	set(LT_OPT_CKPT_DIR, "/tmp/ck", LT_SRC_FLAG, "--ckpt-dir");
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(config_check, url_needs_an_http_io)
{
	set(LT_OPT_CKPT_DIR, "https://host/ck", LT_SRC_FLAG, "--ckpt-dir");
	expect_refused("--ckpt-dir 'https://host/ck' is a URL", "--ckpt-io http");
	set(LT_OPT_CKPT_IO, "http", LT_SRC_FLAG, "--ckpt-io");
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(config_check, resume_url_needs_an_http_io)
{
	set(LT_OPT_RESUME, "http://host/ck/step-3", LT_SRC_FLAG, "--resume");
	expect_refused("--resume 'http://host/ck/step-3' is a URL", "--ckpt-io http");
	set(LT_OPT_CKPT_IO, "async", LT_SRC_ENV, "LTRUN_CKPT_IO");
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(config_check, rdzv_file_needs_its_directory)
{
	set(LT_OPT_RDZV, "file", LT_SRC_CONFIG, "rdzv in c.json");
	expect_refused("rendezvous 'file' (rdzv in c.json)", "LTRUN_RDZV_DIR");
	setenv("LTRUN_RDZV_DIR", "/tmp", 1);
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
	unsetenv("LTRUN_RDZV_DIR");
}

/* Every entry of the option table is at its own index (designated
 * initializers), named, documented and of a kind only when a name. */
Test(config_check, option_table_complete)
{
	for (int i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];

		cr_expect_eq((int)o->id, i, "entry %d has id %d", i, (int)o->id);
		cr_expect(o->name && o->env && o->doc, "entry %d is missing its name, env or doc", i);
		if (o->name)
			cr_expect_eq(lt_option_find(o->name), o, "%s", o->name);
	}
}

/* Failure detection and collective timeouts: torch elastic's 5 s
 * keep-alive, torch's 30-minute collective timeout, and a heartbeat
 * timeout that leaves room for more than two missed keep-alives. */
Test(config_check, liveness_defaults)
{
	cr_expect_eq(cfg.heartbeat_interval, 5.0);
	cr_expect_eq(cfg.heartbeat_timeout, 30.0);
	cr_expect_eq(cfg.timeout, 1800);
	cr_expect_eq(cfg.debug_collectives, false);
}

Test(config_check, heartbeat_timeout_above_two_intervals)
{
	set(LT_OPT_HEARTBEAT_INTERVAL, "2", LT_SRC_ENV, "LTRUN_HEARTBEAT_INTERVAL");
	set(LT_OPT_HEARTBEAT_TIMEOUT, "4", LT_SRC_FLAG, "--heartbeat-timeout");
	expect_refused("--heartbeat-timeout 4 (--heartbeat-timeout)",
		       "--heartbeat-interval 2 (LTRUN_HEARTBEAT_INTERVAL)");
	set(LT_OPT_HEARTBEAT_TIMEOUT, "4.5", LT_SRC_FLAG, "--heartbeat-timeout");
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(config_check, liveness_ranges)
{
	cr_expect_eq(lt_config_set(&cfg, &lt_options[LT_OPT_TIMEOUT], "0", LT_SRC_FLAG, "--timeout",
				   &err),
		     -1, "a timeout of 0");
	cr_expect_eq(lt_config_set(&cfg, &lt_options[LT_OPT_HEARTBEAT_INTERVAL], "0", LT_SRC_FLAG,
				   "--heartbeat-interval", &err),
		     -1);
	set(LT_OPT_TIMEOUT, "3", LT_SRC_ENV, "LTRUN_TIMEOUT");
	set(LT_OPT_DEBUG_COLLECTIVES, "1", LT_SRC_ENV, "LTRUN_DEBUG_COLLECTIVES");
	cr_expect_eq(cfg.timeout, 3);
	cr_expect(cfg.debug_collectives);
}
