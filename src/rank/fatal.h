/*
 * fatal.h - how a rank dies (fatal.c): lt_fatal()'s path and the
 * fatal-signal handler, both leaving the error file the agent reads.
 */
#ifndef LT_RANK_FATAL_H
#define LT_RANK_FATAL_H

struct lt_ctx;

/* Makes ctx the process's context (lt_fatal(NULL, ...) uses it) and, when
 * the agent reads an error file, installs the fatal-signal handlers. */
void lt_fatal_setup(struct lt_ctx *ctx);

/* Prints "ltrun: rank N: msg", writes the error file and exits 1.  ctx
 * NULL: the context given to lt_fatal_setup(), if any. */
__attribute__((noreturn)) void lt_fatal_exit(struct lt_ctx *ctx, const char *msg);
/* The same, exiting with `status` (LT_EXIT_USAGE for settings the run
 * cannot honour). */
__attribute__((noreturn)) void lt_fatal_exit_status(struct lt_ctx *ctx, int status,
						    const char *msg);
/* The same (status 1) from a helper thread while the training thread may
 * be inside a collective: _exit() after flushing stdio, no exit handlers
 * (MPI's would wait for that collective for ever). */
__attribute__((noreturn)) void lt_fatal_exit_now(struct lt_ctx *ctx, const char *msg);

#endif
