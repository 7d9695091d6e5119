/*
 * test_comm_rsv.c - the reduce-scatter of uneven blocks
 * (lt_comm_reduce_scatter_v, lt_comm_start_v) between real processes,
 * checked by tests/progs/rsv_worker.c on every backend: shm, gloo (on
 * loopback), auto on one node and on "nodes" told apart by their loopback
 * address, mpi under mpirun (skipped when it cannot start); and shm's
 * all_reduce, reduce_scatter and reduce_scatter_v giving the same bits on
 * f16 data, the sum in rank order.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_job.h"

/* Each rank's "rsv_worker: rank R: N elements checked" line, N > 0. */
static void expect_every_rank_checked(const struct run_result *r, int n)
{
	for (int k = 0; k < n; k++) {
		char key[64];
		const char *at;

		snprintf(key, sizeof(key), "rsv_worker: rank %d: ", k);
		at = strstr(r->out, key);
		cr_expect(at && strtol(at + strlen(key), NULL, 10) > 0,
			  "rank %d checked no element:\n%s", k, r->out);
	}
}

static void expect_job(const char *backend, int n, const char *const *hosts,
		       const char *const *env)
{
	struct comm_job job = { .worker = "rsv_worker", .backend = backend, .ranks = n,
				.hosts = hosts, .env = env, .timeout_s = 120 };
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start rsv_worker: build the tests first");
	cr_expect_eq(r.status, 0, "%s, %d ranks: status %d\nstdout:\n%s\nstderr:\n%s", backend, n,
		     r.status, r.out, r.err);
	expect_every_rank_checked(&r, n);
	run_result_free(&r);
}

#define A "127.0.0.1"
#define B "127.0.0.2"
#define LO (const char *[]){ "GLOO_SOCKET_IFNAME=lo", NULL }
#define BITS (const char *[]){ "RSV_WORKER_BITS=1", NULL }

Test(comm_rsv, shm_1) { expect_job("shm", 1, NULL, NULL); }
Test(comm_rsv, shm_3) { expect_job("shm", 3, NULL, NULL); }
Test(comm_rsv, shm_4) { expect_job("shm", 4, NULL, NULL); }
Test(comm_rsv, gloo_3) { expect_job("gloo", 3, NULL, LO); }
Test(comm_rsv, auto_one_node_3) { expect_job("auto", 3, (const char *[]){ A, A, A }, NULL); }
Test(comm_rsv, auto_two_nodes_3_and_1)
{
	expect_job("auto", 4, (const char *[]){ A, A, B, A }, NULL);
}

/* The same f16 inputs give the same bits whichever collective reduces
 * them: every shm reduction sums the ranks in order 0, 1, 2 ... */
Test(comm_rsv, shm_bits_3) { expect_job("shm", 3, NULL, BITS); }
Test(comm_rsv, shm_bits_4) { expect_job("shm", 4, NULL, BITS); }
Test(comm_rsv, auto_bits_one_node_4)
{
	expect_job("auto", 4, (const char *[]){ A, A, A, A }, BITS);
}

static char tmp[] = "/tmp/ltrun-comm-rsv-XXXXXX";

Test(comm_rsv, mpi_3)
{
	char worker[PATH_MAX], why[300];
	struct run_result r;

	cr_assert_not_null(make_temp_dir(tmp));
	if (!comm_mpirun_works(tmp, why, sizeof(why))) {
		remove_dir(tmp);
		cr_skip_test("%s", why);
	}
	cr_assert_not_null(realpath(build_path("tests/progs/rsv_worker"), worker),
			   "rsv_worker is missing: build the tests first");
	cr_assert_eq(comm_mpirun(tmp, 3, (const char *[]){ worker, "mpi", NULL }, 100, &r), 0);
	cr_expect_eq(r.status, 0, "mpirun -np 3 rsv_worker mpi: status %d\nstdout:\n%s\nstderr:\n%s",
		     r.status, r.out, r.err);
	expect_every_rank_checked(&r, 3);
	run_result_free(&r);
	remove_dir(tmp);
}
