/*
 * test_comm_auto.c - the hierarchical auto communicator between real
 * processes, every collective checked by comm_worker.  One node (all
 * ranks the same host: the shm path); "nodes" told apart by their host
 * identity on loopback (127.0.0.1, 127.0.0.2...: shm inside each, gloo
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

/* Several "nodes" need a worker that takes its host from COMM_HOST_ENV;
 * one that ignores it would put every rank on one node and pass for the
 * wrong reason. */
static void need_worker_host(void)
{
	struct run_result r;

	cr_assert_eq(run_command((const char *[]){ "grep", "-q", COMM_HOST_ENV,
						   build_path("tests/progs/comm_worker"), NULL },
				 NULL, 10, &r),
		     0);
	run_result_free(&r);
	if (r.status)
		cr_skip_test("comm_worker ignores " COMM_HOST_ENV ": it must set lt_comm_args.host "
			     "from it for ranks to be on different nodes");
}

static void expect_job(const char *what, int n, const char *const *hosts,
		       const char *const *netns)
{
	struct comm_job job = {
		.backend = "auto", .ranks = n, .hosts = hosts, .netns = netns, .timeout_s = 120,
	};
	struct run_result r;

	for (int k = 1; hosts && k < n; k++)
		if (strcmp(hosts[k], hosts[0])) {
			need_worker_host();
			break;
		}
	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "auto, %s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status,
		     r.out, r.err);
	run_result_free(&r);
}

#define A "127.0.0.1"
#define B "127.0.0.2"
#define C "127.0.0.3"

Test(comm_auto, one_node_4_ranks)
{
	expect_job("1 node x 4", 4, (const char *[]){ A, A, A, A }, NULL);
}

Test(comm_auto, one_rank)
{
	expect_job("1 rank", 1, NULL, NULL);
}

Test(comm_auto, two_nodes_2_and_2)
{
	expect_job("2 nodes x 2 (rails)", 4, (const char *[]){ A, A, B, B }, NULL);
}

Test(comm_auto, two_nodes_interleaved)
{
	expect_job("2 nodes x 2, ranks interleaved", 4, (const char *[]){ A, B, A, B }, NULL);
}

Test(comm_auto, two_nodes_3_and_1)
{
	expect_job("2 nodes of 3 and 1 (leaders)", 4, (const char *[]){ A, A, B, A }, NULL);
}

Test(comm_auto, three_nodes_uneven)
{
	expect_job("3 nodes of 2, 2 and 1", 5, (const char *[]){ A, B, C, B, A }, NULL);
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

	need_worker_host();
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
	run_result_free(&r);
}

/* --- two hosts: a network namespace each, joined by a veth pair --- */

static char netns[2][32];
static bool netns_made[2];

static int ip(const char *const *args)
{
	const char *argv[12] = { "ip" };
	struct run_result r;
	int status;

	for (int i = 0; i < 10 && args[i]; i++)
		argv[i + 1] = args[i];
	if (run_command(argv, NULL, 20, &r))
		return -1;
	status = r.status;
	if (status)
		cr_log_warn("ip %s %s: %s", args[0], args[1], r.err);
	run_result_free(&r);
	return status;
}

static void netns_teardown(void)
{
	for (int i = 0; i < 2; i++)
		if (netns_made[i])
			ip((const char *[]){ "netns", "del", netns[i], NULL });
	netns_made[0] = netns_made[1] = false;
}

#define SKIP_NETNS(...)                   \
	do {                              \
		netns_teardown();         \
		cr_skip_test(__VA_ARGS__); \
	} while (0)

/* 10.231.8.1 in the first namespace, .2 in the second. */
static void netns_setup(void)
{
	char va[16], vb[16];

	if (geteuid() != 0)
		cr_skip_test("network namespaces need root");
	snprintf(netns[0], sizeof(netns[0]), "ltc-a-%d", (int)getpid());
	snprintf(netns[1], sizeof(netns[1]), "ltc-b-%d", (int)getpid());
	snprintf(va, sizeof(va), "ltca%d", (int)getpid());
	snprintf(vb, sizeof(vb), "ltcb%d", (int)getpid());
	for (int i = 0; i < 2; i++) {
		if (ip((const char *[]){ "netns", "add", netns[i], NULL }))
			SKIP_NETNS("cannot create network namespace '%s' (is iproute2 installed?)",
				   netns[i]);
		netns_made[i] = true;
	}
	if (ip((const char *[]){ "link", "add", va, "type", "veth", "peer", "name", vb, NULL }) ||
	    ip((const char *[]){ "link", "set", va, "netns", netns[0], NULL }) ||
	    ip((const char *[]){ "link", "set", vb, "netns", netns[1], NULL }) ||
	    ip((const char *[]){ "-n", netns[0], "addr", "add", "10.231.8.1/24", "dev", va, NULL }) ||
	    ip((const char *[]){ "-n", netns[1], "addr", "add", "10.231.8.2/24", "dev", vb, NULL }) ||
	    ip((const char *[]){ "-n", netns[0], "link", "set", va, "up", NULL }) ||
	    ip((const char *[]){ "-n", netns[1], "link", "set", vb, "up", NULL }) ||
	    ip((const char *[]){ "-n", netns[0], "link", "set", "lo", "up", NULL }) ||
	    ip((const char *[]){ "-n", netns[1], "link", "set", "lo", "up", NULL }))
		SKIP_NETNS("cannot join the namespaces with a veth pair (see the warnings)");
}

Test(comm_auto, two_hosts_in_network_namespaces, .fini = netns_teardown)
{
	need_worker_host(); /* before anything is made: no .fini after a skip */
	netns_setup();
	expect_job("2 namespaces x 2 ranks", 4,
		   (const char *[]){ "10.231.8.1", "10.231.8.1", "10.231.8.2", "10.231.8.2" },
		   (const char *[]){ netns[0], netns[0], netns[1], netns[1] });
}
