/*
 * test_precision_scaler.c - the dynamic loss scaler: its initial state,
 * backing off on overflow, growing after the interval of good steps, its
 * limits, and the state a checkpoint saves and restores.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "precision/precision.h"
#include "precision/scaler.h"

Test(precision_scaler, starts_at_2_to_the_16)
{
	struct lt_scaler s;

	lt_scaler_init(&s);
	cr_expect_eq(s.st.scale, 65536.0);
	cr_expect_eq(s.st.good_steps, 0);
	cr_expect_eq(s.st.skipped, 0);
}

Test(precision_scaler, overflow_skips_and_halves)
{
	struct lt_scaler s;

	lt_scaler_init(&s);
	for (int i = 0; i < 10; i++)
		cr_expect(lt_scaler_update(&s, false));
	cr_expect_not(lt_scaler_update(&s, true), "a step with inf/NaN is not applied");
	cr_expect_eq(s.st.scale, 32768.0);
	cr_expect_eq(s.st.good_steps, 0, "an overflow restarts the count of good steps");
	cr_expect_eq(s.st.skipped, 1);
}

Test(precision_scaler, grows_after_2000_good_steps)
{
	struct lt_scaler s;

	lt_scaler_init(&s);
	for (int i = 0; i < 1999; i++)
		lt_scaler_update(&s, false);
	cr_expect_eq(s.st.scale, 65536.0, "not before 2000 good steps");
	lt_scaler_update(&s, false);
	cr_expect_eq(s.st.scale, 131072.0);
	cr_expect_eq(s.st.good_steps, 0);
	for (int i = 0; i < 1000; i++)
		lt_scaler_update(&s, false);
	lt_scaler_update(&s, true);
	for (int i = 0; i < 1999; i++)
		lt_scaler_update(&s, false);
	cr_expect_eq(s.st.scale, 65536.0, "the interval restarts after an overflow");
}

Test(precision_scaler, stays_within_its_limits)
{
	struct lt_scaler s;

	lt_scaler_init(&s);
	for (int i = 0; i < 200; i++)
		lt_scaler_update(&s, true);
	cr_expect_eq(s.st.scale, 0x1p-24);
	cr_expect(isfinite(s.st.scale) && s.st.scale > 0);
}

Test(precision_scaler, state_round_trips_and_bad_state_is_refused)
{
	struct lt_scaler s, t;
	struct lt_scaler_state st, bad;

	lt_scaler_init(&s);
	for (int i = 0; i < 7; i++)
		lt_scaler_update(&s, i == 3);
	st = lt_scaler_get(&s);
	lt_scaler_init(&t);
	cr_assert(lt_scaler_set(&t, &st));
	cr_expect_eq(t.st.scale, s.st.scale);
	cr_expect_eq(t.st.good_steps, 3);
	cr_expect_eq(t.st.skipped, 1);
	bad = st;
	bad.scale = NAN;
	cr_expect_not(lt_scaler_set(&t, &bad));
	bad = st;
	bad.scale = 0;
	cr_expect_not(lt_scaler_set(&t, &bad));
	bad = st;
	bad.good_steps = -1;
	cr_expect_not(lt_scaler_set(&t, &bad));
	cr_expect_eq(t.st.good_steps, 3, "a refused state changes nothing");
}

Test(precision_scaler, every_name_resolves_through_the_registry)
{
	static const char *const names[] = { "64-true", "32-true", "16-mixed", "bf16-mixed",
					     "16-true", "bf16-true", "64", "32", "16", "bf16" };
	static const enum lt_dtype compute[] = { LT_F64, LT_F32, LT_F16, LT_BF16, LT_F16, LT_BF16,
						 LT_F64, LT_F32, LT_F16, LT_BF16 };
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_choice c;

	cr_assert_not_null(reg, "%s", err.msg);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(lt_registry_resolve(reg, LT_KIND_PRECISION, names[i], &c, &err), 0,
			     "%s: %s", names[i], err.msg);
		cr_expect_eq(lt_precision_of(&c)->compute, compute[i], "%s computes in dtype %d",
			     names[i], lt_precision_of(&c)->compute);
		if (!strcmp(names[i], "16-mixed"))
			cr_expect(lt_precision_of(&c)->scaler);
		if (!strcmp(names[i], "bf16-mixed"))
			cr_expect(lt_precision_of(&c)->mixed && !lt_precision_of(&c)->scaler);
		lt_choice_free(&c);
	}
	cr_expect_neq(lt_registry_resolve(reg, LT_KIND_PRECISION, "transformer-engine", &c, &err), 0);
	cr_expect(strstr(err.msg, "not built"), "%s", err.msg);
	lt_registry_free(reg);
}
