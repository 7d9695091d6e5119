/*
 * ckpt_stage.h - a checkpoint's tensors out of an accelerator's memory
 * and back, through host memory the accelerator hands out (pinned on a
 * GPU: accel.h's staging ops).  Saving: lt_ckpt_stage_out queues the
 * copies of every tensor into the stage and points the descriptions
 * there; the writer calls lt_ckpt_stage_ready before it reads them (the
 * async IO does so on its thread, so the copy runs beside the next
 * step), and the optimizer calls lt_ckpt_stage_fence before it changes
 * the values copied (the device waits for the copy, the host does not).
 * Loading: lt_ckpt_stage_map points the descriptions into the stage, the
 * reader fills it, and lt_ckpt_stage_copy_in copies each tensor to where
 * it was.  The stage is kept from save to save (grown as needed): a save
 * waits for the previous one's writer to be done with it first.
 */
#ifndef LT_TRAINER_CKPT_STAGE_H
#define LT_TRAINER_CKPT_STAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "accel/accel.h"
#include "ckpt/ckpt.h"
#include "core/error.h"

struct lt_ckpt_stage;

/* An empty stage for accelerator a; NULL when out of memory. */
struct lt_ckpt_stage *lt_ckpt_stage_new(const struct lt_accelerator_ops *a);
/* Waits for its copies, and frees it (NULL: nothing). */
void lt_ckpt_stage_free(struct lt_ckpt_stage *s);

/* Points t[i].data (the accelerator's addresses, each kept in dev[i])
 * at room in the stage, one 64-byte aligned slot each.  Returns 0 or -1
 * with err (no memory: t unchanged). */
int lt_ckpt_stage_map(struct lt_ckpt_stage *s, struct lt_ckpt_tensor *t, size_t n,
		      const void **dev, struct lt_err *err);
/* Saving: lt_ckpt_stage_map, then the copies of every tensor from the
 * accelerator into the stage, queued (after the work asked so far). */
int lt_ckpt_stage_out(struct lt_ckpt_stage *s, struct lt_ckpt_tensor *t, size_t n,
		      struct lt_err *err);
/* Returns once the copies of the last lt_ckpt_stage_out have landed (a
 * ready hook of the async IO: arg is the stage).  0 or -1 with err. */
int lt_ckpt_stage_ready(void *arg, struct lt_err *err);
/* Device work asked from now on waits for the last stage_out's copies
 * (once a save; later calls cost nothing).  0 or -1 with err. */
int lt_ckpt_stage_fence(struct lt_ckpt_stage *s, struct lt_err *err);
/* Loading: copies the staged bytes of t[i] (after lt_ckpt_stage_map and
 * a read into them) to dev[i].  Returns 0 or -1 with err. */
int lt_ckpt_stage_copy_in(struct lt_ckpt_stage *s, const struct lt_ckpt_tensor *t, size_t n,
			  const void *const *dev, struct lt_err *err);

#endif
