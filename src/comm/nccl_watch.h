/*
 * nccl_watch.h - the nccl communicator's watchdog, as a state machine
 * without NCCL (nccl_watch.c; unit-tested on any machine).  The
 * communicator is non-blocking (ncclCommInitRankConfig with blocking=0):
 * its init and each collective are polled, and this decides, at every
 * poll, whether to go on waiting, to return, or to abort the communicator
 * (ncclCommAbort) with the reason: NCCL reported an error, the
 * collective timeout passed, or the job is being stopped (a peer failed).
 * nccl.c passes stopping=false for now: nothing tells a rank yet that a
 * peer failed (the agent's SIGTERM ends it instead); the timeout and
 * NCCL's own errors are what abort today.
 */
#ifndef LT_COMM_NCCL_WATCH_H
#define LT_COMM_NCCL_WATCH_H

#include <stdbool.h>
#include <stdint.h>

enum lt_nccl_state {
	LT_NCCL_IDLE,     /* nothing in flight */
	LT_NCCL_WAITING,  /* init or a collective in flight */
	LT_NCCL_ABORTED,  /* aborted: the communicator can only be closed */
};

/* What the caller saw at one poll. */
enum lt_nccl_seen {
	LT_NCCL_SEEN_BUSY,  /* NCCL says in progress, or the stream is not done */
	LT_NCCL_SEEN_DONE,  /* NCCL says success and the stream is done */
	LT_NCCL_SEEN_ERROR, /* NCCL's async error is set (seen_text says what) */
};

enum lt_nccl_verdict {
	LT_NCCL_WAIT,   /* poll again */
	LT_NCCL_OK,     /* done: back to idle */
	LT_NCCL_ABORT,  /* call ncclCommAbort; why says why */
};

struct lt_nccl_watch {
	enum lt_nccl_state state;
	char what[64];       /* "init", "all_reduce of 1048576 f32"... */
	int64_t started_ns;
	int64_t timeout_ns;  /* 0: none */
	char why[256];       /* after LT_NCCL_ABORT */
};

/* Starts watching `what`, at now_ns, for at most timeout_ms (0: forever).
 * Returns false when the communicator was aborted before (then why says
 * so): nothing may start. */
bool lt_nccl_watch_begin(struct lt_nccl_watch *w, const char *what, int64_t now_ns,
			 int timeout_ms);

/* One poll: what the caller saw, whether the job is stopping, the time. */
enum lt_nccl_verdict lt_nccl_watch_poll(struct lt_nccl_watch *w, enum lt_nccl_seen seen,
					const char *seen_text, bool stopping, int64_t now_ns);

#endif
