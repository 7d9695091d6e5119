/*
 * remote.h - the far end of a --hostfile launch (ssh.h): ltrun as the
 * command ssh runs on one host.
 *
 * The launcher starts `env LTRUN_SSH_STDIN=1 ltrun ARGS...` and writes the
 * job's environment on ssh's stdin (secrets never appear on a command
 * line, where any local user could read them), as "NAME=VALUE" records
 * each ended by a NUL byte, then an empty record.  After that, each byte on
 * stdin is a signal number to pass on to this host's ranks, and the end
 * of stdin (the launcher is gone, or stops the job) stops them.
 */
#ifndef LT_LAUNCH_REMOTE_H
#define LT_LAUNCH_REMOTE_H

#include <stdbool.h>

#include "core/error.h"

/* Set on the remote command line: read the environment from stdin. */
#define LT_ENV_SSH_STDIN "LTRUN_SSH_STDIN"
/* In the records: the host's name as the hostfile gives it (with the
 * main address and port, the key of the host's job lock). */
#define LT_ENV_SSH_HOST "LTRUN_SSH_HOST"

/* Records on stdin: at most this many bytes in all. */
#define LT_REMOTE_ENV_MAX (1 << 20)

/* When LTRUN_SSH_STDIN is set: reads the records into the environment,
 * takes this host's lock for the job (a second ltrun of the same job on
 * this host is refused), and forks.  The child returns 0 and goes on as
 * the node's agent, its stdin on /dev/null; this process stays behind to
 * pass on signals from stdin, and exits with the child's status.
 * Returns 0 at once when the variable is not set, or -1 with err set. */
int lt_remote_begin(struct lt_err *err);

/* True in the agent of a --hostfile launch: --hostfile, --include and
 * --exclude are the launcher's, and ignored here. */
bool lt_remote_active(void);

/* Parses the records in buf (n bytes) into setenv() calls, up to and
 * including the empty record that ends them.  Returns the bytes used, 0
 * when the end has not arrived yet, or -1 with err set (a record that is
 * not NAME=VALUE, or a name that is not a variable's). */
long lt_remote_parse_env(const char *buf, size_t n, struct lt_err *err);

#endif
