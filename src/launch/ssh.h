/*
 * ssh.h - one command for a job on many hosts (--hostfile): ltrun starts
 * one agent per host over ssh (as mpirun --hostfile and deepspeed
 * --hostfile do), sends it the job's environment on ssh's stdin, relays
 * every host's output, passes signals on, and tears the job down when a
 * host fails.  The far end is remote.h.
 */
#ifndef LT_LAUNCH_SSH_H
#define LT_LAUNCH_SSH_H

#include <stdio.h>

#include "core/config.h"
#include "core/error.h"

/* Runs the job on the hosts of cfg->hostfile (less --include/--exclude)
 * to its end.  argv/argc are ltrun's own: every host runs the same
 * command, in this working directory.  Returns ltrun's exit status (0,
 * the first failed host's status, or 128 + a signal that stopped it), or
 * -1 with err set when nothing started. */
int lt_ssh_launch(const struct lt_config *cfg, int argc, char **argv, struct lt_err *err);

/* --dry-run --hostfile: prints the hosts, their nodes and ranks, and the
 * command each gets (JSON with cfg->json).  Returns 0, or -1 with err. */
int lt_ssh_dry_run(const struct lt_config *cfg, int argc, char **argv, FILE *out,
		   struct lt_err *err);

#endif
