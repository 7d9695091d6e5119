/*
 * test_state.c - buffers, the model's own state and replica checks on
 * real runs (tests/models/state_buf.c, state_fabric.c): buffers and
 * on_save blobs survive --resume bit for bit (file and async IO), rank
 * 0's buffers reach every rank at the start, AVERAGE buffers are the
 * ranks' mean, a checkpoint lacking a buffer is refused by name, misuses
 * end the rank with their message; --check-replicas names the first
 * tensor that differs (a parameter, a buffer) and leaves a correct run
 * unchanged; Fabric mode's lt_save/lt_resume round trip with
 * --ckpt-keep, lt_save without --ckpt-dir, --ckpt-dir never saved to.
 * And lt_state's blobs themselves (trainer/state.h).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"
#include "trainer/state.h"

TestSuite(state, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define STATE_BUF build_path("tests/models/state_buf.so")
#define STATE_FABRIC build_path("tests/models/state_fabric.so")
#define MAX_ARGS 40

/* "--devices 2 --strategy ddp --batch-size 4 --max-epochs 10", then opts,
 * then model, "--" and model_opts (each NULL-terminated, may be NULL). */
static const char *const *argv_of(const char *const *opts, const char *model,
				  const char *const *model_opts)
{
	static const char *argv[MAX_ARGS];
	static const char *const base[] = { "--devices", "2", "--strategy", "ddp", "--batch-size",
					    "4", "--max-epochs", "10", NULL };
	int n = 0;

	for (const char *const *a = base; *a; a++)
		argv[n++] = *a;
	for (; opts && *opts && n < MAX_ARGS - 12; opts++)
		argv[n++] = *opts;
	argv[n++] = model;
	argv[n++] = "--";
	for (; model_opts && *model_opts && n < MAX_ARGS - 1; model_opts++)
		argv[n++] = *model_opts;
	argv[n] = NULL;
	return argv;
}

/* The contents of a small file (malloc'ed). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 4096);

	cr_assert(f && buf, "cannot read '%s'", path);
	fread(buf, 1, 4095, f);
	fclose(f);
	return buf;
}

/* Expects the dumps prefix.0/.1 of two runs the same, byte for byte. */
static void expect_same_dumps(const char *what, const char *a, const char *b)
{
	for (int rank = 0; rank < 2; rank++) {
		char pa[600], pb[600];
		char *ta, *tb;

		snprintf(pa, sizeof(pa), "%s.%d", a, rank);
		snprintf(pb, sizeof(pb), "%s.%d", b, rank);
		ta = slurp(pa);
		tb = slurp(pb);
		cr_expect_str_eq(ta, tb, "%s: rank %d ends otherwise than the run never stopped:\n%s\nagainst\n%s",
				 what, rank, tb, ta);
		free(ta);
		free(tb);
	}
}

/* Runs ltrun, expects it to fail with needle in its stderr. */
static void expect_failure(const char *what, const char *const *argv, const char *needle)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(argv, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "%s must fail", what);
	cr_expect(strstr(r.err, needle) != NULL, "%s: expected '%s' in:\n%s", what, needle, r.err);
	run_result_free(&r);
}

/* 12 steps straight against 5, then a resume to 12, under io. */
static void check_resume(const char *io)
{
	char dir[512], whole[512], resumed[512];

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(whole, sizeof(whole), "whole");
	path_in_tmp(resumed, sizeof(resumed), "resumed");
	train("uninterrupted", argv_of((const char *const[]){ "--max-steps", "12", NULL }, STATE_BUF,
				       (const char *const[]){ "--dump", whole, NULL }), 0);
	train("first 5 steps", argv_of((const char *const[]){ "--max-steps", "5", "--ckpt-dir", dir,
						       "--ckpt-io", io, NULL }, STATE_BUF, NULL), 0);
	train("resumed", argv_of((const char *const[]){ "--max-steps", "12", "--ckpt-dir", dir,
						 "--ckpt-io", io, "--resume", "last", NULL },
				 STATE_BUF, (const char *const[]){ "--dump", resumed, NULL }), 0);
	expect_same_dumps(io, whole, resumed);
}

Test(state, buffers_and_on_save_state_resume_bit_for_bit)
{
	check_resume("file");
}

Test(state, buffers_and_on_save_state_resume_bit_for_bit_async)
{
	check_resume("async");
}

/* Each rank writes its own values into the buffers in init: rank 0's
 * reach every rank, and then the ranks stay equal. */
Test(state, buffers_start_as_rank_0s)
{
	char dump[512], p0[600], p1[600];
	char *a, *b;

	path_in_tmp(dump, sizeof(dump), "init");
	train("rank-dependent buffers", argv_of((const char *const[]){ "--max-steps", "2", NULL },
						STATE_BUF, (const char *const[]){ "--rank-init",
										  "--dump", dump, NULL }), 0);
	snprintf(p0, sizeof(p0), "%s.0", dump);
	snprintf(p1, sizeof(p1), "%s.1", dump);
	a = slurp(p0);
	b = slurp(p1);
	cr_expect_str_eq(a, b, "rank 1's buffers are not rank 0's:\n%s\nagainst\n%s", b, a);
	cr_expect(strstr(a, "count 9\n") != NULL, "count starts at rank 0's 7, +1 per step:\n%s", a);
	free(a);
	free(b);
}

/* avg.rank += rank in every step, then the mean over 2 ranks: 0.5 a step. */
Test(state, average_buffers_are_the_ranks_mean)
{
	char dump[512], p1[600];
	char *text, *at;

	path_in_tmp(dump, sizeof(dump), "avg");
	train("AVERAGE", argv_of((const char *const[]){ "--max-steps", "6", NULL }, STATE_BUF,
				 (const char *const[]){ "--dump", dump, NULL }), 0);
	snprintf(p1, sizeof(p1), "%s.1", dump);
	text = slurp(p1);
	at = strstr(text, "avg.rank ");
	cr_assert(at, "%s", text);
	cr_expect_eq(strtod(at + 9, NULL), 3.0, "6 steps of the mean of 0 and 1:\n%s", text);
	free(text);
}

Test(state, a_checkpoint_lacking_a_buffer_is_refused_by_name)
{
	char dir[512];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("save", argv_of((const char *const[]){ "--max-steps", "2", "--ckpt-dir", dir, NULL },
			      STATE_BUF, NULL), 0);
	/* buffers and blobs beside the parameters, without optimizer state */
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "verify covers buffers and blobs: %s%s", r.out, r.err);
	run_result_free(&r);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "inspect", dir, NULL }, NULL, &r), 0);
	cr_expect(strstr(r.out, "buffer/ema") && strstr(r.out, "buffer/count") &&
			  strstr(r.out, "state/rng") && strstr(r.out, "optimizer.w.") &&
			  !strstr(r.out, "optimizer.ema") && !strstr(r.out, "optimizer.buffer"),
		  "buffers and blobs are saved, without optimizer state:\n%s", r.out);
	run_result_free(&r);
	expect_failure("resume with one more buffer",
		       argv_of((const char *const[]){ "--max-steps", "4", "--ckpt-dir", dir,
						      "--resume", "last", NULL },
			       STATE_BUF, (const char *const[]){ "--extra-buffer", NULL }),
		       "has no buffer 'extra'");
}

Test(state, buffer_misuse_ends_the_rank)
{
	expect_failure("a buffer named as a parameter",
		       argv_of((const char *const[]){ "--max-steps", "1", NULL }, STATE_BUF,
			       (const char *const[]){ "--dup-name", NULL }),
		       "'w' is already registered as a parameter");
	expect_failure("lt_grad of a buffer",
		       argv_of((const char *const[]){ "--max-steps", "1", NULL }, STATE_BUF,
			       (const char *const[]){ "--grad-of-buffer", NULL }),
		       "'ema' is a buffer: it has no gradient");
}

Test(state, a_bad_state_key_is_refused)
{
	char dir[512];

	path_in_tmp(dir, sizeof(dir), "ckpt");
	expect_failure("a key with a space",
		       argv_of((const char *const[]){ "--max-steps", "1", "--ckpt-dir", dir, NULL },
			       STATE_BUF, (const char *const[]){ "--bad-key", NULL }),
		       "bad state key 'bad key'");
}

/* Rank 1 adds 1e-3 to w[0] in the train_step of step 2 (the third). */
Test(state, check_replicas_names_the_parameter_that_differs)
{
	expect_failure("a perturbed weight",
		       argv_of((const char *const[]){ "--max-steps", "6", "--check-replicas", "1", NULL },
			       STATE_BUF, (const char *const[]){ "--perturb-step", "2", NULL }),
		       "replicas differ after step 3: parameter 'w' is not the same on every rank (rank 1 differs from rank 0");
}

/* --debug checks every step, buffers included. */
Test(state, debug_checks_replicas_and_names_a_buffer)
{
	expect_failure("a diverged buffer",
		       argv_of((const char *const[]){ "--max-steps", "6", "--debug", NULL }, STATE_BUF,
			       (const char *const[]){ "--perturb-buffer", "3", NULL }),
		       "replicas differ after step 4: buffer 'ema'");
}

/* Every 2 steps the check passes, and the perturbation at step 2 (the
 * third) is found at step 4: the first check after it. */
Test(state, check_replicas_every_n_steps)
{
	expect_failure("checked every 2 steps",
		       argv_of((const char *const[]){ "--max-steps", "6", "--check-replicas", "2", NULL },
			       STATE_BUF, (const char *const[]){ "--perturb-step", "2", NULL }),
		       "replicas differ after step 4: parameter 'w'");
}

Test(state, check_replicas_leaves_the_mlp_under_ddp_unchanged)
{
	char da[512], db[512];
	const char *model = build_path("examples/mlp/mlp.so");
	double big = 0.0;

	path_in_tmp(da, sizeof(da), "mlp-plain.txt");
	path_in_tmp(db, sizeof(db), "mlp-checked.txt");
	train("mlp ddp", (const char *const[]){ "--devices", "2", "--strategy", "ddp", "--batch-size",
		"16", "--max-steps", "10", "--lr", "0.1", model, "--", "--hidden", "32", "--dump", da,
		NULL }, 0);
	train("mlp ddp --check-replicas 1", (const char *const[]){ "--devices", "2", "--strategy",
		"ddp", "--batch-size", "16", "--max-steps", "10", "--lr", "0.1", "--check-replicas", "1",
		model, "--", "--hidden", "32", "--dump", db, NULL }, 0);
	cr_expect_eq(dump_max_diff(da, db, &big), 0.0, "--check-replicas changed the training");
}

/* --- Fabric mode --- */

/* 6 steps straight against 4 saved every step (--ckpt-keep 2 leaves the
 * last 2), then a resume to 6. */
Test(state, fabric_save_and_resume_bit_for_bit_with_keep)
{
	char dir[512], whole[512], resumed[512];
	char *out;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(whole, sizeof(whole), "whole");
	path_in_tmp(resumed, sizeof(resumed), "resumed");
	train("uninterrupted", (const char *const[]){ "--devices", "2", "--strategy", "ddp",
		STATE_FABRIC, "--", "--steps", "6", "--dump", whole, NULL }, 0);
	train("4 steps saved", (const char *const[]){ "--devices", "2", "--strategy", "ddp",
		"--ckpt-dir", dir, "--ckpt-io", "file", "--ckpt-keep", "2", STATE_FABRIC, "--",
		"--steps", "4", "--save-every", "1", NULL }, 0);
	cr_expect_eq(count_steps(dir), 2, "--ckpt-keep 2 keeps 2 of Fabric mode's saves");
	out = train("resumed", (const char *const[]){ "--devices", "2", "--strategy", "ddp",
		"--ckpt-dir", dir, "--ckpt-io", "file", "--resume", "last", STATE_FABRIC, "--",
		"--steps", "6", "--save-every", "3", "--dump", resumed, NULL }, 1);
	free(out);
	expect_same_dumps("fabric", whole, resumed);
}

Test(state, fabric_save_without_ckpt_dir_fails)
{
	expect_failure("lt_save without --ckpt-dir",
		       (const char *const[]){ "--devices", "2", STATE_FABRIC, "--", "--save-every",
					      "2", NULL },
		       "lt_save() without --ckpt-dir");
}

Test(state, fabric_ckpt_dir_never_saved_to_is_said)
{
	char dir[512], *err;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	err = train("--ckpt-dir without lt_save", (const char *const[]){ "--devices", "2",
		"--ckpt-dir", dir, STATE_FABRIC, NULL }, 1);
	cr_expect(strstr(err, "never called lt_save()") != NULL, "%s", err);
	free(err);
}

Test(state, fabric_resume_never_called_is_said)
{
	char dir[512], *err;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("a checkpoint", (const char *const[]){ "--devices", "2", "--ckpt-dir", dir,
		STATE_FABRIC, "--", "--save-every", "2", NULL }, 0);
	err = train("--resume without lt_resume", (const char *const[]){ "--devices", "2",
		"--resume", dir, STATE_FABRIC, "--", "--no-resume", "1", NULL }, 1);
	cr_expect(strstr(err, "never called lt_resume()") != NULL, "%s", err);
	free(err);
}

/* --- the blobs --- */

Test(state, blobs_keys_and_overwrites)
{
	lt_state *st = lt_state_create();
	struct lt_err err = { 0 };
	char key[80];
	size_t size = 1;

	cr_assert(st);
	cr_expect_eq(lt_state_set(st, "a.b-C_9", "xyz", 3, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_state_set(st, "a.b-C_9", "uv", 2, &err), 0, "%s", err.msg);
	cr_expect(memcmp(lt_state_find(st, "a.b-C_9", &size), "uv", 2) == 0 && size == 2,
		  "a key put twice keeps the last");
	cr_expect_eq(lt_state_set(st, "empty", NULL, 0, &err), 0, "%s", err.msg);
	cr_expect(lt_state_find(st, "empty", &size) && size == 0);
	cr_expect_null(lt_state_find(st, "absent", &size));
	cr_expect_eq(size, 0);
	cr_expect_eq(lt_state_count(st), 2);
	memset(key, 'k', 63);
	key[63] = '\0';
	cr_expect_eq(lt_state_set(st, key, "1", 1, &err), 0, "63 characters are allowed");
	key[63] = 'k';
	key[64] = '\0';
	cr_expect_eq(lt_state_set(st, key, "1", 1, &err), -1, "64 characters are refused");
	cr_expect_eq(lt_state_set(st, "a/b", "1", 1, &err), -1);
	cr_expect(strstr(err.msg, "bad state key 'a/b'") != NULL, "%s", err.msg);
	cr_expect_eq(lt_state_set(st, "", "1", 1, &err), -1);
	lt_state_destroy(st);
}

/* examples/fabric: --save after every epoch, then --resume last goes on
 * from the next epoch and ends where a run never stopped ends. */
Test(state, fabric_example_saves_and_resumes)
{
	const char *model = build_path("examples/fabric/fabric.so");
	char dir[512], da[512], db[512];
	struct run_result r;
	double big = 0.0;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(da, sizeof(da), "whole.txt");
	path_in_tmp(db, sizeof(db), "resumed.txt");
	train("3 epochs", (const char *const[]){ "--devices", "2", "--lr", "0.1", model, "--",
		"--epochs", "3", "--hidden", "32", "--dump", da, NULL }, 0);
	train("2 epochs saved", (const char *const[]){ "--devices", "2", "--lr", "0.1", "--ckpt-dir",
		dir, model, "--", "--epochs", "2", "--hidden", "32", "--save", NULL }, 0);
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", "--lr", "0.1", "--ckpt-dir",
		dir, "--resume", "last", model, "--", "--epochs", "3", "--hidden", "32", "--save",
		"--dump", db, NULL }, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "epoch 2 val_acc") && !strstr(r.out, "epoch 1 val_acc"),
		  "the resumed run trains epoch 2 only:\n%s", r.out);
	run_result_free(&r);
	cr_expect_eq(dump_max_diff(da, db, &big), 0.0, "the resumed run ends elsewhere");
}
