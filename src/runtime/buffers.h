/*
 * buffers.h - the model's non-trainable tensors (lt_buffer(), buffers.c):
 * registered beside the parameters but outside their arenas and flat
 * space (no gradient, no optimizer state, unseen by strategies), in an
 * arena of their own, each in its own dtype; rank 0's values broadcast
 * at setup and after a resume, LT_BUFFER_AVERAGE ones averaged after
 * every optimizer step.
 */
#ifndef LT_RUNTIME_BUFFERS_H
#define LT_RUNTIME_BUFFERS_H

#include "runtime/ctx.h"

/* Registers buffer name (checked by the caller: a valid name, numel
 * elements of shape) of dtype dt, first values from init, kept as sync
 * says.  Returns it, or NULL with err naming what is wrong (a float rule
 * for an integer dtype, AVERAGE of integers, a name taken by a parameter
 * or a buffer, memory). */
struct lt_tensor *lt_buffers_add(struct lt_ctx *ctx, const char *name, struct lt_shape shape,
				 int64_t numel, enum lt_dtype dt, struct lt_init init,
				 enum lt_buffer_sync sync, struct lt_err *err);
/* The parameter or buffer called name, or NULL. */
struct lt_tensor *lt_tensor_named(const struct lt_ctx *ctx, const char *name);
/* Bytes of t's values (lt_data). */
size_t lt_tensor_bytes(const struct lt_tensor *t);
/* Every buffer becomes rank 0's.  Returns 0 or -1 with err. */
int lt_buffers_broadcast(struct lt_ctx *ctx, struct lt_err *err);
/* Every LT_BUFFER_AVERAGE buffer becomes the mean over the ranks.
 * Returns 0 or -1 with err. */
int lt_buffers_average(struct lt_ctx *ctx, struct lt_err *err);
void lt_buffers_free(struct lt_ctx *ctx);

#endif
