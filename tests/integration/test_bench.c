/*
 * test_bench.c - what the benchmarks read from ltrun: under --verbose the
 * launcher says each rank's peak resident set ("ltrun: rank R
 * peak_rss_mb=X", bench/zero's memory column), one line a rank, and the
 * figure follows the model's real memory: ten times the parameters raise
 * every rank's peak by at least their values and gradients (8 bytes a
 * parameter under 32-true and SGD) and by not much more.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

TestSuite(bench, .timeout = 120);

#define WIDE build_path("examples/wide/wide.so")

/* Rank rank's peak_rss_mb in text, or -1 when it has no such line. */
static double peak_of(const char *text, int rank)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "ltrun: rank %d peak_rss_mb=", rank);
	at = strstr(text, key);
	return at ? strtod(at + strlen(key), NULL) : -1.0;
}

/* Trains wide.so with params parameters on 2 ranks for one step; fills
 * peak[0..1] from stderr (verbose or not). */
static void train(const char *params, bool verbose, double peak[2])
{
	struct run_result r;
	const char *args[] = { "--devices", "2", "--strategy", "ddp", "--max-steps", "1",
			       "--batch-size", "1", WIDE, "--", "--params", params, "--width", "256",
			       "--samples", "64", NULL, NULL };

	if (verbose) {
		memmove(args + 1, args, sizeof(args) - 2 * sizeof(*args));
		args[0] = "--verbose";
	}
	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "ltrun on %s parameters: %s", params, r.err);
	for (int i = 0; i < 2; i++)
		peak[i] = peak_of(r.err, i);
	run_result_free(&r);
}

Test(bench, verbose_says_each_ranks_peak_rss_and_it_follows_the_model)
{
	const double mib = 1048576.0;
	double small[2], big[2];

	train("2M", true, small);
	train("20M", true, big);
	for (int i = 0; i < 2; i++) {
		cr_assert_gt(small[i], 0.0, "rank %d: no 'ltrun: rank %d peak_rss_mb=' line", i, i);
		cr_assert_gt(big[i], 0.0, "rank %d: no 'ltrun: rank %d peak_rss_mb=' line", i, i);
		/* 18M more parameters (width 256: whole layers of 65,792), f32
		 * values and gradients touched at least once: >= 8 bytes each;
		 * ddp's buckets and the sanitizers' shadow add a few more. */
		double grew = (big[i] - small[i]) * mib, extra = 18e6;
		cr_expect_geq(grew, 0.95 * 8 * extra, "rank %d: peak grew %.1f MiB for 18M more parameters",
			      i, grew / mib);
		cr_expect_leq(grew, 3.0 * 8 * extra, "rank %d: peak grew %.1f MiB for 18M more parameters",
			      i, grew / mib);
	}
}

Test(bench, without_verbose_no_peak_rss_line)
{
	double peak[2];

	train("1M", false, peak);
	cr_expect_lt(peak[0], 0.0);
	cr_expect_lt(peak[1], 0.0);
}
