/*
 * replicas.h - --check-replicas (replicas.c): every N optimizer steps the
 * ranks compare a hash of every parameter and buffer, and stop together,
 * naming the first tensor that differs, when one does.
 */
#ifndef LT_RUNTIME_REPLICAS_H
#define LT_RUNTIME_REPLICAS_H

#include "runtime/ctx.h"

/* At the end of optimizer step ctx->step, when --check-replicas N (or
 * --debug, N = 1) says so: every rank hashes every tensor and the hashes
 * are compared.  Every rank returns the same: 0, or -1 with err naming
 * the first tensor (parameters in registration order, then buffers) that
 * differs, the step and the ranks that disagree with rank 0. */
int lt_replicas_check(struct lt_ctx *ctx, struct lt_err *err);

#endif
