/*
 * nccl_watch.c - the nccl communicator's watchdog decisions
 * (nccl_watch.h): an error or a stop aborts at once, success returns, the
 * timeout aborts, anything else waits.  Once aborted, a communicator stays
 * aborted.
 */
#include "comm/nccl_watch.h"

#include <stdio.h>
#include <string.h>

bool lt_nccl_watch_begin(struct lt_nccl_watch *w, const char *what, int64_t now_ns,
			 int timeout_ms)
{
	if (w->state == LT_NCCL_ABORTED)
		return false;
	w->state = LT_NCCL_WAITING;
	snprintf(w->what, sizeof(w->what), "%s", what);
	w->started_ns = now_ns;
	w->timeout_ns = timeout_ms > 0 ? (int64_t)timeout_ms * 1000000 : 0;
	w->why[0] = '\0';
	return true;
}

static enum lt_nccl_verdict abort_with(struct lt_nccl_watch *w, const char *why)
{
	w->state = LT_NCCL_ABORTED;
	snprintf(w->why, sizeof(w->why), "%s", why);
	return LT_NCCL_ABORT;
}

enum lt_nccl_verdict lt_nccl_watch_poll(struct lt_nccl_watch *w, enum lt_nccl_seen seen,
					const char *seen_text, bool stopping, int64_t now_ns)
{
	char why[256];

	if (w->state == LT_NCCL_ABORTED)
		return LT_NCCL_ABORT;
	if (w->state != LT_NCCL_WAITING)
		return LT_NCCL_OK;
	if (seen == LT_NCCL_SEEN_ERROR) {
		snprintf(why, sizeof(why), "%s failed: NCCL reported %s", w->what,
			 seen_text && *seen_text ? seen_text : "an error");
		return abort_with(w, why);
	}
	if (seen == LT_NCCL_SEEN_DONE) {
		w->state = LT_NCCL_IDLE;
		return LT_NCCL_OK;
	}
	if (stopping) {
		snprintf(why, sizeof(why), "%s abandoned: the job is stopping (a rank failed)",
			 w->what);
		return abort_with(w, why);
	}
	if (w->timeout_ns && now_ns - w->started_ns > w->timeout_ns) {
		snprintf(why, sizeof(why),
			 "%s timed out after %.1f s: a peer never joined it (see the other ranks' reports; --timeout sets the limit)",
			 w->what, (double)(now_ns - w->started_ns) / 1e9);
		return abort_with(w, why);
	}
	return LT_NCCL_WAIT;
}
