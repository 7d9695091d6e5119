/*
 * units.h - the units of parameters a model made (lt_unit_new(), kept in
 * ctx->units by rank/abi_units.c): finding the parameter an address of
 * the values or master arena belongs to, and freeing them at the end.
 */
#ifndef LT_RUNTIME_UNITS_H
#define LT_RUNTIME_UNITS_H

#include "runtime/ctx.h"

/* The parameter whose values (lt_data) or f32 master weights (lt_master)
 * hold the byte at addr, or NULL.  Reads only ctx->params and the
 * tensors (a binary search, no allocation, no lock): a signal handler
 * may call it. */
const struct lt_tensor *lt_units_param_at_address(const struct lt_ctx *ctx, const void *addr);
/* Frees ctx->units (lt_runtime_free); the parameters stay. */
void lt_units_free(struct lt_ctx *ctx);

#endif
