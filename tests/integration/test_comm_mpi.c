/*
 * test_comm_mpi.c - the mpi communicator under the real mpirun (Open MPI):
 * jobs of 1 to 4 comm_worker ranks, as root, oversubscribed, pinned to
 * loopback, with the session directory in a private TMPDIR; and the
 * refusal of a rank mpirun did not start.  Skipped, with the reason, when
 * mpirun is missing or cannot start even `true` here.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_job.h"
#include "core/built.h"

static char tmp[] = "/tmp/ltrun-comm-mpi-XXXXXX";

static void setup(void)
{
	if (!LT_HAVE_MPI)
		cr_skip_test("comm 'mpi' needs " LT_LEFT_OUT(LT_DEP_MPI));
	cr_assert_not_null(make_temp_dir(tmp));
}

static void teardown(void)
{
	remove_dir(tmp);
}

static void expect_world(int n)
{
	char worker[PATH_MAX], why[300];
	struct run_result r;

	if (!comm_mpirun_works(tmp, why, sizeof(why))) {
		teardown(); /* Criterion runs no .fini after a skip */
		cr_skip_test("%s", why);
	}
	cr_assert_not_null(realpath(build_path("tests/progs/comm_worker"), worker),
			   "comm_worker is missing: build the tests first");
	cr_assert_eq(comm_mpirun(tmp, n, (const char *[]){ worker, "mpi", NULL }, 100, &r), 0);
	cr_expect_eq(r.status, 0, "mpirun -np %d comm_worker mpi: status %d\nstdout:\n%s\nstderr:\n%s",
		     n, r.status, r.out, r.err);
	run_result_free(&r);
}

TestSuite(comm_mpi, .init = setup, .fini = teardown);

Test(comm_mpi, world_1) { expect_world(1); }
Test(comm_mpi, world_2) { expect_world(2); }
Test(comm_mpi, world_3) { expect_world(3); }
Test(comm_mpi, world_4) { expect_world(4); }
Test(comm_mpi, world_5) { expect_world(5); }

/* Without mpirun the backend refuses at open, naming the fix. */
Test(comm_mpi, refuses_ranks_mpirun_did_not_start)
{
	struct comm_job job = { .backend = "mpi", .ranks = 1, .timeout_s = 30 };
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_neq(r.status, 0, "comm_worker mpi outside mpirun succeeded:\n%s", r.out);
	cr_expect(strstr(r.err, "needs ranks started by mpirun") != NULL,
		  "no refusal naming mpirun in:\n%s", r.err);
	run_result_free(&r);
}
