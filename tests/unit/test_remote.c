/*
 * test_remote.c - the environment records a --hostfile launch writes on
 * ssh's stdin (src/launch/remote.c): whole, in pieces, and bad.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "launch/remote.h"

#define REC(s) s, sizeof(s) - 1

Test(remote_env, records_set_variables_up_to_the_empty_one)
{
	struct lt_err err = { 0 };
	const char buf[] = "LT_TR_A=1\0LT_TR_B=x=y\0LT_TR_C=\0\0\x0f";

	unsetenv("LT_TR_A");
	cr_assert_eq(lt_remote_parse_env(REC(buf), &err), (long)(sizeof(buf) - 2), "%s", err.msg);
	cr_expect_str_eq(getenv("LT_TR_A"), "1");
	cr_expect_str_eq(getenv("LT_TR_B"), "x=y");
	cr_expect_str_eq(getenv("LT_TR_C"), "");
}

Test(remote_env, an_unfinished_stream_asks_for_more)
{
	struct lt_err err = { 0 };

	cr_expect_eq(lt_remote_parse_env(REC("LT_TR_D=1\0LT_TR_E=par"), &err), 0);
	cr_expect_eq(lt_remote_parse_env(REC("LT_TR_D=1\0"), &err), 0);
	cr_expect_eq(lt_remote_parse_env("", 0, &err), 0);
}

Test(remote_env, bad_records_are_refused)
{
	static const struct {
		const char *buf;
		size_t n;
	} bad[] = {
		{ REC("NOEQUALS\0\0") },
		{ REC("=value\0\0") },
		{ REC("1A=b\0\0") },
		{ REC("A-B=c\0\0") },
		{ REC("A B=c\0\0") },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lt_err err = { 0 };
		cr_expect_eq(lt_remote_parse_env(bad[i].buf, bad[i].n, &err), -1, "record %zu", i);
		cr_expect(strstr(err.msg, "bad environment record") != NULL, "%s", err.msg);
	}
}
