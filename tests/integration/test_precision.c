/*
 * test_precision.c - the precision plugins through the real ltrun and
 * real ranks: every precision trains the digits MLP on 2 ranks to within
 * one percentage point of 32-true's validation accuracy; under 16-mixed a
 * rank whose gradient holds inf makes every rank skip that step (the
 * parameters stay what they were, the scale halves) and training goes on;
 * ddp in 64-true and bf16-mixed still equals single_device; clipping by
 * norm on 3 ranks equals clipping the whole batch's gradient in one
 * process.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(precision, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 180);

#define MLP build_path("examples/mlp/mlp.so")

static double mlp_accuracy(const char *precision)
{
	char *err = train(precision, (const char *const[]){ "--devices", "2", "--precision",
			  precision, "--max-epochs", "20", "--lr", "0.1", MLP, NULL }, 1);
	double acc = final_val_acc(precision, err);

	free(err);
	return acc;
}

Test(precision, every_precision_trains_the_mlp_as_32_true_does)
{
	static const char *const others[] = { "64-true", "16-mixed", "bf16-mixed", "16-true",
					      "bf16-true", "16", "bf16" };
	double ref = mlp_accuracy("32-true");

	cr_expect_geq(ref, 0.95, "32-true reaches %.4f", ref);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		double acc = mlp_accuracy(others[i]);
		cr_expect_geq(acc, ref - 0.01, "%s reaches %.4f, 32-true %.4f", others[i], acc, ref);
	}
}

/* 16-mixed, 2 ranks, for `steps` steps; with inf, step 4 of rank 1 has
 * an inf gradient. */
static const char *const *inf_run(const char *steps, bool inf)
{
	static const char *args[32];
	int n = 0;

	/* Clipping by norm too: a gradient holding inf is never clipped into
	 * garbage, its step is skipped first. */
	for (const char *const *a = (const char *const[]){ "--devices", "2", "--precision",
			     "16-mixed", "--batch-size", "8", "--lr", "0.1", "--gradient-clip-val",
			     "1", "--max-steps", NULL };
	     *a; a++)
		args[n++] = *a;
	args[n++] = steps;
	args[n++] = LINREG;
	args[n++] = "--";
	if (inf) {
		args[n++] = "--inf-step";
		args[n++] = "4";
	}
	args[n] = NULL;
	return args;
}

/* The value of column `name` in the last row of a metrics.csv. */
static double csv_last(const char *path, const char *name)
{
	char line[2048], header[2048];
	int col = -1, i = 0;
	double v = NAN;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "no %s", path);
	cr_assert_not_null(fgets(header, sizeof(header), f), "empty %s", path);
	for (char *tok = strtok(header, ",\n"); tok; tok = strtok(NULL, ",\n"), i++)
		if (!strcmp(tok, name))
			col = i;
	cr_assert_geq(col, 0, "no column %s in %s", name, path);
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		for (i = 0; i < col && p; i++)
			p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
		if (p && *p != ',' && *p != '\n')
			v = strtod(p, NULL);
	}
	fclose(f);
	return v;
}

/* 12 steps of 16-mixed on 2 ranks, logging every step into tmp/dir. */
static void run_16_mixed(const char *dir, bool inf, char *csv, size_t len)
{
	char logdir[512];
	char *err;

	path_in_tmp(logdir, sizeof(logdir), dir);
	err = train(dir, (const char *const[]){ "--devices", "2", "--precision", "16-mixed",
			  "--batch-size", "8", "--lr", "0.1", "--max-steps", "12",
			  "--log-every-n-steps", "1", "--log-dir", logdir, "--tee", LINREG, "--",
			  inf ? "--inf-step" : NULL, "4", NULL }, 1);
	cr_expect(strstr(err, " scale ") && strstr(err, " skipped "),
		  "the progress line shows the scale and the skipped steps:\n%s", err);
	free(err);
	snprintf(csv, len, "%s/metrics.csv", logdir);
}

Test(precision, an_inf_gradient_on_one_rank_skips_the_step_everywhere)
{
	char before[512], after[512], plain[600], faulty[600];
	double skipped_plain, skipped_faulty;

	/* After 4 steps, and after 5 whose last one saw an inf: the same. */
	train_dumping("4 steps", inf_run("4", false), "before.f32", before, sizeof(before));
	train_dumping("5 steps, the 5th with inf", inf_run("5", true), "after.f32", after,
		      sizeof(after));
	expect_same_params("a skipped step leaves the parameters", before, after, 0.0);

	/* Training goes on with one more step skipped than without the inf. */
	run_16_mixed("plain", false, plain, sizeof(plain));
	run_16_mixed("faulty", true, faulty, sizeof(faulty));
	skipped_plain = csv_last(plain, "skipped_steps");
	skipped_faulty = csv_last(faulty, "skipped_steps");
	cr_expect_eq(skipped_faulty, skipped_plain + 1, "skipped %g steps with the inf, %g without",
		     skipped_faulty, skipped_plain);
	cr_expect(isfinite(csv_last(faulty, "loss")), "training goes on to a finite loss");
	cr_expect_gt(csv_last(faulty, "loss_scale"), 0.0);
}

Test(precision, ddp_in_64_true_equals_single_device)
{
	expect_runs_agree("64-true ddp 3 x 8 vs 24",
		(const char *const[]){ "--strategy", "single_device", "--precision", "64-true",
			"--batch-size", "24", "--max-epochs", "2", "--lr", "0.1", LINREG, "--", NULL },
		(const char *const[]){ "--devices", "3", "--precision", "64-true", "--batch-size", "8",
			"--max-epochs", "2", "--lr", "0.1", LINREG, "--", NULL }, 1e-6);
}

/* The gradients travel in bf16: equal to single_device within bf16's
 * rounding of each rank's share. */
Test(precision, ddp_in_bf16_mixed_is_close_to_single_device)
{
	expect_runs_agree("bf16-mixed ddp 2 x 8 vs 16",
		(const char *const[]){ "--strategy", "single_device", "--precision", "bf16-mixed",
			"--batch-size", "16", "--max-epochs", "2", "--lr", "0.1", LINREG, "--", NULL },
		(const char *const[]){ "--devices", "2", "--precision", "bf16-mixed", "--batch-size",
			"8", "--max-epochs", "2", "--lr", "0.1", LINREG, "--", NULL }, 2e-2);
}

Test(precision, clipping_by_norm_on_3_ranks_equals_one_process)
{
	expect_runs_agree("clip 0.05 by norm, ddp 3 x 8 vs 24",
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "24",
			"--max-epochs", "2", "--lr", "0.1", "--gradient-clip-val", "0.05", LINREG, "--",
			NULL },
		(const char *const[]){ "--devices", "3", "--batch-size", "8", "--max-epochs", "2",
			"--lr", "0.1", "--gradient-clip-val", "0.05", LINREG, "--", NULL }, 1e-5);
	expect_runs_agree("clip 0.01 by value, ddp 3 x 8 vs 24",
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "24",
			"--max-epochs", "2", "--lr", "0.1", "--gradient-clip-val", "0.01",
			"--gradient-clip-algorithm", "value", LINREG, "--", NULL },
		(const char *const[]){ "--devices", "3", "--batch-size", "8", "--max-epochs", "2",
			"--lr", "0.1", "--gradient-clip-val", "0.01", "--gradient-clip-algorithm",
			"value", LINREG, "--", NULL }, 1e-5);
}

/* Clipping must change the result, or the test above proves nothing. */
Test(precision, clipping_changes_the_parameters)
{
	char a[512], b[512];
	float x[64], y[64];
	FILE *fa, *fb;
	size_t n;
	double diff = 0.0;

	train_dumping("no clip", (const char *const[]){ "--devices", "3", "--batch-size", "8",
		      "--max-epochs", "2", "--lr", "0.1", LINREG, "--", NULL }, "plain.f32", a,
		      sizeof(a));
	train_dumping("clip", (const char *const[]){ "--devices", "3", "--batch-size", "8",
		      "--max-epochs", "2", "--lr", "0.1", "--gradient-clip-val", "0.05", LINREG,
		      "--", NULL }, "clipped.f32", b, sizeof(b));
	fa = fopen(a, "rb");
	fb = fopen(b, "rb");
	cr_assert(fa && fb);
	n = fread(x, sizeof(float), 64, fa);
	cr_assert_eq(fread(y, sizeof(float), 64, fb), n);
	fclose(fa);
	fclose(fb);
	for (size_t i = 0; i < n; i++)
		diff = fmax(diff, fabs((double)x[i] - y[i]));
	cr_expect_gt(diff, 1e-3, "clipping at 0.05 changed nothing (%g)", diff);
}
