/*
 * test_comm_gloo.c - the gloo communicator between real processes: jobs of
 * 1 to 5 comm_worker ranks on loopback (GLOO_SOCKET_IFNAME=lo), each rank
 * checking every collective, dtype and count against its own reference
 * (tests/progs/comm_worker.c), by default (libgloo's ring for every
 * all-reduce), with the sync mesh on (LTRUN_GLOO_SYNC_MAX) polling and
 * sleeping in recv(); a job whose last rank dies midway, which must fail
 * with a message rather than hang; libgloo's loop thread in the idle
 * scheduling class with LTRUN_GLOO_LOOP_IDLE=1 only; and a bad
 * LTRUN_GLOO_SYNC_MAX refused in one line.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "comm_job.h"
#include "core/built.h"

static void need_gloo(void)
{
	if (!LT_HAVE_GLOO)
		cr_skip_test("comm 'gloo' needs " LT_LEFT_OUT(LT_DEP_GLOO));
}

TestSuite(comm_gloo, .init = need_gloo);

/* A job of n ranks with up to two more NAME=value (or NULL). */
static void expect_world_with(int n, const char *setting, const char *more)
{
	struct comm_job job = {
		.backend = "gloo",
		.ranks = n,
		.env = (const char *[]){ "GLOO_SOCKET_IFNAME=lo", setting, more, NULL },
		.timeout_s = 120,
	};
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "gloo, %d ranks (%s): status %d\nstdout:\n%s\nstderr:\n%s", n,
		     setting ? setting : "defaults", r.status, r.out, r.err);
	run_result_free(&r);
}

static void expect_world(int n) { expect_world_with(n, NULL, NULL); }

Test(comm_gloo, world_1) { expect_world(1); }
Test(comm_gloo, world_2) { expect_world(2); }
Test(comm_gloo, world_3) { expect_world(3); }
Test(comm_gloo, world_4) { expect_world(4); }
Test(comm_gloo, world_5) { expect_world(5); }

/* All-reduces up to 256 KiB over the sync mesh, polling and sleeping in
 * recv(): 3 ranks, not a power of two, so halving-doubling takes its
 * extra steps, and 2 and 4. */
#define SYNC_ON "LTRUN_GLOO_SYNC_MAX=262144"
Test(comm_gloo, world_2_sync_mesh) { expect_world_with(2, SYNC_ON, "LTRUN_GLOO_BUSY_POLL=1"); }
Test(comm_gloo, world_3_sync_mesh) { expect_world_with(3, SYNC_ON, "LTRUN_GLOO_BUSY_POLL=1"); }
Test(comm_gloo, world_3_sync_mesh_sleeping) { expect_world_with(3, SYNC_ON, "LTRUN_GLOO_BUSY_POLL=0"); }
Test(comm_gloo, world_4_sync_mesh_sleeping) { expect_world_with(4, SYNC_ON, "LTRUN_GLOO_BUSY_POLL=0"); }

/* How many idle-class threads each rank of a 2-rank job has, with
 * setting (or NULL) and more. */
static void expect_idle_threads(const char *setting, const char *more, int want)
{
	struct comm_job job = {
		.backend = "gloo",
		.ranks = 2,
		.env = (const char *[]){ "GLOO_SOCKET_IFNAME=lo", "COMM_WORKER_SCHED=1",
					 "COMM_WORKER_QUICK=1", setting, more, NULL },
		.timeout_s = 60,
	};
	struct run_result r;
	char r0[48], r1[48];

	snprintf(r0, sizeof(r0), "rank 0: %d idle threads", want);
	snprintf(r1, sizeof(r1), "rank 1: %d idle threads", want);
	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "status %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.out, r0) && strstr(r.out, r1), "%s %s: want %d idle-class threads a rank:\n%s",
		  setting ? setting : "", more ? more : "", want, r.out);
	run_result_free(&r);
}

/* With LTRUN_GLOO_LOOP_IDLE=1 libgloo's loop thread must not preempt the
 * rank's threads (gloo.cc's top comment): one idle-class thread a device,
 * two with the sync mesh's own device; none by default. */
Test(comm_gloo, the_loop_thread_is_idle_class_when_asked)
{
	expect_idle_threads("LTRUN_GLOO_LOOP_IDLE=1", NULL, 1);
	expect_idle_threads("LTRUN_GLOO_LOOP_IDLE=1", SYNC_ON, 2);
	expect_idle_threads(NULL, NULL, 0);
}

/* A bad LTRUN_GLOO_SYNC_MAX stops the open with one line naming it. */
Test(comm_gloo, a_bad_sync_max_is_refused)
{
	static const char *const bad[] = { "LTRUN_GLOO_SYNC_MAX=1M", "LTRUN_GLOO_SYNC_MAX=262145",
					   "LTRUN_GLOO_SYNC_MAX=-1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct comm_job job = {
			.backend = "gloo",
			.ranks = 2,
			.env = (const char *[]){ "GLOO_SOCKET_IFNAME=lo", bad[i], "COMM_WORKER_QUICK=1",
						 NULL },
			.timeout_s = 60,
		};
		struct run_result r;
		char want[96];

		snprintf(want, sizeof(want), "LTRUN_GLOO_SYNC_MAX='%s' is not a byte count from 0 to 262144",
			 strchr(bad[i], '=') + 1);
		cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
		cr_expect_neq(r.status, 0, "%s was accepted", bad[i]);
		cr_expect(strstr(r.err, want) != NULL, "%s: want '%s' in:\n%s", bad[i], want, r.err);
		run_result_free(&r);
	}
}

/* The last rank dies (SIGKILL) before its fifth collective: the others
 * must fail with gloo's reason within the collective timeout, not hang
 * until the job's deadline. */
Test(comm_gloo, dead_peer_fails_the_others)
{
	struct comm_job job = {
		.backend = "gloo",
		.ranks = 3,
		.env = (const char *[]){ "GLOO_SOCKET_IFNAME=lo", "COMM_WORKER_DIE_AT=5",
					 "COMM_WORKER_TIMEOUT_MS=5000", "COMM_WORKER_QUICK=1", NULL },
		.timeout_s = 60,
	};
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_neq(r.status, 0, "a job with a dead rank succeeded:\n%s", r.err);
	cr_expect(strstr(r.err, "status 124") == NULL,
		  "a rank hung until the deadline instead of failing:\n%s", r.err);
	cr_expect(strstr(r.err, "rank 0: ") && strstr(r.err, "gloo "),
		  "rank 0 did not report gloo's failure:\n%s", r.err);
	run_result_free(&r);
}
