/*
 * schedule.h - the learning rate of each optimizer step: an optional linear
 * warmup (torch's LinearLR with start_factor 1/warmup), then constant or a
 * cosine decay to min_lr (torch's CosineAnnealingLR over the steps left).
 */
#ifndef LT_RUNTIME_SCHEDULE_H
#define LT_RUNTIME_SCHEDULE_H

#include <stdint.h>

enum lt_sched_kind { LT_SCHED_CONSTANT, LT_SCHED_COSINE };

struct lt_schedule {
	enum lt_sched_kind kind;
	double base_lr, min_lr;
	int64_t warmup_steps; /* 0: no warmup */
	int64_t total_steps;  /* cosine's end; <= warmup_steps (or -1, unknown): constant */
};

/* LR of optimizer step `step` (0-based):
 *   step < warmup:             base_lr * (step + 1) / warmup
 *   constant, or total <= warmup: base_lr
 *   cosine, warmup <= step < total:
 *       min_lr + (base_lr - min_lr) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2
 *   cosine, step >= total:     min_lr
 * A negative step counts as 0.  Cannot fail. */
double lt_schedule_lr(const struct lt_schedule *s, int64_t step);

#endif
