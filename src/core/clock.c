/*
 * clock.c - the monotonic clock of clock.h.
 */
#include "core/clock.h"

#include <time.h>

double lt_now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double lt_now_ms(void)
{
	return lt_now_s() * 1000.0;
}

int64_t lt_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
