/*
 * test_comm_gloo.c - the gloo communicator between real processes: jobs of
 * 1 to 5 comm_worker ranks on loopback (GLOO_SOCKET_IFNAME=lo), each rank
 * checking every collective, dtype and count against its own reference
 * (tests/progs/comm_worker.c); and a job whose last rank dies midway,
 * which must fail with a message rather than hang.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "comm_job.h"

static void expect_world(int n)
{
	struct comm_job job = {
		.backend = "gloo",
		.ranks = n,
		.env = (const char *[]){ "GLOO_SOCKET_IFNAME=lo", NULL },
		.timeout_s = 120,
	};
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "gloo, %d ranks: status %d\nstdout:\n%s\nstderr:\n%s", n, r.status,
		     r.out, r.err);
	run_result_free(&r);
}

Test(comm_gloo, world_1) { expect_world(1); }
Test(comm_gloo, world_2) { expect_world(2); }
Test(comm_gloo, world_3) { expect_world(3); }
Test(comm_gloo, world_4) { expect_world(4); }
Test(comm_gloo, world_5) { expect_world(5); }

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
