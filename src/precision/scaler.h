/*
 * scaler.h - the dynamic loss scaler of 16-mixed (torch.cuda.amp's
 * GradScaler rules): the loss is multiplied by `scale` before backward;
 * a step whose gradients hold inf or NaN on any rank is skipped and the
 * scale halved; after `growth_interval` good steps in a row it doubles.
 * Every rank makes the same decision from the same all-reduced flag, so
 * the state is the same everywhere.
 */
#ifndef LT_PRECISION_SCALER_H
#define LT_PRECISION_SCALER_H

#include <stdbool.h>
#include <stdint.h>

/* What a checkpoint saves and restores. */
struct lt_scaler_state {
	double scale;        /* the current loss scale */
	int64_t good_steps;  /* consecutive steps without inf/NaN */
	int64_t skipped;     /* steps skipped so far */
};

struct lt_scaler {
	struct lt_scaler_state st;
	double growth, backoff;  /* 2 and 0.5 */
	int64_t growth_interval; /* 2000 */
	double min_scale, max_scale;
};

/* Initial scale 2^16, x2 after 2000 good steps, x0.5 on overflow. */
void lt_scaler_init(struct lt_scaler *s);
/* After a step's gradients were checked: found_inf on any rank skips the
 * step (returns false: do not apply it) and backs off; otherwise counts a
 * good step, growing the scale every growth_interval (returns true). */
bool lt_scaler_update(struct lt_scaler *s, bool found_inf);
/* The state, for checkpoints; set checks it (scale finite and positive,
 * counters >= 0) and returns false, leaving s unchanged, when it is not. */
struct lt_scaler_state lt_scaler_get(const struct lt_scaler *s);
bool lt_scaler_set(struct lt_scaler *s, const struct lt_scaler_state *st);

#endif
