/*
 * test_params.c - plugin parameters (src/core/params.c): every type, its
 * range or choices, defaults, the "key=value,..." texts of presets and of
 * the inline form, and the one-line errors that name the parameter and
 * the valid ones.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/params.h"

static const struct lt_param_spec schema[] = {
	{ .name = "flag", .type = LT_PARAM_BOOL, .default_value = "false", .help = "a switch" },
	{ .name = "count", .type = LT_PARAM_INT, .default_value = "4", .min = 1, .max = 16,
	  .help = "how many" },
	{ .name = "any", .type = LT_PARAM_INT, .help = "an integer without bounds" },
	{ .name = "ratio", .type = LT_PARAM_FLOAT, .min = 0.5, .max = 2, .help = "a ratio" },
	{ .name = "label", .type = LT_PARAM_STRING, .default_value = "x", .help = "text" },
	{ .name = "mode", .type = LT_PARAM_CHOICE, .default_value = "fast", .choices = "fast|safe",
	  .help = "which way" },
	{ .name = NULL },
};

static struct lt_params *p;
static struct lt_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	p = lt_params_new(schema, "strategy 'test'", &err);
	cr_assert_not_null(p, "%s", err.msg);
}

static void teardown(void)
{
	lt_params_free(p);
}

TestSuite(params, .init = setup, .fini = teardown);

Test(params, defaults_are_set_and_not_given)
{
	cr_expect_eq(lt_params_count(p), 6);
	cr_expect_not(lt_params_bool(p, "flag"));
	cr_expect_eq(lt_params_int(p, "count"), 4);
	cr_expect_eq(lt_params_int(p, "any"), 0, "unset without default reads 0");
	cr_expect_null(lt_params_text(p, 2));
	cr_expect_str_eq(lt_params_str(p, "label"), "x");
	cr_expect_str_eq(lt_params_str(p, "mode"), "fast");
	cr_expect_not(lt_params_given(p, "count"));
}

Test(params, every_type_reads_back)
{
	cr_assert_eq(lt_params_apply(p, "flag=yes,count=16,any=-7,ratio=1.5,label=hello,mode=safe",
				     "--strategy", &err), 0, "%s", err.msg);
	cr_expect(lt_params_bool(p, "flag"));
	cr_expect_eq(lt_params_int(p, "count"), 16);
	cr_expect_eq(lt_params_int(p, "any"), -7);
	cr_expect_float_eq(lt_params_float(p, "ratio"), 1.5, 1e-12);
	cr_expect_float_eq(lt_params_float(p, "count"), 16.0, 1e-12, "an int reads as a float");
	cr_expect_str_eq(lt_params_str(p, "label"), "hello");
	cr_expect_str_eq(lt_params_str(p, "mode"), "safe");
	cr_expect(lt_params_given(p, "count"));
	cr_expect_not(lt_params_given(p, "nothing"));
}

Test(params, later_texts_override_earlier_ones)
{
	cr_assert_eq(lt_params_apply(p, "count=2", "preset 'a'", &err), 0);
	cr_assert_eq(lt_params_apply(p, "count=3", "--strategy", &err), 0);
	cr_expect_eq(lt_params_int(p, "count"), 3);
	cr_assert_eq(lt_params_apply(p, "", "--strategy", &err), 0, "an empty text sets nothing");
	cr_expect_eq(lt_params_int(p, "count"), 3);
}

Test(params, wrong_type_reads_as_zero)
{
	cr_expect_null(lt_params_str(p, "count"));
	cr_expect_not(lt_params_bool(p, "mode"));
	cr_expect_eq(lt_params_int(p, "label"), 0);
}

/* Each bad value: usage status, one line naming the parameter, the value,
 * where it came from and what is valid. */
Test(params, bad_values_name_the_parameter_and_the_valid_ones)
{
	static const struct { const char *text, *want[3]; } cases[] = {
		{ "count=0", { "count=0", "an integer in [1, 16]", "in --strategy" } },
		{ "count=17", { "count=17", "[1, 16]" } },
		{ "count=2.5", { "count=2.5", "an integer" } },
		{ "count=", { "count=", "an integer" } },
		{ "any=99999999999999999999", { "any=", "an integer" } },
		{ "ratio=3", { "ratio=3", "a number in [0.5, 2]" } },
		{ "ratio=nan", { "ratio=nan", "a number" } },
		{ "ratio=inf", { "ratio=inf", "a number" } },
		{ "flag=maybe", { "flag=maybe", "true or false" } },
		{ "mode=slow", { "mode=slow", "one of fast|safe" } },
		{ "count", { "'count'", "not key=value" } },
		{ "=3", { "not key=value" } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_expect_eq(lt_params_apply(p, cases[i].text, "--strategy", &err), -1, "%s",
			     cases[i].text);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "%s", cases[i].text);
		cr_expect_null(strchr(err.msg, '\n'));
		cr_expect(strstr(err.msg, "strategy 'test'") != NULL, "%s", err.msg);
		for (int w = 0; w < 3 && cases[i].want[w]; w++)
			cr_expect(strstr(err.msg, cases[i].want[w]) != NULL, "%s: lacks '%s': %s",
				  cases[i].text, cases[i].want[w], err.msg);
	}
	cr_expect_eq(lt_params_int(p, "count"), 4, "a refused value leaves the old one");
}

Test(params, unknown_keys_suggest_the_closest_and_list_all)
{
	cr_expect_eq(lt_params_apply(p, "cuont=3", "preset 'mine'", &err), -1);
	cr_expect(strstr(err.msg, "has no parameter 'cuont' in preset 'mine'; did you mean 'count'?") != NULL,
		  "%s", err.msg);
	cr_expect(strstr(err.msg, "(parameters: flag, count, any, ratio, label, mode)") != NULL, "%s",
		  err.msg);
	cr_expect_eq(lt_params_apply(p, "zzzzzzzz=1", NULL, &err), -1);
	cr_expect_null(strstr(err.msg, "did you mean"), "%s", err.msg);
}

Test(params, no_schema_has_no_parameters)
{
	struct lt_params *none = lt_params_new(NULL, "precision 'x'", &err);

	cr_assert_not_null(none);
	cr_expect_eq(lt_params_count(none), 0);
	cr_expect_eq(lt_params_apply(none, "a=1", NULL, &err), -1);
	cr_expect(strstr(err.msg, "(parameters: none)") != NULL, "%s", err.msg);
	lt_params_free(none);
}

Test(params, a_bad_default_is_the_plugins_bug)
{
	static const struct lt_param_spec bad[] = {
		{ .name = "n", .type = LT_PARAM_INT, .default_value = "many" },
		{ .name = NULL },
	};

	cr_expect_null(lt_params_new(bad, "strategy 'buggy'", &err));
	cr_expect(strstr(err.msg, "n=many") && strstr(err.msg, "default"), "%s", err.msg);
}

/* Found by fuzz/params: a key holding a newline, with a value too long to
 * hold, made a two-line message (the key was printed raw). */
Test(params, a_too_long_value_quotes_its_key)
{
	char text[400];

	snprintf(text, sizeof(text), "co\nunt=%0300d", 7);
	cr_expect_eq(lt_params_apply(p, text, "--strategy", &err), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
	cr_expect_not_null(strstr(err.msg, "longer than"), "%s", err.msg);
}
