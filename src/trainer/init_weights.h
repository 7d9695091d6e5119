/*
 * init_weights.h - given weights (init_weights.c): a parameter's values
 * set from a buffer of any float dtype into the f32 master copy and the
 * compute view alike (lt_param_set() of ltrun.h), and `--init-weights
 * FILE|DIR`, which does that for every parameter from a safetensors file,
 * by name, once the model has registered them.
 */
#ifndef LT_TRAINER_INIT_WEIGHTS_H
#define LT_TRAINER_INIT_WEIGHTS_H

#include <stdbool.h>

#include "core/config.h"
#include "core/error.h"
#include "core/registry.h"
#include "runtime/runtime.h"

/* Sets parameter t's numel values from `values`, numel elements of dt
 * (LT_F32, LT_F64, LT_F16 or LT_BF16): under mixed precision the f32
 * master copy, then the compute view made from it as after an optimizer
 * step; otherwise the compute view (a copy when dt is the compute dtype,
 * else through f32).  Returns 0, or -1 with err (the precision's
 * to_compute hook failed, or no memory); t may then hold part of the
 * values.  The caller checks dt and that the parameters are not placed. */
int lt_weights_store(struct lt_ctx *ctx, struct lt_tensor *t, const void *values,
		     enum lt_dtype dt, struct lt_err *err);

/* --init-weights, after the model registered its parameters and before
 * lt_runtime_setup(): rank 0 reads every parameter from the file by name
 * and stores it (lt_weights_store); the strategy's setup then gives every
 * rank rank 0's values, so only rank 0 reads the file.  Tensors the model
 * has not are listed on stderr and skipped (an ltrun checkpoint's
 * optimizer.* state silently), or refused with --init-weights-strict.
 * Without --init-weights, and on other ranks: nothing.  Ends the rank
 * through lt_fatal() with a one-line message on any fault (the path, a
 * missing parameter, a shape or dtype mismatch). */
void lt_init_weights_apply(struct lt_ctx *ctx);

/* --init-weights checked once before any rank starts, by the process
 * that starts rank 0 (reach; without it nothing is checked): that the
 * path names a safetensors file ltrun can open and its header reads.
 * Returns 0, or -1 with err (usage status, naming the path). */
int lt_init_weights_check(const struct lt_config *c, const struct lt_registry *reg, bool reach,
			  struct lt_err *err);

#endif
