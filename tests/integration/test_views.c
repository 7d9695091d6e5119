/*
 * test_views.c - the f32 views (lt_data_f32, lt_grad_f32) and ranges of
 * ready gradients (lt_grad_ready_range) through the real ltrun:
 * tests/models/views_linreg.c, written against the f32 views alone,
 * trains under every precision with losses that track 32-true's within
 * the dtype's rounding; under bf16-mixed lt_data_f32 is the f32 master
 * (values no bf16 holds); under 16-mixed an f32 gradient beyond f16's
 * range after folding makes the loss scaler skip the step; a stacked
 * tensor marked layer by layer under ddp gives what whole tensors and no
 * marks give, also when ddp cuts it into several buckets; bad ranges end
 * the run naming the tensor and the range.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(views, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define VIEWS build_path("tests/models/views_linreg.so")
#define MAX_STEPS 64

/* Every value of column `name` of a metrics.csv, in order; returns how
 * many. */
static int csv_column(const char *path, const char *name, double *out, int max)
{
	char line[2048];
	int col = -1, n = 0, i = 0;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "no %s", path);
	cr_assert_not_null(fgets(line, sizeof(line), f), "empty %s", path);
	for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), i++)
		if (!strcmp(tok, name))
			col = i;
	cr_assert_geq(col, 0, "no column %s in %s", name, path);
	while (n < max && fgets(line, sizeof(line), f)) {
		char *p = line;

		for (i = 0; i < col && p; i++)
			p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
		if (p)
			out[n++] = strtod(p, NULL);
	}
	fclose(f);
	return n;
}

/* 3 epochs of 16 steps under precision, every step's loss into loss;
 * the parameters (lt_data_f32) into tmp/<precision>.f32.  Returns the
 * number of steps. */
static int train_views(const char *precision, double *loss, char *dump, size_t len)
{
	char logdir[512], csv[600];
	const char *args[] = { "--precision", precision, "--batch-size", "8", "--max-epochs", "3",
			       "--lr", "0.1", "--log-every-n-steps", "1", "--log-dir",
			       path_in_tmp(logdir, sizeof(logdir), precision), VIEWS, "--", NULL };
	char name[64];

	snprintf(name, sizeof(name), "%s.f32", precision);
	train_dumping(precision, args, name, dump, len);
	snprintf(csv, sizeof(csv), "%s/metrics.csv", logdir);
	return csv_column(csv, "loss", loss, MAX_STEPS);
}

Test(views, a_model_on_f32_views_trains_alike_under_every_precision)
{
	/* the relative error a step's loss (and the parameters at the end)
	 * may have: the dtype's rounding of values and gradients over 48
	 * steps, about 4 times what each one shows (f64 1.6e-6, 16-mixed
	 * 2.6e-4, bf16-mixed 2e-3, 16-true 4e-3, bf16-true 2.6e-2) */
	static const struct { const char *name; double rel; } prec[] = {
		{ "64-true", 1e-5 }, { "16-mixed", 2e-3 }, { "bf16-mixed", 1e-2 },
		{ "16-true", 2e-2 }, { "bf16-true", 1e-1 },
	};
	double ref[MAX_STEPS], loss[MAX_STEPS];
	char ref_dump[512], dump[512];
	int n = train_views("32-true", ref, ref_dump, sizeof(ref_dump));

	cr_assert_eq(n, 48, "32-true logged %d steps", n);
	cr_expect_lt(ref[n - 1], 0.25 * ref[0], "32-true learns: loss %g -> %g", ref[0], ref[n - 1]);
	for (size_t p = 0; p < sizeof(prec) / sizeof(prec[0]); p++) {
		double worst = 0.0;

		cr_assert_eq(train_views(prec[p].name, loss, dump, sizeof(dump)), n, "%s's steps",
			     prec[p].name);
		for (int i = 0; i < n; i++)
			worst = fmax(worst, fabs(loss[i] - ref[i]) / ref[i]);
		cr_expect_leq(worst, prec[p].rel, "%s: a loss %g off 32-true's (relative; allowed %g)",
			      prec[p].name, worst, prec[p].rel);
		expect_same_params(prec[p].name, ref_dump, dump, prec[p].rel);
	}
}

/* Whether some value of the raw f32 dump is not a bf16 value. */
static bool holds_more_than_bf16(const char *path)
{
	float v[64];
	FILE *f = fopen(path, "rb");
	size_t n;
	bool more = false;

	cr_assert_not_null(f, "no %s", path);
	n = fread(v, sizeof(float), 64, f);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &v[i], sizeof(u));
		more |= (u & 0xffff) != 0;
	}
	return more;
}

Test(views, lt_data_f32_is_the_master_under_mixed_precision)
{
	double loss[MAX_STEPS];
	char mixed[512], bf16_true[512];

	train_views("bf16-mixed", loss, mixed, sizeof(mixed));
	train_views("bf16-true", loss, bf16_true, sizeof(bf16_true));
	cr_expect(holds_more_than_bf16(mixed),
		  "under bf16-mixed lt_data_f32 gives the f32 master weights, not the bf16 view");
	cr_expect(!holds_more_than_bf16(bf16_true),
		  "under bf16-true lt_data_f32 is a copy of the bf16 values");
}

/* 16-mixed for `steps` steps; spike: at step 4 an f32 gradient element
 * that overflows f16 once folded. */
static void spike_run(const char *steps, bool spike, const char *name, char *dump, size_t len)
{
	train_dumping(name, (const char *const[]){ "--precision", "16-mixed", "--batch-size", "8",
		      "--lr", "0.1", "--max-steps", steps, VIEWS, "--", spike ? "--spike-step" : NULL,
		      "4", NULL }, name, dump, len);
}

Test(views, an_f32_gradient_beyond_f16_makes_16_mixed_skip_the_step)
{
	char before[512], after[512];

	spike_run("4", false, "before.f32", before, sizeof(before));
	spike_run("5", true, "after.f32", after, sizeof(after));
	expect_same_params("the step whose folded gradient overflowed is skipped", before, after,
			   0.0);
}

static void ddp_marking(const char *precision, const char *mark, const char *name, char *dump,
			size_t len)
{
	train_dumping(name, (const char *const[]){ "--devices", "2", "--strategy", "ddp",
		      "--precision", precision, "--batch-size", "4", "--max-epochs", "2",
		      "--accumulate-grad-batches", "2", VIEWS, "--", "--mark", mark, NULL },
		      name, dump, len);
}

Test(views, a_stacked_tensor_marked_layer_by_layer_equals_whole_marks_under_ddp)
{
	static const char *const precisions[] = { "32-true", "bf16-mixed" };

	for (size_t p = 0; p < 2; p++) {
		char none[512], whole[512], layers[512], what[96];

		ddp_marking(precisions[p], "none", "none.f32", none, sizeof(none));
		ddp_marking(precisions[p], "whole", "whole.f32", whole, sizeof(whole));
		ddp_marking(precisions[p], "layers", "layers.f32", layers, sizeof(layers));
		snprintf(what, sizeof(what), "%s: layer by layer vs whole tensors", precisions[p]);
		expect_same_params(what, whole, layers, 0.0);
		snprintf(what, sizeof(what), "%s: layer by layer vs no marks", precisions[p]);
		expect_same_params(what, none, layers, 0.0);
	}
}

static void expect_refused(const char *bad, const char *call, const char *why)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", "--max-epochs", "1",
			       VIEWS, "--", "--bad-range", bad, NULL },
			       NULL, &r), 0);
	cr_expect_neq(r.status, 0, "%s range: the run fails", bad);
	cr_expect(strstr(r.err, call) && strstr(r.err, why),
		  "%s range: the message names the call, the tensor and the range:\n%s", bad, r.err);
	run_result_free(&r);
}

Test(views, bad_ranges_end_the_run_naming_the_tensor_and_the_range)
{
	expect_refused("outside", "lt_grad_ready_range('layers.weight', 46, 4)",
		       "not a range of the 48 elements of 'layers.weight'");
	expect_refused("overlap", "lt_grad_ready_range('layers.weight', 6, 12)",
		       "elements [6, 18) of 'layers.weight' overlap [0, 12)");
}

/* Whether two files hold the same bytes. */
static bool same_bytes(const char *a, const char *b)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

/* W of 4 x 4096 bf16 values (32 KiB) in buckets of 4 KiB: ddp cuts it into
 * 8 buckets, the last layer's first, each started when its range is
 * marked. */
static char *ddp_buckets_run(const char *mark, const char *name, char *dump, size_t len)
{
	path_in_tmp(dump, len, name);
	return train(name, (const char *const[]){ "--devices", "2", "--strategy",
		     "ddp:bucket_mb=0.004", "--verbose", "--precision", "bf16-mixed", "--batch-size",
		     "4", "--max-epochs", "1", VIEWS, "--", "--in", "4096", "--mark", mark, "--dump",
		     dump, NULL }, 1);
}

Test(views, a_stacked_tensor_cut_into_buckets_marked_layer_by_layer_is_the_same)
{
	char none[512], whole[512], layers[512];
	char *err = ddp_buckets_run("layers", "layers.f32", layers, sizeof(layers));

	cr_expect(strstr(err, "ddp: 9 gradient buckets"),
		  "W is cut into 8 buckets, b has its own:\n%s", err);
	free(err);
	free(ddp_buckets_run("whole", "whole.f32", whole, sizeof(whole)));
	free(ddp_buckets_run("none", "none.f32", none, sizeof(none)));
	cr_expect(same_bytes(layers, whole), "layer by layer = whole tensors");
	cr_expect(same_bytes(layers, none), "layer by layer = no marks");
}
