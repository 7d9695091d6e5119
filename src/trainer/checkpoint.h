/*
 * checkpoint.h - saving a Trainer run's state and resuming from it
 * (checkpoint.c).  Every function returns 0, or -1 with err.
 */
#ifndef LT_TRAINER_CHECKPOINT_H
#define LT_TRAINER_CHECKPOINT_H

#include "runtime/runtime.h"

/* Where in the run a checkpoint was taken: the epoch, and how many of its
 * optimizer steps were done. */
struct lt_ckpt_pos {
	int epoch;
	int64_t step_in_epoch;
};

/* Rank 0, with a --ckpt-dir on a filesystem (not a URL): takes the
 * directory's lock (ckpt/lock.h) and holds it until
 * lt_trainer_ckpt_finish or the process ends, so that no other run saves
 * or prunes there meanwhile.  Fails (LT_EXIT_USAGE) naming the run that
 * holds it.  Other ranks, and runs without --ckpt-dir: nothing. */
int lt_trainer_ckpt_lock(struct lt_ctx *ctx, struct lt_err *err);
/* Rank 0, holding the lock, before the first save: removes what killed
 * or failed saves left under --ckpt-dir (temporaries, spares, incomplete
 * step directories) and says so on stderr.  Cannot fail. */
void lt_trainer_ckpt_clean(struct lt_ctx *ctx);
/* Rank 0 saves step ctx->step under --ckpt-dir (nothing without one, and
 * nothing on the other ranks): parameters, optimizer state, buffers and
 * the blobs of ctx->save_state (copied: the caller may free it after). */
int lt_trainer_ckpt_save(struct lt_ctx *ctx, const struct lt_ckpt_pos *pos, struct lt_err *err);
/* What the run resumes from: --resume ("last", "auto", a path or URL),
 * else "auto" on a restart (LTRUN_RESTART_COUNT > 0: --max-restarts, a
 * requeued Slurm job) with --ckpt-dir, else NULL (start fresh). */
const char *lt_trainer_resume_mode(const struct lt_ctx *ctx);
/* With --resume (lt_trainer_resume_mode), every rank: rank 0 reads the checkpoint, every rank gets
 * its parameters, buffers, optimizer state, loss scaler and step counts,
 * and the model's blobs in ctx->loaded_state (freed by
 * lt_trainer_ckpt_finish); pos says where the loop goes on, and
 * ctx->resumed is set.  "auto" starts fresh (ctx->resumed false, rank 0
 * says so) when a local --ckpt-dir holds no checkpoint at all; a damaged
 * one is an error like any other.  A buffer the checkpoint lacks is an
 * error naming it.  Without --resume nothing changes. */
int lt_trainer_ckpt_resume(struct lt_ctx *ctx, struct lt_ckpt_pos *pos, struct lt_err *err);
/* --resume checked once, before any rank starts (the ranks check it again
 * when they resume): its shape everywhere ('last' is left to the run; a
 * URL needs an http IO), and with reach (this process starts or is rank
 * 0, the one that reads it) that the checkpoint is there and its header
 * reads.  Touches nothing on disk.  Returns 0, or -1 with err (status 2
 * for a value that names no checkpoint). */
int lt_trainer_ckpt_check_resume(const struct lt_config *c, bool reach, struct lt_err *err);
/* Waits for saves still in flight (async IO), closes the IO, frees the
 * saves' copies of buffers and blobs and ctx->loaded_state, and releases
 * the lock: the failure of a save surfaces here at the latest. */
int lt_trainer_ckpt_finish(struct lt_ctx *ctx, struct lt_err *err);
/* Waits until the checkpoint IO holds none of the bytes of parameters
 * 0 .. nparams - 1 and their optimizer state (an async save copies them
 * on its own thread, in that order, while the next step's forward and
 * backward run; SIZE_MAX: all the state): called before anything changes
 * them.  Returns at once when no save is in flight. */
void lt_trainer_ckpt_release(struct lt_ctx *ctx, size_t nparams);

#endif
