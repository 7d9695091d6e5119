/*
 * watchdog.h - the rank's collective watchdog (--timeout): a helper thread
 * that ends the job when a collective of this rank has waited too long,
 * naming the collective, its sequence number, and the ranks that never
 * arrived with where the store last saw them.
 *
 * Each rank's watchdog publishes, every period (--timeout / 4, between
 * 0.1 and 5 s) and only when it changed, where each of its communicators
 * stands: store key "r<attempt>/coll/<scope>/<group rank>" = "<pid> <seq>
 * <in flight 0|1> <kind> <host>".  A collective in flight past --timeout
 * makes the watchdog publish its own state, wait a period and a half for
 * the others', read every member's, and die (lt_fatal_exit_now: no exit
 * handler, MPI's would wait for the collective) with one line:
 * "all_reduce #57 (4096 f32) on communicator 'world' waited 3.0 s
 * (--timeout 3): rank 1 (host h2, pid 4242, last seen after collective
 * #56, all_reduce) never arrived".  The agent then stops the job as for
 * any failure.  Without the embedded store (--rdzv file or pmix) the line
 * says where the others are is unknown.
 */
#ifndef LT_RANK_WATCHDOG_H
#define LT_RANK_WATCHDOG_H

struct lt_ctx;

/* Starts the watchdog of this process (one: a rank runs one model); a
 * world of one rank has none.  A store that cannot be reached leaves it
 * without publication, not without timeout.  Dies through lt_fatal() when
 * the thread cannot start. */
void lt_watchdog_start(struct lt_ctx *ctx);
/* Stops and joins it (before the communicators close); cannot fail. */
void lt_watchdog_stop(void);

#endif
