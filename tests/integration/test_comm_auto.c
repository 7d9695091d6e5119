/*
 * test_comm_auto.c - the hierarchical auto communicator between real
 * processes, every collective checked by comm_worker.  One node (all
 * ranks the same host: the shm path); "nodes" told apart by their host
 * identity on loopback (127.0.0.1, 127.0.0.2...: shm inside each, tcp
 * bound to each address between them), with even nodes (rails) and
 * uneven ones (leaders); the same under mpirun (mpi between the nodes);
 * and two real hosts, a network namespace each joined by a veth pair
 * (root only, else skipped).
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm_job.h"
#include "netns.h"

/* Every rank of a job's output says auto found `nodes` nodes. */
static void expect_nodes(const char *what, const struct run_result *r, int ranks, int nodes)
{
	char want[64];
	int seen = 0;

	snprintf(want, sizeof(want), ": auto over %d nodes\n", nodes);
	for (const char *p = r->out; (p = strstr(p, want)); p++)
		seen++;
	cr_expect_eq(seen, ranks, "auto, %s: %d of %d ranks saw %d nodes\nstdout:\n%s", what, seen,
		     ranks, nodes, r->out);
}

static void expect_job(const char *what, int n, int nodes, const char *const *hosts,
		       const char *const *netns)
{
	struct comm_job job = {
		.backend = "auto", .ranks = n, .hosts = hosts, .netns = netns, .timeout_s = 120,
	};
	struct run_result r;

	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "auto, %s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status,
		     r.out, r.err);
	expect_nodes(what, &r, n, nodes);
	run_result_free(&r);
}

#define A "127.0.0.1"
#define B "127.0.0.2"
#define C "127.0.0.3"

Test(comm_auto, one_node_4_ranks)
{
	expect_job("1 node x 4", 4, 1, (const char *[]){ A, A, A, A }, NULL);
}

Test(comm_auto, one_rank)
{
	expect_job("1 rank", 1, 1, NULL, NULL);
}

Test(comm_auto, two_nodes_2_and_2)
{
	expect_job("2 nodes x 2 (rails)", 4, 2, (const char *[]){ A, A, B, B }, NULL);
}

Test(comm_auto, two_nodes_interleaved)
{
	expect_job("2 nodes x 2, ranks interleaved", 4, 2, (const char *[]){ A, B, A, B }, NULL);
}

Test(comm_auto, two_nodes_3_and_1)
{
	expect_job("2 nodes of 3 and 1 (leaders)", 4, 2, (const char *[]){ A, A, B, A }, NULL);
}

Test(comm_auto, three_nodes_uneven)
{
	expect_job("3 nodes of 2, 2 and 1", 5, 3, (const char *[]){ A, B, C, B, A }, NULL);
}

/* --- under mpirun: mpi between the pretend nodes --- */

static char mpi_tmp[] = "/tmp/ltrun-comm-auto-XXXXXX";
static bool mpi_made;

static void mpi_teardown(void)
{
	if (mpi_made)
		remove_dir(mpi_tmp);
	mpi_made = false;
}

/* Even MPI ranks on 127.0.0.1, odd on 127.0.0.2. */
static const char two_hosts_sh[] =
	"export " COMM_HOST_ENV "=127.0.0.$((OMPI_COMM_WORLD_RANK % 2 + 1))\n"
	"exec \"$0\" auto\n";

Test(comm_auto, two_nodes_under_mpirun, .fini = mpi_teardown)
{
	char worker[PATH_MAX], why[300];
	struct run_result r;

	cr_assert_not_null(realpath(build_path("tests/progs/comm_worker"), worker),
			   "comm_worker is missing: build the tests first");
	cr_assert_not_null(make_temp_dir(mpi_tmp));
	mpi_made = true;
	if (!comm_mpirun_works(mpi_tmp, why, sizeof(why))) {
		mpi_teardown();
		cr_skip_test("%s", why);
	}
	cr_assert_eq(comm_mpirun(mpi_tmp, 4, (const char *[]){ "sh", "-c", two_hosts_sh, worker, NULL },
				 100, &r),
		     0);
	cr_expect_eq(r.status, 0, "mpirun -np 4, 2 nodes: status %d\nstdout:\n%s\nstderr:\n%s",
		     r.status, r.out, r.err);
	expect_nodes("under mpirun", &r, 4, 2);
	run_result_free(&r);
}

/* --- two hosts: a network namespace each, joined by a veth pair --- */

static struct netns_pair hosts;

static void netns_teardown(void)
{
	netns_pair_delete(&hosts);
}

Test(comm_auto, two_hosts_in_network_namespaces, .fini = netns_teardown)
{
	char why[512];

	if (netns_pair_make(&hosts, "c", "10.231.8", why, sizeof(why)))
		cr_skip_test("%s", why);
	expect_job("2 namespaces x 2 ranks", 4, 2,
		   (const char *[]){ "10.231.8.1", "10.231.8.1", "10.231.8.2", "10.231.8.2" },
		   (const char *[]){ hosts.name[0], hosts.name[0], hosts.name[1], hosts.name[1] });
}
