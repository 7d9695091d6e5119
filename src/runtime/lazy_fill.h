/*
 * lazy_fill.h - first values drawn where they are needed, for a strategy
 * that shards the values (zero stage 3 on several ranks): a rank never
 * holds every parameter's first values at once (lazy_fill.c).
 *
 * lt_param() draws only the elements on the pages a parameter shares
 * with its neighbours and guards its whole pages (values, and f32 master
 * weights under mixed precision).  A model that touches such a page in
 * its init (to read or write its values) faults into a handler that
 * draws the whole parameter there and then, so the model sees exactly
 * the values an eager draw gives.  At setup, lt_lazy_fill_settle draws
 * what each rank keeps: its own shard of the parameters in units, every
 * parameter in no unit; a parameter any rank touched is drawn whole on
 * rank 0 and broadcast, as every value was before.
 *
 * The kernel cannot fault into the handler: a system call (read(2))
 * given an untouched parameter's values before setup fails with EFAULT.
 */
#ifndef LT_RUNTIME_LAZY_FILL_H
#define LT_RUNTIME_LAZY_FILL_H

#include "core/error.h"
#include "runtime/ctx.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether this run's first values can wait: the cpu accelerator, f32
 * values or f32 master weights, and the built-in rounding to the compute
 * dtype (a precision's to_compute hook sees whole parameters only). */
bool lt_lazy_fill_possible(const struct lt_ctx *ctx);

/* lt_param()'s side, for t registered with rule init and its storage
 * allocated (not yet in ctx->params: it is added next, and faults find it
 * from then on).  Returns 0 or -1 with err. */
int lt_lazy_fill_param(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		       struct lt_err *err);

/* Setup (collective over ctx->comm): every parameter's pages readable
 * again, the handler gone, and the values drawn: flat elements
 * [own_lo, own_hi) of each parameter in a unit, the whole of each one in
 * no unit, and each one a rank touched in its init broadcast whole from
 * rank 0 (values, or master weights and the compute values made from
 * them).  Returns 0 or -1 with err. */
int lt_lazy_fill_settle(struct lt_ctx *ctx, size_t own_lo, size_t own_hi, struct lt_err *err);

#endif
