/*
 * test_plugins_strategy.c - strategy plugins loaded with --plugin run:
 * the example fp16_compress_ddp (examples/plugins/) trains the digits MLP
 * on 2 and 3 ranks to ddp's parameters within f16's precision and sends
 * half ddp's gradient bytes; a strategy whose op fails, or that refuses
 * the run's precision, ends the run with one line naming it (sharded
 * checkpoints: test_ckpt_shards.c).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

#define FP16 build_path("examples/plugins/fp16_compress_ddp.so")
#define MLP build_path("examples/mlp/mlp.so")

TestSuite(plugins_strategy, .init = training_make_tmp, .fini = training_remove_tmp,
	  .timeout = 120);

/* The MLP on `ranks` ranks under plain ddp and under `strategy` of the
 * example: the parameters agree within f16's precision (and not exactly:
 * the gradients did travel as f16), and rank 0 reports half the bytes. */
static void check_fp16(const char *strategy, const char *ranks)
{
	char da[512], db[512];
	unsigned long long half = 0, full = 0;
	double diff = 0.0, big = 0.0;
	const char *line;
	char *err;

	path_in_tmp(da, sizeof(da), "ddp.txt");
	path_in_tmp(db, sizeof(db), "fp16.txt");
	train("mlp ddp", (const char *const[]){ "--strategy", "ddp", "--devices", ranks,
		"--batch-size", "16", "--max-steps", "30", "--lr", "0.1", MLP, "--", "--hidden", "32",
		"--dump", da, NULL }, 0);
	err = train(strategy, (const char *const[]){ "--plugin", FP16, "--strategy", strategy,
		"--devices", ranks, "--batch-size", "16", "--max-steps", "30", "--lr", "0.1", MLP,
		"--", "--hidden", "32", "--dump", db, NULL }, 1);
	diff = dump_max_diff(da, db, &big);
	cr_expect_leq(diff, 1e-2 * big, "%s is far from ddp: %g (largest %g)", strategy, diff, big);
	cr_expect_gt(diff, 0.0, "%s equals ddp bit for bit: were the gradients compressed?", strategy);
	line = strstr(err, "fp16_compress_ddp: rank 0 sent ");
	cr_assert_not_null(line, "no bytes report on stderr:\n%s", err);
	cr_assert_eq(sscanf(line, "fp16_compress_ddp: rank 0 sent %llu bytes of gradients as f16 where ddp sends %llu",
			    &half, &full), 2, "bad report: %.200s", line);
	cr_expect_gt(half, 0);
	cr_expect_eq(2 * half, full, "f16 sends half of f32's bytes: %llu vs %llu", half, full);
	free(err);
}

Test(plugins_strategy, fp16_compress_ddp_trains_like_ddp_on_2_ranks)
{
	check_fp16("fp16_compress_ddp", "2");
}

/* The preset's small buckets: many all-reduces started during backward. */
Test(plugins_strategy, fp16_compress_ddp_small_buckets_on_3_ranks)
{
	check_fp16("fp16_compress_ddp_small", "3");
}

Test(plugins_strategy, failing_op_ends_the_run_naming_the_strategy)
{
	expect_one_line_failure((const char *const[]){ "--plugin",
		build_path("tests/plugins/failing_strategy.so"), "--strategy", "failing_sync",
		"--devices", "2", "--max-steps", "6", MLP, NULL },
		"strategy 'failing_sync' (sync): link down at sync 3 (a test plugin)");
}

Test(plugins_strategy, fp16_compress_ddp_refuses_mixed_precision)
{
	expect_one_line_failure((const char *const[]){ "--plugin", FP16, "--strategy",
		"fp16_compress_ddp", "--precision", "16-mixed", "--devices", "2", "--max-steps", "2",
		MLP, NULL },
		"strategy 'fp16_compress_ddp' (init): compresses f32 gradients, but this run's are f16: use --precision 32-true");
}
