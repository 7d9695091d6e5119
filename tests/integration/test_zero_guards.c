/*
 * test_zero_guards.c - what the runtime does for every strategy, under
 * the sharded ones: --check-replicas compares what each rank holds whole
 * (the compute values when the strategy keeps only its own part of the
 * f32 masters; not the units' values a ZeRO-3 layout shards), and the
 * f32 views of 16-true/bf16-true (lt_data_f32) are copied from a unit's
 * values when it is gathered, never from released pages.  The model is
 * examples/gpt: f32 kernels on lt_data_f32, its blocks in units.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(zero_guards, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 240);

#define GPT build_path("examples/gpt/gpt.so")
#define GPT_ARGS "--layers", "2", "--dim", "24", "--heads", "2", "--ctx", "32", "--eval", "0"

/* Every stage, under bf16-mixed (masters sharded from stage 1 on) and
 * 32-true, compares its replicas after every step and finds them equal. */
Test(zero_guards, check_replicas_holds_under_every_stage)
{
	static const char *const strategies[] = { "deepspeed_stage_1", "deepspeed_stage_2",
						  "fsdp" };
	static const char *const precisions[] = { "bf16-mixed", "32-true" };
	char what[128];

	for (int s = 0; s < 3; s++)
		for (int p = 0; p < 2; p++) {
			snprintf(what, sizeof(what), "%s under %s", strategies[s], precisions[p]);
			train(what,
			      (const char *const[]){ "--strategy", strategies[s], "--devices", "2",
						     "--precision", precisions[p], "--batch-size",
						     "4", "--max-steps", "3", "--check-replicas",
						     "1", "--optimizer", "adamw", GPT, "--", GPT_ARGS,
						     NULL },
			      0);
		}
}

/* gpt 6 steps under strategy in bf16-true on 2 ranks, its --dump in dump. */
static void bf16_true_dump(const char *strategy, char *dump, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.txt", strategy);
	train_dumping(strategy,
		      (const char *const[]){ "--strategy", strategy, "--devices", "2", "--precision",
					     "bf16-true", "--batch-size", "4", "--max-steps", "6",
					     "--optimizer", "adamw", "--lr", "1e-2", GPT, "--",
					     GPT_ARGS, NULL },
		      name, dump, len);
}

/* bf16-true: the model reads lt_data_f32, copies of the values that fsdp
 * gathers unit by unit; it trains as under ddp. */
Test(zero_guards, f32_views_of_sharded_units_follow_their_values)
{
	char a[512], b[512];
	double big, diff;

	bf16_true_dump("ddp", a, sizeof(a));
	bf16_true_dump("fsdp", b, sizeof(b));
	diff = dump_max_diff(a, b, &big);
	cr_expect_leq(diff, 1e-5 * big, "fsdp's parameters are %g from ddp's (largest %g)", diff,
		      big);
}

/* The "eval_loss <which> X" examples/gpt printed (rank 0), or NAN. */
static double eval_loss(const char *text, const char *which)
{
	char key[32];
	const char *at;

	snprintf(key, sizeof(key), "eval_loss %s ", which);
	at = strstr(text, key);
	return at ? strtod(at + strlen(key), NULL) : NAN;
}

/* Under mixed precision a rank keeps only part of the f32 masters, so
 * lt_data_f32 copies the compute values: the model learns as under ddp
 * (within bf16's rounding), where reading the masters read zeros. */
Test(zero_guards, f32_views_under_mixed_precision_read_whole_values)
{
	static const char *const strategies[] = { "ddp", "deepspeed_stage_1", "deepspeed_stage_2",
						  "fsdp" };
	double start[4], end[4];

	for (int s = 0; s < 4; s++) {
		struct run_result r;

		cr_assert_eq(run_ltrun((const char *const[]){ "--strategy", strategies[s],
							      "--devices", "2", "--precision",
							      "bf16-mixed", "--batch-size", "2",
							      "--max-steps", "3", "--optimizer",
							      "adamw", "--lr", "1e-2", GPT, "--",
							      "--layers", "3", "--dim", "16",
							      "--heads", "2", "--ctx", "8",
							      "--eval", "4", NULL },
				       NULL, &r),
			     0);
		cr_assert_eq(r.status, 0, "%s: %s", strategies[s], r.err);
		start[s] = eval_loss(r.out, "start");
		end[s] = eval_loss(r.out, "end");
		cr_assert(!isnan(start[s]) && !isnan(end[s]), "%s printed no losses:\n%s%s",
			  strategies[s], r.out, r.err);
		run_result_free(&r);
		cr_expect_lt(end[s], start[s] - 0.2, "%s did not learn: eval_loss %g -> %g",
			     strategies[s], start[s], end[s]);
		cr_expect_leq(fabs(end[s] - end[0]), 1e-3 * end[0],
			      "%s ends at eval_loss %g, ddp at %g", strategies[s], end[s], end[0]);
	}
}
