/*
 * zero_units.h - stage 3 of the `zero` strategy (zero.c): the values of
 * the model's units (lt_unit_new) outside a rank's shard, released
 * between uses and gathered from their owners, ahead of use
 * (zero_units.c).
 */
#ifndef LT_STRATEGY_ZERO_UNITS_H
#define LT_STRATEGY_ZERO_UNITS_H

#include "core/error.h"
#include "ltrun/strategy.h"
#include "runtime/ctx.h"
#include "strategy/zero_plan.h"

struct lt_comm;
struct zero_units;
struct zero_files;

/* What stage 3 is asked for (zero's parameters). */
struct zero_units_opts {
	int prefetch;      /* units gathered ahead of use, 0..4 */
	bool keep_forward; /* !reshard_after_forward: a unit stays gathered
			    * from the end of its forward to the end of its
			    * backward */
};

/* After setup: every unit's values outside part (this rank's shard of the
 * ranks of shard) are given back and guarded.  part must outlive the
 * result.  Returns it, or NULL with err. */
struct zero_units *zero_units_open(struct lt_ctx *ctx, const struct zero_part *part,
				   struct lt_comm *shard, const struct zero_units_opts *o,
				   struct lt_err *err);
/* A unit's begin or end (the strategy's unit op). */
int zero_units_event(struct lt_ctx *ctx, struct zero_units *zu, const struct lt_unit_event *ev,
		     struct lt_err *err);
/* The optimizer step, before its update: the units not in use are
 * released, their gathers waited (one in flight must not read the values
 * being updated; gathered ahead, they would be stale), and from the
 * first step on the order the units were begun in is the one prefetched
 * in. */
int zero_units_step(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err);
/* After a step or a resume: the parameters in no unit reach every rank. */
int zero_units_broadcast_loose(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err);
/* A resume under mixed precision: every unit's values become resident
 * (the runtime makes the compute values from the master weights) until
 * the next unit event or step releases those not in use. */
int zero_units_resident_all(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err);
/* How many times a unit was gathered so far, and how many of those
 * gathers were started ahead of the unit's begin (prefetched). */
void zero_units_counts(const struct zero_units *zu, size_t *gathers, size_t *ahead);
/* offload_params=nvme: the owned values of the units live in zf's files
 * (zero_files.h), read when a unit is gathered, dropped when released. */
void zero_units_set_files(struct zero_units *zu, struct zero_files *zf);
/* Collective, after zero_units_set_files: when every shard rank is a
 * readable process of this node and LTRUN_ZERO_GATHER is not "broadcast",
 * gathers use the owners' values where they are: their shared pages
 * (memfd) or, with values in files, their files mapped, the edges read
 * (process_vm_readv, pread); LTRUN_ZERO_GATHER=read reads every byte.
 * Else they stay broadcasts.  A bad LTRUN_ZERO_GATHER is a usage error.
 * Returns 0 or -1. */
int zero_units_direct(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err);
bool zero_units_reads_direct(const struct zero_units *zu);
/* How gathers get their values, in words ("broadcasts", ...). */
const char *zero_units_gather_way(const struct zero_units *zu);
/* The values changed outside a step (a resume): the next direct read
 * waits for every rank first. */
void zero_units_values_changed(struct zero_units *zu);
/* Per unit: its values are resident (in use, kept or gathered ahead). */
const bool *zero_units_held(const struct zero_units *zu);
/* Waits for the gathers in flight (ignoring failures) and frees zu. */
void zero_units_close(struct zero_units *zu);

/* Elements of the largest unit, and of every unit together. */
size_t zero_units_largest(const struct lt_ctx *ctx);
size_t zero_units_total(const struct lt_ctx *ctx);

#endif
