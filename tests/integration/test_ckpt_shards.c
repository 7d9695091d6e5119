/*
 * test_ckpt_shards.c - sharded checkpoints, with the test strategy
 * slice_ckpt (tests/plugins/slice_ckpt.c: each rank owns, steps and
 * saves 1/W of the flat space): a save writes one shard per rank and an
 * index; a resume at the same world size ends bit-identical to an
 * uninterrupted run; a resume under another world size (4 -> 2, 4 -> 3),
 * a sharded run from ddp's whole checkpoint and ddp from a sharded one
 * read every element exactly (the checkpoint the resumed state saves at
 * once equals the one read, tensor by tensor); a damaged or missing
 * shard is refused by name; `ltrun ckpt consolidate`, `verify` and
 * `inspect` understand shards.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/io.h"
#include "ckpt/shards.h"
#include "core/registry.h"
#include "run.h"
#include "training.h"

TestSuite(ckpt_shards, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define SLICE build_path("tests/plugins/slice_ckpt.so")
#define FABRIC build_path("tests/models/shards_fabric.so")

/* --- reading checkpoints here --- */

static struct lt_ckpt_set *open_set(const char *dir, void **io_state)
{
	struct lt_err err = { 0 };
	struct lt_ckpt_set *s;

	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = dir }, io_state, &err),
		     0, "%s", err.msg);
	s = lt_ckpt_set_open(&lt_ckpt_io_file, *io_state, NULL, "last", &err);
	cr_assert_not_null(s, "cannot open '%s': %s", dir, err.msg);
	return s;
}

static void close_set(struct lt_ckpt_set *s, void *io_state)
{
	lt_ckpt_set_close(s);
	lt_ckpt_io_file.close(io_state);
}

static void *read_whole(struct lt_ckpt_set *s, const struct lt_ckpt_tensor *t)
{
	struct lt_err err = { 0 };
	void *buf = malloc(t->bytes + 1);
	uint64_t n = t->bytes / lt_dtype_size(t->dtype);

	cr_assert_not_null(buf);
	cr_assert_eq(lt_ckpt_set_read(s, t->name, t->dtype, 0, n, buf, &err), 0, "%s", err.msg);
	return buf;
}

/* Every tensor of checkpoint a (its last) is in b, element for element. */
static void expect_same_state(const char *what, const char *a, const char *b)
{
	void *sa, *sb;
	struct lt_ckpt_set *x = open_set(a, &sa), *y = open_set(b, &sb);
	size_t nx, ny;
	const struct lt_ckpt_tensor *tx = lt_ckpt_set_tensors(x, &nx), *ty = lt_ckpt_set_tensors(y, &ny);

	cr_expect_eq(nx, ny, "%s: %zu tensors against %zu", what, nx, ny);
	cr_expect_gt(nx, 6, "%s: the state has parameters and optimizer slots", what);
	for (size_t i = 0; i < nx; i++) {
		size_t j;

		for (j = 0; j < ny && strcmp(tx[i].name, ty[j].name); j++)
			;
		cr_assert_lt(j, ny, "%s: '%s' is missing", what, tx[i].name);
		cr_assert_eq(tx[i].dtype, ty[j].dtype, "%s: '%s'", what, tx[i].name);
		cr_assert_eq(tx[i].bytes, ty[j].bytes, "%s: '%s'", what, tx[i].name);
		cr_assert_eq(tx[i].ndim, ty[j].ndim, "%s: '%s'", what, tx[i].name);
		void *va = read_whole(x, &tx[i]), *vb = read_whole(y, &ty[j]);
		cr_expect_eq(memcmp(va, vb, tx[i].bytes), 0, "%s: '%s' differs", what, tx[i].name);
		free(va);
		free(vb);
	}
	close_set(x, sa);
	close_set(y, sb);
}

static bool is_sharded(const char *dir, size_t *files)
{
	void *st;
	struct lt_ckpt_set *s = open_set(dir, &st);
	bool sharded = lt_ckpt_set_sharded(s);

	*files = lt_ckpt_set_files(s);
	close_set(s, st);
	return sharded;
}

/* --- runs --- */

#define SLICE_OPTS "--plugin", SLICE, "--strategy", "slice_ckpt"
#define OPTIM "--optimizer", "adamw", "--lr", "0.01"

/* The Fabric model, 5 steps on ranks ranks under strategy (NULL: ddp),
 * saving step 5 to dir. */
static void save_5(const char *ranks, bool slice, const char *dir)
{
	if (slice)
		train("save", (const char *const[]){ SLICE_OPTS, OPTIM, "--devices", ranks,
			      "--ckpt-dir", dir, FABRIC, "--", "--steps", "5", "--save-every", "5",
			      NULL }, 0);
	else
		train("save", (const char *const[]){ "--strategy", "ddp", OPTIM, "--devices", ranks,
			      "--ckpt-dir", dir, FABRIC, "--", "--steps", "5", "--save-every", "5",
			      NULL }, 0);
}

/* Resumes from, on ranks ranks, and saves at once to dir; every rank
 * then holds the same values (dumps compared). */
static void resave(const char *ranks, bool slice, const char *from, const char *dir)
{
	char dump[512], a[600], b[600];
	char *x, *y;

	path_in_tmp(dump, sizeof(dump), "dump");
	if (slice)
		train("resume", (const char *const[]){ SLICE_OPTS, OPTIM, "--devices", ranks,
			      "--ckpt-dir", dir, "--resume", from, FABRIC, "--", "--steps", "5",
			      "--resave", "1", "--dump", dump, NULL }, 0);
	else
		train("resume", (const char *const[]){ "--strategy", "ddp", OPTIM, "--devices", ranks,
			      "--ckpt-dir", dir, "--resume", from, FABRIC, "--", "--steps", "5",
			      "--resave", "1", "--dump", dump, NULL }, 0);
	for (int r = 1; r < atoi(ranks); r++) {
		snprintf(a, sizeof(a), "%s.0", dump);
		snprintf(b, sizeof(b), "%s.%d", dump, r);
		x = NULL;
		y = NULL;
		FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
		size_t la = 0, lb = 0;
		cr_assert(fa && fb, "no dump of rank %d", r);
		cr_assert_gt(getdelim(&x, &la, '\0', fa), 0);
		cr_assert_gt(getdelim(&y, &lb, '\0', fb), 0);
		cr_expect_str_eq(x, y, "rank %d's values differ from rank 0's after the resume", r);
		fclose(fa);
		fclose(fb);
		free(x);
		free(y);
	}
}

static void check_reshard(const char *what, const char *saved, bool slice_saves,
			  const char *resumed, bool slice_resumes)
{
	char a[512], b[512];
	size_t files;

	path_in_tmp(a, sizeof(a), "a");
	path_in_tmp(b, sizeof(b), "b");
	save_5(saved, slice_saves, a);
	cr_expect_eq(is_sharded(a, &files), slice_saves, "%s: the saved checkpoint's kind", what);
	cr_expect_eq(files, slice_saves ? (size_t)atoi(saved) : 1, "%s: its files", what);
	resave(resumed, slice_resumes, a, b);
	cr_expect_eq(is_sharded(b, &files), slice_resumes, "%s: the resumed run's kind", what);
	expect_same_state(what, a, b);
}

Test(ckpt_shards, reshard_4_to_2_reads_every_element)
{
	check_reshard("4 -> 2", "4", true, "2", true);
}

Test(ckpt_shards, reshard_4_to_3_reads_every_element)
{
	check_reshard("4 -> 3", "4", true, "3", true);
}

Test(ckpt_shards, sharded_run_resumes_ddp_checkpoint)
{
	check_reshard("ddp 2 -> shards 3", "2", false, "3", true);
}

Test(ckpt_shards, ddp_resumes_sharded_checkpoint)
{
	check_reshard("shards 4 -> ddp 2", "4", true, "2", false);
}

/* 12 steps straight, against 5 steps saved in 4 shards, then a resume to 12. */
Test(ckpt_shards, resume_same_world_is_bit_identical)
{
	char dir[512], whole[512], resumed[512], shard[700];
	const char *const opts[] = { SLICE_OPTS, "--devices", "4", "--batch-size", "8", OPTIM, NULL };
	const char *args[40];
	int n;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(whole, sizeof(whole), "whole.f32");
	path_in_tmp(resumed, sizeof(resumed), "resumed.f32");
#define RUN(...)                                                                        \
	do {                                                                            \
		const char *more[] = { __VA_ARGS__, NULL };                             \
		for (n = 0; opts[n]; n++)                                               \
			args[n] = opts[n];                                              \
		for (int k = 0; more[k]; k++)                                           \
			args[n++] = more[k];                                            \
		args[n] = NULL;                                                         \
		train("linreg", args, 0);                                               \
	} while (0)
	RUN("--max-epochs", "10", "--max-steps", "12", LINREG, "--", "--dump", whole);
	RUN("--max-steps", "5", "--ckpt-dir", dir, LINREG);
	for (int r = 0; r < 4; r++) {
		snprintf(shard, sizeof(shard), "%s/step-5/shard-%05d-of-00004.safetensors", dir, r);
		cr_expect_eq(access(shard, F_OK), 0, "no '%s'", shard);
	}
	RUN("--max-epochs", "10", "--max-steps", "12", "--ckpt-dir", dir, "--resume", "last",
	    LINREG, "--", "--dump", resumed);
#undef RUN
	expect_same_params("4 shards", whole, resumed, 0.0);
}

/* --- damage --- */

static void flip_last_byte(const char *path)
{
	FILE *f = fopen(path, "r+b");
	int c;

	cr_assert_not_null(f, "no '%s'", path);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	c = fgetc(f);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	fputc(c ^ 0x10, f);
	fclose(f);
}

Test(ckpt_shards, damaged_shard_is_refused_by_name)
{
	char a[512], shard[700];

	path_in_tmp(a, sizeof(a), "a");
	save_5("4", true, a);
	snprintf(shard, sizeof(shard), "%s/step-5/shard-00002-of-00004.safetensors", a);
	flip_last_byte(shard);
	expect_one_line_failure((const char *const[]){ SLICE_OPTS, OPTIM, "--devices", "2", "--ckpt-dir", a,
		"--resume", "last", FABRIC, "--", "--steps", "6", NULL },
		"step-5/shard-00002-of-00004.safetensors': tensor ");
}

Test(ckpt_shards, missing_shard_is_refused_by_name)
{
	char a[512], shard[700], step[600];

	path_in_tmp(a, sizeof(a), "a");
	save_5("4", true, a);
	snprintf(shard, sizeof(shard), "%s/step-5/shard-00001-of-00004.safetensors", a);
	cr_assert_eq(unlink(shard), 0);
	snprintf(step, sizeof(step), "%s/step-5", a);
	/* checked before the ranks start (a path), and by the ranks (last) */
	expect_one_line_failure((const char *const[]){ SLICE_OPTS, OPTIM, "--devices", "4", "--resume",
		step, FABRIC, "--", "--steps", "6", NULL },
		"shard 'shard-00001-of-00004.safetensors' cannot be read");
	expect_one_line_failure((const char *const[]){ "--strategy", "ddp", OPTIM, "--devices", "2",
		"--ckpt-dir", a, "--resume", "last", FABRIC, "--", "--steps", "6", NULL },
		"shard 'shard-00001-of-00004.safetensors' cannot be read");
}

Test(ckpt_shards, range_outside_the_layout_is_refused)
{
	char a[512];

	path_in_tmp(a, sizeof(a), "a");
	expect_one_line_failure((const char *const[]){ "--plugin", SLICE, "--strategy", "slice_ckpt_overreach",
		OPTIM, "--devices", "2", "--ckpt-dir", a, FABRIC, "--", "--steps", "2",
		"--save-every", "1", NULL },
		"strategy 'slice_ckpt_overreach' asks rank 0 to save elements [0, +49), but it keeps optimizer state for [0, +25)");
	cr_expect_eq(count_steps(a), 0, "a partial checkpoint was written");
}

/* --- ltrun ckpt consolidate, verify, inspect --- */

static struct run_result ckpt_cmd(const char *const *args)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	return r;
}

/* The same 5 steps under ddp (whole) and slice_ckpt (4 shards) end in the
 * same state (the same gradients, the same element-wise update): the
 * consolidated shards hold the whole checkpoint's parameters exactly. */
Test(ckpt_shards, consolidate_equals_the_whole_checkpoint)
{
	char a[512], d[512], out[512];
	void *so, *sd;
	struct lt_ckpt_set *x, *y;
	const struct lt_ckpt_tensor *t;
	struct run_result r;
	size_t n;

	path_in_tmp(a, sizeof(a), "a");
	path_in_tmp(d, sizeof(d), "d");
	path_in_tmp(out, sizeof(out), "full.safetensors");
	save_5("4", true, a);
	save_5("4", false, d);
	r = ckpt_cmd((const char *const[]){ "ckpt", "consolidate", a, out, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "exported 4 tensors") != NULL, "%s", r.out);
	run_result_free(&r);
	r = ckpt_cmd((const char *const[]){ "ckpt", "consolidate", a, out, NULL });
	cr_expect_neq(r.status, 0, "an existing OUT was replaced without --force");
	run_result_free(&r);
	x = open_set(d, &sd);
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = training_tmpdir }, &so,
					  &(struct lt_err){ 0 }), 0);
	y = lt_ckpt_set_open(&lt_ckpt_io_file, so, NULL, "full.safetensors", &(struct lt_err){ 0 });
	cr_assert_not_null(y);
	t = lt_ckpt_set_tensors(y, &n);
	cr_expect_eq(n, 4, "a, b, c and the buffer");
	for (size_t i = 0; i < n; i++) {
		char name[300];
		const struct lt_ckpt_tensor *w = NULL;
		size_t nw;
		const struct lt_ckpt_tensor *all = lt_ckpt_set_tensors(x, &nw);

		snprintf(name, sizeof(name), "%s%s", strcmp(t[i].name, "seen") ? "" : "buffer/",
			 t[i].name);
		for (size_t j = 0; j < nw; j++)
			if (!strcmp(all[j].name, name))
				w = &all[j];
		cr_assert_not_null(w, "'%s' is not in the whole checkpoint", name);
		cr_assert_eq(w->bytes, t[i].bytes);
		void *va = read_whole(x, w), *vb = read_whole(y, &t[i]);
		cr_expect_eq(memcmp(va, vb, w->bytes), 0, "'%s' differs", name);
		free(va);
		free(vb);
	}
	lt_ckpt_set_close(y);
	lt_ckpt_io_file.close(so);
	close_set(x, sd);
}

/* Python's safetensors, from PyPI into a virtual environment beside the
 * build (tests/scripts/py-venv), opens the consolidated file and every
 * shard; the test skips, saying why, where PyPI cannot be reached. */
Test(ckpt_shards, python_safetensors_opens_shards_and_consolidated, .timeout = 700)
{
	static const char script[] =
		"import sys, glob\n"
		"from safetensors.numpy import load_file\n"
		"full = load_file(sys.argv[1])\n"
		"assert full['a'].shape == (7, 5), full['a'].shape\n"
		"n = 0\n"
		"for f in sorted(glob.glob(sys.argv[2] + '/step-5/shard-*.safetensors')):\n"
		"    n += sum(v.size for k, v in load_file(f).items() if k == 'a')\n"
		"assert n == 35, n\n"
		"print('ok')\n";
	char a[512], out[512], venv[512], python[600];
	struct run_result r;
	int rc;

	snprintf(venv, sizeof(venv), "%s", build_path("tests/pyvenv"));
	rc = run_command((const char *const[]){ "tests/scripts/py-venv", venv, "safetensors",
						"numpy", NULL },
			 NULL, 650, &r);
	if (rc || r.status) {
		char why[300];

		snprintf(why, sizeof(why), "%s", r.err);
		why[strcspn(why, "\n")] = '\0';
		run_result_free(&r);
		cr_skip_test("no Python safetensors: %s", why);
	}
	snprintf(python, sizeof(python), "%s", r.out);
	python[strcspn(python, "\n")] = '\0';
	run_result_free(&r);
	path_in_tmp(a, sizeof(a), "a");
	path_in_tmp(out, sizeof(out), "full.safetensors");
	save_5("4", true, a);
	r = ckpt_cmd((const char *const[]){ "ckpt", "consolidate", a, out, NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_command((const char *const[]){ python, "-c", script, out, a, NULL }, NULL,
				 60, &r), 0);
	cr_expect_eq(r.status, 0, "python: %s%s", r.out, r.err);
	cr_expect(strstr(r.out, "ok") != NULL, "python: %s", r.out);
	run_result_free(&r);
}

Test(ckpt_shards, verify_and_inspect_name_the_shards)
{
	char a[512], shard[700];
	struct run_result r;

	path_in_tmp(a, sizeof(a), "a");
	save_5("4", true, a);
	r = ckpt_cmd((const char *const[]){ "ckpt", "verify", a, NULL });
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "in 4 shards") != NULL, "%s", r.out);
	run_result_free(&r);
	r = ckpt_cmd((const char *const[]){ "ckpt", "inspect", a, "--json", NULL });
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "\"sharded\":\ttrue") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "shard-00003-of-00004.safetensors") != NULL, "%s", r.out);
	run_result_free(&r);
	snprintf(shard, sizeof(shard), "%s/step-5/shard-00003-of-00004.safetensors", a);
	flip_last_byte(shard);
	r = ckpt_cmd((const char *const[]){ "ckpt", "verify", a, NULL });
	cr_expect_neq(r.status, 0, "a damaged shard verified");
	cr_expect(strstr(r.err, "shard-00003-of-00004.safetensors': tensor") != NULL, "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(unlink(shard), 0);
	r = ckpt_cmd((const char *const[]){ "ckpt", "verify", a, NULL });
	cr_expect_neq(r.status, 0, "a missing shard verified");
	cr_expect(strstr(r.err, "shard 'shard-00003-of-00004.safetensors' cannot be read") != NULL,
		  "%s", r.err);
	run_result_free(&r);
}
