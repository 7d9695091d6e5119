/*
 * test_core_parse.c - core/parse.h's integers: lt_parse_long's accepted
 * and refused texts, and lt_env_long_or, the tuning knobs' reader (the
 * communicators' LTRUN_SHM_*, LTRUN_TCP_SPIN_US, LOCAL_WORLD_SIZE), which
 * keeps the default for anything but a number in range.
 */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "core/parse.h"

Test(core_parse, long_accepts_decimal_in_range)
{
	long v = 0;

	cr_expect_eq(lt_parse_long("42", 0, 100, &v), 0);
	cr_expect_eq(v, 42);
	cr_expect_eq(lt_parse_long("-3", -5, 5, &v), 0);
	cr_expect_eq(v, -3);
	cr_expect_eq(lt_parse_long("100", 0, 100, &v), 0);
	cr_expect_eq(v, 100);
}

Test(core_parse, long_refuses_the_rest_and_leaves_out_alone)
{
	static const char *const bad[] = { "", " 4", "+4", "4 ", "4k", "0x10", "101", "-1", "--1",
					   "99999999999999999999999" };
	long v = 7;

	cr_expect_eq(lt_parse_long(NULL, 0, 100, &v), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(lt_parse_long(bad[i], 0, 100, &v), -1, "'%s' was accepted", bad[i]);
	cr_expect_eq(v, 7);
}

Test(core_parse, env_long_or_keeps_the_default_unless_valid)
{
	unsetenv("LT_TEST_KNOB");
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 200);
	setenv("LT_TEST_KNOB", "50", 1);
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 50);
	setenv("LT_TEST_KNOB", "0", 1);
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 0);
	setenv("LT_TEST_KNOB", "5000", 1);
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 200);
	setenv("LT_TEST_KNOB", "fast", 1);
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 200);
	setenv("LT_TEST_KNOB", "", 1);
	cr_expect_eq(lt_env_long_or("LT_TEST_KNOB", 200, 0, 1000), 200);
	unsetenv("LT_TEST_KNOB");
}
