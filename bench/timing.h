/*
 * timing.h - what the benchmark programs of bench/ share, as header-only
 * static functions (each program is compiled alone by its script): a
 * millisecond clock, and the one result line bench/allreduce parses.
 */
#ifndef LT_BENCH_TIMING_H
#define LT_BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Timed iterations for a message of `bytes`: about budget bytes in all,
 * clamped to [min, max]; *warm gets the warm-up count (1 to 5). */
static inline long bench_iters(size_t bytes, double budget, long min, long max, long *warm)
{
	long iters = (long)(budget / (double)bytes);

	if (iters < min)
		iters = min;
	if (iters > max)
		iters = max;
	*warm = iters / 5 < 1 ? 1 : iters / 5 > 5 ? 5 : iters / 5;
	return iters;
}

/* How each size is timed (--recipe):
 *   timed   warm-up, a barrier, then `iters` back-to-back operations, each
 *           timed on its own: the median
 *   stream  the same, timed as a whole: total / iters (a long run of
 *           collectives, where waiting ranks never go to sleep)
 *   gap     before each timed operation BENCH_GAP_MS (5) of compute on
 *           every rank, as a training step's loss all-reduce meets it:
 *           the median of the operations alone */
enum bench_recipe { BENCH_TIMED, BENCH_STREAM, BENCH_GAP };
#define BENCH_GAP_MS 5.0

static inline int bench_recipe_parse(const char *v, enum bench_recipe *r)
{
	static const char *const names[] = { "timed", "stream", "gap" };

	for (int i = 0; i < 3; i++)
		if (!strcmp(v, names[i])) {
			*r = (enum bench_recipe)i;
			return 0;
		}
	return -1;
}

/* Busy arithmetic for ms milliseconds, as a compute phase keeps a core. */
static inline void bench_compute_ms(double ms)
{
	double end = bench_now_ms() + ms;
	volatile double x = 1.0;

	while (bench_now_ms() < end)
		for (int i = 0; i < 1000; i++)
			x = x * 1.0000001 + 1e-9;
}

/* Sorts the iters times t (ms) and prints their median, mean and
 * minimum in the "allreduce_bench: ..." line bench/allreduce reads. */
static inline void bench_report(int ranks, size_t bytes, long iters, double *t)
{
	double sum = 0.0, med;

	for (long i = 0; i < iters; i++)
		sum += t[i];
	qsort(t, (size_t)iters, sizeof(*t), bench_cmp_double);
	med = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2;
	printf("allreduce_bench: ranks=%d bytes=%zu count=%zu iters=%ld median_ms=%.6f mean_ms=%.6f min_ms=%.6f\n",
	       ranks, bytes, bytes / sizeof(float), iters, med, sum / (double)iters, t[0]);
	fflush(stdout);
}

#endif
