/*
 * lock.h - one run per checkpoint directory (lock.c): DIR/.lock, held
 * with flock by the process that saves and prunes (the trainer's rank 0)
 * for the whole run, so that a second run given the same --ckpt-dir is
 * refused, naming the first, instead of deleting its checkpoints.
 */
#ifndef LT_CKPT_LOCK_H
#define LT_CKPT_LOCK_H

#include <stdbool.h>

#include "core/error.h"

#define LT_CKPT_LOCK_FILE ".lock"

struct lt_ckpt_lock;

/* Whether checkpoints under dir, written by the IO plugin io, go to a
 * filesystem (and so are locked): not for a URL, nor for --ckpt-io http. */
bool lt_ckpt_dir_is_local(const char *dir, const char *io);

/* Makes dir (with its parents) when missing and locks dir/.lock
 * (flock(LOCK_EX|LOCK_NB); the file is made mode 0600 and must be a
 * regular file of this user).  With host and run_id given, records who
 * holds it ("pid P on host H, run R, since T") for the message a second
 * run gets; with host NULL it is a probe: nothing is recorded, and the
 * caller releases it at once.  On a filesystem without flock (ENOLCK,
 * ENOSYS, EOPNOTSUPP: Lustre mounted without -o flock, say) it warns
 * (unless probing) and returns an unlocked lock.  Returns 0 with *out
 * set, or -1 with err (LT_EXIT_USAGE when another run or user holds it;
 * *out NULL). */
int lt_ckpt_lock_take(const char *dir, const char *host, const char *run_id,
		      struct lt_ckpt_lock **out, struct lt_err *err);
/* Whether l really holds the lock (false on a filesystem without flock). */
bool lt_ckpt_lock_held(const struct lt_ckpt_lock *l);
/* Forgets the holder recorded, unlocks and frees (NULL: nothing). */
void lt_ckpt_lock_release(struct lt_ckpt_lock *l);

#endif
