/*
 * agent.h - running a plan: the per-node agent that creates, supervises,
 * restarts and reports on the local ranks, or, when a launcher created the
 * ranks, the rank itself.
 */
#ifndef LT_LAUNCH_AGENT_H
#define LT_LAUNCH_AGENT_H

#include "core/config.h"
#include "launch/plan.h"

/* Runs the plan to its end and returns ltrun's exit status: 0, the failed
 * rank's exit status, or 128 + signal.  argv/argc are ltrun's own, for
 * re-launching itself through srun from a multi-node batch script.
 * Returns -1 with err set when nothing could be started. */
int lt_launch(const struct lt_plan *plan, const struct lt_config *cfg, int argc,
	      char **argv, struct lt_err *err);

#endif
