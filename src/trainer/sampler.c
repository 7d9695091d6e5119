/*
 * sampler.c - the distributed sampler.  Every rank computes the same
 * permutation of the epoch from (seed, epoch) and keeps every world'th
 * element starting at its rank, so no communication is needed and the
 * shards are disjoint and cover the epoch by construction.
 */
#include "trainer/sampler.h"
#include "runtime/rng.h"

#include <stdlib.h>

/* Stream numbers of the sampler: epoch e uses stream SAMPLER_STREAM + e,
 * far from the streams parameter initialisation uses. */
#define SAMPLER_STREAM (0x53414d50ULL << 32) /* "SAMP" */

int64_t lt_sampler_count(int64_t n, int world, int rank)
{
	if (n <= 0 || world < 1 || rank < 0 || rank >= n)
		return 0;
	return (n - rank + world - 1) / world;
}

void lt_sampler_permutation(int64_t n, uint64_t seed, int epoch, int64_t *perm)
{
	struct lt_rng r;
	int64_t i;

	for (i = 0; i < n; i++)
		perm[i] = i;
	lt_rng_seed(&r, seed, SAMPLER_STREAM + (uint64_t)(uint32_t)epoch);
	for (i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)lt_rng_below(&r, (uint64_t)i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

int64_t lt_sampler_shard(int64_t n, int world, int rank, uint64_t seed,
			 int epoch, bool shuffle, int64_t *out)
{
	int64_t count = lt_sampler_count(n, world, rank), k, *perm;

	if (!shuffle) {
		for (k = 0; k < count; k++)
			out[k] = rank + k * world;
		return count;
	}
	if (count == 0)
		return 0;
	perm = malloc((size_t)n * sizeof(*perm));
	if (!perm)
		return -1;
	lt_sampler_permutation(n, seed, epoch, perm);
	for (k = 0; k < count; k++)
		out[k] = perm[rank + k * world];
	free(perm);
	return count;
}

int64_t lt_sampler_rescale_step(int64_t step_in_epoch, int old_world, int new_world)
{
	if (old_world < 1 || new_world < 1 || step_in_epoch < 0 || old_world == new_world ||
	    step_in_epoch > INT64_MAX / old_world)
		return step_in_epoch;
	return step_in_epoch * old_world / new_world;
}
