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

#define MPIRUN "mpirun", "--allow-run-as-root", "--oversubscribe", "--mca", \
	"oob_tcp_if_include", "lo", "--mca", "btl_tcp_if_include", "lo"

static char tmp[] = "/tmp/ltrun-comm-mpi-XXXXXX";
static char tmpdir_env[sizeof(tmp) + 8];

static void setup(void)
{
	cr_assert_not_null(make_temp_dir(tmp));
	snprintf(tmpdir_env, sizeof(tmpdir_env), "TMPDIR=%s", tmp);
}

static void teardown(void)
{
	remove_dir(tmp);
}

/* Skips unless mpirun can start a trivial job here. */
static void need_mpirun(void)
{
	struct run_result r;
	char why[256] = "";

	cr_assert_eq(run_command((const char *[]){ "sh", "-c", "command -v mpirun", NULL }, NULL,
				 10, &r),
		     0);
	run_result_free(&r);
	if (r.status) {
		teardown(); /* Criterion runs no .fini after a skip */
		cr_skip_test("mpirun is not installed (openmpi-bin)");
	}
	cr_assert_eq(run_command((const char *[]){ MPIRUN, "-np", "1", "true", NULL },
				 (const char *[]){ tmpdir_env, NULL }, 60, &r),
		     0);
	sscanf(r.err, "%255[^\n]", why);
	run_result_free(&r);
	if (r.status) {
		teardown();
		cr_skip_test("mpirun cannot start even 'true': %s", why);
	}
}

static void expect_world(int n)
{
	char worker[PATH_MAX], np[16];
	struct run_result r;

	need_mpirun();
	cr_assert_not_null(realpath(build_path("tests/progs/comm_worker"), worker),
			   "comm_worker is missing: build the tests first");
	snprintf(np, sizeof(np), "%d", n);
	cr_assert_eq(run_command((const char *[]){ "timeout", "100", MPIRUN, "-np", np, worker, "mpi",
						   NULL },
				 (const char *[]){ tmpdir_env, NULL }, 120, &r),
		     0);
	cr_expect_eq(r.status, 0, "mpirun -np %d comm_worker mpi: status %d\nstdout:\n%s\nstderr:\n%s",
		     n, r.status, r.out, r.err);
	run_result_free(&r);
}

TestSuite(comm_mpi, .init = setup, .fini = teardown);

Test(comm_mpi, world_1) { expect_world(1); }
Test(comm_mpi, world_2) { expect_world(2); }
Test(comm_mpi, world_3) { expect_world(3); }
Test(comm_mpi, world_4) { expect_world(4); }

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
