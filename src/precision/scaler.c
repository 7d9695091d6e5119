/*
 * scaler.c - the dynamic loss scaler (scaler.h).
 */
#include "precision/scaler.h"

#include <math.h>

void lt_scaler_init(struct lt_scaler *s)
{
	*s = (struct lt_scaler){
		.st = { .scale = 65536.0 },
		.growth = 2.0,
		.backoff = 0.5,
		.growth_interval = 2000,
		.min_scale = 0x1p-24,
		.max_scale = 0x1p64,
	};
}

bool lt_scaler_update(struct lt_scaler *s, bool found_inf)
{
	if (found_inf) {
		s->st.scale = fmax(s->st.scale * s->backoff, s->min_scale);
		s->st.good_steps = 0;
		s->st.skipped++;
		return false;
	}
	if (++s->st.good_steps >= s->growth_interval) {
		s->st.scale = fmin(s->st.scale * s->growth, s->max_scale);
		s->st.good_steps = 0;
	}
	return true;
}

struct lt_scaler_state lt_scaler_get(const struct lt_scaler *s)
{
	return s->st;
}

bool lt_scaler_set(struct lt_scaler *s, const struct lt_scaler_state *st)
{
	if (!isfinite(st->scale) || st->scale <= 0.0 || st->good_steps < 0 || st->skipped < 0)
		return false;
	s->st = *st;
	return true;
}
