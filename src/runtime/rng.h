/*
 * rng.h - the deterministic random numbers of a run: xoshiro256** seeded by
 * splitmix64, so that one --seed gives the same numbers on every rank, every
 * run and every machine.  Independent streams (one per epoch, per parameter,
 * per purpose) come from the same seed with a different stream number.
 */
#ifndef LT_RUNTIME_RNG_H
#define LT_RUNTIME_RNG_H

#include <stdint.h>

struct lt_rng {
	uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/* Seeds r for stream `stream` of `seed`: (seed, stream) pairs that differ in
 * either number give unrelated sequences.  Cannot fail. */
void lt_rng_seed(struct lt_rng *r, uint64_t seed, uint64_t stream);
/* The next 64 random bits. */
uint64_t lt_rng_next(struct lt_rng *r);
/* Uniform in [0, 1), with 53 random bits. */
double lt_rng_uniform(struct lt_rng *r);
/* Standard normal (mean 0, deviation 1), by Box-Muller: two draws each. */
double lt_rng_normal(struct lt_rng *r);
/* Uniform and unbiased in [0, n) (rejection sampling); 0 when n is 0. */
uint64_t lt_rng_below(struct lt_rng *r, uint64_t n);

#endif
