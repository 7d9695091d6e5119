/*
 * rng.c - xoshiro256** (Blackman and Vigna, public domain reference at
 * prng.di.unimi.it) with its state filled by splitmix64.  A stream is
 * selected by hashing the stream number into splitmix64's starting point,
 * so streams need no jump-ahead and any number of them is cheap.
 */
#include "runtime/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void lt_rng_seed(struct lt_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t h = stream ^ 0x5851f42d4c957f2dULL, x;
	int i;

	/* One splitmix64 step scrambles the stream number, so that streams
	 * 0, 1, 2... of one seed start far apart in splitmix64's sequence. */
	x = seed ^ splitmix64(&h);
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1; /* all-zero is xoshiro's one fixed point */
}

uint64_t lt_rng_next(struct lt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double lt_rng_uniform(struct lt_rng *r)
{
	return (double)(lt_rng_next(r) >> 11) * 0x1.0p-53;
}

double lt_rng_normal(struct lt_rng *r)
{
	double u1 = 1.0 - lt_rng_uniform(r); /* (0, 1]: log() stays finite */
	double u2 = lt_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t lt_rng_below(struct lt_rng *r, uint64_t n)
{
	uint64_t threshold, x;

	if (n == 0)
		return 0;
	/* 2^64 mod n: values below it would make the low residues likelier. */
	threshold = -n % n;
	do
		x = lt_rng_next(r);
	while (x < threshold);
	return x % n;
}
