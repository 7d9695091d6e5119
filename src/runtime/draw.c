/*
 * draw.c - first values from an init rule (draw.h): zeros, a constant,
 * uniform, normal, Kaiming and Xavier uniform (fan_in the last dim,
 * fan_out the first), from the run's seed on a stream of the tensor's.
 * Element i takes the stream's draws number i (or 2i and 2i + 1 for a
 * normal rule), so any range of a tensor can be drawn alone by stepping
 * the generator past the ones before it (lt_draw_range).
 */
#include "runtime/draw.h"
#include "runtime/rng.h"

#include <math.h>

/* The generator's draws one element takes under rule init. */
static uint64_t draws_per_element(struct lt_init init)
{
	switch (init.kind) {
	case LT_INIT_ZEROS:
	case LT_INIT_CONSTANT:
		return 0;
	case LT_INIT_NORMAL:
		return 2;
	default:
		return 1;
	}
}

void lt_draw_range(uint64_t seed, const struct lt_shape *s, struct lt_init init, uint64_t stream,
		   int64_t first, int64_t count, float *v)
{
	double fan_in = s->ndim ? (double)s->dim[s->ndim - 1] : 1.0;
	double fan_out = s->ndim > 1 ? (double)s->dim[0] : 1.0;
	struct lt_rng rng;
	double bound;

	lt_rng_seed(&rng, seed, 0x1000 + stream);
	for (uint64_t skip = (uint64_t)first * draws_per_element(init); skip > 0; skip--)
		(void)lt_rng_next(&rng);
	for (int64_t i = 0; i < count; i++) {
		switch (init.kind) {
		case LT_INIT_ZEROS:
			v[i] = 0.0f;
			break;
		case LT_INIT_CONSTANT:
			v[i] = (float)init.a;
			break;
		case LT_INIT_UNIFORM:
			v[i] = (float)(init.a + (init.b - init.a) * lt_rng_uniform(&rng));
			break;
		case LT_INIT_NORMAL:
			v[i] = (float)(init.a + init.b * lt_rng_normal(&rng));
			break;
		case LT_INIT_KAIMING_UNIFORM:
			bound = sqrt(6.0 / fan_in);
			v[i] = (float)(bound * (2.0 * lt_rng_uniform(&rng) - 1.0));
			break;
		case LT_INIT_XAVIER_UNIFORM:
			bound = sqrt(6.0 / (fan_in + fan_out));
			v[i] = (float)(bound * (2.0 * lt_rng_uniform(&rng) - 1.0));
			break;
		}
	}
}

void lt_draw(uint64_t seed, const struct lt_shape *s, int64_t numel, struct lt_init init,
	     uint64_t stream, float *v)
{
	lt_draw_range(seed, s, init, stream, 0, numel, v);
}
