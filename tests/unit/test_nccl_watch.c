/*
 * test_nccl_watch.c - the nccl communicator's watchdog decisions
 * (comm/nccl_watch.c), without NCCL: busy polls wait, success returns
 * and leaves the watch idle, an error or a stop aborts at once with the
 * reason, the timeout aborts (and no timeout waits forever), and an
 * aborted communicator starts nothing again.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "comm/nccl_watch.h"

#define MS 1000000LL

Test(nccl_watch, busy_waits_then_done_returns)
{
	struct lt_nccl_watch w = { 0 };

	cr_assert(lt_nccl_watch_begin(&w, "all_reduce of 4 f32", 0, 1000));
	cr_expect_eq(w.state, LT_NCCL_WAITING);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 10 * MS), LT_NCCL_WAIT);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 999 * MS), LT_NCCL_WAIT);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_DONE, NULL, false, 999 * MS), LT_NCCL_OK);
	cr_expect_eq(w.state, LT_NCCL_IDLE);
	/* the next one starts afresh */
	cr_expect(lt_nccl_watch_begin(&w, "barrier", 5000 * MS, 1000));
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 5500 * MS), LT_NCCL_WAIT);
}

Test(nccl_watch, error_aborts_with_ncclx_words)
{
	struct lt_nccl_watch w = { 0 };

	lt_nccl_watch_begin(&w, "init", 0, 0);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_ERROR, "remote process exited or there was a network error",
					false, MS), LT_NCCL_ABORT);
	cr_expect_eq(w.state, LT_NCCL_ABORTED);
	cr_expect(strstr(w.why, "init failed: NCCL reported remote process exited"), "%s", w.why);
	/* aborted for good */
	cr_expect_not(lt_nccl_watch_begin(&w, "barrier", 2 * MS, 0));
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_DONE, NULL, false, 3 * MS), LT_NCCL_ABORT);
}

Test(nccl_watch, timeout_aborts_naming_the_collective)
{
	struct lt_nccl_watch w = { 0 };

	lt_nccl_watch_begin(&w, "reduce_scatter of 1024 bf16", 100 * MS, 1500);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 1600 * MS), LT_NCCL_WAIT);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 1601 * MS), LT_NCCL_ABORT);
	cr_expect(strstr(w.why, "reduce_scatter of 1024 bf16 timed out after 1.5 s"), "%s", w.why);
	cr_expect(strstr(w.why, "--timeout"), "%s", w.why);
}

Test(nccl_watch, no_timeout_waits)
{
	struct lt_nccl_watch w = { 0 };

	lt_nccl_watch_begin(&w, "init", 0, 0);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 3600000 * MS), LT_NCCL_WAIT);
}

Test(nccl_watch, stop_aborts_but_done_first_wins)
{
	struct lt_nccl_watch w = { 0 };

	lt_nccl_watch_begin(&w, "broadcast of 8 f32", 0, 0);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_DONE, NULL, true, MS), LT_NCCL_OK);
	lt_nccl_watch_begin(&w, "broadcast of 8 f32", 2 * MS, 0);
	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, true, 3 * MS), LT_NCCL_ABORT);
	cr_expect(strstr(w.why, "the job is stopping"), "%s", w.why);
}

Test(nccl_watch, idle_poll_is_ok)
{
	struct lt_nccl_watch w = { 0 };

	cr_expect_eq(lt_nccl_watch_poll(&w, LT_NCCL_SEEN_BUSY, NULL, false, 0), LT_NCCL_OK);
}
