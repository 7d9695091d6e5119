/*
 * loop.h - Trainer mode (loop.c): the loop that runs a model's
 * lt_module_v1() table.
 */
#ifndef LT_TRAINER_LOOP_H
#define LT_TRAINER_LOOP_H

#include "runtime/ctx.h"

/* Runs the Trainer loop of module m.  Returns the rank's exit status. */
int lt_trainer_run(struct lt_ctx *ctx, const struct lt_module *m, int argc, char **argv);

/* The run's facts in Trainer mode (ltrun.h's lt_total_steps and
 * lt_samples_per_rank), from the loop's plan: the optimizer steps of the
 * whole run (resumed ones included) and this rank's share of an epoch of
 * split (0 for LT_VAL without val_step).  They may be asked from init on:
 * the model's num_samples() is asked then, once, with the self init
 * stored; asked before init stores one, they end the rank saying so. */
int64_t lt_trainer_total_steps(struct lt_ctx *ctx);
int64_t lt_trainer_samples_per_rank(struct lt_ctx *ctx, enum lt_split split);

#endif
