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

#include "core/built.h"
#include "nginx.h"
#include "run.h"
#include "training.h"

/* single_device with batch n*8 against `strategy` on n ranks with batch 8. */
static void check_equivalence(const char *strategy, int n, bool ready)
{
	char big[16], devices[16], what[96];

	snprintf(big, sizeof(big), "%d", 8 * n);
	snprintf(devices, sizeof(devices), "%d", n);
	snprintf(what, sizeof(what), "%s on %d ranks%s", strategy, n, ready ? "" : " (no lt_grad_ready)");
	expect_runs_agree(what,
		(const char *const[]){ "--strategy", "single_device", "--batch-size", big,
			"--max-epochs", "2", "--lr", "0.1", "--seed", "7", LINREG, "--", NULL },
		(const char *const[]){ "--strategy", strategy, "--devices", devices, "--batch-size",
			"8", "--max-epochs", "2", "--lr", "0.1", "--seed", "7", LINREG, "--",
			ready ? NULL : "--no-ready", NULL }, 1e-5);
}

TestSuite(train, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

Test(train, ddp_2_ranks_equals_single_device) { check_equivalence("ddp", 2, true); }
Test(train, ddp_3_ranks_equals_single_device) { check_equivalence("ddp", 3, true); }
Test(train, ddp_4_ranks_equals_single_device) { check_equivalence("ddp", 4, true); }
Test(train, ddp_without_grad_ready_equals_single_device) { check_equivalence("ddp", 2, false); }
Test(train, ddp_spawn_equals_single_device) { check_equivalence("ddp_spawn", 3, true); }

Test(train, accumulation_equals_one_big_batch)
{
	expect_runs_agree("accumulate 4 x 8 vs 32",
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "32",
			"--max-epochs", "3", "--lr", "0.1", LINREG, "--", NULL },
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "8",
			"--accumulate-grad-batches", "4", "--max-epochs", "3", "--lr", "0.1", LINREG,
			"--", NULL }, 1e-5);
}

Test(train, ddp_with_accumulation_equals_single_device)
{
	expect_runs_agree("ddp 2 x accumulate 2 x 8 vs 32 (adamw)",
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "32",
			"--max-epochs", "2", "--optimizer", "adamw", "--lr", "0.01", LINREG, "--", NULL },
		(const char *const[]){ "--devices", "2", "--batch-size", "8",
			"--accumulate-grad-batches", "2", "--max-epochs", "2", "--optimizer", "adamw",
			"--lr", "0.01", LINREG, "--", NULL }, 1e-5);
}

/* Shards that differ by one sample and a last batch of another size: the
 * weighted average still equals the single-device mean.  100 samples on
 * 3 ranks: shares 34, 33, 33; batch 7: 5 micro-batches, the last of 6 or
 * 5 samples.  Rank r's k-th sample is perm[r + 3k], so step s covers
 * perm[21s, 21s + 21) on the three ranks together, as single_device's
 * batch of 21 does, and the last step the 16 left. */
Test(train, uneven_shards_equal_single_device)
{
	expect_runs_agree("uneven 3 ranks vs single",
		(const char *const[]){ "--strategy", "single_device", "--batch-size", "21",
			"--max-epochs", "1", "--lr", "0.1", LINREG, "--", "--samples", "100", NULL },
		(const char *const[]){ "--devices", "3", "--batch-size", "7", "--max-epochs", "1",
			"--lr", "0.1", LINREG, "--", "--samples", "100", NULL }, 1e-5);
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

/* Segments of the job whose rank 0 printed "linreg run_id=ID" in out
 * (/dev/shm/ltrun-ID-*). */
static int job_segments(const char *out)
{
	const char *p = strstr(out, "linreg run_id=");
	char prefix[96];
	DIR *d;
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(p, "rank 0 did not say its run id:\n%s", out);
	snprintf(prefix, sizeof(prefix), "ltrun-%.*s-", (int)strcspn(p + 14, "\n"), p + 14);
	d = opendir("/dev/shm");
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

Test(train, rank_failing_mid_training_is_reported_and_leaves_no_segment)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "3", "--batch-size", "4",
			       "--max-epochs", "3", build_path("tests/models/linreg.so"), "--",
			       "--fail-step", "3", NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "a failing rank must fail the job\n%s", r.err);
	cr_expect(strstr(r.err, "rank 1") != NULL, "the report names rank 1:\n%s", r.err);
	cr_expect(strstr(r.err, "failing at step 3") != NULL, "the report quotes it:\n%s", r.err);
	cr_expect_eq(job_segments(r.out), 0, "the job's shared-memory segments are left in /dev/shm");
	run_result_free(&r);
}

Test(train, rank_killed_mid_collective_leaves_no_segment)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "4", "--batch-size", "2",
			       "--max-epochs", "3", build_path("tests/models/linreg.so"), "--",
			       "--fail-step", "5", "--kill", NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 128 + 9, "the job ends with the killed rank's signal\n%s", r.err);
	cr_expect(strstr(r.err, "rank 1") && strstr(r.err, "SIGKILL"),
		  "the report names rank 1 and its signal:\n%s", r.err);
	cr_expect_eq(job_segments(r.out), 0, "the job's shared-memory segments are left in /dev/shm");
	run_result_free(&r);
}

/* The digits MLP with buckets small enough that every parameter has its
 * own, started from backward as each gradient completes. */
Test(train, mlp_ddp_with_many_buckets_equals_single_device)
{
	char da[512], db[512];
	const char *model = build_path("examples/mlp/mlp.so");
	double diff = 0.0, big = 0.0;

	path_in_tmp(da, sizeof(da), "mlp-single.txt");
	path_in_tmp(db, sizeof(db), "mlp-ddp.txt");
	train("mlp single_device", (const char *const[]){ "--strategy", "single_device",
		"--batch-size", "32", "--max-steps", "20", "--lr", "0.1", model, "--", "--hidden",
		"32", "--dump", da, NULL }, 0);
	train("mlp ddp", (const char *const[]){ "--devices", "2", "--batch-size", "16",
		"--bucket-mb", "0.001", "--max-steps", "20", "--lr", "0.1", model, "--", "--hidden",
		"32", "--dump", db, NULL }, 0);
	diff = dump_max_diff(da, db, &big);
	cr_expect_leq(diff, 1e-5 * big, "parameters differ by %g (largest %g)", diff, big);
}

/* The digits MLP on 2 ranks placed by the example cluster environment
 * (examples/plugins/hostfile_env.so): a hostfile of one node with 2
 * slots, named by HOSTFILE_ENV_FILE; the plugin is probed above the bare
 * node and its topology is the one the ranks train with. */
Test(train, mlp_through_the_hostfile_plugin)
{
	const char *so = build_path("examples/plugins/hostfile_env.so");
	char hosts[512], var[600], choice[600], port[16], *err;
	const char *env[] = { var, NULL };
	struct run_result r;
	double acc = 0.0;
	const char *p, *last = NULL;
	FILE *f;

	path_in_tmp(hosts, sizeof(hosts), "hosts.txt");
	f = fopen(hosts, "w");
	cr_assert_not_null(f);
	fputs("# this machine, two ranks\nlocalhost slots=2\n", f);
	cr_assert_eq(fclose(f), 0);
	/* the file given inline (--cluster hostfile:file=...), the
	 * variable naming one that does not exist: the parameter wins */
	snprintf(var, sizeof(var), "HOSTFILE_ENV_FILE=%s.missing", hosts);
	snprintf(choice, sizeof(choice), "hostfile:file=%s", hosts);
	snprintf(port, sizeof(port), "%d", nginx_free_port());
	cr_assert_eq(run_ltrun((const char *const[]){ "--plugin", so, "--cluster", choice,
			       "--verbose", "--node-rank", "0", "--main-port", port,
			       "--max-epochs", "20", "--lr", "0.1",
			       build_path("examples/mlp/mlp.so"), NULL }, env, &r), 0);
	err = r.err;
	cr_assert_eq(r.status, 0, "status %d\n%s", r.status, err);
	cr_expect_not_null(strstr(err, "cluster 'hostfile'"), "the plugin chose the topology:\n%s",
			   err);
	for (p = err; (p = strstr(p, "val_acc ")); p++)
		last = p;
	cr_assert_not_null(last, "no val_acc line:\n%s", err);
	cr_assert_eq(sscanf(last, "val_acc %lf", &acc), 1);
	cr_expect_geq(acc, 0.9, "the MLP reaches %.4f through the hostfile plugin", acc);
	run_result_free(&r);
}

/* A user builds each example plugin with the installed headers and
 * ltrun.pc alone (zstd_io also links libzstd, through its own .pc; $2 is
 * empty when ./configure --without-zstd left it out, and it is skipped). */
static const char build_plugins_with_pkg_config_sh[] =
	"set -e\n"
	"mkdir -p \"$1/include/ltrun\"\n"
	"cp include/ltrun.h \"$1/include/\"\n"
	"cp include/ltrun/*.h \"$1/include/ltrun/\"\n"
	"sed -e \"s|^prefix=.*|prefix=$1|\" -e \"s|^includedir=.*|includedir=$1/include|\" ltrun.pc > \"$1/ltrun.pc\"\n"
	"for c in examples/plugins/*.c; do\n"
	"  extra=; case $c in *zstd*) [ -n \"$2\" ] || continue; extra=\"$(pkg-config --cflags --libs libzstd)\";; esac\n"
	"  PKG_CONFIG_PATH=\"$1\" cc -std=gnu11 -Wall -Wextra -Werror -shared -fPIC \\\n"
	"    $(PKG_CONFIG_PATH=\"$1\" pkg-config --cflags ltrun) \"$c\" -o \"$1/$(basename \"$c\" .c).so\" $extra\n"
	"done\n";

Test(train, every_example_plugin_builds_with_pkg_config)
{
	char dir[512];
	struct run_result r;

	if (access("ltrun.pc", R_OK))
		cr_skip_test("ltrun.pc is not configured (run ./configure)");
	path_in_tmp(dir, sizeof(dir), "pc-plugins");
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", build_plugins_with_pkg_config_sh,
						   "sh", dir, LT_HAVE_ZSTD ? "zstd" : "", NULL },
				 NULL, 120, &r),
		     0);
	cr_expect_eq(r.status, 0, "cc $(pkg-config --cflags ltrun) examples/plugins/*.c failed:\n%s%s",
		     r.out, r.err);
	run_result_free(&r);
}

/* A user builds a model with the installed header and ltrun.pc alone. */
static const char build_with_pkg_config_sh[] =
	"set -e\n"
	"mkdir -p \"$1/include\"\n"
	"cp include/ltrun.h \"$1/include/\"\n"
	"sed -e \"s|^prefix=.*|prefix=$1|\" -e \"s|^includedir=.*|includedir=$1/include|\" ltrun.pc > \"$1/ltrun.pc\"\n"
	"PKG_CONFIG_PATH=\"$1\" cc -shared -fPIC $(PKG_CONFIG_PATH=\"$1\" pkg-config --cflags ltrun) \\\n"
	"  examples/mlp/mlp.c -o \"$1/mlp.so\" -lm\n";

Test(train, a_model_builds_with_pkg_config)
{
	char so[512], data[512];
	struct run_result r;

	if (access("ltrun.pc", R_OK))
		cr_skip_test("ltrun.pc is not configured (run ./configure)");
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", build_with_pkg_config_sh, "sh",
						   training_tmpdir, NULL }, NULL, 60, &r), 0);
	cr_assert_eq(r.status, 0, "cc $(pkg-config --cflags ltrun) mlp.c failed:\n%s%s", r.out, r.err);
	run_result_free(&r);
	path_in_tmp(so, sizeof(so), "mlp.so");
	snprintf(data, sizeof(data), "%s", build_path("examples/data/digits.csv"));
	train("the pkg-config build of mlp.so", (const char *const[]){ "--devices", "2",
		"--max-steps", "3", so, "--", "--data", data, NULL }, 0);
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

/* ddp's bucket size: the strategy's bucket_mb parameter, when a preset
 * gives it (tests/plugins/failing_strategy.c registers ddp_bigbucket and
 * ddp_tinybucket, as a user's plugin may), wins over --bucket-mb
 * (ltrun --verbose says how many buckets rank 0 cut). */
static unsigned ddp_buckets(const char *strategy, const char *bucket_mb)
{
	char *err = train(strategy, (const char *const[]){ "--verbose", "--plugin",
		build_path("tests/plugins/failing_strategy.so"), "--strategy", strategy,
		"--bucket-mb", bucket_mb, "--devices", "2", "--max-steps", "1",
		build_path("examples/mlp/mlp.so"), "--", "--hidden", "32", NULL }, 1);
	const char *line = strstr(err, "ltrun: ddp: ");
	unsigned n = 0;

	cr_assert_not_null(line, "no bucket count on stderr:\n%s", err);
	cr_assert_eq(sscanf(line, "ltrun: ddp: %u gradient bucket", &n), 1, "%.100s", line);
	free(err);
	return n;
}

Test(train, ddp_bucket_mb_parameter_wins_over_the_option)
{
	cr_expect_eq(ddp_buckets("ddp", "100"), 1, "--bucket-mb 100: one bucket");
	cr_expect_gt(ddp_buckets("ddp", "0.001"), 1, "--bucket-mb 0.001: one per parameter");
	cr_expect_gt(ddp_buckets("ddp_tinybucket", "100"), 1, "the preset's parameter wins");
	cr_expect_eq(ddp_buckets("ddp_bigbucket", "0.001"), 1, "the preset's parameter wins");
}
