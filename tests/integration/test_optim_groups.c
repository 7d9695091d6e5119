/*
 * test_optim_groups.c - optimizer groups, the optimizer's options and the
 * run's facts, through real runs of tests/models/optim_facts.so (Trainer
 * mode) and optim_fabric.so (Fabric mode), whose gradients are known
 * (optim_grad.h): the parameters after a few steps against AdamW's and
 * SGD's formulas worked out here in double, per group (a bias left
 * undecayed while the matrix decays, by lt_param_weight_decay or by
 * --weight-decay-on matrices; an lr scale), with --adam-betas and
 * --adam-eps, --optimizer adamw_gpt, and a cosine schedule down to
 * --min-lr; a resume with other settings warns once per setting, and
 * this run's settings apply; the facts a model asks in init (micro-batch,
 * accumulation, total steps, samples per rank) for several ranks,
 * accumulations and limits; --max-steps without --max-epochs runs to
 * max-steps; the misuses end the rank with their message.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/optim_grad.h"
#include "run.h"
#include "training.h"

TestSuite(optim_groups_run, .init = training_make_tmp, .fini = training_remove_tmp,
	  .timeout = 120);

#define FACTS build_path("tests/models/optim_facts.so")
#define FABRIC build_path("tests/models/optim_fabric.so")
#define MAX_ARGS 48

/* --- the formulas --- */

/* What the reference run does: the optimizer, its settings and the
 * groups of w (0) and b (1). */
struct ref {
	bool adamw;
	double lr, momentum, wd, beta1, beta2, eps;
	bool decay[2];
	double scale[2];
	bool cosine;
	double min_lr;
	int warmup, total;
};

static struct ref adamw_ref(void)
{
	return (struct ref){ .adamw = true, .lr = 0.1, .wd = 0.5, .beta1 = 0.9, .beta2 = 0.999,
			     .eps = 1e-8, .decay = { true, true }, .scale = { 1, 1 } };
}

/* The schedule's lr at step s (0-based): linear warmup, then cosine from
 * lr down to min_lr at step total (torch's LinearLR then
 * CosineAnnealingLR, llm.c's get_learning_rate). */
static double ref_lr(const struct ref *r, int s)
{
	double t;

	if (s < r->warmup)
		return r->lr * (s + 1) / r->warmup;
	if (!r->cosine)
		return r->lr;
	t = (double)(s - r->warmup) / (r->total - r->warmup);
	return r->min_lr + (r->lr - r->min_lr) * 0.5 * (1 + cos(M_PI * t));
}

/* Optimizer state of the reference: Adam's moments (or the momentum
 * buffer in m). */
struct ref_state {
	double p[OPTIM_N], m[OPTIM_N], v[OPTIM_N];
};

static void ref_start(struct ref_state *st)
{
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < OPTIM_N; k++)
		st->p[k] = k < OPTIM_W ? OPTIM_W0 : OPTIM_B0;
}

/* Steps [from, to) of torch's AdamW (or SGD) on the gradients the model
 * adds (rounded to f32, as lt_grad holds them). */
static void ref_steps(const struct ref *r, struct ref_state *st, int from, int to)
{
	for (int s = from; s < to; s++) {
		for (int k = 0; k < OPTIM_N; k++) {
			int grp = k >= OPTIM_W;
			double lr = ref_lr(r, s) * r->scale[grp], wd = r->decay[grp] ? r->wd : 0.0;
			double g = (float)optim_grad(s, k), t = s + 1;

			if (r->adamw) {
				st->p[k] *= 1 - lr * wd;
				st->m[k] = r->beta1 * st->m[k] + (1 - r->beta1) * g;
				st->v[k] = r->beta2 * st->v[k] + (1 - r->beta2) * g * g;
				st->p[k] -= lr / (1 - pow(r->beta1, t)) * st->m[k] /
					    (sqrt(st->v[k]) / sqrt(1 - pow(r->beta2, t)) + r->eps);
			} else {
				g += wd * st->p[k];
				if (r->momentum > 0)
					g = st->m[k] = s == 0 ? g : r->momentum * st->m[k] + g;
				st->p[k] -= lr * g;
			}
		}
	}
}

/* --- running the models --- */

/* ltrun opts... model [-- margs...] (both NULL-terminated, margs may be
 * NULL); expects status `want`.  Fills r. */
static void run_model(const char *model, const char *const *opts, const char *const *margs,
		      int want, struct run_result *r)
{
	const char *argv[MAX_ARGS];
	int n = 0;

	for (; opts && *opts && n < MAX_ARGS - 4; opts++)
		argv[n++] = *opts;
	argv[n++] = model;
	if (margs && *margs)
		argv[n++] = "--";
	for (; margs && *margs && n < MAX_ARGS - 1; margs++)
		argv[n++] = *margs;
	argv[n] = NULL;
	cr_assert_eq(run_ltrun(argv, NULL, r), 0, "cannot start ltrun");
	cr_assert_eq(r->status, want, "status %d, want %d\nstdout:\n%s\nstderr:\n%s", r->status,
		     want, r->out, r->err);
}

/* The parameters rank 0 printed ("optim_param w 3 0.97..."). */
static void read_params(const char *out, double *p)
{
	int seen = 0;

	for (const char *l = strstr(out, "optim_param "); l; l = strstr(l + 1, "optim_param ")) {
		char name[8];
		int i;
		double v;
		if (sscanf(l, "optim_param %7s %d %lf", name, &i, &v) != 3 || i < 0 ||
		    i >= (name[0] == 'w' ? OPTIM_W : OPTIM_ROWS))
			continue;
		p[(name[0] == 'w' ? 0 : OPTIM_W) + i] = v;
		seen++;
	}
	cr_assert_eq(seen, OPTIM_N, "the model printed %d of %d parameters:\n%s", seen, OPTIM_N, out);
}

static double max_diff(const double *a, const double *b)
{
	double d = 0;

	for (int k = 0; k < OPTIM_N; k++)
		d = fmax(d, fabs(a[k] - b[k]));
	return d;
}

/* Runs the model and expects its parameters to be the reference's
 * (within f32 rounding), and far from `unlike` (the same run without the
 * setting under test, when given). */
static void expect_params(const char *what, const char *model, const char *const *opts,
			  const char *const *margs, const struct ref_state *want,
			  const struct ref_state *unlike)
{
	struct run_result r;
	double got[OPTIM_N];

	run_model(model, opts, margs, 0, &r);
	read_params(r.out, got);
	cr_expect_lt(max_diff(got, want->p), 1e-5, "%s: parameters differ from the formula's by %g",
		     what, max_diff(got, want->p));
	if (unlike)
		cr_expect_gt(max_diff(got, unlike->p), 1e-4,
			     "%s: the setting made no difference (%g)", what,
			     max_diff(got, unlike->p));
	run_result_free(&r);
}

#define ADAMW_OPTS "--optimizer", "adamw", "--lr", "0.1", "--weight-decay", "0.5", \
		   "--batch-size", "8", "--max-steps", "4"

/* --- groups --- */

Test(optim_groups_run, bias_without_decay_while_the_matrix_decays)
{
	struct ref r = adamw_ref();
	struct ref_state all, bias_off;

	ref_start(&all);
	ref_steps(&r, &all, 0, 4);
	r.decay[1] = false;
	ref_start(&bias_off);
	ref_steps(&r, &bias_off, 0, 4);
	expect_params("lt_param_weight_decay(b, 0)", FACTS, (const char *const[]){ ADAMW_OPTS, NULL },
		      (const char *const[]){ "--no-decay", "b", NULL }, &bias_off, &all);
	expect_params("--weight-decay-on matrices", FACTS,
		      (const char *const[]){ ADAMW_OPTS, "--weight-decay-on", "matrices", NULL }, NULL,
		      &bias_off, &all);
	/* the model's word wins over the rule */
	expect_params("--weight-decay-on matrices, lt_param_weight_decay(b, 1)", FACTS,
		      (const char *const[]){ ADAMW_OPTS, "--weight-decay-on", "matrices", NULL },
		      (const char *const[]){ "--decay", "b", NULL }, &all, &bias_off);
}

Test(optim_groups_run, lr_scale)
{
	struct ref r = adamw_ref();
	struct ref_state plain, scaled;

	ref_start(&plain);
	ref_steps(&r, &plain, 0, 4);
	r.scale[0] = 0.25;
	ref_start(&scaled);
	ref_steps(&r, &scaled, 0, 4);
	expect_params("lt_param_lr_scale(w, 0.25)", FACTS, (const char *const[]){ ADAMW_OPTS, NULL },
		      (const char *const[]){ "--lr-scale", "w=0.25", NULL }, &scaled, &plain);
}

Test(optim_groups_run, groups_in_fabric_mode)
{
	struct ref r = adamw_ref();
	struct ref_state all, bias_off;

	ref_start(&all);
	ref_steps(&r, &all, 0, 3);
	r.decay[1] = false;
	ref_start(&bias_off);
	ref_steps(&r, &bias_off, 0, 3);
	expect_params("Fabric, lt_param_weight_decay(b, 0)", FABRIC,
		      (const char *const[]){ "--optimizer", "adamw", "--lr", "0.1", "--weight-decay",
					     "0.5", NULL },
		      (const char *const[]){ "--no-decay", "b", NULL }, &bias_off, &all);
}

/* --- the optimizer's options --- */

Test(optim_groups_run, adam_betas_and_eps)
{
	struct ref r = adamw_ref();
	struct ref_state dflt, given;

	ref_start(&dflt);
	ref_steps(&r, &dflt, 0, 4);
	r.beta1 = 0.8;
	r.beta2 = 0.95;
	r.eps = 0.01;
	ref_start(&given);
	ref_steps(&r, &given, 0, 4);
	expect_params("--adam-betas 0.8,0.95 --adam-eps 0.01", FACTS,
		      (const char *const[]){ ADAMW_OPTS, "--adam-betas", "0.8,0.95", "--adam-eps",
					     "0.01", NULL }, NULL, &given, &dflt);
}

Test(optim_groups_run, adamw_gpt_preset)
{
	struct ref r = adamw_ref();
	struct ref_state plain, gpt, gpt_betas;

	ref_start(&plain);
	ref_steps(&r, &plain, 0, 4);
	r.beta2 = 0.95;
	r.decay[1] = false;
	ref_start(&gpt);
	ref_steps(&r, &gpt, 0, 4);
	expect_params("--optimizer adamw_gpt", FACTS,
		      (const char *const[]){ ADAMW_OPTS, "--optimizer", "adamw_gpt", NULL }, NULL,
		      &gpt, &plain);
	/* a given option wins over the preset's */
	r.beta2 = 0.999;
	ref_start(&gpt_betas);
	ref_steps(&r, &gpt_betas, 0, 4);
	expect_params("--optimizer adamw_gpt --adam-betas 0.9,0.999", FACTS,
		      (const char *const[]){ ADAMW_OPTS, "--adam-betas", "0.9,0.999", "--optimizer",
					     "adamw_gpt", NULL }, NULL, &gpt_betas, &gpt);
}

Test(optim_groups_run, cosine_ends_at_min_lr)
{
	struct ref r = { .lr = 0.1, .decay = { true, true }, .scale = { 1, 1 }, .cosine = true,
			 .warmup = 1, .total = 5 };
	struct ref_state to_zero, to_min;
	const char *const opts[] = { "--optimizer", "sgd", "--momentum", "0", "--lr", "0.1",
				     "--lr-schedule", "cosine", "--warmup-steps", "1",
				     "--batch-size", "8", "--max-steps", "5", "--min-lr", "0.04", NULL };

	ref_start(&to_zero);
	ref_steps(&r, &to_zero, 0, 5);
	r.min_lr = 0.04;
	ref_start(&to_min);
	ref_steps(&r, &to_min, 0, 5);
	expect_params("--lr-schedule cosine --min-lr 0.04", FACTS, opts, NULL, &to_min, &to_zero);
}

/* lt_lr() in train_step is the rate of the step it is in, along the
 * whole run's cosine when only --max-epochs bounds it. */
Test(optim_groups_run, lt_lr_follows_the_plans_schedule)
{
	struct ref r = { .lr = 0.1, .cosine = true, .min_lr = 0.01, .warmup = 2, .total = 16 };
	struct run_result res;
	int seen = 0;

	/* 64 samples in batches of 8: 8 steps an epoch, 16 in 2 epochs */
	run_model(FACTS, (const char *const[]){ "--lr", "0.1", "--lr-schedule", "cosine",
						"--min-lr", "0.01", "--warmup-steps", "2",
						"--batch-size", "8", "--max-epochs", "2", NULL },
		  (const char *const[]){ "--print-lr", NULL }, 0, &res);
	for (const char *l = strstr(res.out, "optim_lr "); l; l = strstr(l + 1, "optim_lr ")) {
		long long step;
		double lr;
		cr_assert_eq(sscanf(l, "optim_lr %lld %lf", &step, &lr), 2);
		cr_expect_float_eq(lr, ref_lr(&r, (int)step), 1e-12, "step %lld: lt_lr() %g, want %g",
				   step, lr, ref_lr(&r, (int)step));
		seen++;
	}
	cr_expect_eq(seen, 16, "one line a step:\n%s", res.out);
	run_result_free(&res);
}

Test(optim_groups_run, min_lr_above_lr_is_refused)
{
	struct run_result r;

	run_model(FACTS, (const char *const[]){ "--lr", "0.01", "--min-lr", "0.1", NULL }, NULL, 2,
		  &r);
	cr_expect(strstr(r.err, "--min-lr 0.1 is above --lr 0.01") != NULL, "%s", r.err);
	run_result_free(&r);
}

/* --- resume --- */

/* How many times needle occurs in hay. */
static int occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

Test(optim_groups_run, resume_with_other_settings_warns_and_applies_them)
{
	char dir[512];
	struct run_result r;
	struct ref ref = adamw_ref();
	struct ref_state want;
	double got[OPTIM_N];

	path_in_tmp(dir, sizeof(dir), "ckpt");
	run_model(FACTS, (const char *const[]){ "--optimizer", "adamw", "--lr", "0.1",
						"--weight-decay", "0.5", "--batch-size", "8",
						"--max-steps", "2", "--ckpt-dir", dir, NULL },
		  NULL, 0, &r);
	run_result_free(&r);
	/* the same settings: not a word */
	run_model(FACTS, (const char *const[]){ "--optimizer", "adamw", "--lr", "0.1",
						"--weight-decay", "0.5", "--batch-size", "8",
						"--max-steps", "3", "--ckpt-dir", dir, "--resume",
						"last", NULL },
		  NULL, 0, &r);
	cr_expect_null(strstr(r.err, "resuming with"), "the same settings warn:\n%s", r.err);
	run_result_free(&r);
	/* other betas and lr scale: one line each, and they apply from step 3 on */
	run_model(FACTS, (const char *const[]){ "--optimizer", "adamw", "--lr", "0.1",
						"--weight-decay", "0.5", "--batch-size", "8",
						"--max-steps", "5", "--ckpt-dir", dir, "--resume",
						"last", "--adam-betas", "0.9,0.95", NULL },
		  (const char *const[]){ "--lr-scale", "w=0.5", NULL }, 0, &r);
	cr_expect_eq(occurrences(r.err, "resuming with --adam-betas 0.9,0.95, the checkpoint used 0.9,0.999"),
		     1, "one warning for the betas:\n%s", r.err);
	cr_expect_eq(occurrences(r.err, "resuming with the lr scales {\"w\":0.5}, the checkpoint had {}"),
		     1, "one warning for the lr scales:\n%s", r.err);
	cr_expect_eq(occurrences(r.err, "resuming with"), 2, "nothing else changed:\n%s", r.err);
	read_params(r.out, got);
	ref_start(&want);
	ref_steps(&ref, &want, 0, 3);
	ref.beta2 = 0.95;
	ref.scale[0] = 0.5;
	ref_steps(&ref, &want, 3, 5);
	cr_expect_lt(max_diff(got, want.p), 1e-5,
		     "this run's betas and lr scale apply after the resume (off by %g)",
		     max_diff(got, want.p));
	run_result_free(&r);
}

/* --- facts --- */

/* ceil((n - rank) / world): rank's share of n samples. */
static long long share(long long n, int world, int rank)
{
	return n > rank ? (n - rank + world - 1) / world : 0;
}

struct facts_case {
	const char *what;
	int world, batch, accumulate;
	long long samples;
	int epochs;      /* 0: not given */
	long long steps; /* 0: not given */
};

/* The total the loop plans: epochs x steps per epoch, or --max-steps,
 * whichever is sooner; --max-steps alone is the total. */
static long long planned_total(const struct facts_case *c)
{
	long long micro = (share(c->samples, c->world, 0) + c->batch - 1) / c->batch;
	long long per_epoch = (micro + c->accumulate - 1) / c->accumulate;
	long long total = (c->epochs ? c->epochs : 1) * per_epoch;

	if (c->steps && !c->epochs)
		return c->steps;
	return c->steps && c->steps < total ? c->steps : total;
}

static void check_facts(const struct facts_case *c)
{
	char world[16], batch[16], acc[16], samples[24], epochs[16], steps[24], line[256], done[64];
	const char *opts[24] = { "--devices", world, "--batch-size", batch,
				 "--accumulate-grad-batches", acc, "--strategy", "ddp" };
	int n = 8;
	long long total = planned_total(c);
	struct run_result r;

	snprintf(world, sizeof(world), "%d", c->world);
	snprintf(batch, sizeof(batch), "%d", c->batch);
	snprintf(acc, sizeof(acc), "%d", c->accumulate);
	snprintf(samples, sizeof(samples), "%lld", c->samples);
	snprintf(epochs, sizeof(epochs), "%d", c->epochs);
	snprintf(steps, sizeof(steps), "%lld", c->steps);
	if (c->epochs) {
		opts[n++] = "--max-epochs";
		opts[n++] = epochs;
	}
	if (c->steps) {
		opts[n++] = "--max-steps";
		opts[n++] = steps;
	}
	opts[n] = NULL;
	run_model(FACTS, opts, (const char *const[]){ "--samples", samples, "--facts", NULL }, 0, &r);
	for (int rank = 0; rank < c->world; rank++) {
		snprintf(line, sizeof(line),
			 "optim_facts rank=%d micro=%d accumulate=%d total=%lld train=%lld val=%lld",
			 rank, c->batch, c->accumulate, total, share(c->samples, c->world, rank),
			 share(c->samples / 4, c->world, rank));
		cr_expect(strstr(r.out, line) != NULL, "%s: want '%s' in:\n%s", c->what, line, r.out);
	}
	snprintf(done, sizeof(done), "trained %lld steps", total);
	cr_expect(strstr(r.err, done) != NULL, "%s: the run makes the total it announced (%s):\n%s",
		  c->what, done, r.err);
	run_result_free(&r);
}

Test(optim_groups_run, facts_in_init)
{
	static const struct facts_case cases[] = {
		{ "1 rank, 2 epochs", 1, 4, 1, 30, 2, 0 },
		{ "2 ranks x accumulate 2, 3 epochs", 2, 4, 2, 30, 3, 0 },
		{ "3 ranks, uneven shares, --max-steps alone", 3, 2, 2, 31, 0, 7 },
		{ "2 ranks, --max-steps 5 and --max-epochs 1: the epoch is sooner", 2, 4, 2, 30, 1, 5 },
		{ "2 ranks, --max-epochs 2 and --max-steps 3: the steps are sooner", 2, 4, 1, 30, 2, 3 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_facts(&cases[i]);
}

Test(optim_groups_run, max_steps_without_max_epochs_runs_to_max_steps)
{
	struct run_result r;

	/* the case: 56 samples in batches of 4 are 14 steps an epoch */
	run_model(FACTS, (const char *const[]){ "--batch-size", "4", "--max-steps", "30", NULL },
		  (const char *const[]){ "--samples", "56", NULL }, 0, &r);
	cr_expect(strstr(r.err, "trained 30 steps") != NULL, "--max-steps 30 alone:\n%s", r.err);
	run_result_free(&r);
	run_model(FACTS, (const char *const[]){ "--batch-size", "4", "--max-steps", "30",
						"--max-epochs", "1", NULL },
		  (const char *const[]){ "--samples", "56", NULL }, 0, &r);
	cr_expect(strstr(r.err, "trained 14 steps") != NULL, "--max-epochs 1 given is sooner:\n%s",
		  r.err);
	run_result_free(&r);
}

Test(optim_groups_run, fabric_facts)
{
	struct run_result r;

	run_model(FABRIC, (const char *const[]){ "--max-steps", "7", "--batch-size", "5",
						 "--accumulate-grad-batches", "3", NULL },
		  (const char *const[]){ "--steps", "1", NULL }, 0, &r);
	cr_expect(strstr(r.out, "optim_fabric total=7 micro=5 accumulate=3") != NULL, "%s", r.out);
	run_result_free(&r);
	run_model(FABRIC, NULL, (const char *const[]){ "--steps", "1", NULL }, 0, &r);
	cr_expect(strstr(r.out, "optim_fabric total=-1 ") != NULL, "no --max-steps: -1\n%s", r.out);
	run_result_free(&r);
}

/* --- misuses --- */

struct misuse {
	const char *what;
	const char *model;
	const char *margs[4];
	const char *message;
};

Test(optim_groups_run, misuses_end_the_rank_with_their_message)
{
	static const struct misuse cases[] = {
		{ "facts before *self", "optim_facts", { "--facts-early" },
		  "lt_total_steps() in init: set *self and load the data first (ltrun asks num_samples with it)" },
		{ "a group after init", "optim_facts", { "--late-group" },
		  "lt_param_weight_decay('b') after training started: set optimizer options in init (or before the first lt_optimizer_step)" },
		{ "a group after the first step", "optim_fabric", { "--late-group" },
		  "lt_param_weight_decay('b') after training started" },
		{ "a negative lr scale", "optim_fabric", { "--bad-scale", "-1" },
		  "lt_param_lr_scale('w', -1): give a finite scale >= 0" },
		{ "samples per rank in Fabric mode", "optim_fabric", { "--samples-per-rank" },
		  "lt_samples_per_rank() in Fabric mode: ltrun does not know the size of the model's data; use the count lt_shard() returns" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rel[64];
		struct run_result r;

		snprintf(rel, sizeof(rel), "tests/models/%s.so", cases[i].model);
		run_model(build_path(rel), NULL, cases[i].margs, 1, &r);
		cr_expect(strstr(r.err, cases[i].message) != NULL, "%s: want '%s' in:\n%s",
			  cases[i].what, cases[i].message, r.err);
		run_result_free(&r);
	}
}
