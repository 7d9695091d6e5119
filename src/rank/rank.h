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
#ifndef LT_RANK_RANK_H
#define LT_RANK_RANK_H

#include <stdint.h>

#include "core/config.h"
#include "core/contract.h"

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

/* The entry point of a rank that the agent exec'ed (LTRUN_RANK_ENTRY set):
 * argv[1] is the model, the rest its arguments.  Returns the exit status. */
int lt_rank_entry(int argc, char **argv);

#endif
