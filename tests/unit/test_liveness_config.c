/*
 * test_liveness_config.c - the options of failure detection and collective
 * timeouts (core/config.c): their defaults (torch elastic's 5 s keep-alive,
 * torch's 30-minute collective timeout), their ranges, and the check that
 * --heartbeat-timeout leaves room for more than two missed keep-alives.
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
	cr_assert_eq(lt_config_init(&cfg, &err), 0);
}

static void teardown(void)
{
	lt_config_free(&cfg);
}

TestSuite(liveness_config, .init = setup, .fini = teardown);

static int set(enum lt_opt_id id, const char *text, enum lt_source src, const char *where)
{
	return lt_config_set(&cfg, &lt_options[id], text, src, where, &err);
}

Test(liveness_config, defaults)
{
	cr_expect_eq(cfg.heartbeat_interval, 5.0);
	cr_expect_eq(cfg.heartbeat_timeout, 30.0);
	cr_expect_eq(cfg.timeout, 1800);
	cr_expect_eq(cfg.debug_collectives, false);
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(liveness_config, timeout_must_exceed_two_intervals)
{
	cr_assert_eq(set(LT_OPT_HEARTBEAT_INTERVAL, "2", LT_SRC_ENV, "LTRUN_HEARTBEAT_INTERVAL"), 0,
		     "%s", err.msg);
	cr_assert_eq(set(LT_OPT_HEARTBEAT_TIMEOUT, "4", LT_SRC_FLAG, "--heartbeat-timeout"), 0, "%s",
		     err.msg);
	cr_expect_eq(lt_config_check(&cfg, &err), -1, "4 s is exactly two intervals of 2 s");
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(strstr(err.msg, "--heartbeat-timeout 4 (--heartbeat-timeout)") &&
			  strstr(err.msg, "--heartbeat-interval 2 (LTRUN_HEARTBEAT_INTERVAL)"),
		  "names both and where they came from: %s", err.msg);
	cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
	cr_assert_eq(set(LT_OPT_HEARTBEAT_TIMEOUT, "4.5", LT_SRC_FLAG, "--heartbeat-timeout"), 0);
	cr_expect_eq(lt_config_check(&cfg, &err), 0, "%s", err.msg);
}

Test(liveness_config, ranges)
{
	cr_expect_eq(set(LT_OPT_TIMEOUT, "0", LT_SRC_FLAG, "--timeout"), -1, "a timeout of 0");
	cr_expect(strstr(err.msg, "--timeout"), "%s", err.msg);
	cr_expect_eq(set(LT_OPT_HEARTBEAT_INTERVAL, "0", LT_SRC_FLAG, "--heartbeat-interval"), -1);
	cr_expect_eq(set(LT_OPT_HEARTBEAT_TIMEOUT, "nan", LT_SRC_FLAG, "--heartbeat-timeout"), -1);
	cr_expect_eq(set(LT_OPT_TIMEOUT, "3", LT_SRC_FLAG, "--timeout"), 0, "%s", err.msg);
	cr_expect_eq(cfg.timeout, 3);
}

Test(liveness_config, from_the_environment)
{
	setenv("LTRUN_TIMEOUT", "42", 1);
	setenv("LTRUN_DEBUG_COLLECTIVES", "1", 1);
	cr_expect_eq(lt_config_load_env(&cfg, NULL, &err), 0, "%s", err.msg);
	unsetenv("LTRUN_TIMEOUT");
	unsetenv("LTRUN_DEBUG_COLLECTIVES");
	cr_expect_eq(cfg.timeout, 42);
	cr_expect(cfg.debug_collectives);
}
