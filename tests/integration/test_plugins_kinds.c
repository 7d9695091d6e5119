/*
 * test_plugins_kinds.c - user plugins of the precision and checkpoint IO
 * kinds run: the digits MLP (examples/mlp) trained on 2 ranks through the
 * example plugins under examples/plugins/:
 *
 *   bf16-sr    (bf16_sr.so) reaches bf16-mixed's accuracy, its hook makes
 *              the views (its parameters differ from bf16-mixed's), and
 *              two runs agree bit for bit (the rounding is seeded alike on
 *              every rank)
 *   zstd       (zstd_io.so) saves compressed files, --resume through it is
 *              bit-identical to an uninterrupted run, `ltrun ckpt verify
 *              --plugin ... --ckpt-io zstd` passes and catches a flipped
 *              byte
 *
 * and plugins whose ops fail (tests/plugins/failing_kinds.c) give a
 * one-line error naming the plugin, a nonzero exit, and lose nothing: a
 * failing checkpoint write leaves `last` on the previous, verifiable
 * checkpoint.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "training.h"

TestSuite(plugins_kinds, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 180);

#define MLP build_path("examples/mlp/mlp.so")
#define BF16_SR build_path("examples/plugins/bf16_sr.so")
#define ZSTD_IO build_path("examples/plugins/zstd_io.so")
#define FAILING build_path("tests/plugins/failing_kinds.so")

static void need(const char *so)
{
	if (access(so, R_OK))
		cr_skip_test("%s is not built (make; zstd_io.so needs libzstd-dev, and ./configure --without-zstd leaves it out)",
			     so);
}

/* Trains the MLP on 2 ranks with precision prec (bf16-sr through its
 * plugin), dumping the parameters to tmp/dump; returns val_acc. */
static double mlp_run(const char *prec, const char *dump)
{
	char path[512];
	char *err = train(prec, (const char *const[]){ "--plugin", BF16_SR, "--devices", "2",
			  "--precision", prec, "--max-epochs", "20", "--lr", "0.1", MLP, "--",
			  "--dump", path_in_tmp(path, sizeof(path), dump), NULL }, 1);
	double acc = final_val_acc(prec, err);

	free(err);
	return acc;
}

static size_t file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	cr_assert_not_null(f, "no %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return (size_t)n;
}

Test(plugins_kinds, bf16_sr_trains_the_mlp_as_bf16_mixed_does)
{
	char a[512], b[512], m[512];
	double ref, acc, again;

	need(BF16_SR);
	ref = mlp_run("bf16-mixed", "mixed.f32");
	acc = mlp_run("bf16-sr", "sr.f32");
	again = mlp_run("bf16-sr", "sr2.f32");
	cr_expect_geq(acc, ref - 0.01, "bf16-sr reaches %.4f, bf16-mixed %.4f", acc, ref);
	cr_expect_eq(acc, again, "two bf16-sr runs: %.4f and %.4f", acc, again);
	path_in_tmp(a, sizeof(a), "sr.f32");
	path_in_tmp(b, sizeof(b), "sr2.f32");
	path_in_tmp(m, sizeof(m), "mixed.f32");
	cr_expect(same_file(a, b), "two bf16-sr runs end with the same parameters");
	cr_expect_not(same_file(a, m),
		      "bf16-sr's to_compute makes the views: its run differs from bf16-mixed's");
}

/* The MLP on 2 ranks, through zstd; extra ltrun options, then dump. */
static char *zstd_run(const char *what, const char *const *extra, const char *dump,
		      bool keep_err)
{
	const char *argv[40];
	char path[512];
	int n = 0;

	for (const char *const *a = (const char *const[]){ "--plugin", ZSTD_IO, "--ckpt-io",
			     "zstd", "--devices", "2", "--batch-size", "16", "--lr", "0.1",
			     "--max-epochs", "10", NULL };
	     *a; a++)
		argv[n++] = *a;
	for (; *extra; extra++)
		argv[n++] = *extra;
	argv[n++] = MLP;
	argv[n++] = "--";
	argv[n++] = "--dump";
	argv[n++] = path_in_tmp(path, sizeof(path), dump);
	argv[n] = NULL;
	return train(what, argv, keep_err);
}

Test(plugins_kinds, zstd_saves_resumes_bit_identically_and_verifies)
{
	char dir[512], model[600], whole[512], resumed[512];
	struct run_result r;
	size_t bytes = 0;
	char *err;
	FILE *f;
	int byte;

	need(ZSTD_IO);
	path_in_tmp(dir, sizeof(dir), "ckpt");
	zstd_run("whole", (const char *const[]){ "--max-steps", "40", NULL }, "whole.f32", false);
	zstd_run("first half", (const char *const[]){ "--max-steps", "20", "--ckpt-dir", dir,
						      NULL }, "half.f32", false);
	err = zstd_run("resumed", (const char *const[]){ "--max-steps", "40", "--ckpt-dir", dir,
							 "--resume", "last", NULL },
		       "resumed.f32", true);
	cr_expect(strstr(err, "trained 40 steps"), "the resumed run ends at step 40:\n%s", err);
	free(err);
	cr_expect(same_file(path_in_tmp(whole, sizeof(whole), "whole.f32"),
			    path_in_tmp(resumed, sizeof(resumed), "resumed.f32")),
		  "a run resumed through zstd ends with the uninterrupted run's parameters");

	/* the files are zstd frames (magic 28 b5 2f fd), smaller than the data */
	snprintf(model, sizeof(model), "%s/step-40/model.safetensors", dir);
	f = fopen(model, "rb");
	cr_assert_not_null(f, "no %s", model);
	cr_expect(fgetc(f) == 0x28 && fgetc(f) == 0xb5 && fgetc(f) == 0x2f && fgetc(f) == 0xfd,
		  "%s is a zstd frame", model);
	fclose(f);

	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, "--plugin", ZSTD_IO,
			       "--ckpt-io", "zstd", NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "verify through zstd passes:\n%s", r.err);
	cr_expect(strstr(r.out, "every checksum matches"), "%s", r.out);
	cr_expect(sscanf(r.out, "ok: %*d tensors, %zu bytes", &bytes) == 1 && file_size(model) < bytes,
		  "%zu bytes of tensors compressed to %zu", bytes, file_size(model));
	run_result_free(&r);
	/* read as plain files, the checkpoint is refused, not misread */
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "a zstd checkpoint read through file must fail");
	run_result_free(&r);

	f = fopen(model, "r+b");
	cr_assert_not_null(f);
	fseek(f, 200, SEEK_SET);
	byte = fgetc(f);
	fseek(f, 200, SEEK_SET);
	fputc(0x5a ^ byte, f);
	fclose(f);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, "--plugin", ZSTD_IO,
			       "--ckpt-io", "zstd", NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "verify catches a flipped byte");
	cr_expect(strstr(r.err, "model.safetensors"), "the error names the file:\n%s", r.err);
	cr_expect_eq(count_lines(r.err), 1, "one line:\n%s", r.err);
	run_result_free(&r);
}

/* Runs the MLP on 2 ranks with the failing plugin and opts; expects a
 * failure whose error names `who` and says `what`. */
static void expect_failure(const char *const *opts, const char *who, const char *what)
{
	const char *argv[32];
	struct run_result r;
	int n = 0;
	const char *line;

	argv[n++] = "--plugin";
	argv[n++] = FAILING;
	for (; *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = MLP;
	argv[n] = NULL;
	cr_assert_eq(run_ltrun(argv, NULL, &r), 0);
	cr_expect_eq(r.status, 1, "%s fails the run with status 1, not %d:\n%s", who, r.status,
		     r.err);
	line = strstr(r.err, "ltrun:   error: ");
	cr_assert_not_null(line, "no error line:\n%s", r.err);
	cr_expect(strstr(line, who) && strstr(line, what) &&
		  strchr(line, '\n') > strstr(line, what),
		  "one error line naming %s and saying %s:\n%s", who, what, r.err);
	run_result_free(&r);
}

Test(plugins_kinds, a_failing_ckpt_io_write_keeps_the_last_good_checkpoint)
{
	char dir[512], last[600], buf[64] = "";
	struct run_result r;
	FILE *f;

	need(FAILING);
	path_in_tmp(dir, sizeof(dir), "ckpt");
	/* saves at steps 2 and 4: the second model write fails */
	expect_failure((const char *const[]){ "--ckpt-io", "fail-io-save2", "--ckpt-dir", dir,
			       "--ckpt-every-n-steps", "2", "--max-steps", "6", "--devices", "2",
			       NULL },
		       "checkpoint IO 'fail-io-save2'",
		       "injected write failure for 'step-4/model.safetensors'");
	snprintf(last, sizeof(last), "%s/last", dir);
	f = fopen(last, "r");
	cr_assert_not_null(f, "no %s", last);
	cr_expect_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_expect_str_eq(buf, "step-2\n", "last still names the good checkpoint");
	cr_expect_eq(count_steps(dir), 1, "the failed step-4 is not left behind");
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, "--plugin", FAILING,
			       "--ckpt-io", "fail-io", NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "the kept checkpoint verifies:\n%s", r.err);
	run_result_free(&r);
}

Test(plugins_kinds, a_failing_ckpt_io_open_names_the_plugin)
{
	char dir[512];

	need(FAILING);
	path_in_tmp(dir, sizeof(dir), "ckpt");
	expect_failure((const char *const[]){ "--ckpt-io", "fail-io-open", "--ckpt-dir", dir,
			       "--max-steps", "2", "--devices", "2", NULL },
		       "checkpoint IO 'fail-io-open'", "injected open failure");
}

Test(plugins_kinds, a_failing_precision_names_the_plugin_and_keeps_the_checkpoints)
{
	char dir[512];
	struct run_result r;

	need(FAILING);
	path_in_tmp(dir, sizeof(dir), "ckpt");
	/* the views of step 3 fail; steps 1 and 2 were saved */
	expect_failure((const char *const[]){ "--precision", "fail-prec-3", "--ckpt-dir", dir,
			       "--ckpt-every-n-steps", "1", "--max-steps", "6", "--devices", "2",
			       NULL },
		       "precision 'fail-prec-3'", "injected failure at step 3");
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "the checkpoints before the failure verify:\n%s", r.err);
	run_result_free(&r);
}
