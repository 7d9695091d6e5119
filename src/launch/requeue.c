/*
 * requeue.c - puts a preempted Slurm job back in the queue: libslurm's
 * slurm_requeue() on the job's own id (an array task's SLURM_JOB_ID is
 * its own, so only that task goes back).  Slurm then ends the running
 * job and starts it again later with SLURM_RESTART_COUNT raised, which
 * the agent passes on as the ranks' restart count (a restart resumes from
 * --ckpt-dir's last checkpoint).  Under --requeue auto, slurm_load_job()
 * says whether the job may be requeued: a batch job (an salloc or srun
 * allocation cannot be) submitted without --no-requeue.  A build without
 * libslurm (./configure --without-slurm) cannot requeue: config.c refuses
 * --requeue on, and under auto a preempted job ends saying why it was not
 * requeued.
 */
#include "launch/requeue.h"
#include "core/built.h"
#include "core/error.h"

#if LT_HAVE_SLURM
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#endif

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SLURM_JOB_ID as a number; 0 when unset or not one. */
static uint32_t job_id(void)
{
	const char *v = getenv("SLURM_JOB_ID");
	unsigned long id;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	id = strtoul(v, &end, 10);
	return errno || *end || id == 0 || id > UINT32_MAX ? 0 : (uint32_t)id;
}

/* "1234", or "1230_4 (job 1234)" for an array task. */
static void job_name(uint32_t id, char *buf, size_t len)
{
	const char *array = getenv("SLURM_ARRAY_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID");

	if (array && *array && task && *task)
		snprintf(buf, len, "%.20s_%.20s (job %u)", array, task, id);
	else
		snprintf(buf, len, "%u", id);
}

int lt_requeue_check(const struct lt_config *cfg, struct lt_err *err)
{
	if (strcmp(cfg->requeue, "on") || job_id())
		return 0;
	return lt_err_set(err, LT_EXIT_USAGE,
			  "%s is 'on', but this is not a Slurm job (SLURM_JOB_ID is %s): use --requeue auto or off outside Slurm",
			  cfg->source_name[LT_OPT_REQUEUE],
			  getenv("SLURM_JOB_ID") ? "not a job id" : "unset");
}

#if LT_HAVE_SLURM
/* --requeue auto: whether Slurm would requeue job id.  A question Slurm
 * does not answer is a no, said in why. */
static bool requeueable(uint32_t id, const char *name, char *why, size_t why_len)
{
	job_info_msg_t *msg = NULL;
	bool ok;

	if (slurm_load_job(&msg, id, SHOW_ALL) || !msg || msg->record_count < 1) {
		snprintf(why, why_len, "cannot ask Slurm about job %s: %s", name,
			 slurm_strerror(slurm_get_errno()));
		slurm_free_job_info_msg(msg);
		return false;
	}
	ok = msg->job_array[0].requeue && msg->job_array[0].batch_flag;
	if (!ok)
		snprintf(why, why_len, "Slurm job %s %s", name,
			 msg->job_array[0].batch_flag ? "was submitted with --no-requeue"
						      : "is not a batch job");
	slurm_free_job_info_msg(msg);
	return ok;
}

bool lt_requeue_wanted(const struct lt_config *cfg, struct lt_requeue *rq)
{
	*rq = (struct lt_requeue){ .id = job_id() };
	if (!strcmp(cfg->requeue, "off") || !rq->id)
		return false;
	job_name(rq->id, rq->job, sizeof(rq->job));
	slurm_init(NULL);
	return !strcmp(cfg->requeue, "on") || requeueable(rq->id, rq->job, rq->why, sizeof(rq->why));
}

int lt_requeue_run(const struct lt_requeue *rq, struct lt_err *err)
{
	if (slurm_requeue(rq->id, 0) != SLURM_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot requeue Slurm job %s: %s (submit it with --requeue, or requeue it yourself: scontrol requeue %u)",
				  rq->job, slurm_strerror(slurm_get_errno()), rq->id);
	return 0;
}
#else
bool lt_requeue_wanted(const struct lt_config *cfg, struct lt_requeue *rq)
{
	*rq = (struct lt_requeue){ .id = job_id() };
	if (!strcmp(cfg->requeue, "off") || !rq->id)
		return false;
	job_name(rq->id, rq->job, sizeof(rq->job));
	snprintf(rq->why, sizeof(rq->why),
		 "requeueing Slurm job %s needs " LT_LEFT_OUT(LT_DEP_SLURM) " (or requeue it yourself: scontrol requeue %u)",
		 rq->job, rq->id);
	return false;
}

int lt_requeue_run(const struct lt_requeue *rq, struct lt_err *err)
{
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "cannot requeue Slurm job %s: requeueing needs " LT_LEFT_OUT(LT_DEP_SLURM) " (requeue it yourself: scontrol requeue %u)",
			  rq->job, rq->id);
}
#endif
