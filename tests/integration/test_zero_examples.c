/*
 * test_zero_examples.c - the sharded strategies on the real models:
 * examples/wide (a unit per layer; widths whose parameter counts do not
 * divide by the ranks) and examples/gpt (a unit per block; wte, wpe and
 * lnf in none) train 12 steps under deepspeed_stage_1, deepspeed_stage_2
 * and fsdp and end with every parameter within 1e-5 relative L2 of ddp's
 * (each model's --dump, examples/common/params.h).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(zero_examples, .init = training_make_tmp, .fini = training_remove_tmp,
	  .timeout = 300);

/* Trains model (its arguments args) 12 steps under strategy on ranks
 * ranks; its --dump goes to dump. */
static void train_dump(const char *model, const char *const *args, const char *strategy,
		  const char *ranks, const char *dump)
{
	const char *argv[48] = { "--strategy", strategy, "--devices", ranks, "--batch-size", "4",
				 "--max-steps", "12", "--optimizer", "adamw", "--lr", "1e-2",
				 "--seed", "5", build_path(model), "--" };
	struct run_result r;
	int n = 16;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n++] = "--dump";
	argv[n++] = dump;
	argv[n] = NULL;
	cr_assert_eq(run_ltrun(argv, NULL, &r), 0, "%s under %s: cannot start ltrun", model,
		     strategy);
	cr_assert_eq(r.status, 0, "%s under %s on %s ranks: status %d\n%s", model, strategy, ranks,
		     r.status, r.err);
	run_result_free(&r);
}

/* Every parameter of dump b (lines "name index value") within 1e-5
 * relative L2 of a's. */
static void expect_close(const char *what, const char *a_path, const char *b_path)
{
	FILE *a = fopen(a_path, "r"), *b = fopen(b_path, "r");
	char na[128], nb[128], cur[128] = "";
	long long ia, ib;
	double va, vb, d = 0.0, s = 0.0;
	int lines = 0;

	cr_assert(a && b, "%s: a dump is missing", what);
	for (;;) {
		int ra = fscanf(a, "%127s %lld %lf", na, &ia, &va);
		int rb = fscanf(b, "%127s %lld %lf", nb, &ib, &vb);

		cr_assert_eq(ra, rb, "%s: the dumps differ in length", what);
		if (ra != 3 || strcmp(na, cur)) {
			if (cur[0])
				cr_expect_leq(sqrt(d), 1e-5 * sqrt(s),
					      "%s: '%s' is %g from ddp's (relative L2)", what, cur,
					      s > 0 ? sqrt(d / s) : sqrt(d));
			if (ra != 3)
				break;
			snprintf(cur, sizeof(cur), "%s", na);
			d = s = 0.0;
		}
		cr_assert(!strcmp(na, nb) && ia == ib, "%s: line %d is %s[%lld] and %s[%lld]", what,
			  lines, na, ia, nb, ib);
		d += (va - vb) * (va - vb);
		s += va * va;
		lines++;
	}
	cr_assert_gt(lines, 0, "%s: empty dumps", what);
	fclose(a);
	fclose(b);
}

static void against_ddp(const char *model, const char *const *args, const char *ranks,
			const char *const *strategies)
{
	char want[512], got[512], what[256];

	path_in_tmp(want, sizeof(want), "ddp.txt");
	path_in_tmp(got, sizeof(got), "zero.txt");
	train_dump(model, args, "ddp", ranks, want);
	for (; *strategies; strategies++) {
		train_dump(model, args, *strategies, ranks, got);
		snprintf(what, sizeof(what), "%s under %s on %s ranks", model, *strategies, ranks);
		expect_close(what, want, got);
	}
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* 3 layers of width 20: 1260 parameters, 20-element biases. */
Test(zero_examples, wide_matches_ddp)
{
	const char *const *wide = LIST("--params", "1260", "--width", "20", "--samples", "512");

	against_ddp("examples/wide/wide.so", wide, "3",
		    LIST("deepspeed_stage_1", "deepspeed_stage_2", "fsdp"));
	against_ddp("examples/wide/wide.so", wide, "4", LIST("fsdp"));
}

/* 2 blocks, 2 units, on 2 ranks. */
Test(zero_examples, gpt_matches_ddp)
{
	against_ddp("examples/gpt/gpt.so",
		    LIST("--layers", "2", "--dim", "32", "--heads", "2", "--ctx", "32", "--eval", "0"),
		    "2", LIST("deepspeed_stage_1", "deepspeed_stage_2", "fsdp"));
}

/* 3 blocks gathered one after the other, on 3 ranks (17,240 parameters:
 * the shards end inside blocks), --eval gathering every block around
 * what rank 0 alone computes. */
Test(zero_examples, gpt_three_blocks_match_ddp_under_fsdp)
{
	against_ddp("examples/gpt/gpt.so",
		    LIST("--layers", "3", "--dim", "20", "--heads", "2", "--ctx", "17", "--eval", "4"),
		    "3", LIST("fsdp"));
}

/* One run of the 3-block gpt on 3 ranks under strategy, env added (NULL:
 * none): its --dump to dump, its stderr returned (the caller frees it). */
static char *stage3_run(const char *strategy, const char *const *env, const char *dump)
{
	const char *const argv[] = { "--strategy", strategy, "--devices", "3", "--verbose",
				     "--batch-size", "4", "--max-steps", "6", "--optimizer", "adamw",
				     "--lr", "1e-2", "--seed", "5", build_path("examples/gpt/gpt.so"),
				     "--", "--layers", "3", "--dim", "20", "--heads", "2", "--ctx",
				     "17", "--eval", "4", "--dump", dump, NULL };
	struct run_result r;
	char *err;

	cr_assert_eq(run_ltrun(argv, env, &r), 0, "cannot start ltrun");
	cr_assert_eq(r.status, 0, "%s on 3 ranks: status %d\n%s", strategy, r.status, r.err);
	err = strdup(r.err ? r.err : "");
	run_result_free(&r);
	return err;
}

static char *fsdp_run(const char *const *env, const char *dump)
{
	return stage3_run("fsdp", env, dump);
}

/* On one node, gathers map the owners' pages (and read the bytes at
 * their edges); with LTRUN_ZERO_GATHER=read they read the owners' arenas
 * directly, with broadcast they are broadcasts; all three give the same
 * bits; a bad value is refused. */
Test(zero_examples, shared_pages_reads_and_broadcasts_give_the_same_values)
{
	char a[512], b[512], c[512], *err;

	path_in_tmp(a, sizeof(a), "shared.txt");
	path_in_tmp(b, sizeof(b), "broadcast.txt");
	path_in_tmp(c, sizeof(c), "read.txt");
	err = fsdp_run(NULL, a);
	cr_expect(strstr(err, "by the owners' shared pages"), "no shared pages:\n%s", err);
	free(err);
	err = fsdp_run((const char *const[]){ "LTRUN_ZERO_GATHER=broadcast", NULL }, b);
	cr_expect(strstr(err, "ahead of use, by broadcasts"), "no broadcasts:\n%s", err);
	free(err);
	err = fsdp_run((const char *const[]){ "LTRUN_ZERO_GATHER=read", NULL }, c);
	cr_expect(strstr(err, "by direct reads of the owners' values"), "no direct reads:\n%s", err);
	free(err);
	cr_expect(same_file(a, b), "shared pages and broadcasts: the dumps differ");
	cr_expect(same_file(c, b), "direct reads and broadcasts: the dumps differ");

	const char *const argv[] = { "--strategy", "fsdp", "--devices", "2", "--max-steps", "1",
				     build_path("examples/wide/wide.so"), "--", "--params", "1260",
				     "--width", "20", NULL };
	struct run_result r;
	cr_assert_eq(run_ltrun(argv, (const char *const[]){ "LTRUN_ZERO_GATHER=cma", NULL }, &r),
		     0);
	cr_expect_neq(r.status, 0);
	cr_expect(strstr(r.err, "LTRUN_ZERO_GATHER='cma': expected auto, read or broadcast"), "%s", r.err);
	run_result_free(&r);
}

/* Values in files: a gather maps the owners' files (from the descriptor
 * each owner lends) and reads their edges; with LTRUN_ZERO_GATHER=read
 * it reads everything from the files; both give the bits of the
 * broadcasts. */
Test(zero_examples, values_in_files_mapped_read_and_broadcast_give_the_same_values)
{
	char a[512], b[512], c[512], dir[512], strategy[700], *err;

	path_in_tmp(a, sizeof(a), "files-mapped.txt");
	path_in_tmp(b, sizeof(b), "files-broadcast.txt");
	path_in_tmp(c, sizeof(c), "files-read.txt");
	path_in_tmp(dir, sizeof(dir), "offload");
	snprintf(strategy, sizeof(strategy), "deepspeed_stage_3_offload_nvme:offload_dir=%s", dir);
	err = stage3_run(strategy, NULL, a);
	cr_expect(strstr(err, "by the owners' files mapped"), "no mapped files:\n%s", err);
	free(err);
	err = stage3_run(strategy, (const char *const[]){ "LTRUN_ZERO_GATHER=broadcast", NULL }, b);
	cr_expect(strstr(err, "ahead of use, by broadcasts"), "no broadcasts:\n%s", err);
	free(err);
	err = stage3_run(strategy, (const char *const[]){ "LTRUN_ZERO_GATHER=read", NULL }, c);
	cr_expect(strstr(err, "by direct reads of the owners' files"), "no file reads:\n%s", err);
	free(err);
	cr_expect(same_file(a, b), "mapped files and broadcasts: the dumps differ");
	cr_expect(same_file(c, b), "file reads and broadcasts: the dumps differ");
}
