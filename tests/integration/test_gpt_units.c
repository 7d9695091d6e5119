/*
 * test_gpt_units.c - examples/gpt's units through the real ltrun: under
 * fsdp without prefetching (fsdp:prefetch=0) a rank gathers one block at
 * a time.  The bytes stage 3 gathers at
 * once (--verbose's "gathered N bytes": the largest unit's) are the same
 * at 1 and at 3 layers, and are one block's parameters in f32, a block
 * being what a layer adds to the parameter count rank 0 announces.  With
 * the blocks in one unit they would grow with the depth.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(gpt_units, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

struct plan {
	long long params;   /* "gpt: ... N parameters" (stdout) */
	long long gathered; /* "zero: ... gathered N bytes per rank" (stderr) */
};

/* Two steps of gpt with layers blocks under fsdp (no unit gathered ahead)
 * on 2 ranks, f32. */
static struct plan fsdp_plan(const char *layers)
{
	const char *const args[] = { "--strategy", "fsdp:prefetch=0", "--devices", "2", "--verbose",
				     "--precision", "32-true", "--batch-size", "2", "--max-steps",
				     "2", "--optimizer", "adamw",
				     build_path("examples/gpt/gpt.so"), "--", "--layers", layers,
				     "--dim", "16", "--heads", "2", "--ctx", "8", NULL };
	struct run_result r;
	struct plan p = { -1, -1 };
	const char *s;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "cannot start ltrun");
	cr_assert_eq(r.status, 0, "--layers %s under fsdp: status %d\n%s", layers, r.status, r.err);
	s = strstr(r.out, " parameters;");
	while (s && s > r.out && s[-1] != ' ')
		s--;
	cr_assert(s && sscanf(s, "%lld", &p.params) == 1, "no parameter count in:\n%s", r.out);
	s = strstr(r.err, "gathered ");
	cr_assert(s && sscanf(s, "gathered %lld bytes", &p.gathered) == 1,
		  "no 'gathered N bytes' in:\n%s", r.err);
	run_result_free(&r);
	return p;
}

Test(gpt_units, fsdp_gathers_one_block_at_a_time)
{
	struct plan one = fsdp_plan("1"), three = fsdp_plan("3");
	long long block = (three.params - one.params) / 2;

	cr_assert_gt(block, 0, "3 layers have %lld parameters, 1 layer %lld", three.params,
		     one.params);
	cr_expect_gt(one.gathered, 0);
	cr_expect_eq(three.gathered, one.gathered,
		     "fsdp gathers %lld bytes at once with 3 blocks, %lld with 1: not one block "
		     "at a time", three.gathered, one.gathered);
	cr_expect_eq(three.gathered, block * 4,
		     "fsdp gathers %lld bytes at once; a block is %lld f32 parameters",
		     three.gathered, block);
}

/* The val_loss line of rank 0 after gpt's 2 steps on 3 ranks under
 * strategy, with 0.1% of the text held out (11 samples: 4, 4 and 3 a rank, in
 * batches of 1). */
static double val_loss_on_3_ranks(const char *strategy)
{
	const char *const args[] = { "--strategy", strategy, "--devices", "3", "--batch-size", "1",
				     "--max-steps", "2", build_path("examples/gpt/gpt.so"), "--",
				     "--layers", "2", "--dim", "16", "--heads", "2", "--ctx", "8",
				     "--val-fraction", "0.001", NULL };
	struct run_result r;
	const char *s;
	double v = -1.0;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "cannot start ltrun");
	cr_assert_eq(r.status, 0, "%s: status %d\n%s", strategy, r.status, r.err);
	s = strstr(r.err, "val_loss ");
	if (!s)
		s = strstr(r.out, "val_loss ");
	cr_assert(s && sscanf(s, "val_loss %lf", &v) == 1, "%s: no val_loss in:\n%s\n%s", strategy,
		  r.out, r.err);
	run_result_free(&r);
	return v;
}

/* Stage 3's val_step begins units (collectively): a rank with fewer
 * validation samples runs as many val_steps as rank 0, the extra ones
 * left out of the loss, so the loss is ddp's. */
Test(gpt_units, fsdp_validates_uneven_shards_as_ddp)
{
	double ddp = val_loss_on_3_ranks("ddp"), fsdp = val_loss_on_3_ranks("fsdp");

	cr_expect_float_eq(fsdp, ddp, 1e-4 * ddp, "fsdp's val_loss %g, ddp's %g", fsdp, ddp);
}
