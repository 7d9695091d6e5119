/*
 * clip.c - gradient clipping kernels: plain loops the compiler vectorises
 * (built with -O3), the sum of squares spread over eight double
 * accumulators so that it vectorises without -ffast-math.
 */
#include "runtime/clip.h"

#include <math.h>

double lt_clip_sumsq(const float *g, size_t n)
{
	double acc[8] = { 0 }, sum = 0;
	size_t i, j, body = n & ~(size_t)7;

	for (i = 0; i < body; i += 8)
		for (j = 0; j < 8; j++)
			acc[j] += (double)g[i + j] * (double)g[i + j];
	for (; i < n; i++)
		sum += (double)g[i] * (double)g[i];
	for (j = 0; j < 8; j++)
		sum += acc[j];
	return sum;
}

double lt_clip_factor(double total_norm, double max_norm)
{
	double f;

	if (!isfinite(total_norm))
		return 1;
	f = max_norm / (total_norm + 1e-6);
	return f < 1 ? f : 1;
}

void lt_clip_scale(float *g, size_t n, float factor)
{
	size_t i;

	for (i = 0; i < n; i++)
		g[i] *= factor;
}

void lt_clip_value(float *g, size_t n, float limit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float x = g[i];
		x = x > limit ? limit : x;
		g[i] = x < -limit ? -limit : x;
	}
}
