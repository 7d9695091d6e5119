/*
 * test_ckpt_train.c - checkpoints of real training runs: a ddp run on 2
 * ranks stopped at step K and resumed ends with parameters bit-identical
 * to an uninterrupted run (plain SGD with momentum, AdamW, and 16-mixed
 * with its loss scaler); SIGTERM makes the ranks finish their step, save
 * and exit; --ckpt-keep; `ltrun ckpt inspect` and `verify`; a checkpoint
 * of another world size, or with a flipped byte, is refused by name; the
 * same resume through a real WebDAV server (nginx) with --ckpt-io http
 * and async; async saves every step, resumed from one in the middle.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nginx.h"
#include "run.h"
#include "training.h"

TestSuite(ckpt_train, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define MAX_ARGS 40

/* args (ltrun's options up to the model, NULL-terminated), then extra,
 * then the model and "--dump dump" when dump is given. */
static const char *const *argv_of(const char *const *args, const char *const *extra,
				  const char *dump)
{
	static const char *argv[MAX_ARGS];
	int n = 0;

	for (; *args && n < MAX_ARGS - 8; args++)
		argv[n++] = *args;
	for (; extra && *extra && n < MAX_ARGS - 6; extra++)
		argv[n++] = *extra;
	argv[n++] = LINREG;
	if (dump) {
		argv[n++] = "--";
		argv[n++] = "--dump";
		argv[n++] = dump;
	}
	argv[n] = NULL;
	return argv;
}

/* 12 steps straight, against 5 steps, then a resume to 12. */
static void check_resume(const char *what, const char *const *opts)
{
	char dir[512], whole[512], resumed[512];
	char *err;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(whole, sizeof(whole), "whole.f32");
	path_in_tmp(resumed, sizeof(resumed), "resumed.f32");
	train(what, argv_of(opts, (const char *const[]){ "--max-epochs", "10", "--max-steps", "12",
						      NULL }, whole), 0);
	train(what, argv_of(opts, (const char *const[]){ "--max-steps", "5", "--ckpt-dir", dir,
						      NULL }, NULL), 0);
	err = train(what, argv_of(opts, (const char *const[]){ "--max-epochs", "10", "--max-steps",
							    "12", "--ckpt-dir", dir, "--resume",
							    "last", NULL },
				  resumed), 1);
	cr_expect(strstr(err, "trained 12 steps") != NULL, "%s: the resumed run ends at step 12:\n%s",
		  what, err);
	free(err);
	expect_same_params(what, whole, resumed, 0.0);
}

Test(ckpt_train, resume_is_bit_identical_sgd_momentum)
{
	check_resume("sgd, 2 ranks", (const char *const[]){ "--devices", "2", "--batch-size", "8",
			     "--lr", "0.1", NULL });
}

Test(ckpt_train, resume_is_bit_identical_adamw)
{
	check_resume("adamw, 2 ranks", (const char *const[]){ "--devices", "2", "--batch-size", "8",
			     "--optimizer", "adamw", "--lr", "0.01", NULL });
}

Test(ckpt_train, resume_is_bit_identical_16_mixed)
{
	check_resume("16-mixed, 2 ranks", (const char *const[]){ "--devices", "2", "--batch-size",
			     "8", "--precision", "16-mixed", "--lr", "0.1", NULL });
}

/* --ckpt-io async saving every step (each save's copy overlapping the
 * next step, the optimizer waiting for it): a checkpoint from the middle
 * of the run resumes bit-identically. */
Test(ckpt_train, async_every_step_resumes_bit_identical)
{
	const char *const opts[] = { "--devices", "2", "--batch-size", "8", "--optimizer", "adamw",
				     "--lr", "0.01", "--max-epochs", "10", NULL };
	char dir[512], step3[600], whole[512], resumed[512];
	char *err;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	snprintf(step3, sizeof(step3), "%s/step-3", dir);
	path_in_tmp(whole, sizeof(whole), "whole.f32");
	path_in_tmp(resumed, sizeof(resumed), "resumed.f32");
	train("async", argv_of(opts, (const char *const[]){ "--max-steps", "12", NULL }, whole), 0);
	train("async", argv_of(opts, (const char *const[]){ "--max-steps", "6", "--ckpt-dir", dir,
							  "--ckpt-io", "async", "--ckpt-every-n-steps",
							  "1", "--ckpt-keep", "4", NULL },
				NULL), 0);
	err = train("async", argv_of(opts, (const char *const[]){ "--max-steps", "12", "--resume",
								step3, NULL },
				     resumed), 1);
	cr_expect(strstr(err, "trained 12 steps") != NULL, "the resumed run ends at step 12:\n%s", err);
	free(err);
	expect_same_params("async every step, resumed at 3", whole, resumed, 0.0);
}

Test(ckpt_train, keep_inspect_and_verify)
{
	char dir[512];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("keep 2", (const char *const[]){ "--devices", "2", "--batch-size", "8",
		"--max-steps", "12", "--ckpt-dir", dir, "--ckpt-every-n-steps", "2", "--ckpt-keep",
		"2", LINREG, NULL }, 0);
	cr_expect_eq(count_steps(dir), 2, "--ckpt-keep 2 keeps 2 checkpoints");
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "inspect", dir, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "inspect: %s", r.err);
	cr_expect(strstr(r.out, "linear.weight") && strstr(r.out, "optimizer.linear.weight.") &&
			  strstr(r.out, "world_size"),
		  "inspect lists tensors, optimizer state and metadata:\n%s", r.out);
	run_result_free(&r);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "inspect", "--json", dir, NULL }, NULL,
			       &r), 0);
	cr_expect_eq(r.status, 0, "inspect --json: %s", r.err);
	cr_expect(strstr(r.out, "\"tensors\"") != NULL, "%s", r.out);
	run_result_free(&r);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "verify: %s%s", r.out, r.err);
	run_result_free(&r);
}

Test(ckpt_train, a_damaged_or_foreign_checkpoint_is_refused)
{
	char dir[512], file[700];
	struct run_result r;
	FILE *f;
	long size;
	int byte;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("save", (const char *const[]){ "--devices", "2", "--batch-size", "8", "--max-steps",
		"3", "--ckpt-dir", dir, LINREG, NULL }, 0);

	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "3", "--batch-size", "8",
			       "--max-steps", "6", "--ckpt-dir", dir, "--resume", "last", LINREG, NULL },
			       NULL, &r), 0);
	/* Another world size goes on from the same sample (elastic jobs):
	 * step 3 of 2 ranks is step 2 of 3. */
	cr_expect_eq(r.status, 0, "a resume on 3 ranks of a 2-rank checkpoint:\n%s", r.err);
	cr_expect(strstr(r.err, "of 2 ranks on 3") && strstr(r.err, "step 3 of it becoming step 2"),
		  "%s", r.err);
	run_result_free(&r);

	newest_checkpoint_file(dir, file, sizeof(file));
	f = fopen(file, "r+b");
	cr_assert_not_null(f, "no %s", file);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size - 3, SEEK_SET);
	byte = fgetc(f);
	fseek(f, size - 3, SEEK_SET);
	fputc(0x5a ^ byte, f);
	fclose(f);
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", "--batch-size", "8",
			       "--max-steps", "6", "--ckpt-dir", dir, "--resume", "last", LINREG, NULL },
			       NULL, &r), 0);
	cr_expect_neq(r.status, 0, "a checkpoint with a flipped byte must be refused");
	cr_expect(strstr(r.err, "does not match") && strstr(r.err, "optimizer.linear.bias"),
		  "the message names the tensor whose checksum fails:\n%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", dir, NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "verify finds the flipped byte");
	run_result_free(&r);
}

/* A stop signal to the agent: forwarded; the ranks finish the step, save,
 * and ltrun exits 75 (stopped, checkpoint saved), never 0: a batch script
 * must tell a preempted run from a finished one. */
static const char stop_sh[] =
	"\"$1\" --devices 2 --batch-size 8 --max-epochs 1000000 --ckpt-dir \"$2\" \"$3\" &\n"
	"p=$!\n"
	"sleep 2\n"
	"kill -$4 $p\n"
	"wait $p\n"
	"echo \"status $?\"\n";

static void stop_saves_and_exits_75(const char *sig)
{
	char dir[512], file[700];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), sig);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", stop_sh, "sh", build_path("ltrun"),
						   dir, LINREG, sig, NULL }, NULL, 60, &r), 0);
	cr_expect(strstr(r.out, "status 75\n") != NULL,
		  "ltrun ends with status 75 (stopped by SIG%s, checkpoint saved):\n%s\n%s", sig,
		  r.out, r.err);
	cr_expect(strstr(r.err, "checkpoint saved") != NULL, "rank 0 says it saved:\n%s", r.err);
	run_result_free(&r);
	newest_checkpoint_file(dir, file, sizeof(file));
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", file, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "the checkpoint SIG%s left is complete: %s%s", sig, r.out, r.err);
	run_result_free(&r);
}

Test(ckpt_train, sigterm_saves_a_checkpoint_and_stops)
{
	stop_saves_and_exits_75("TERM");
}

Test(ckpt_train, sigusr1_saves_a_checkpoint_and_exits_75)
{
	stop_saves_and_exits_75("USR1");
}

/* --- over http: nginx with WebDAV --- */

static struct nginx server;

static void stop_server(void)
{
	nginx_stop(&server);
	training_remove_tmp();
}

static void resume_over_http(const char *io)
{
	char url[128], whole[512], resumed[512], why[512], what[64];
	const char *opts[] = { "--devices", "2", "--batch-size", "8", "--lr", "0.1",
			       "--max-epochs", "10", "--ckpt-io", io, "--ckpt-dir", url, NULL };
	struct run_result r;
	char *err;

	if (nginx_start(&server, why, sizeof(why)))
		cr_skip_test("%s", why);
	snprintf(url, sizeof(url), "%s/run", server.url);
	snprintf(what, sizeof(what), "--ckpt-io %s", io);
	path_in_tmp(whole, sizeof(whole), "whole.f32");
	path_in_tmp(resumed, sizeof(resumed), "resumed.f32");
	train(what, argv_of((const char *const[]){ "--devices", "2", "--batch-size", "8", "--lr",
					     "0.1", "--max-epochs", "10", NULL },
			    (const char *const[]){ "--max-steps", "12", NULL }, whole), 0);
	train(what, argv_of(opts, (const char *const[]){ "--max-steps", "5", NULL }, NULL), 0);
	err = train(what, argv_of(opts, (const char *const[]){ "--max-steps", "12", "--resume",
							    "last", NULL }, resumed), 1);
	free(err);
	expect_same_params(what, whole, resumed, 0.0);
	cr_expect_gt(nginx_count(&server, "MOVE", "/run/"), 0, "files were moved into place");
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", url, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "ltrun ckpt verify URL: %s%s", r.out, r.err);
	run_result_free(&r);
}

Test(ckpt_train, resume_over_http, .fini = stop_server)
{
	resume_over_http("http");
}

Test(ckpt_train, resume_over_async_http, .fini = stop_server)
{
	resume_over_http("async");
}
