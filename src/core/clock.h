/*
 * clock.h - the one monotonic clock: CLOCK_MONOTONIC, in seconds or in
 * milliseconds, for deadlines, timeouts and step timings.  Never goes
 * back; unrelated to the wall clock.  Both are async-signal-safe and
 * cannot fail.
 */
#ifndef LT_CORE_CLOCK_H
#define LT_CORE_CLOCK_H

#include <stdint.h>

/* Seconds since an unspecified start point (boot, on Linux). */
double lt_now_s(void);
/* The same clock in milliseconds. */
double lt_now_ms(void);
/* The same clock in nanoseconds, for spin loops that count in integers. */
int64_t lt_now_ns(void);

#endif
