/*
 * timing.h - what the benchmark programs of bench/ share, as header-only
 * static functions (each program is compiled alone by its script): a
 * millisecond clock, and the one result line bench/allreduce parses.
 */
#ifndef LT_BENCH_TIMING_H
#define LT_BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
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
