/*
 * draw.h - first values of a tensor from its init rule (draw.c), the
 * same on every rank: the parameters' (runtime.c) and the buffers'
 * (buffers.c).
 */
#ifndef LT_RUNTIME_DRAW_H
#define LT_RUNTIME_DRAW_H

#include <stdint.h>

#include "ltrun.h"

/* Draws numel values of rule init for a tensor of shape s as f32 into v,
 * from seed and stream (a tensor's own: its registration index). */
void lt_draw(uint64_t seed, const struct lt_shape *s, int64_t numel, struct lt_init init,
	     uint64_t stream, float *v);
/* Elements [first, first + count) of what lt_draw draws, into v[0..count):
 * the same values, bit for bit, whatever range is asked (async-signal-safe:
 * no allocation, no lock). */
void lt_draw_range(uint64_t seed, const struct lt_shape *s, struct lt_init init, uint64_t stream,
		   int64_t first, int64_t count, float *v);

#endif
