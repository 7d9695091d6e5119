/*
 * output.h - the ranks' stdout and stderr, relayed by the agent.
 *
 * Every rank writes into two pipes; the agent reads them and writes whole
 * lines only, prefixed "[rank N] " on its own stdout/stderr, and/or raw to
 * --log-dir/rank-N.out and rank-N.err (--tee: both).  The last lines of
 * each rank's stdout and stderr are kept for the failure report, and the
 * line its lt_fatal() printed ("ltrun: rank N: message") is held back from
 * the terminal (not from the log file): the report shows the message of
 * the rank it is about, and the others' are released after it ended, so
 * that each message reaches the terminal once.
 */
#ifndef LT_LAUNCH_OUTPUT_H
#define LT_LAUNCH_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define LT_OUTPUT_TAIL_LINES 8

struct lt_output;

/* For nranks local ranks whose global ranks start at first_rank. */
struct lt_output *lt_output_new(int nranks, int first_rank, const char *log_dir,
				bool tee, struct lt_err *err);
/* An elastic job's new round gave this node other global ranks. */
void lt_output_set_first_rank(struct lt_output *out, int first_rank);
void lt_output_free(struct lt_output *out);

/* Makes the pipes of local rank `local` for a new attempt (log files are
 * appended to across restarts).  child_fds[0] and [1] get the write ends
 * the child dup2()s onto 1 and 2; the read ends stay here.  Returns 0, or
 * -1 with err set. */
int lt_output_start(struct lt_output *out, int local, int child_fds[2],
		    struct lt_err *err);
/* The read end of a local rank's stream (1: stdout, 2: stderr), -1 once
 * it reached end of file. */
int lt_output_fd(const struct lt_output *out, int local, int stream);
/* Reads what is there on a stream and relays its complete lines.  Returns
 * 1 when it read something, 0 when nothing was there, -1 at end of file
 * (the stream's last partial line is then relayed and the pipe closed). */
int lt_output_read(struct lt_output *out, int local, int stream);
/* Reads what a rank that exited left in its pipes, without waiting (a
 * child of the rank may still hold them open). */
void lt_output_drain(struct lt_output *out, int local);
/* Writes the last lines of local rank's stream (1: stdout, 2: stderr),
 * each indented by `indent`, into buf.  Returns the number of lines. */
int lt_output_tail(const struct lt_output *out, int local, int stream, const char *indent,
		   char *buf, size_t len);
/* The message of the lt_fatal() line held back for local rank, without
 * its "ltrun: rank N: " prefix, into buf: true, and the line is no longer
 * held (the caller shows it); false when none is held. */
bool lt_output_take_fatal(struct lt_output *out, int local, char *buf, size_t len);
/* Relays the lt_fatal() line held back for local rank, if any, as any
 * other line: for a rank that no report is about. */
void lt_output_release(struct lt_output *out, int local);

#endif
