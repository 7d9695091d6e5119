/*
 * test_zero_rs.c - zero's gradient buckets reduce-scattered into their
 * owners (bucket_send.h, lt_comm_start_v), on examples/wide (3 layers of
 * width 40, about 5000 parameters) cut into 4 KiB buckets, so that the
 * buckets meet the owners' ranges in uneven pieces: stages 2 and 3 on 3
 * ranks with gradient accumulation end within 1e-4 of ddp (the largest
 * difference, relative to the largest parameter) over gloo (an
 * all-reduce of a copy) and shm; and under 16-mixed without accumulation,
 * stage 2 ends bit for bit where ddp does: shm sums the ranks of a bucket
 * in the same order whether it all-reduces or reduce-scatters it.
 */
#include <criterion/criterion.h>

#include <math.h>

#include "run.h"
#include "training.h"

TestSuite(zero_rs, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 300);

#define WIDE build_path("examples/wide/wide.so")
#define RUN(strategy, comm, ...)                                                                 \
	((const char *const[]){ "--strategy", strategy, "--comm", comm, "--devices", "3",           \
				"--batch-size", "4", "--max-steps", "8", "--optimizer", "adamw",    \
				"--lr", "1e-2", "--seed", "5", "--bucket-mb", "0.004",              \
				__VA_ARGS__, WIDE, "--", "--params", "5000", "--width", "40",       \
				"--samples", "256", NULL })

/* Trains a and b and returns the largest difference of their parameters
 * relative to a's largest. */
static double distance(const char *what, const char *const *a, const char *const *b)
{
	char da[512], db[512];
	double big = 0.0, diff;

	train_dumping(what, a, "a.txt", da, sizeof(da));
	train_dumping(what, b, "b.txt", db, sizeof(db));
	diff = dump_max_diff(da, db, &big);
	return big > 0 ? diff / big : diff;
}

Test(zero_rs, stages_2_and_3_match_ddp_over_gloo_and_shm)
{
	static const char *const comms[] = { "gloo", "shm" };
	static const char *const stages[] = { "zero:stage=2", "zero:stage=3" };

	for (int c = 0; c < 2; c++)
		for (int s = 0; s < 2; s++) {
			double d = distance(stages[s],
					    RUN("ddp", comms[c], "--accumulate-grad-batches", "2"),
					    RUN(stages[s], comms[c], "--accumulate-grad-batches", "2"));

			cr_expect_leq(d, 1e-4, "%s over %s: %g from ddp's parameters", stages[s],
				      comms[c], d);
		}
}

Test(zero_rs, stage_2_under_16_mixed_ends_bit_for_bit_where_ddp_does)
{
	double d = distance("16-mixed", RUN("ddp", "auto", "--precision", "16-mixed"),
			    RUN("zero:stage=2", "auto", "--precision", "16-mixed"));

	cr_expect_eq(d, 0.0, "16-mixed stage 2 ends %g from ddp's parameters", d);
}
