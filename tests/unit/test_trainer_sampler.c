/*
 * test_trainer_sampler.c - the random numbers (determinism, streams,
 * ranges, a rough uniformity and normality check) and the distributed
 * sampler: for world sizes 1..5 and n divisible or not (and n < world) the
 * shards are disjoint, cover 0..n-1, have the promised sizes, follow the
 * perm[rank + k * world] order, reshuffle each epoch and repeat exactly for
 * the same (seed, epoch).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rng.h"
#include "trainer/sampler.h"

Test(trainer_rng, same_seed_same_numbers_streams_differ)
{
	struct lt_rng a, b, c;
	int i, same = 0;

	lt_rng_seed(&a, 42, 0);
	lt_rng_seed(&b, 42, 0);
	lt_rng_seed(&c, 42, 1);
	for (i = 0; i < 1000; i++) {
		uint64_t x = lt_rng_next(&a);
		cr_assert_eq(x, lt_rng_next(&b));
		same += x == lt_rng_next(&c);
	}
	cr_expect_eq(same, 0, "stream 1 repeats stream 0");
	lt_rng_seed(&a, 0, 0);
	cr_expect(a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 gives a usable state");
	lt_rng_seed(&b, 43, 0);
	lt_rng_seed(&a, 42, 0);
	cr_expect_neq(lt_rng_next(&a), lt_rng_next(&b));
}

Test(trainer_rng, uniform_below_and_normal_ranges)
{
	struct lt_rng r;
	int hist[7] = { 0 }, i;
	double sum = 0, sumsq = 0, usum = 0;
	const int n = 70000;

	lt_rng_seed(&r, 7, 3);
	for (i = 0; i < n; i++) {
		double u = lt_rng_uniform(&r), z = lt_rng_normal(&r);
		uint64_t k = lt_rng_below(&r, 7);
		cr_assert(u >= 0 && u < 1);
		cr_assert(k < 7);
		cr_assert(isfinite(z));
		hist[k]++;
		usum += u;
		sum += z;
		sumsq += z * z;
	}
	for (i = 0; i < 7; i++)
		cr_expect(abs(hist[i] - n / 7) < 500, "bucket %d has %d of %d", i, hist[i], n);
	cr_expect(fabs(usum / n - 0.5) < 0.01);
	cr_expect(fabs(sum / n) < 0.02, "normal mean %g", sum / n);
	cr_expect(fabs(sumsq / n - 1) < 0.03, "normal variance %g", sumsq / n);
	cr_expect_eq(lt_rng_below(&r, 1), 0);
	cr_expect_eq(lt_rng_below(&r, 0), 0);
}

/* Checks the shards of every rank of one epoch; returns the concatenation
 * in rank-interleaved order (the permutation), malloc'd. */
static int64_t *check_epoch(int64_t n, int world, uint64_t seed, int epoch, bool shuffle)
{
	int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof(*perm));
	int64_t *out = malloc((size_t)(n / world + 2) * sizeof(*out));
	char *seen = calloc((size_t)n + 1, 1);
	int64_t total = 0, k;
	int rank;

	cr_assert(perm && out && seen);
	for (rank = 0; rank < world; rank++) {
		int64_t want = rank < n ? (n - rank + world - 1) / world : 0;
		int64_t got = lt_sampler_shard(n, world, rank, seed, epoch, shuffle, out);

		cr_assert_eq(got, want, "n %ld world %d rank %d: %ld indices", (long)n, world, rank,
			     (long)got);
		cr_assert_eq(lt_sampler_count(n, world, rank), want);
		cr_expect(got <= (n + world - 1) / world, "fits lt_shard's promised room");
		for (k = 0; k < got; k++) {
			cr_assert(out[k] >= 0 && out[k] < n);
			cr_assert(!seen[out[k]], "index %ld twice (n %ld world %d)", (long)out[k],
				  (long)n, world);
			seen[out[k]] = 1;
			perm[rank + k * world] = out[k];
		}
		total += got;
	}
	cr_assert_eq(total, n, "the shards cover the epoch");
	free(out);
	free(seen);
	return perm;
}

Test(trainer_sampler, disjoint_covering_for_worlds_1_to_5)
{
	static const int64_t sizes[] = { 0, 1, 2, 3, 4, 7, 10, 11, 97, 1000 };
	size_t i;
	int world;

	for (world = 1; world <= 5; world++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			free(check_epoch(sizes[i], world, 1234, 0, true));
			free(check_epoch(sizes[i], world, 1234, 3, false));
		}
}

Test(trainer_sampler, follows_the_one_permutation)
{
	int64_t n = 23, perm[23], *got = check_epoch(n, 4, 99, 2, true);

	lt_sampler_permutation(n, 99, 2, perm);
	cr_expect_arr_eq(got, perm, sizeof(perm), "rank r gets perm[r], perm[r + world], ...");
	free(got);
}

Test(trainer_sampler, identity_without_shuffle)
{
	int64_t out[4];

	cr_assert_eq(lt_sampler_shard(10, 3, 1, 5, 0, false, out), 3);
	cr_expect_eq(out[0], 1);
	cr_expect_eq(out[1], 4);
	cr_expect_eq(out[2], 7);
}

Test(trainer_sampler, reshuffled_per_epoch_and_deterministic)
{
	int64_t n = 100, *e0 = check_epoch(n, 3, 7, 0, true), *e1 = check_epoch(n, 3, 7, 1, true);
	int64_t *again = check_epoch(n, 3, 7, 1, true), *other = check_epoch(n, 3, 8, 1, true);
	int64_t identity = 0, k;

	cr_expect(memcmp(e0, e1, (size_t)n * sizeof(*e0)), "epochs 0 and 1 have the same order");
	cr_expect(!memcmp(e1, again, (size_t)n * sizeof(*e1)), "the same epoch differs between calls");
	cr_expect(memcmp(e1, other, (size_t)n * sizeof(*e1)), "seeds 7 and 8 give the same order");
	for (k = 0; k < n; k++)
		identity += e0[k] == k;
	cr_expect(identity < 10, "the shuffle left %ld of %ld in place", (long)identity, (long)n);
	free(e0);
	free(e1);
	free(again);
	free(other);
}

Test(trainer_sampler, fewer_samples_than_ranks)
{
	int64_t out[1] = { -7 };

	cr_expect_eq(lt_sampler_shard(3, 5, 3, 0, 0, true, out), 0);
	cr_expect_eq(out[0], -7, "nothing written for an empty shard");
	cr_expect_eq(lt_sampler_count(3, 5, 4), 0);
	cr_expect_eq(lt_sampler_count(3, 5, 2), 1);
	cr_expect_eq(lt_sampler_count(-1, 2, 0), 0);
	cr_expect_eq(lt_sampler_count(5, 0, 0), 0);
}

/* The order is part of the contract (a resumed run must see the same
 * batches): pin the first epoch of seed 0 so a change is noticed. */
Test(trainer_sampler, pinned_order)
{
	static const int64_t want0[8] = { 6, 3, 1, 7, 5, 4, 2, 0 };
	static const int64_t want1[8] = { 3, 4, 0, 2, 6, 5, 1, 7 };
	int64_t perm[8];

	lt_sampler_permutation(8, 0, 0, perm);
	cr_expect_arr_eq(perm, want0, sizeof(perm), "seed 0 epoch 0 changed order");
	lt_sampler_permutation(8, 0, 1, perm);
	cr_expect_arr_eq(perm, want1, sizeof(perm), "seed 0 epoch 1 changed order");
}
