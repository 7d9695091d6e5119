/*
 * test_liveness.c - failure detection and collective timeouts, with the
 * real ltrun binary: a rank that stops arriving ends the job after
 * --timeout with the report naming the collective and the missing rank
 * (tests/models/liveness_coll.c); --debug-collectives names the first
 * rank whose call differs; and two network-namespace hosts, one of whose
 * link is cut (no connection closes), end within --heartbeat-timeout with
 * the report naming the lost node, or the silent store (needs root).
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm_job.h"
#include "netns.h"
#include "run.h"

static const char *model(void)
{
	return build_path("tests/models/liveness_coll.so");
}

/* --- collective timeouts --- */

Test(liveness, a_stopped_rank_ends_the_job_after_timeout, .timeout = 90)
{
	struct run_result r;
	double start = run_clock_s(), took;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", "--timeout", "3", model(), "--",
						 "--stop", "1", "--sleep", "0.5", NULL },
			       NULL, &r),
		     0);
	took = run_clock_s() - start;
	cr_expect_eq(r.status, 1, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "all_reduce #") && strstr(r.err, "on communicator 'world' waited") &&
			  strstr(r.err, "(--timeout 3)"),
		  "the report names the collective, its number and the timeout: %s", r.err);
	cr_expect(strstr(r.err, "rank 1 (host ") && strstr(r.err, "never arrived"),
		  "and the rank that never arrived: %s", r.err);
	cr_expect(strstr(r.err, "rank 0 (host ") == NULL && strstr(r.err, "rank 2 (host ") == NULL,
		  "only rank 1 is missing: %s", r.err);
	cr_expect(strstr(r.err, "last seen after collective #") || strstr(r.err, "last seen in collective #"),
		  "with the last collective it reported: %s", r.err);
	cr_expect(took < 30, "ended %.1f s after the start, not after --rdzv-timeout (300 s)", took);
	run_result_free(&r);
}

Test(liveness, no_timeout_when_every_rank_arrives, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", "--timeout", "1", model(), "--",
						 "--steps", "4", "--sleep", "0.6", NULL },
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 0, "slow steps are no timeout: status %d; %s", r.status, r.err);
	cr_expect(strstr(r.out, "done rank=1 sum=4"), "%s", r.out);
	run_result_free(&r);
}

/* MPI has no timeout of its own: the watchdog is its only one, and must
 * end the rank although MPI's exit handler would wait for the collective. */
Test(liveness, a_stopped_rank_under_mpirun_ends_the_job, .timeout = 90)
{
	char tmp[] = "/tmp/ltrun-liveness-mpi-XXXXXX", ltrun[PATH_MAX], path[PATH_MAX], why[300];
	struct run_result r;
	double start;

	cr_assert_not_null(make_temp_dir(tmp));
	if (!comm_mpirun_works(tmp, why, sizeof(why))) {
		remove_dir(tmp);
		cr_skip_test("%s", why);
	}
	cr_assert_not_null(realpath(build_path("ltrun"), ltrun));
	cr_assert_not_null(realpath(model(), path));
	start = run_clock_s();
	cr_assert_eq(comm_mpirun(tmp, 2, (const char *[]){ ltrun, "--comm", "mpi", "--rdzv", "tcp",
							   "--timeout", "3", path, "--", "--stop", "1",
							   "--sleep", "0.5", NULL },
				 60, &r),
		     0);
	cr_expect(r.status != 0 && r.status != 124, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "all_reduce #") && strstr(r.err, "(--timeout 3): rank 1 (host ") &&
			  strstr(r.err, "never arrived"),
		  "%s", r.err);
	cr_expect(run_clock_s() - start < 40, "ended after %.1f s", run_clock_s() - start);
	run_result_free(&r);
	remove_dir(tmp);
}

/* --- --debug-collectives --- */

Test(liveness, debug_collectives_names_a_different_count, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", "--debug-collectives", "--timeout",
						 "20", model(), "--", "--count", "1", NULL },
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 1, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "--debug-collectives: collective #") &&
			  strstr(r.err, "rank 0 calls all_reduce of 8 f32 (sum), but rank 1 calls all_reduce of 7 f32 (sum)"),
		  "%s", r.err);
	run_result_free(&r);
}

Test(liveness, debug_collectives_names_a_different_collective, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", model(), "--", "--bcast", "1",
						 NULL },
			       (const char *[]){ "LTRUN_DEBUG_COLLECTIVES=1", "LTRUN_TIMEOUT=20", NULL },
			       &r),
		     0);
	cr_expect_eq(r.status, 1, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "rank 0 calls all_reduce of 8 f32 (sum), but rank 1 calls broadcast of 8 f32 from rank 0"),
		  "%s", r.err);
	run_result_free(&r);
}

Test(liveness, debug_collectives_passes_a_correct_run, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", "--debug-collectives", model(),
						 NULL },
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 0, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.out, "done rank=2 sum=15"), "%s", r.out);
	run_result_free(&r);
}

/* --- keep-alives between hosts --- */

#define SUBNET "10.231.17"

static struct netns_pair hosts;

static void netns_teardown(void)
{
	netns_pair_delete(&hosts);
}

/* Node 0 in $1, node 1 in $2, both training for a long while; once both
 * run, every link of $2 goes down (nothing closes), and each node's end
 * is timed from then. */
static const char cut_link_sh[] =
	"run() { ip netns exec \"$1\" timeout 60 \"$3\" --num-nodes 2 --node-rank $2 \\\n"
	"  --main-addr " SUBNET ".1 --main-port 29517 --devices 1 --comm gloo --timeout 60 \\\n"
	"  --heartbeat-interval 0.5 --heartbeat-timeout 3 \"$4\" -- --steps 100000 --sleep 0.05; }\n"
	"run \"$1\" 0 \"$3\" \"$4\" & p0=$!\n"
	"run \"$2\" 1 \"$3\" \"$4\" & p1=$!\n"
	"sleep 4\n"
	"for d in $(ip -n \"$2\" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do\n"
	"  [ \"$d\" = lo ] || ip -n \"$2\" link set \"$d\" down\n"
	"done\n"
	"cut=$(date +%s.%N)\n"
	"wait $p0; s0=$?; t0=$(date +%s.%N)\n"
	"wait $p1; s1=$?; t1=$(date +%s.%N)\n"
	"echo \"statuses $s0 $s1 after $(awk \"BEGIN{print $t0 - $cut}\") $(awk \"BEGIN{print $t1 - $cut}\")\" >&2\n";

Test(liveness, a_cut_link_stops_both_nodes_within_the_heartbeat_timeout, .fini = netns_teardown,
     .timeout = 120)
{
	char ltrun[PATH_MAX], path[PATH_MAX], why[512];
	struct run_result r;
	double after0 = -1, after1 = -1;
	int s0 = -1, s1 = -1;
	const char *line;

	if (geteuid() != 0)
		cr_skip_test("network namespaces need root");
	cr_assert_not_null(realpath(build_path("ltrun"), ltrun));
	cr_assert_not_null(realpath(model(), path));
	if (netns_pair_make(&hosts, "hb", SUBNET, why, sizeof(why)))
		cr_skip_test("%s", why);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", cut_link_sh, "sh", hosts.name[0],
						   hosts.name[1], ltrun, path, NULL },
				 NULL, 100, &r),
		     0);
	line = strstr(r.err, "statuses ");
	cr_assert(line && sscanf(line, "statuses %d %d after %lf %lf", &s0, &s1, &after0, &after1) == 4,
		  "%s", r.err);
	cr_expect(strstr(r.out, "liveness rank=1"), "node 1 ran: %s", r.out);
	cr_expect(s0 != 0 && s0 != 124 && s1 != 0 && s1 != 124, "both nodes fail, neither hangs: %d %d; %s",
		  s0, s1, r.err);
	cr_expect(strstr(r.err, "node 1 (host ") && strstr(r.err, "was last heard from") &&
			  strstr(r.err, "--heartbeat-timeout 3"),
		  "node 0 names node 1: %s", r.err);
	cr_expect(strstr(r.err, "the store at " SUBNET ".1:29517 (node 0's agent"),
		  "node 1 names the silent store: %s", r.err);
	cr_expect(after0 > 2.5 && after0 < 10, "node 0 stopped %.1f s after the cut", after0);
	cr_expect(after1 > 2.5 && after1 < 10, "node 1 stopped %.1f s after the cut", after1);
	run_result_free(&r);
}

/* Without root: two nodes on loopback, and one node's agent stopped with
 * its process group (its watcher, and on node 0 the store), its ranks
 * left running.  The other node must stop within the timeout (2 s) with
 * one report holding every string of `report`. */
static void stop_one_node(int stopped, const char *const *report)
{
	char port[16];
	const char *node[2] = { "0", "1" };
	struct run_job *j[2];
	struct run_result r, gone;
	double at, took;
	int other = 1 - stopped;

	snprintf(port, sizeof(port), "%d", 21000 + (int)(getpid() % 2000) + 2 * stopped);
	for (int k = 0; k < 2; k++) {
		j[k] = run_start((const char *[]){ build_path("ltrun"), "--num-nodes", "2", "--node-rank",
						   node[k], "--main-addr", "127.0.0.1", "--main-port", port,
						   "--devices", "1", "--comm", "gloo",
						   "--heartbeat-interval", "0.3", "--heartbeat-timeout", "2",
						   model(), "--", "--steps", "100000", "--sleep", "0.05", NULL },
				 NULL, -1);
		cr_assert_not_null(j[k]);
	}
	for (int k = 0; k < 2; k++)
		cr_assert(run_job_wait_for(j[k], k ? "liveness rank=1" : "liveness rank=0", 30000), "%s",
			  run_job_out(j[k]));
	usleep(500000);
	kill(-run_job_pid(j[stopped]), SIGSTOP);
	at = run_clock_s();
	run_job_finish(j[other], 30, &r);
	took = run_clock_s() - at;
	kill(-run_job_pid(j[stopped]), SIGKILL);
	run_job_finish(j[stopped], 10, &gone);
	run_result_free(&gone);
	cr_expect_eq(r.status, 1, "status %d; %s", r.status, r.err);
	for (; *report; report++)
		cr_expect(strstr(r.err, *report), "the report lacks '%s': %s", *report, r.err);
	cr_expect(took > 1.5 && took < 9, "node %d stopped %.1f s after node %d's agent", other, took,
		  stopped);
	run_result_free(&r);
}

Test(liveness, a_silent_agent_stops_the_other_node, .timeout = 90)
{
	stop_one_node(1, (const char *[]){ "ltrun: node 1 (host ", "was last heard from", "(at ",
					   "ltrun stopped the 1 rank of node 0", NULL });
}

Test(liveness, a_silent_store_stops_the_other_node, .timeout = 90)
{
	stop_one_node(0, (const char *[]){ "ltrun: the store at 127.0.0.1:", "(node 0's agent, host ",
					   "was last heard from", "ltrun stopped the 1 rank of node 1",
					   NULL });
}
