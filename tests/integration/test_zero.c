/*
 * test_zero.c - the `zero` strategy (src/strategy/zero.c) and its
 * presets: stages 1 and 2 (and offload_optimizer=cpu) end 12 steps of
 * the tiny zero_lin model (41 parameters, one of them a scalar: shards
 * cut through parameters and are padded) with ddp's parameters within
 * 1e-5 relative L2 on every parameter, on 2, 3 and 4 ranks, with
 * gradient accumulation, clipping by norm, 16-mixed and bf16-mixed (but
 * stage 2 with accumulation in half precision: the dtype's precision);
 * stage 2 keeps only the owned gradients between micro-batches; the
 * presets pick their stage; stage 3 (values sharded, the model's unit
 * gathered while in use) matches ddp too and faults on a value used
 * outside its unit; what is not built says so.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

#define ZERO_LIN build_path("tests/models/zero_lin.so")
#define NPARAMS 41

/* Trains zero_lin 12 steps under strategy on ranks ranks with the
 * options extra (NULL-terminated, may be empty) and reads its parameters
 * into out; returns the run's stderr (malloc'ed). */
static char *run_dump(const char *strategy, const char *ranks, const char *const *extra,
		      float *out)
{
	const char *argv[48] = { "--strategy", strategy, "--devices", ranks, "--batch-size", "4",
				 "--max-steps", "12", "--optimizer", "adamw", "--lr", "0.05",
				 "--seed", "3", "--verbose" };
	char what[256], dump[512], env_dump[600];
	const char *env[] = { env_dump, NULL };
	struct run_result r;
	int n = 15;
	FILE *f;
	char *err;

	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n++] = ZERO_LIN;
	argv[n] = NULL;
	snprintf(what, sizeof(what), "%s on %s ranks", strategy, ranks);
	path_in_tmp(dump, sizeof(dump), "params.f32");
	remove(dump);
	snprintf(env_dump, sizeof(env_dump), "ZERO_LIN_DUMP=%s", dump);
	cr_assert_eq(run_ltrun(argv, env, &r), 0, "%s: cannot start ltrun", what);
	cr_assert_eq(r.status, 0, "%s: status %d\n%s", what, r.status, r.err);
	err = r.err;
	r.err = NULL;
	run_result_free(&r);
	f = fopen(dump, "rb");
	cr_assert_not_null(f, "%s wrote no parameters", what);
	cr_assert_eq(fread(out, sizeof(float), NPARAMS, f), NPARAMS, "%s: short dump", what);
	fclose(f);
	return err;
}

/* Each parameter of b within rel relative L2 of a's (W, b, the scalar). */
static void expect_close(const char *what, const float *a, const float *b, double rel)
{
	static const int from[] = { 0, 35, 40, NPARAMS };

	for (int p = 0; p < 3; p++) {
		double d = 0.0, s = 0.0;

		for (int i = from[p]; i < from[p + 1]; i++) {
			d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
			s += (double)a[i] * a[i];
		}
		cr_expect_leq(sqrt(d), rel * sqrt(s),
			      "%s: parameter %d is %g from ddp's (relative L2), more than %g", what, p,
			      sqrt(d / s), rel);
	}
}

/* Every strategy in zeros (with the options extra) against ddp on each
 * number of ranks in ranks, within rel. */
static void check_within(const char *const *ranks, const char *const *zeros,
			 const char *const *extra, double rel)
{
	for (int r = 0; ranks[r]; r++) {
		float want[NPARAMS], got[NPARAMS];

		free(run_dump("ddp", ranks[r], extra, want));
		for (int z = 0; zeros[z]; z++) {
			char what[256];

			free(run_dump(zeros[z], ranks[r], extra, got));
			snprintf(what, sizeof(what), "%s on %s ranks", zeros[z], ranks[r]);
			expect_close(what, want, got, rel);
		}
	}
}

static void check_against_ddp(const char *const *ranks, const char *const *zeros,
			      const char *const *extra)
{
	check_within(ranks, zeros, extra, 1e-5);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

static const char *const stages[] = { "zero:stage=1", "zero:stage=2",
				       "zero:stage=2,offload_optimizer=cpu", "zero:stage=3", NULL };

TestSuite(zero, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 180);

Test(zero, stages_1_and_2_match_ddp_on_2_3_4_ranks)
{
	check_against_ddp(LIST("2", "3", "4"), stages, NONE);
}

Test(zero, stages_1_and_2_match_ddp_with_accumulation)
{
	check_against_ddp(LIST("2", "3"), stages, LIST("--accumulate-grad-batches", "3"));
}

/* Hybrid sharding on one node: the shards are the node's, the cross
 * group has one member (test_hybrid.c runs two hosts). */
Test(zero, hybrid_on_one_node_matches_ddp)
{
	check_against_ddp(LIST("2", "3"), LIST("hybrid_shard", "zero:stage=1,shard_scope=node"),
			  LIST("--accumulate-grad-batches", "2"));
}

/* offload_optimizer=nvme names the optimizer state's directory
 * (ctx->optim_dir): the state there steps as in memory. */
Test(zero, offload_optimizer_nvme_matches_ddp)
{
	char dir[512], strategy[700];

	path_in_tmp(dir, sizeof(dir), "optim");
	snprintf(strategy, sizeof(strategy), "zero:stage=2,offload_optimizer=nvme,offload_dir=%s",
		 dir);
	check_against_ddp(LIST("2"), LIST(strategy), LIST("--accumulate-grad-batches", "2"));
}

/* A clip value well below the gradient norm: every step is clipped by
 * the global norm (a rank's own shard would give another factor). */
Test(zero, stages_1_and_2_match_ddp_clipping_by_norm)
{
	const char *const *clip = LIST("--gradient-clip-val", "0.01", "--accumulate-grad-batches", "2");
	float plain[NPARAMS], clipped[NPARAMS];
	double d = 0.0;

	free(run_dump("ddp", "3", LIST("--accumulate-grad-batches", "2"), plain));
	free(run_dump("ddp", "3", clip, clipped));
	for (int i = 0; i < NPARAMS; i++)
		d += fabs((double)plain[i] - clipped[i]);
	cr_assert_gt(d, 1e-3, "clipping at 0.01 changed nothing: raise the learning rate or lower the clip");
	check_against_ddp(LIST("3"), stages, clip);
}

/* Half-precision gradients with accumulation: stages 2 and 3 sum each
 * micro-batch over the ranks, then over the micro-batches, in the compute
 * dtype, where ddp sums over the micro-batches on each rank first: the
 * roundings differ, so they are held to the dtype's precision there
 * (f16: 2^-11, bf16: 2^-8 a rounding, over 12 steps), stage 1 (whose
 * sums are ddp's) to 1e-5. */
static void check_mixed(const char *precision, double stage2_rel)
{
	check_against_ddp(LIST("3"), stages, LIST("--precision", precision));
	check_against_ddp(LIST("2"), LIST("zero:stage=1"),
			  LIST("--precision", precision, "--accumulate-grad-batches", "2"));
	check_within(LIST("2"), LIST("zero:stage=2", "zero:stage=3"),
		     LIST("--precision", precision, "--accumulate-grad-batches", "2"), stage2_rel);
}

Test(zero, stages_1_and_2_match_ddp_under_16_mixed)
{
	check_mixed("16-mixed", 2e-3);
}

Test(zero, stages_1_and_2_match_ddp_under_bf16_mixed)
{
	check_mixed("bf16-mixed", 2e-2);
}

/* The shift (element 40, the last) is rank 1's on 2 ranks.  After
 * micro-batch 0, stage 2 has all-reduced it: rank 0 gave its copy back
 * (zero), rank 1 holds the sum over the ranks.  Stage 1 reduces at the
 * end of the step only: each rank still holds its own. */
static void shift_grads(const char *strategy, double *g0, double *g1)
{
	const char *argv[] = { "--strategy", strategy, "--devices", "2", "--batch-size", "4",
			       "--accumulate-grad-batches", "2", "--max-steps", "1", ZERO_LIN, NULL };
	const char *env[] = { "ZERO_LIN_PROBE=1", NULL };
	struct run_result r;
	const char *at;

	cr_assert_eq(run_ltrun(argv, env, &r), 0);
	cr_assert_eq(r.status, 0, "%s: status %d\n%s", strategy, r.status, r.err);
	at = strstr(r.out, "rank 0 shift grad ");
	cr_assert_not_null(at, "%s: no probe line of rank 0 in\n%s", strategy, r.out);
	*g0 = atof(at + strlen("rank 0 shift grad "));
	at = strstr(r.out, "rank 1 shift grad ");
	cr_assert_not_null(at, "%s: no probe line of rank 1 in\n%s", strategy, r.out);
	*g1 = atof(at + strlen("rank 1 shift grad "));
	run_result_free(&r);
}

Test(zero, stage_2_keeps_only_the_owned_gradients_between_micro_batches)
{
	double a0, a1, b0, b1;

	shift_grads("zero:stage=1", &a0, &a1);
	cr_assert_neq(a0, 0.0, "stage 1: rank 0's own gradient of the shift is gone");
	shift_grads("zero:stage=2", &b0, &b1);
	cr_expect_eq(b0, 0.0, "stage 2: rank 0 still holds a gradient it does not own: %g", b0);
	cr_expect_float_eq(b1, a0 + a1, 1e-6 * fabs(a0 + a1),
			   "stage 2: rank 1's gradient %g is not the sum of the ranks' (%g + %g)", b1,
			   a0, a1);
}

/* Runs tests/models/bucket_flight.c on 2 ranks under strategy and reads
 * its probe line "bucket_flight: rank 0 <probe> R of T" into *in, *total. */
static void bucket_flight(const char *strategy, const char *probe, unsigned *in,
			  unsigned *total)
{
	const char *argv[] = { "--strategy", strategy, "--devices", "2", "--batch-size", "4",
			       "--max-steps", "1", build_path("tests/models/bucket_flight.so"),
			       NULL };
	char prefix[128];
	struct run_result r;
	const char *at;

	snprintf(prefix, sizeof(prefix), "bucket_flight: rank 0 %s ", probe);
	cr_assert_eq(run_ltrun(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "%s: status %d\n%s", strategy, r.status, r.err);
	at = strstr(r.out, prefix);
	cr_assert_not_null(at, "%s: no '%s' line in\n%s\n%s", strategy, prefix, r.out, r.err);
	cr_assert_eq(sscanf(at + strlen(prefix), "%u of %u", in, total), 2, "%s", at);
	cr_expect_gt(*total, 0u);
	run_result_free(&r);
}

/* Stage 2 keeps one bucket in flight while backward writes the next:
 * with rank 1 late to its backward, rank 0 waits for p7's bucket before
 * it starts p5's, so p6 (rank 1's) is reduced and given back by then;
 * without overlap, each bucket is reduced and given back before backward
 * goes on. */
Test(zero, stage_2_bounds_the_buckets_in_flight_when_a_rank_lags)
{
	static const char *const strategies[] = { "zero:stage=2,bucket_mb=7,overlap_comm=true",
						  "zero:stage=2,bucket_mb=7,overlap_comm=false" };

	for (int s = 0; s < 2; s++) {
		unsigned in, total;

		bucket_flight(strategies[s], "p6 resident", &in, &total);
		cr_expect_eq(in, 0u,
			     "%s: rank 0 still holds %u of the %u pages of p6's gradient two buckets later: the buckets in flight are not bounded",
			     strategies[s], in, total);
	}
}

/* Trimming a bucket takes back the pages of the bucket that gives pages
 * back two further on (here: p6's trim takes p4's), before backward
 * writes it. */
Test(zero, stage_2_takes_back_pages_two_buckets_ahead)
{
	unsigned in, total;

	bucket_flight("zero:stage=2,bucket_mb=7", "p4 resident before its backward", &in, &total);
	cr_expect_eq(in, total, "only %u of the %u pages of p4's gradient were taken back ahead", in,
		     total);
}

/* Stages 2 and 3 with their buckets reduced on the communicator's
 * thread and on the rank's own (overlap_comm; auto picks one by the CPUs)
 * end as ddp, with accumulation. */
Test(zero, stages_2_and_3_match_ddp_with_and_without_overlap)
{
	check_against_ddp(LIST("2", "3"),
			  LIST("zero:stage=2,overlap_comm=true", "zero:stage=2,overlap_comm=false",
			       "zero:stage=3,overlap_comm=false"),
			  LIST("--accumulate-grad-batches", "2"));
}

Test(zero, presets_pick_their_stage_and_print_the_accounting)
{
	static const struct { const char *name; int stage; } presets[] = {
		{ "ddp_sharded", 1 }, { "deepspeed_stage_1", 1 }, { "deepspeed", 2 },
		{ "deepspeed_stage_2", 2 }, { "deepspeed_stage_2_offload", 2 }, { "zero", 2 },
		{ "fsdp", 3 }, { "deepspeed_stage_3", 3 }, { "ddp_fully_sharded", 3 },
		{ "deepspeed_stage_3_offload", 3 }, { "fsdp_cpu_offload", 3 },
	};
	float p[NPARAMS];

	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		char *err = run_dump(presets[i].name, "2", NONE, p);
		char want[128];

		/* 41 parameters padded to 42, 21 a rank; 32-true AdamW; the
		 * unit "lin" holds 40 */
		snprintf(want, sizeof(want),
			 "zero: stage %d on 2 ranks: parameters %d, gradients %d, optimizer 168, gathered %d bytes per rank",
			 presets[i].stage, presets[i].stage == 3 ? 84 : 168,
			 presets[i].stage == 1 ? 168 : 84, presets[i].stage == 3 ? 160 : 0);
		cr_expect_not_null(strstr(err, want), "%s: no '%s' in\n%s", presets[i].name, want, err);
		free(err);
	}
}

/* Runs a bad command line and expects its message. */
static void expect_refused(const char *const *argv, const char *msg)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(argv, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "accepted: %s", argv[1]);
	cr_expect_not_null(strstr(r.err, msg), "no '%s' in\n%s", msg, r.err);
	run_result_free(&r);
}

Test(zero, what_is_not_built_says_so)
{
	expect_refused(LIST("--strategy", "zero:stage=2,offload_params=cpu", "--devices", "2",
			    "--max-steps", "1", ZERO_LIN),
		       "offload_params=cpu shards parameters, which stage 2 does not: use stage=3");
}

/* Stage 3 on 2 ranks: the stray parameter's element 2000 (a page wholly
 * inside rank 0's shard) is released on rank 1, which reads it outside
 * any unit: the rank faults, and is told which parameter it touched. */
Test(zero, stage_3_a_parameter_used_outside_its_unit_faults)
{
	const char *argv[] = { "--strategy", "zero:stage=3", "--devices", "2", "--max-steps", "2",
			       ZERO_LIN, NULL };
	const char *env[] = { "ZERO_LIN_STRAY=1", NULL };
	const char *plain[] = { "--strategy", "zero:stage=2", "--devices", "2", "--max-steps", "2",
				ZERO_LIN, NULL };
	struct run_result r;

	cr_assert_eq(run_ltrun(plain, env, &r), 0);
	cr_assert_eq(r.status, 0, "stage 2 keeps every value: the stray read must work\n%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_ltrun(argv, env, &r), 0);
	cr_assert_neq(r.status, 0, "rank 1 read a released value and went on:\n%s", r.err);
	cr_expect_not_null(strstr(r.err, "parameter 'stray' (unit 'stray') was used outside lt_unit_begin/lt_unit_end"),
			   "the fault does not name the parameter:\n%s", r.err);
	run_result_free(&r);
}

/* Sharded checkpoints: every rank saves and reads its own shard; 4 steps,
 * a resume to 8, and the parameters of 8 steps in one go, under each
 * stage, in 32-true and 16-mixed (the master weights gathered for the
 * compute values, stage 3's released values made resident for that). */
Test(zero, each_stage_resumes_from_its_shards)
{
	static const char *const st[] = { "zero:stage=1", "zero:stage=2", "zero:stage=3" };
	static const char *const prec[] = { "32-true", "16-mixed" };
	char ck[512];

	path_in_tmp(ck, sizeof(ck), "ck");
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++) {
			float once[NPARAMS], resumed[NPARAMS];
			const char *const base[] = { "--strategy", st[i], "--devices", "3",
						     "--precision", prec[k], "--batch-size", "4",
						     "--max-steps", "4", "--seed", "3", "--optimizer",
						     "adamw", "--lr", "0.05", "--ckpt-dir", ck,
						     ZERO_LIN, NULL };
			const char *const cont[] = { "--max-steps", "8", "--precision", prec[k],
						     "--ckpt-dir", ck, "--resume", "last", NULL };
			const char *const whole[] = { "--max-steps", "8", "--precision", prec[k],
						      NULL };
			char cmd[600], what[128];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ck);
			cr_assert_eq(system(cmd), 0);
			free(train("first 4 steps", base, 1));
			free(run_dump(st[i], "3", cont, resumed));
			free(run_dump(st[i], "3", whole, once));
			snprintf(what, sizeof(what), "%s %s resumed", st[i], prec[k]);
			expect_close(what, once, resumed, 1e-6);
		}
}
