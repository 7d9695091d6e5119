/*
 * sampler.h - which samples each rank sees in an epoch: torch's
 * DistributedSampler order (a shuffle of the whole epoch, dealt to the ranks
 * round-robin) without its padding, so ranks may differ by one sample and
 * no sample is seen twice.
 */
#ifndef LT_TRAINER_SAMPLER_H
#define LT_TRAINER_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* Number of indices rank gets out of n: ceil((n - rank) / world), 0 when
 * rank >= n (or any argument is out of range: n < 0, world < 1, rank < 0). */
int64_t lt_sampler_count(int64_t n, int world, int rank);

/* Writes rank's indices of `epoch` to out (room for lt_sampler_count()):
 * perm[rank], perm[rank + world], ... where perm is a Fisher-Yates shuffle
 * of 0..n-1 seeded from (seed, epoch), or the identity when !shuffle.  The
 * same on every run and every rank.  Returns the count, or -1 when the
 * n-element permutation cannot be allocated (out untouched then). */
int64_t lt_sampler_shard(int64_t n, int world, int rank, uint64_t seed,
			 int epoch, bool shuffle, int64_t *out);

/* The step within an epoch at which a run of new_world ranks goes on
 * from a checkpoint that old_world ranks saved after step_in_epoch steps
 * (a resume at another world size: an elastic job's new round).  Step s
 * of `world` ranks ends at sample s * world * B * A of the epoch's
 * permutation (B the batch, A the accumulation, the same for both), so
 * the new run starts at the last whole step of its own before that
 * sample: at most one step's samples are seen twice, none skipped.
 * Worlds below 1 or a negative step give step_in_epoch unchanged. */
int64_t lt_sampler_rescale_step(int64_t step_in_epoch, int old_world, int new_world);

/* The whole permutation of `epoch` (n elements) into perm.  Cannot fail. */
void lt_sampler_permutation(int64_t n, uint64_t seed, int epoch, int64_t *perm);

#endif
