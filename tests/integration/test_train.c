/*
 * test_train.c - the Trainer loop and the strategies, through the real
 * ltrun binary and real rank processes: ddp on N ranks with batch B must
 * end with the parameters single_device reaches with batch N x B, and
 * gradient accumulation of 4 batches of B with those of one batch of 4B
 * (tests/models/linreg.c dumps them); uneven shards, metrics.csv, and a
 * rank failing mid-training (no shared-memory segment may survive it).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define MAX_FLOATS 64

static char tmpdir[] = "/tmp/ltrun-train-XXXXXX";

static void make_tmp(void)
{
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp");
}

static void remove_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

/* Runs ltrun with args (NULL-terminated) and expects success. */
static void train(const char *what, const char *const *args)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "%s: cannot start ltrun", what);
	cr_assert_eq(r.status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status, r.out,
		     r.err);
	run_result_free(&r);
}

static size_t read_floats(const char *path, float *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert_not_null(f, "no parameter dump '%s'", path);
	n = fread(out, sizeof(float), MAX_FLOATS, f);
	fclose(f);
	cr_assert_gt(n, 0, "empty parameter dump '%s'", path);
	return n;
}

/* Expects the two dumps equal within rel (relative to the largest value),
 * and that training moved the parameters at all (init differs). */
static void expect_same_params(const char *what, const char *a, const char *b, double rel)
{
	float x[MAX_FLOATS], y[MAX_FLOATS];
	size_t n = read_floats(a, x), m = read_floats(b, y);
	double max_abs = 0.0, max_diff = 0.0;

	cr_assert_eq(n, m, "%s: %zu vs %zu parameters", what, n, m);
	for (size_t i = 0; i < n; i++) {
		max_abs = fmax(max_abs, fabs((double)x[i]));
		max_diff = fmax(max_diff, fabs((double)x[i] - (double)y[i]));
	}
	cr_expect_leq(max_diff, rel * max_abs, "%s: parameters differ by %g (largest %g, relative %g > %g)",
		      what, max_diff, max_abs, max_diff / max_abs, rel);
}

static const char *path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

/* single_device with batch n*8 against `strategy` on n ranks with batch 8. */
static void check_equivalence(const char *strategy, int n, bool ready)
{
	char big[16], devices[16], single_dump[512], ddp_dump[512], what[96];
	const char *model = build_path("tests/models/linreg.so");

	snprintf(big, sizeof(big), "%d", 8 * n);
	snprintf(devices, sizeof(devices), "%d", n);
	snprintf(what, sizeof(what), "%s on %d ranks%s", strategy, n, ready ? "" : " (no lt_grad_ready)");
	path_in_tmp(single_dump, sizeof(single_dump), "single.f32");
	path_in_tmp(ddp_dump, sizeof(ddp_dump), "ddp.f32");
	train("single_device", (const char *const[]){ "--strategy", "single_device",
		"--batch-size", big, "--max-epochs", "2", "--lr", "0.1", "--seed", "7", model,
		"--", "--dump", single_dump, NULL });
	train(what, (const char *const[]){ "--strategy", strategy, "--devices", devices,
		"--batch-size", "8", "--max-epochs", "2", "--lr", "0.1", "--seed", "7", model,
		"--", "--dump", ddp_dump, ready ? NULL : "--no-ready", NULL });
	expect_same_params(what, single_dump, ddp_dump, 1e-5);
}

TestSuite(train, .init = make_tmp, .fini = remove_tmp, .timeout = 120);

Test(train, ddp_2_ranks_equals_single_device) { check_equivalence("ddp", 2, true); }
Test(train, ddp_3_ranks_equals_single_device) { check_equivalence("ddp", 3, true); }
Test(train, ddp_4_ranks_equals_single_device) { check_equivalence("ddp", 4, true); }
Test(train, ddp_without_grad_ready_equals_single_device) { check_equivalence("ddp", 2, false); }
Test(train, ddp_spawn_equals_single_device) { check_equivalence("ddp_spawn", 3, true); }

Test(train, accumulation_equals_one_big_batch)
{
	char a[512], b[512];
	const char *model = build_path("tests/models/linreg.so");

	path_in_tmp(a, sizeof(a), "big.f32");
	path_in_tmp(b, sizeof(b), "accumulated.f32");
	train("batch 32", (const char *const[]){ "--strategy", "single_device", "--batch-size",
		"32", "--max-epochs", "3", "--lr", "0.1", model, "--", "--dump", a, NULL });
	train("4 x batch 8", (const char *const[]){ "--strategy", "single_device", "--batch-size",
		"8", "--accumulate-grad-batches", "4", "--max-epochs", "3", "--lr", "0.1", model,
		"--", "--dump", b, NULL });
	expect_same_params("accumulate 4 x 8 vs 32", a, b, 1e-5);
}

Test(train, ddp_with_accumulation_equals_single_device)
{
	char a[512], b[512];
	const char *model = build_path("tests/models/linreg.so");

	path_in_tmp(a, sizeof(a), "big.f32");
	path_in_tmp(b, sizeof(b), "ddp-acc.f32");
	train("batch 32", (const char *const[]){ "--strategy", "single_device", "--batch-size",
		"32", "--max-epochs", "2", "--optimizer", "adamw", "--lr", "0.01", model, "--",
		"--dump", a, NULL });
	train("2 ranks x 2 x 8", (const char *const[]){ "--devices", "2", "--batch-size", "8",
		"--accumulate-grad-batches", "2", "--max-epochs", "2", "--optimizer", "adamw",
		"--lr", "0.01", model, "--", "--dump", b, NULL });
	expect_same_params("ddp 2 x accumulate 2 x 8 vs 32 (adamw)", a, b, 1e-5);
}

/* Shards that differ by one sample and a last batch of another size: the
 * weighted average still equals the single-device mean. */
Test(train, uneven_shards_equal_single_device)
{
	char a[512], b[512];
	const char *model = build_path("tests/models/linreg.so");

	path_in_tmp(a, sizeof(a), "single.f32");
	path_in_tmp(b, sizeof(b), "uneven.f32");
	/* 100 samples, 3 ranks: shares 34, 33, 33; batch 7: 5 micro-batches,
	 * the last of 6 or 5 samples.  Single device: batch 21, last 16. */
	train("single", (const char *const[]){ "--strategy", "single_device", "--batch-size",
		"21", "--max-epochs", "1", "--lr", "0.1", model, "--", "--samples", "100", "--dump",
		a, NULL });
	train("3 ranks", (const char *const[]){ "--devices", "3", "--batch-size", "7",
		"--max-epochs", "1", "--lr", "0.1", model, "--", "--samples", "100", "--dump", b,
		NULL });
	/* Rank r's k-th sample is perm[r + 3k], so step s covers perm[21s,
	 * 21s + 21) on the three ranks together, as single_device's batch does,
	 * and the last step the 16 left: the weighted average is exact. */
	expect_same_params("uneven 3 ranks vs single", a, b, 1e-5);
}

Test(train, metrics_csv_and_validation_lines)
{
	char logdir[512], csv[600], line[512];
	struct run_result r;
	FILE *f;

	path_in_tmp(logdir, sizeof(logdir), "logs");
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", "--batch-size", "8",
			       "--max-epochs", "2", "--log-every-n-steps", "2", "--log-dir", logdir, "--tee",
			       build_path("tests/models/linreg.so"), NULL }, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "status %d\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "val_loss") != NULL, "no validation line:\n%s", r.err);
	cr_expect(strstr(r.err, "val_rmse_proxy") != NULL, "no lt_log metric:\n%s", r.err);
	cr_expect(strstr(r.err, "steps=12 ") != NULL, "2 epochs of 6 steps:\n%s", r.err);
	snprintf(csv, sizeof(csv), "%s/metrics.csv", logdir);
	f = fopen(csv, "r");
	cr_assert_not_null(f, "no %s", csv);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_expect(!strncmp(line, "step,epoch,", 11), "header: %s", line);
	for (const char *col = "loss"; col; col = !strcmp(col, "loss") ? "lr" :
					    !strcmp(col, "lr") ? "samples_per_s" :
					    !strcmp(col, "samples_per_s") ? "val_loss" : NULL)
		cr_expect(strstr(line, col) != NULL, "no column %s in: %s", col, line);
	fclose(f);
	run_result_free(&r);
}

/* Segments named ltrun-* in /dev/shm. */
static int count_shm_segments(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "ltrun-", 6);
	closedir(d);
	return n;
}

Test(train, rank_failing_mid_training_is_reported_and_leaves_no_segment)
{
	struct run_result r;
	int before = count_shm_segments();

	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "3", "--batch-size", "4",
			       "--max-epochs", "3", build_path("tests/models/linreg.so"), "--",
			       "--fail-step", "3", NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "a failing rank must fail the job\n%s", r.err);
	cr_expect(strstr(r.err, "rank 1") != NULL, "the report names rank 1:\n%s", r.err);
	cr_expect(strstr(r.err, "failing at step 3") != NULL, "the report quotes it:\n%s", r.err);
	cr_expect_leq(count_shm_segments(), before, "shared-memory segments left in /dev/shm");
	run_result_free(&r);
}

Test(train, bad_model_table_is_refused)
{
	struct run_result r;

	/* hello.so is a Fabric model: it runs; a file that is no model is refused. */
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "1",
			       build_path("examples/plugins/hostfile_env.so"), NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0);
	cr_expect(strstr(r.err, "lt_module_v1") != NULL || strstr(r.err, "ABI") != NULL,
		  "names what is missing:\n%s", r.err);
	run_result_free(&r);
}
