/*
 * test_gpt.c - examples/gpt through the real ltrun and real ranks, on a
 * tiny configuration: the f32 run learns the text (its loss falls well
 * below ln(vocab), the loss of a uniform guess); its checkpoint, exported
 * with `ltrun ckpt export`, starts a bf16-mixed run through
 * --init-weights at the very loss the f32 run ended with, and bf16-mixed
 * training from there reaches the loss of f32 training from there; ddp on
 * 2 ranks (each tensor marked ready as backward goes, a unit per block,
 * the tied wte last, which --debug checks) ends with the parameters of
 * one rank with the whole batch; a --resume on another text is refused by
 * the model's on_load.  The loss compared is the model's own "eval_loss start|end X"
 * line (rank 0, the mean loss of the first validation samples, before the
 * first step and after the last).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(gpt, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 300);

#define GPT build_path("examples/gpt/gpt.so")
#define MAX_ARGS 48

/* The tiny model, its evaluation, and the optimizer every run shares. */
static const char *const model_args[] = { "--layers", "2", "--dim", "32", "--heads", "2",
					  "--ctx", "32", "--eval", "48", NULL };

/* ltrun opts... GPT -- model_args more... */
static const char *const *gpt_args(const char *const *opts, const char *const *more)
{
	static const char *argv[MAX_ARGS];
	int n = 0;

	for (const char *const *a = (const char *const[]){ "--batch-size", "8", "--optimizer",
							   "adamw", "--lr", "1e-2", "--seed", "3",
							   NULL };
	     *a; a++)
		argv[n++] = *a;
	for (; *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = GPT;
	argv[n++] = "--";
	for (const char *const *a = model_args; *a; a++)
		argv[n++] = *a;
	for (; more && *more; more++)
		argv[n++] = *more;
	cr_assert_lt(n, MAX_ARGS);
	argv[n] = NULL;
	return argv;
}

/* Runs ltrun to success; returns its stdout (malloc'ed). */
static char *run_ok(const char *what, const char *const *args)
{
	struct run_result r;
	char *out;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "%s: cannot start ltrun", what);
	cr_assert_eq(r.status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status, r.out,
		     r.err);
	out = r.out;
	r.out = NULL;
	run_result_free(&r);
	return out;
}

/* The value of rank 0's "eval_loss WHEN X" line in out. */
static double eval_loss(const char *what, const char *out, const char *when)
{
	char key[32];
	const char *p;
	double v;

	snprintf(key, sizeof(key), "eval_loss %s ", when);
	p = strstr(out, key);
	cr_assert_not_null(p, "%s: no '%s' line:\n%s", what, key, out);
	cr_assert_eq(sscanf(p + strlen(key), "%lf", &v), 1, "%s: bad '%s' line", what, key);
	return v;
}

/* The vocabulary size rank 0 announces ("vocab N:"). */
static int vocab_of(const char *out)
{
	const char *p = strstr(out, "vocab ");
	int v = 0;

	cr_assert(p && sscanf(p, "vocab %d", &v) == 1 && v > 1, "no vocabulary in:\n%s", out);
	return v;
}

Test(gpt, the_f32_run_learns_the_text_on_two_ranks)
{
	char *out = run_ok("f32", gpt_args((const char *const[]){ "--devices", "2", "--strategy",
								  "ddp", "--max-steps", "40", NULL },
					   NULL));
	double start = eval_loss("f32", out, "start"), end = eval_loss("f32", out, "end");
	double uniform = log(vocab_of(out));

	/* GPT-2's small init predicts about uniformly; 40 steps learn the
	 * letters' frequencies and more */
	cr_expect_lt(fabs(start - uniform), 0.1, "first loss %.4f, ln(vocab) %.4f", start, uniform);
	cr_expect_lt(end, uniform - 1.0, "after 40 steps the loss is %.4f, ln(vocab) %.4f", end,
		     uniform);
	free(out);
}

Test(gpt, given_weights_start_bf16_mixed_where_f32_ended_and_it_trains_as_f32_does)
{
	char dir[512], weights[512];
	char *out, *f32, *bf16;
	double trained, f32_start, f32_end, bf16_start, bf16_end;
	struct run_result r;

	/* 1. f32 from scratch, a checkpoint at the end, exported */
	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(weights, sizeof(weights), "gpt.safetensors");
	out = run_ok("f32 from scratch",
		     gpt_args((const char *const[]){ "--precision", "32-true", "--max-steps", "30",
						     "--ckpt-dir", dir, NULL },
			      NULL));
	trained = eval_loss("f32 from scratch", out, "end");
	free(out);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "export", dir, weights, NULL }, NULL,
			       &r),
		     0);
	cr_assert_eq(r.status, 0, "ckpt export: status %d\n%s%s", r.status, r.out, r.err);
	run_result_free(&r);

	/* 2. from those weights: f32, and bf16-mixed, 30 more steps each */
	/* strict: the export holds the parameters and the vocab buffer, which
	 * the model has, and none of the checkpoint's state/ blobs */
	f32 = run_ok("f32 from given weights",
		     gpt_args((const char *const[]){ "--precision", "32-true", "--max-steps", "30",
						     "--init-weights", weights,
						     "--init-weights-strict", NULL },
			      NULL));
	bf16 = run_ok("bf16-mixed from given weights",
		      gpt_args((const char *const[]){ "--precision", "bf16-mixed", "--max-steps",
						      "30", "--init-weights", weights, NULL },
			       NULL));
	f32_start = eval_loss("f32", f32, "start");
	f32_end = eval_loss("f32", f32, "end");
	bf16_start = eval_loss("bf16-mixed", bf16, "start");
	bf16_end = eval_loss("bf16-mixed", bf16, "end");

	/* the export is the f32 master weights: exact in f32, and the f32
	 * kernels read the f32 master copy under bf16-mixed too */
	cr_expect_leq(fabs(f32_start - trained), 1e-6 * trained,
		      "f32 starts at %.6f, the trained run ended at %.6f", f32_start, trained);
	cr_expect_leq(fabs(bf16_start - trained), 2e-2 * trained,
		      "bf16-mixed starts at %.6f, the trained run ended at %.6f", bf16_start,
		      trained);
	/* training goes on, and bf16 gradients get where f32 ones do */
	cr_expect_lt(f32_end, f32_start - 0.02, "f32: %.4f -> %.4f", f32_start, f32_end);
	cr_expect_lt(bf16_end, bf16_start - 0.02, "bf16-mixed: %.4f -> %.4f", bf16_start, bf16_end);
	cr_expect_leq(fabs(bf16_end - f32_end), 2e-2 * f32_end,
		      "after 30 steps bf16-mixed is at %.4f, f32 at %.4f", bf16_end, f32_end);
	free(f32);
	free(bf16);
}

Test(gpt, ddp_on_two_ranks_ends_where_one_rank_does_and_debug_finds_every_mark_right)
{
	char one[512], two[512];
	const char *const *args;
	double big, diff;
	const char *const more_one[] = { "--dim", "16", "--ctx", "16", "--dump",
					 path_in_tmp(one, sizeof(one), "one.txt"), NULL };
	const char *const more_two[] = { "--dim", "16", "--ctx", "16", "--dump",
					 path_in_tmp(two, sizeof(two), "two.txt"), NULL };

	/* a smaller model: its dump (about 8,000 values) fits dump_max_diff;
	 * 8 samples a step either way: 2 micro-batches of 4 on one rank, 4 on
	 * each of 2.  --debug checks that no gradient changes after it was
	 * marked ready (a tied wte marked before the embedding's gradient
	 * ends the rank) and, under accumulation, that none is overwritten */
	args = gpt_args((const char *const[]){ "--max-steps", "6", "--batch-size", "4",
					       "--accumulate-grad-batches", "2", "--debug", NULL },
			more_one);
	free(run_ok("one rank", args));
	args = gpt_args((const char *const[]){ "--devices", "2", "--strategy", "ddp", "--batch-size",
					       "4", "--max-steps", "6", "--debug", NULL },
			more_two);
	free(run_ok("ddp", args));
	diff = dump_max_diff(one, two, &big);
	cr_expect_leq(diff, 1e-4 * big, "parameters differ by %g (largest %g)", diff, big);
}

Test(gpt, resume_on_another_text_is_refused)
{
	char dir[512], text[512], other[512], cmd[4096];
	struct run_result r;
	const char *const *args;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(text, sizeof(text), "text.txt");
	path_in_tmp(other, sizeof(other), "other.txt");
	/* the same bytes but two, swapped: same size, same vocabulary */
	snprintf(cmd, sizeof(cmd),
		 "cp '%s' '%s' && sed '1s/^\\(.\\)\\(.\\)/\\2\\1/' '%s' > '%s' && ! cmp -s '%s' '%s'",
		 build_path("examples/data/devil.txt"), text, text, other, text, other);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	free(run_ok("first", gpt_args((const char *const[]){ "--max-steps", "2", "--ckpt-dir", dir,
							     NULL },
				      (const char *const[]){ "--data", text, NULL })));
	args = gpt_args((const char *const[]){ "--max-steps", "4", "--ckpt-dir", dir, "--resume",
					       "last", NULL },
			(const char *const[]){ "--data", other, NULL });
	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "a resume on another text succeeded:\n%s", r.err);
	cr_expect(strstr(r.err, "trained on another text"), "no message naming the text:\n%s",
		  r.err);
	run_result_free(&r);
	/* the same text resumes */
	args = gpt_args((const char *const[]){ "--max-steps", "4", "--ckpt-dir", dir, "--resume",
					       "last", NULL },
			(const char *const[]){ "--data", text, NULL });
	free(run_ok("resume", args));
}
