/*
 * test_zero_lazy.c - stage 3's deferred first values (src/runtime/
 * lazy_fill.c), through tests/models/lazy_init.so on 2 ranks: a rank's
 * resident set does not hold every parameter's first values at
 * registration nor at setup, and the values trained are bit for bit
 * those of `deferred_init=false` (every value drawn at registration),
 * also when init reads one parameter, writes another on every rank and
 * a third on rank 1 only, and under bf16-mixed (master weights).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

#define LAZY_INIT build_path("tests/models/lazy_init.so")
#define BIG (1 << 22)
#define NVALUES (BIG * 2 + 20000)
#define MODEL_KIB (NVALUES * 4 / 1024)

struct lazy_run {
	float *values; /* NVALUES, rank 0's dump */
	long registered_kib[2], setup_peak_kib[2];
	char out[4096];
};

static long probe(const char *out, const char *what, int rank)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "lazy_init: rank %d %s ", rank, what);
	at = strstr(out, key);
	cr_assert_not_null(at, "no '%s' line in\n%s", key, out);
	return atol(at + strlen(key));
}

/* Trains lazy_init 2 steps on 2 ranks under strategy and precision. */
static void run_lazy(const char *strategy, const char *precision, bool touch,
		     struct lazy_run *lr)
{
	const char *argv[] = { "--strategy", strategy, "--devices", "2", "--precision", precision,
			       "--batch-size", "4", "--max-steps", "2", "--optimizer", "sgd",
			       "--lr", "0.1", "--seed", "5", LAZY_INIT, NULL };
	char dump[512], env_dump[600];
	const char *env[] = { env_dump, touch ? "LAZY_INIT_TOUCH=1" : NULL, NULL };
	struct run_result r;
	FILE *f;

	path_in_tmp(dump, sizeof(dump), "lazy.f32");
	remove(dump);
	snprintf(env_dump, sizeof(env_dump), "LAZY_INIT_DUMP=%s", dump);
	cr_assert_eq(run_ltrun(argv, env, &r), 0);
	cr_assert_eq(r.status, 0, "%s %s: status %d\n%s\n%s", strategy, precision, r.status, r.out,
		     r.err);
	snprintf(lr->out, sizeof(lr->out), "%s", r.out);
	for (int k = 0; k < 2; k++) {
		lr->registered_kib[k] = probe(r.out, "registered_kib", k);
		lr->setup_peak_kib[k] = probe(r.out, "setup_peak_kib", k);
	}
	run_result_free(&r);
	lr->values = malloc(NVALUES * sizeof(float));
	cr_assert_not_null(lr->values);
	f = fopen(dump, "rb");
	cr_assert_not_null(f, "%s wrote no parameters", strategy);
	cr_assert_eq(fread(lr->values, sizeof(float), NVALUES, f), NVALUES, "short dump");
	fclose(f);
}

static void expect_same_values(const struct lazy_run *a, const struct lazy_run *b,
			       const char *what)
{
	size_t diff = 0, first = 0;

	for (size_t i = 0; i < NVALUES; i++)
		if (memcmp(&a->values[i], &b->values[i], sizeof(float)) && !diff++)
			first = i;
	cr_expect_eq(diff, 0, "%s: %zu values differ from deferred_init=false's, the first at %zu (%.9g against %.9g)",
		     what, diff, first, (double)b->values[first], (double)a->values[first]);
}

static void compare(const char *precision, bool touch)
{
	struct lazy_run eager = { 0 }, lazy = { 0 };

	run_lazy("fsdp:deferred_init=false", precision, touch, &eager);
	run_lazy("fsdp", precision, touch, &lazy);
	expect_same_values(&eager, &lazy, precision);
	free(eager.values);
	free(lazy.values);
}

TestSuite(zero_lazy, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 180);

Test(zero_lazy, a_rank_draws_its_own_shard_only)
{
	struct lazy_run eager = { 0 }, lazy = { 0 };

	run_lazy("fsdp:deferred_init=false", "32", false, &eager);
	run_lazy("fsdp", "32", false, &lazy);
	for (int k = 0; k < 2; k++) {
		/* drawn at once: every value resident on every rank */
		cr_expect_geq(eager.registered_kib[k], MODEL_KIB * 9 / 10,
			      "deferred_init=false: rank %d grew %ld KiB registering %d KiB of values",
			      k, eager.registered_kib[k], MODEL_KIB);
		cr_expect_lt(lazy.registered_kib[k], MODEL_KIB / 8,
			     "rank %d grew %ld KiB registering %d KiB of values: they were drawn, not deferred",
			     k, lazy.registered_kib[k], MODEL_KIB);
		/* setup: the rank's half of a and b, and all of c */
		cr_expect_lt(lazy.setup_peak_kib[k], MODEL_KIB * 3 / 4,
			     "rank %d peaked %ld KiB above its start by the first step, for %d KiB of values of which it owns half",
			     k, lazy.setup_peak_kib[k], MODEL_KIB);
	}
	expect_same_values(&eager, &lazy, "32");
	free(eager.values);
	free(lazy.values);
}

/* The rest of rank's line "lazy_init: rank R what V" (V) in buf. */
static void probe_text(const char *out, const char *what, int rank, char *buf, size_t len)
{
	char key[64];
	const char *at;
	size_t n;

	snprintf(key, sizeof(key), "lazy_init: rank %d %s ", rank, what);
	at = strstr(out, key);
	cr_assert_not_null(at, "no '%s' line in\n%s", key, out);
	at += strlen(key);
	n = strcspn(at, "\n");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), at);
}

Test(zero_lazy, values_touched_in_init_are_rank_0s)
{
	struct lazy_run lazy = { 0 };
	char a0[64], a1[64];

	compare("32", true);
	run_lazy("fsdp", "32", true, &lazy);
	/* the read in init drew a: the same value on both ranks, not 0 */
	probe_text(lazy.out, "a100", 0, a0, sizeof(a0));
	probe_text(lazy.out, "a100", 1, a1, sizeof(a1));
	cr_expect_str_eq(a0, a1, "a[100] read in init: %s on rank 0, %s on rank 1", a0, a1);
	cr_expect_neq(atof(a0), 0.0, "a[100] read as 0 in init: its first value was not drawn");
	/* rank 1's write to c[7] lost to rank 0's drawn value; b[5] written
	 * on every rank, moved by the two steps only */
	cr_expect_neq(lazy.values[2 * BIG + 7], 9.0f);
	cr_expect_float_eq(lazy.values[BIG + 5], 0.5f, 1e-3f, "b[5] is %g, not 0.5",
			   (double)lazy.values[BIG + 5]);
	free(lazy.values);
}

Test(zero_lazy, master_weights_under_bf16_mixed)
{
	compare("bf16-mixed", true);
}
