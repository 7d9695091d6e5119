/*
 * test_init_weights.c - given weights through the real ltrun and real
 * ranks: a 32-true checkpoint of linreg, exported with `ltrun ckpt
 * export`, starts runs under 32-true, 16-mixed and bf16-mixed, on 1 and 2
 * ranks, whose first loss is the 32-true one within the dtype's
 * tolerance and far below a run's without the weights; a bf16-mixed
 * checkpoint gives its f32 master weights; a file another program wrote
 * (F64 and F16, no metadata) sets every rank exactly; Fabric mode gets the
 * weights when the parameters are placed; lt_param_set() from init
 * survives mixed precision (where writing lt_data() is lost) and rank 0's
 * values reach every rank; each misuse and each mismatch of the file
 * ends the run with its one-line message; the exports read back in
 * Python's reader with the dtype asked for.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ltrun.h"
#include "run.h"
#include "training.h"

TestSuite(init_weights, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 180);

#define WEIGHTS build_path("tests/models/weights_set.so")
#define PY "/usr/bin/python3"

/* The "loss" of the first row of dir/metrics.csv. */
static double first_loss_in(const char *dir)
{
	char path[600], header[1024], row[1024];
	const char *p = row;
	int col = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/metrics.csv", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	cr_assert(fgets(header, sizeof(header), f) && fgets(row, sizeof(row), f), "%s has no row",
		  path);
	fclose(f);
	for (const char *h = header; strncmp(h, "loss,", 5); h = strchr(h, ',') + 1, col++)
		cr_assert_not_null(strchr(h, ','), "no loss column in %s", path);
	for (int i = 0; i < col; i++)
		p = strchr(p, ',') + 1;
	return strtod(p, NULL);
}

/* One step of linreg (--lr 0.1) under precision on `devices` ranks,
 * from the weights init (NULL: none); its loss. */
static double first_loss(const char *what, const char *precision, const char *devices,
			 const char *init)
{
	char dir[512];
	const char *args[24];
	int n = 0;

	path_in_tmp(dir, sizeof(dir), what);
	for (const char *const *a = (const char *const[]){ "--precision", precision, "--devices",
			     devices, "--max-steps", "1", "--lr", "0.1", "--log-every-n-steps", "1",
			     "--log-dir", dir, NULL };
	     *a; a++)
		args[n++] = *a;
	if (init) {
		args[n++] = "--init-weights";
		args[n++] = init;
	}
	args[n++] = LINREG;
	args[n] = NULL;
	free(train(what, args, 0));
	return first_loss_in(dir);
}

/* Trains linreg 3 steps under precision with --ckpt-dir tmp/name. */
static void checkpoint(const char *name, const char *precision, char *dir, size_t len)
{
	path_in_tmp(dir, len, name);
	free(train(name, (const char *const[]){ "--precision", precision, "--max-steps", "3",
		   "--lr", "0.1", "--ckpt-dir", dir, LINREG, NULL }, 0));
}

/* `ltrun ckpt export ckpt tmp/name [--dtype dtype]` into out. */
static void export(const char *ckpt, const char *name, const char *dtype, char *out, size_t len)
{
	path_in_tmp(out, len, name);
	free(train(name, (const char *const[]){ "ckpt", "export", ckpt, out, "--dtype", dtype,
		   NULL }, 0));
}

static void expect_close(const char *what, double got, double want, double rel)
{
	cr_expect_leq(fabs(got - want), rel * fabs(want), "%s: first loss %.9g, 32-true's %.9g",
		      what, got, want);
}

Test(init_weights, given_weights_give_the_32_true_first_loss_under_every_precision)
{
	char ck[512], w[512];
	double ref, ref2;

	checkpoint("ck", "32-true", ck, sizeof(ck));
	export(ck, "w.safetensors", "f32", w, sizeof(w));
	ref = first_loss("ref", "32-true", "1", w);
	cr_expect_gt(first_loss("none", "32-true", "1", NULL), 1.1 * ref,
		     "a run without the weights starts higher than one with them");
	expect_close("16-mixed", first_loss("16-mixed", "16-mixed", "1", w), ref, 2e-3);
	expect_close("bf16-mixed", first_loss("bf16-mixed", "bf16-mixed", "1", w), ref, 1e-2);
	/* the checkpoint itself, its step directory */
	expect_close("the checkpoint, 16-mixed", first_loss("ck16", "16-mixed", "1", ck), ref, 2e-3);
	/* 2 ranks: only rank 0 reads; the others get its values at setup */
	ref2 = first_loss("ref2", "32-true", "2", w);
	cr_expect_gt(first_loss("none2", "32-true", "2", NULL), 1.1 * ref2);
	expect_close("2 ranks bf16-mixed", first_loss("bf16x2", "bf16-mixed", "2", w), ref2, 1e-2);
	expect_close("2 ranks 16-mixed", first_loss("16x2", "16-mixed", "2", ck), ref2, 2e-3);
}

/* Python's reader prints "name\tDTYPE\tshape\tsha256" lines, then the
 * metadata; the lines of path's tensors go to out. */
static void python_read(const char *path, char *out, size_t len)
{
	struct run_result r;

	cr_assert_eq(run_command((const char *[]){ PY, "tests/scripts/read_safetensors.py", path,
				 NULL }, NULL, 60, &r), 0);
	cr_expect_eq(r.status, 0, "Python's reader refused %s: %s", path, r.err);
	snprintf(out, len, "%s", r.out);
	run_result_free(&r);
}

Test(init_weights, a_mixed_checkpoint_gives_its_master_weights_and_exports_read_in_python)
{
	char ck[512], f32[512], bf16[512], text[4096];
	double from_ckpt;

	if (access(PY, X_OK))
		cr_skip_test("%s is missing: the independent reader needs it", PY);
	checkpoint("ck", "bf16-mixed", ck, sizeof(ck));
	export(ck, "f32.safetensors", "f32", f32, sizeof(f32));
	export(ck, "bf16.safetensors", "compute", bf16, sizeof(bf16));
	python_read(f32, text, sizeof(text));
	cr_expect(strstr(text, "linear.weight\tF32\t4,8\t") && strstr(text, "linear.bias\tF32\t4\t"),
		  "f32 export:\n%s", text);
	cr_expect(strstr(text, "format\tltrun-export") && !strstr(text, "optimizer"),
		  "the parameters alone:\n%s", text);
	python_read(bf16, text, sizeof(text));
	cr_expect(strstr(text, "linear.weight\tBF16\t4,8\t") && strstr(text, "linear.bias\tBF16\t4\t"),
		  "the compute dtype of bf16-mixed:\n%s", text);
	/* the checkpoint holds the f32 master weights: the f32 export is them */
	from_ckpt = first_loss("ckpt", "32-true", "1", ck);
	cr_expect_eq(first_loss("f32", "32-true", "1", f32), from_ckpt);
	expect_close("from the bf16 export", first_loss("bf16", "32-true", "1", bf16), from_ckpt, 1e-2);
}

/* Runs weights_set with --lr 1e-30 (the values stay) on 2 ranks, from
 * the weights init (NULL: none), dumping into tmp/name.<rank>; returns
 * its status. */
static int run_weights(const char *name, const char *precision, const char *init,
		       const char *const *model_args)
{
	char dump[512];
	const char *args[32];
	struct run_result r;
	int n = 0, status;

	path_in_tmp(dump, sizeof(dump), name);
	for (const char *const *a = (const char *const[]){ "--devices", "2", "--precision",
			     precision, "--max-steps", "1", "--lr", "1e-30", NULL };
	     *a; a++)
		args[n++] = *a;
	if (init) {
		args[n++] = "--init-weights";
		args[n++] = init;
	}
	for (const char *const *a = (const char *const[]){ WEIGHTS, "--", "--dump", dump, NULL };
	     *a; a++)
		args[n++] = *a;
	for (; *model_args; model_args++)
		args[n++] = *model_args;
	args[n] = NULL;
	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	status = r.status;
	cr_expect_eq(status, 0, "%s: status %d\n%s", name, status, r.err);
	run_result_free(&r);
	return status;
}

/* Whether rank's dump of run name holds rank 0's given values (element
 * i of the weight (i - 16) / 8, of the bias -i / 4). */
static bool holds_given(const char *name, int rank)
{
	char path[600];
	float v[36];
	FILE *f;
	bool same = true;

	snprintf(path, sizeof(path), "%s/%s.%d", training_tmpdir, name, rank);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "no dump %s", path);
	cr_assert_eq(fread(v, sizeof(float), 36, f), 36, "short dump %s", path);
	fclose(f);
	for (int i = 0; i < 36; i++)
		same &= v[i] == (i < 32 ? (float)(i - 16) / 8.0f : -(float)(i - 32) / 4.0f);
	return same;
}

Test(init_weights, lt_param_set_survives_every_precision_and_rank_0_wins)
{
	static const char *const precisions[] = { "32-true", "16-mixed", "bf16-mixed", "64-true",
						  "bf16-true" };
	static const char *const dtypes[] = { "f32", "f64", "f16", "bf16" };

	for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++)
		for (size_t d = 0; d < sizeof(dtypes) / sizeof(dtypes[0]); d++) {
			char name[64];

			snprintf(name, sizeof(name), "%s-%s", precisions[p], dtypes[d]);
			cr_assert_eq(run_weights(name, precisions[p], NULL,
						 (const char *const[]){ "--set", dtypes[d], NULL }), 0);
			for (int rank = 0; rank < 2; rank++)
				cr_expect(holds_given(name, rank), "%s: rank %d holds other values",
					  name, rank);
		}
	/* the trap lt_param_set() avoids: under mixed precision a write into
	 * lt_data() is lost at the first step, the master copy wins */
	cr_assert_eq(run_weights("poke", "bf16-mixed", NULL, (const char *const[]){ "--poke", NULL }),
		     0);
	cr_expect(!holds_given("poke", 0), "a write into lt_data() under bf16-mixed is lost");
}

/* A safetensors file as another program writes it (no __metadata__, no
 * checksums): the given values of holds_given(), the weight in F64 and
 * the bias in F16. */
static void write_foreign(const char *path)
{
	static const char header[] =
		"{\"linear.weight\":{\"dtype\":\"F64\",\"shape\":[4,8],\"data_offsets\":[0,256]},"
		"\"linear.bias\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[256,264]}}";
	uint64_t len = (sizeof(header) - 1 + 7) / 8 * 8;
	char padded[256];
	double w[32];
	uint16_t b[4];
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, header, sizeof(header) - 1);
	for (int i = 0; i < 32; i++)
		w[i] = (i - 16) / 8.0;
	for (int i = 0; i < 4; i++)
		b[i] = lt_f32_to_f16(-(float)i / 4.0f);
	fwrite(&len, sizeof(len), 1, f); /* little-endian hosts only, as ltrun */
	fwrite(padded, 1, len, f);
	fwrite(w, sizeof(w), 1, f);
	fwrite(b, sizeof(b), 1, f);
	cr_assert_eq(fclose(f), 0);
}

Test(init_weights, a_foreign_file_of_f64_and_f16_sets_every_rank_under_every_precision)
{
	static const char *const precisions[] = { "32-true", "16-mixed", "bf16-mixed", "64-true" };
	char file[512];

	path_in_tmp(file, sizeof(file), "foreign.safetensors");
	write_foreign(file);
	for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++) {
		char name[64];

		snprintf(name, sizeof(name), "foreign-%s", precisions[p]);
		cr_assert_eq(run_weights(name, precisions[p], file, (const char *const[]){ NULL }), 0);
		for (int rank = 0; rank < 2; rank++)
			cr_expect(holds_given(name, rank), "%s: rank %d holds other values", name, rank);
	}
}

/* Runs ltrun with args; expects status and a stderr holding want. */
static void expect_failure(const char *what, const char *const *args, int status,
			   const char *want)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_expect_eq(r.status, status, "%s: status %d, not %d\n%s", what, r.status, status, r.err);
	cr_expect(strstr(r.err, want), "%s: no '%s' in:\n%s", what, want, r.err);
	run_result_free(&r);
}

Test(init_weights, lt_param_set_misuse_ends_the_rank_naming_the_call)
{
	static const char *const cases[][2] = {
		{ "--late", "lt_param_set('linear.weight') after the parameters were placed" },
		{ "--bad-dtype", "lt_param_set('linear.weight'): values of dtype i32" },
		{ "--null", "lt_param_set('linear.weight', NULL)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_failure(cases[i][0], (const char *const[]){ "--max-steps", "1", WEIGHTS, "--",
			       "--set", "f32", cases[i][0], NULL }, 1, cases[i][1]);
}

/* weights_set from init (a file or checkpoint) with model_arg (NULL: none). */
static const char *const *weights_from(const char *init, const char *flag, const char *model_arg)
{
	static const char *args[16];
	int n = 0;

	args[n++] = "--max-steps";
	args[n++] = "1";
	args[n++] = "--init-weights";
	args[n++] = init;
	if (flag)
		args[n++] = flag;
	args[n++] = WEIGHTS;
	args[n++] = "--";
	if (model_arg) {
		args[n++] = model_arg;
		if (!strcmp(model_arg, "--rows"))
			args[n++] = "5";
	}
	args[n] = NULL;
	return args;
}

Test(init_weights, mismatches_are_named)
{
	char ck[512], extra[512], err[8192];

	checkpoint("ck", "32-true", ck, sizeof(ck));
	path_in_tmp(extra, sizeof(extra), "extra");
	free(train("extra", (const char *const[]){ "--max-steps", "1", "--ckpt-dir", extra, WEIGHTS,
		   "--", "--extra", NULL }, 0));
	expect_failure("shape", weights_from(ck, NULL, "--rows"), 1,
		       "tensor 'linear.weight' is [4, 8] in the file, the model's parameter is [5, 8]");
	expect_failure("missing", weights_from(ck, NULL, "--extra"), 1,
		       "has no tensor for 1 of the model's 3 parameters: 'extra.scale'");
	expect_failure("strict", weights_from(extra, "--init-weights-strict", NULL), 1,
		       "holds 1 tensor the model has not: 'extra.scale'");
	/* not strict: listed once, skipped; the optimizer state is no extra */
	{
		struct run_result r;

		cr_assert_eq(run_ltrun(weights_from(extra, NULL, NULL), NULL, &r), 0);
		cr_expect_eq(r.status, 0, "%s", r.err);
		cr_expect(strstr(r.err, "skipped 1 tensor the model has not: 'extra.scale'\n"), "%s",
			  r.err);
		snprintf(err, sizeof(err), "%s", r.err);
		run_result_free(&r);
		cr_expect(!strstr(err, "optimizer."), "%s", err);
	}
	/* before any rank starts */
	expect_failure("no such path", weights_from("/nonexistent/w.safetensors", NULL, NULL), 2,
		       "--init-weights: cannot open checkpoint '/nonexistent/w.safetensors'");
}

Test(init_weights, export_refuses_to_overwrite_and_bad_arguments)
{
	char ck[512], out[512];

	checkpoint("ck", "32-true", ck, sizeof(ck));
	export(ck, "w.safetensors", "f32", out, sizeof(out));
	expect_failure("exists", (const char *const[]){ "ckpt", "export", ck, out, NULL }, 1,
		       "exists: give another path, or --force to replace it");
	free(train("force", (const char *const[]){ "ckpt", "export", ck, out, "--force", "--dtype",
		   "bf16", NULL }, 0));
	expect_failure("dtype", (const char *const[]){ "ckpt", "export", ck, out, "--dtype", "i8",
		       NULL }, 2, "--dtype 'i8': give f32, compute, bf16 or f16");
	expect_failure("no OUT", (const char *const[]){ "ckpt", "export", ck, NULL }, 2,
		       "no OUT.safetensors given");
	expect_failure("not .safetensors", (const char *const[]){ "ckpt", "export", ck, ck, "--force",
		       NULL }, 2, "is not a file name ending in .safetensors");
	{
		struct run_result r;

		cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "--help", NULL }, NULL, &r), 0);
		cr_expect_eq(r.status, 0);
		cr_expect(strstr(r.out, "ltrun ckpt export PATH OUT.safetensors"), "%s", r.out);
		run_result_free(&r);
	}
}

#define FABRIC build_path("tests/models/weights_fabric.so")

/* Fabric mode places the parameters, and --init-weights gives them their
 * values, at the first lt_sync_grads(): a model that calls it before its
 * first forward sees the weights on every rank, as a Trainer-mode model
 * does; one that runs backward first is stopped, not left to step from
 * a gradient of other weights. */
Test(init_weights, fabric_mode_gives_the_weights_to_every_rank_or_says_why_not)
{
	static const char *const precisions[] = { "32-true", "bf16-mixed" };
	char ck[512], w[512], tdump[512], fdump[512], a[600], b[600];

	checkpoint("ck", "32-true", ck, sizeof(ck));
	export(ck, "w.safetensors", "f32", w, sizeof(w));
	for (size_t i = 0; i < sizeof(precisions) / sizeof(precisions[0]); i++) {
		const char *p = precisions[i];

		snprintf(a, sizeof(a), "trainer-%s", p);
		path_in_tmp(tdump, sizeof(tdump), a);
		free(train(a, (const char *const[]){ "--devices", "2", "--precision", p, "--max-steps",
			   "1", "--lr", "1e-30", "--init-weights", w, WEIGHTS, "--", "--dump", tdump,
			   NULL }, 0));
		snprintf(a, sizeof(a), "fabric-%s", p);
		path_in_tmp(fdump, sizeof(fdump), a);
		free(train(a, (const char *const[]){ "--devices", "2", "--precision", p,
			   "--init-weights", w, FABRIC, "--", "--place-first", "--dump", fdump, NULL },
			   0));
		snprintf(a, sizeof(a), "%s.0", tdump);
		for (int rank = 0; rank < 2; rank++) {
			snprintf(b, sizeof(b), "%s.%d", fdump, rank);
			expect_same_params(p, a, b, 0.0);
		}
	}
	expect_failure("backward first", (const char *const[]){ "--init-weights", w, FABRIC, NULL },
		       1, "the model ran a backward pass before its parameters took the given weights");
}
