/*
 * test_groups.c - hybrid sharding's communicators (runtime/groups.h)
 * between real rank processes: tests/progs/groups_worker opens them as a
 * rank does and prints each group's members (an all-gather of the rank
 * numbers) and their sum (an all-reduce).  "Nodes" are told apart by
 * their host identity on loopback (127.0.0.1, 127.0.0.2: shm inside,
 * tcp between, gloo when the run's communicator is gloo), numbered
 * node-major or interleaved as srun's cyclic
 * distribution numbers them, also as mpirun's ranks (mpi between the
 * nodes); then two real hosts, a network namespace each (root only, else
 * skipped); and nodes of unequal size refused.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_job.h"
#include "netns.h"

/* Runs groups_worker with the run's communicator comm on n ranks. */
static void run_job(const char *comm, int n, const char *const *hosts, const char *const *netns,
		    struct run_result *r)
{
	struct comm_job job = {
		.worker = "groups_worker", .backend = comm, .ranks = n, .hosts = hosts,
		.netns = netns, .timeout_s = 90,
	};

	cr_assert_eq(comm_job_run(&job, r), 0, "cannot start groups_worker: build the tests first");
}

/* out has rank k's line "groups_worker: rank k: <text>". */
static void expect_line(const char *what, const struct run_result *r, int k, const char *text)
{
	char line[256];

	snprintf(line, sizeof(line), "groups_worker: rank %d: %s\n", k, text);
	cr_expect_not_null(strstr(r->out, line), "%s: no line '%.*s'\nstdout:\n%s\nstderr:\n%s",
			   what, (int)strlen(line) - 1, line, r->out, r->err);
}

/* Every rank's groups are want[rank], its cross group over backend
 * `cross` (its node group over shm). */
static void expect_groups(const char *what, const char *comm, int n, const char *const *hosts,
			  const char *const *netns, const char *const *want, const char *cross)
{
	struct run_result r;
	char over[64];

	run_job(comm, n, hosts, netns, &r);
	cr_expect_eq(r.status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status, r.out,
		     r.err);
	snprintf(over, sizeof(over), "over shm %s", cross);
	for (int k = 0; k < n; k++) {
		expect_line(what, &r, k, want[k]);
		expect_line(what, &r, k, over);
	}
	run_result_free(&r);
}

#define A "127.0.0.1"
#define B "127.0.0.2"

/* 2 nodes x 2, node-major: node groups {0,1} {2,3}, rails {0,2} {1,3}. */
static const char *const node_major[] = {
	"node [0 1] sum 1 cross [0 2] sum 2",
	"node [0 1] sum 1 cross [1 3] sum 4",
	"node [2 3] sum 5 cross [0 2] sum 2",
	"node [2 3] sum 5 cross [1 3] sum 4",
};

Test(groups, two_nodes_of_two)
{
	expect_groups("2 nodes x 2, --comm auto", "auto", 4, (const char *[]){ A, A, B, B }, NULL,
		      node_major, "tcp");
}

Test(groups, two_nodes_of_two_over_gloo)
{
	expect_groups("2 nodes x 2, --comm gloo", "gloo", 4, (const char *[]){ A, A, B, B }, NULL,
		      node_major, "gloo");
}

/* Ranks numbered round-robin over the nodes (srun's cyclic distribution):
 * the groups follow where the ranks run, not rank / local size. */
static const char *const interleaved[] = {
	"node [0 2] sum 2 cross [0 1] sum 1",
	"node [1 3] sum 4 cross [0 1] sum 1",
	"node [0 2] sum 2 cross [2 3] sum 5",
	"node [1 3] sum 4 cross [2 3] sum 5",
};

Test(groups, ranks_interleaved_over_nodes)
{
	expect_groups("2 nodes x 2, interleaved", "auto", 4, (const char *[]){ A, B, A, B }, NULL,
		      interleaved, "tcp");
}

/* --- under mpirun: its ranks, mpi between the pretend nodes --- */

static char mpi_tmp[] = "/tmp/ltrun-groups-XXXXXX";
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

Test(groups, ranks_of_mpirun_interleaved, .fini = mpi_teardown)
{
	char worker[PATH_MAX], why[300];
	struct run_result r;

	cr_assert_not_null(realpath(build_path("tests/progs/groups_worker"), worker),
			   "groups_worker is missing: build the tests first");
	cr_assert_not_null(make_temp_dir(mpi_tmp));
	mpi_made = true;
	if (!comm_mpirun_works(mpi_tmp, why, sizeof(why))) {
		mpi_teardown();
		cr_skip_test("%s", why);
	}
	cr_assert_eq(comm_mpirun(mpi_tmp, 4, (const char *[]){ "sh", "-c", two_hosts_sh, worker, NULL },
				 90, &r),
		     0);
	cr_expect_eq(r.status, 0, "mpirun -np 4, 2 nodes: status %d\nstdout:\n%s\nstderr:\n%s",
		     r.status, r.out, r.err);
	for (int k = 0; k < 4; k++) {
		expect_line("under mpirun", &r, k, interleaved[k]);
		expect_line("under mpirun", &r, k, "over shm mpi");
	}
	run_result_free(&r);
}

/* One node: the node group is everyone, each cross group the rank alone. */
Test(groups, one_node)
{
	expect_groups("1 node x 3, --comm shm", "shm", 3, (const char *[]){ A, A, A }, NULL,
		      (const char *const[]){
			      "node [0 1 2] sum 3 cross [0] sum 0",
			      "node [0 1 2] sum 3 cross [1] sum 1",
			      "node [0 1 2] sum 3 cross [2] sum 2",
		      },
		      "shm");
}

Test(groups, unequal_ranks_per_node_refused)
{
	struct run_result r;
	const char *msg = "hybrid sharding needs the same number of ranks on every node, but its 2 nodes run 2 and 1 ranks";
	int seen = 0;

	run_job("auto", 3, (const char *[]){ A, B, A }, NULL, &r);
	cr_expect_neq(r.status, 0, "nodes of 2 and 1 ranks: status 0\nstdout:\n%s", r.out);
	for (const char *p = r.err; (p = strstr(p, msg)); p++)
		seen++;
	cr_expect_eq(seen, 3, "%d of 3 ranks refused with '%s'\nstderr:\n%s", seen, msg, r.err);
	cr_expect_null(strstr(r.out, "node ["), "a rank opened groups:\n%s", r.out);
	run_result_free(&r);
}

/* --- two hosts: a network namespace each, joined by a veth pair --- */

static struct netns_pair hosts;

static void netns_teardown(void)
{
	netns_pair_delete(&hosts);
}

Test(groups, two_hosts_in_network_namespaces, .fini = netns_teardown)
{
	char why[512];

	if (netns_pair_make(&hosts, "g", "10.231.16", why, sizeof(why)))
		cr_skip_test("%s", why);
	expect_groups("2 namespaces x 2 ranks", "auto", 4,
		      (const char *[]){ "10.231.16.1", "10.231.16.1", "10.231.16.2", "10.231.16.2" },
		      (const char *[]){ hosts.name[0], hosts.name[0], hosts.name[1], hosts.name[1] },
		      node_major, "tcp");
}
