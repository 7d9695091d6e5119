/*
 * preempt.h - a Trainer run stopped by a preemption signal
 * (--preempt-signals): the signals caught, whether one came, and the note
 * rank 0 leaves its agent (the step and where the checkpoint is) so that
 * the agent can say so and requeue the job.
 */
#ifndef LT_TRAINER_PREEMPT_H
#define LT_TRAINER_PREEMPT_H

#include <stdbool.h>

#include "runtime/runtime.h"

/* The keys of rank 0's note in its error file (LTRUN_ERROR_FILE), which
 * the agent reads once every rank exited LT_EXIT_STOPPED: the step it
 * stopped after, and the checkpoint saved there (absent: none). */
#define LT_PREEMPT_NOTE_STEP "preempted_step"
#define LT_PREEMPT_NOTE_CKPT "checkpoint"

/* Catches cfg->preempt_signals (checked by lt_config_check) from now on,
 * and unblocks them (an agent starts its ranks with them blocked, so that
 * none is lost or kills a rank before this; one that came is taken now).
 * Returns 0, or -1 with err when the list does not parse. */
int lt_preempt_catch(const struct lt_config *cfg, struct lt_err *err);
/* Gives the caught signals back their default action, and raises the one
 * that came meanwhile, if any: a Fabric-mode model, whose own code decides
 * what a signal does, is then as if they had never been caught. */
void lt_preempt_release(void);
/* Whether one of them came (async-signal-safe flag, never cleared). */
bool lt_preempt_requested(void);
/* Rank 0, when every rank stopped after ctx->step and what it saved is
 * complete: writes the note for the agent, or says it on stderr when no
 * agent reads an error file.  `saved`: whether a checkpoint of that step is
 * under --ckpt-dir.  Cannot fail: a note not written leaves the agent's
 * line without the step. */
void lt_preempt_note(const struct lt_ctx *ctx, bool saved);

#endif
