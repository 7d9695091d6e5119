/*
 * zero_plan.h - the arithmetic of the `zero` strategy (zero.c), kept
 * pure so that a unit test can check it: which range of the flat
 * parameter space a rank owns, and how many bytes a rank holds for
 * parameters, gradients, optimizer state and gathered units at each ZeRO
 * stage (zero_plan.c).
 */
#ifndef LT_STRATEGY_ZERO_PLAN_H
#define LT_STRATEGY_ZERO_PLAN_H

#include <stdbool.h>
#include <stddef.h>

/* The flat space of n elements padded to padded = ranks * shard; rank r
 * owns [r * shard, r * shard + shard) clipped to n: [offset, offset +
 * numel) (numel may be 0 for the last ranks of a tiny model). */
struct zero_part {
	size_t shard, padded;
	size_t offset, numel;
};

struct zero_part zero_part_of(size_t n, int ranks, int rank);

/* What the accounting needs of a run. */
struct zero_model {
	size_t n;            /* parameters (elements) */
	int ranks;           /* ranks sharing them (W) */
	int stage;           /* 0 (ddp, nothing sharded), 1, 2 or 3 */
	size_t elem;         /* bytes of a compute-dtype element (4 under 32-true) */
	bool master;         /* mixed precision: f32 master weights and gradients */
	int slots;           /* f32 optimizer slots per element: AdamW 2, SGD 1 or 0 */
	size_t largest_unit; /* elements of the largest unit (stage 3) */
	size_t units_total;  /* elements of every unit together (stage 3) */
	int prefetch;        /* units gathered ahead (stage 3) */
	bool keep_forward;   /* !reshard_after_forward (stage 3) */
};

/* Bytes per rank. */
struct zero_bytes {
	size_t params;   /* compute-dtype values held all the time */
	size_t grads;    /* compute-dtype gradients, and f32 master gradients */
	size_t optim;    /* f32 master weights and optimizer slots */
	size_t gathered; /* stage 3: the units gathered at once */
};

/* Stage 3's gathered bytes, elem each: the unit in use and the prefetch
 * units gathered ahead,
 *
 *	gathered = min(largest_unit * (1 + prefetch), units_total) * elem
 *
 * and with keep_forward (reshard_after_forward=false) every unit's values
 * may be gathered between its forward and its backward:
 *
 *	gathered = units_total * elem
 *
 * (counted whole: the owned part of a unit is also in params). */

/* The ZeRO paper's accounting for a rank (Rajbhandari et al. 2020,
 * Figure 1) with ltrun's storage: a sharded range is ceil(n / W)
 * elements (the padded shard); ltrun's f32 master gradients count with
 * the gradients and are sharded from stage 1 on (only the owned range is
 * unscaled). */
struct zero_bytes zero_plan_bytes(const struct zero_model *m);

#endif
