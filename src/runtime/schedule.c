/*
 * schedule.c - learning-rate schedules, pure functions of the step so that
 * a resumed run needs no scheduler state beyond its step count.
 */
#include "runtime/schedule.h"

#include <math.h>

double lt_schedule_lr(const struct lt_schedule *s, int64_t step)
{
	double t;

	if (step < 0)
		step = 0;
	if (step < s->warmup_steps)
		return s->base_lr * (double)(step + 1) / (double)s->warmup_steps;
	if (s->kind != LT_SCHED_COSINE || s->total_steps <= s->warmup_steps)
		return s->base_lr;
	if (step >= s->total_steps)
		return s->min_lr;
	t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
	return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1 + cos(M_PI * t));
}
