/*
 * requeue.h - --requeue: node 0's agent puts a preempted Slurm batch job
 * back in the queue through libslurm (requeue.c), as Lightning's
 * auto_requeue does with `scontrol requeue`.
 */
#ifndef LT_LAUNCH_REQUEUE_H
#define LT_LAUNCH_REQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

/* Checked at start, before a rank runs: --requeue on needs a Slurm job
 * (SLURM_JOB_ID).  Returns 0, or -1 with err (usage status). */
int lt_requeue_check(const struct lt_config *cfg, struct lt_err *err);

/* What node 0's agent does after every rank saved and stopped. */
struct lt_requeue {
	uint32_t id;   /* SLURM_JOB_ID: an array task's own */
	char job[64];  /* "1234", or "1230_4 (job 1234)" for an array task */
	char why[256]; /* why not, "" (not under Slurm, --requeue off: nothing to say) */
};

/* Whether to requeue this job: --requeue on, or auto and Slurm says it
 * is a batch job submitted requeueable (a question Slurm does not answer
 * is a no, with why; so is every job in a build without libslurm).
 * Fills rq.  Cannot fail. */
bool lt_requeue_wanted(const struct lt_config *cfg, struct lt_requeue *rq);
/* Requeues it (slurm_requeue): Slurm ends the job and starts it again
 * later, with SLURM_RESTART_COUNT raised.  Returns 0, or -1 with err
 * naming the job and Slurm's error. */
int lt_requeue_run(const struct lt_requeue *rq, struct lt_err *err);

#endif
