/*
 * loop.h - Trainer mode (loop.c): the loop that runs a model's
 * lt_module_v1() table.
 */
#ifndef LT_TRAINER_LOOP_H
#define LT_TRAINER_LOOP_H

#include "runtime/ctx.h"

/* Runs the Trainer loop of module m.  Returns the rank's exit status. */
int lt_trainer_run(struct lt_ctx *ctx, const struct lt_module *m, int argc, char **argv);

#endif
