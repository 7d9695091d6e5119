/*
 * worker_rdzv.h - how the communicator test workers (comm_worker.c,
 * rsv_worker.c) meet: the file rendezvous of LTRUN_RDZV_DIR under the run
 * id LTRUN_RUN_ID, info->rank and ->world_size already set.
 */
#ifndef LT_TEST_WORKER_RDZV_H
#define LT_TEST_WORKER_RDZV_H

#include "rank/rank.h"
#include "rdzv/rdzv.h"

#include <stdio.h>
#include <stdlib.h>

static inline int worker_open_rdzv(struct lt_rdzv *rz, struct lt_rank_info *info,
				   struct lt_err *err)
{
	const char *run_id = getenv(LT_ENV_RUN_ID);

	if (!run_id || !*run_id)
		return lt_err_set(err, LT_EXIT_FAILURE, "set %s to the job's id", LT_ENV_RUN_ID);
	snprintf(info->run_id, sizeof(info->run_id), "%s", run_id);
	snprintf(info->rdzv, sizeof(info->rdzv), "file");
	info->rdzv_timeout_s = 60;
	info->local_rank = info->rank;
	info->local_world_size = info->world_size;
	info->num_nodes = 1;
	rz->ops = &lt_rdzv_file;
	rz->info = info;
	rz->timeout_ms = info->rdzv_timeout_s * 1000;
	snprintf(rz->who, sizeof(rz->who), "rank %d", info->rank);
	return rz->ops->open(rz, info, rz->who, err);
}

#endif
