/*
 * rank.h - the rank process: what one rank knows about itself, and the
 * code that joins the job's store, loads the model and runs it.
 *
 * A rank is started three ways: exec'ed by the agent (ltrun re-executed
 * with LTRUN_RANK_ENTRY set, its identity in the environment), forked by
 * the agent (the same, without exec), or adopted from srun, mpirun or
 * torchrun (ltrun was started as the rank; rank 0 then hosts the store).
 * The variables the agent sets for a rank are listed in rank.c.
 */
#ifndef LT_LAUNCH_RANK_H
#define LT_LAUNCH_RANK_H

#include <stdint.h>

#include "core/config.h"
#include "launch/store.h"

struct lt_rank_info {
	int rank, world_size, local_rank, local_world_size, node_rank, num_nodes;
	int restart_count;
	char store_host[256];
	int store_port;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	int rdzv_timeout_s;
	char rdzv[16];         /* the rendezvous backend's name (rdzv.h) */
	char run_id[64];
	char error_file[4096]; /* "" when no agent reads one */
	int adopted;           /* srun, mpirun or torchrun made this rank */
	int host_store;        /* this rank runs the store (adopted rank 0) */
};

/* Environment variable names of the agent-to-rank contract. */
#define LT_ENV_RANK_ENTRY "LTRUN_RANK_ENTRY"
#define LT_ENV_RUN_ID "LTRUN_RUN_ID"
#define LT_ENV_RESTART_COUNT "LTRUN_RESTART_COUNT"
#define LT_ENV_NODE_COUNT "LTRUN_NODE_COUNT"
#define LT_ENV_STORE_ADDR "LTRUN_STORE_ADDR"
#define LT_ENV_STORE_PORT "LTRUN_STORE_PORT"
#define LT_ENV_STORE_TOKEN "LTRUN_STORE_TOKEN"
#define LT_ENV_ERROR_FILE "LTRUN_ERROR_FILE"
#define LT_ENV_RDZV_TIMEOUT "LTRUN_RDZV_TIMEOUT"
#define LT_ENV_RDZV "LTRUN_RDZV"
/* A terminal rank 0 may draw its progress bar on (an fd number). */
#define LT_ENV_PROGRESS_FD "LTRUN_PROGRESS_FD"

/* Reads the identity the agent gave an exec'ed rank from this process's
 * environment.  Returns 0, or -1 with err naming the variable. */
int lt_rank_info_from_env(struct lt_rank_info *info, struct lt_err *err);

/* Runs the rank: loads the model, joins the store (hosting it first when
 * info->host_store), passes the first barrier, opens the communicator,
 * runs the model (Trainer or Fabric mode) under the settings cfg, and
 * returns the exit status for the process.  Never returns on a fatal
 * error: the rank then exits through lt_fatal()'s path. */
int lt_rank_run(const struct lt_rank_info *info, const struct lt_config *cfg,
		const char *model, int argc, char **argv);

#endif
