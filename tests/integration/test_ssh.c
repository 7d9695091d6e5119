/*
 * test_ssh.c - the --hostfile launch over real ssh: three network
 * namespace hosts with a real sshd each (ssh_hosts.h), the launcher in
 * this namespace.  A 3-host job trains the MLP from one command; the
 * filters pick hosts and slots; a host whose sshd is down is reported by
 * name with ssh's own message and the others are torn down; killing the
 * launcher or ctrl-C leaves no rank on any host; a second launch of a
 * running job is refused on its hosts.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "ssh_hosts.h"

#define SAN_VARS "ASAN_OPTIONS,LSAN_OPTIONS,UBSAN_OPTIONS"

static struct ssh_hosts hosts;
static char hostfile[64];

static void teardown(void)
{
	ssh_hosts_delete(&hosts);
	if (hostfile[0])
		unlink(hostfile);
	hostfile[0] = '\0';
}

TestSuite(ssh, .fini = teardown, .timeout = 240);

/* n hosts (sshd on those up[i]) and a hostfile of them, slots each. */
static void make_hosts(int n, const char *subnet, const bool *up, int slots)
{
	char why[512];
	FILE *f;
	int fd;

	if (ssh_hosts_make(&hosts, n, "s", subnet, up, why, sizeof(why)))
		cr_skip_test("%s", why);
	snprintf(hostfile, sizeof(hostfile), "/tmp/ltrun-hosts-XXXXXX");
	fd = mkstemp(hostfile);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "# the test's hosts\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s slots=%d\n", hosts.addr[i], slots);
	fclose(f);
}

static const char *path_of(const char *rel, char *buf)
{
	cr_assert_not_null(realpath(build_path(rel), buf), "'%s' is missing: build first", rel);
	return buf;
}

/* The pids of "hello rank=R ... pid=P" lines in out, by rank. */
static int hello_pids(const char *out, int *pids, int max)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, "hello rank=")); p++) {
		int rank;
		const char *pid = strstr(p, " pid=");
		if (sscanf(p, "hello rank=%d", &rank) == 1 && pid && rank >= 0 && rank < max) {
			pids[rank] = atoi(pid + 5);
			n++;
		}
	}
	return n;
}

/* Waits until none of the pids lives, at most timeout_ms. */
static bool all_gone(const int *pids, int n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		bool alive = false;
		for (int i = 0; i < n; i++)
			alive |= pids[i] > 0 && (kill(pids[i], 0) == 0 || errno != ESRCH);
		if (!alive)
			return true;
		usleep(50000);
	}
	return false;
}

Test(ssh, three_hosts_train_the_mlp_from_one_command)
{
	char ltrun[PATH_MAX], script[PATH_MAX], hosts_var[128], ltrun_var[PATH_MAX + 8];
	char cmd_var[600];
	struct run_result r;
	const char *acc;
	double best = 0;

	make_hosts(3, "10.233.1", NULL, 2);
	path_of("ltrun", ltrun);
	cr_assert_not_null(realpath("examples/hostfile/train.sh", script));
	/* examples/hostfile/train.sh, as a user runs it */
	snprintf(hosts_var, sizeof(hosts_var), "HOSTS=%s", hostfile);
	snprintf(ltrun_var, sizeof(ltrun_var), "LTRUN=%s", ltrun);
	snprintf(cmd_var, sizeof(cmd_var), "LTRUN_LAUNCHER_CMD=%s", hosts.launcher_cmd);
	cr_assert_eq(run_command((const char *[]){ "sh", script, NULL },
				 (const char *[]){ hosts_var, ltrun_var, cmd_var,
						   "LTRUN_EXPORT=" SAN_VARS, NULL },
				 180, &r),
		     0);
	cr_expect_eq(r.status, 0, "the 3-host job failed (%d):\n%s\n%s", r.status, r.out, r.err);
	/* rank 0's metrics, on stderr */
	for (const char *p = r.err; (acc = strstr(p, "[rank 0] epoch ")); p = acc + 1)
		if (strstr(acc, "val_acc "))
			best = atof(strstr(acc, "val_acc ") + 8);
	cr_expect_geq(best, 0.95, "the MLP reached val_acc %.3f on 6 ranks:\n%s", best, r.err);
	cr_expect(strstr(r.err, "starting 3 hosts") != NULL, "%s", r.err);
	run_result_free(&r);

	/* Every rank says where it is: 6 ranks, 2 a host, node 0 first;
	 * --export passes a variable on. */
	{
		char hello[PATH_MAX];
		int pids[6] = { 0 };

		path_of("examples/models/hello.so", hello);
		cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile,
							   "--launcher-cmd", hosts.launcher_cmd,
							   "--export", SAN_VARS,
							   hello, NULL },
					 NULL, 120, &r),
			     0);
		cr_expect_eq(r.status, 0, "%s\n%s", r.out, r.err);
		cr_expect_eq(hello_pids(r.out, pids, 6), 6, "6 ranks:\n%s", r.out);
		cr_expect(strstr(r.out, "world=6 local=1/2 node=2/3") != NULL, "%s", r.out);
		cr_expect(strstr(r.out, "main=10.233.1.1:") != NULL, "node 0 is the first host:\n%s",
			  r.out);
		run_result_free(&r);
	}
	/* --export reaches every rank, and every host binds its own ranks */
	{
		char affinity[PATH_MAX];
		int lines = 0, omp = 0;

		path_of("tests/models/affinity.so", affinity);
		cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile,
							   "--launcher-cmd", hosts.launcher_cmd,
							   "--export", SAN_VARS ",OMP_NUM_THREADS=3",
							   "--cpu-bind", "cores", affinity, NULL },
					 NULL, 120, &r),
			     0);
		cr_expect_eq(r.status, 0, "%s\n%s", r.out, r.err);
		for (const char *p = r.out; (p = strstr(p, "affinity local=")); p++) {
			lines++;
			omp += !strncmp(strstr(p, " omp=") ? strstr(p, " omp=") : "", " omp=3 ", 7);
		}
		cr_expect_eq(lines, 6, "a line from every rank:\n%s", r.out);
		cr_expect_eq(omp, 6, "OMP_NUM_THREADS=3 from --export on every rank:\n%s", r.out);
		run_result_free(&r);
	}
}

Test(ssh, include_and_exclude_pick_hosts_and_slots)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r;
	int pids[8] = { 0 };

	make_hosts(3, "10.233.2", NULL, 2);
	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	/* hosts 1 and 3, one slot of each: 2 ranks, slot 1 on the last */
	{
		char inc[128];
		snprintf(inc, sizeof(inc), "%s:0@%s:1", hosts.addr[0], hosts.addr[2]);
		cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile,
							   "--include", inc, "--launcher-cmd",
							   hosts.launcher_cmd, "--export", SAN_VARS,
							   hello, NULL },
					 NULL, 120, &r),
			     0);
	}
	cr_expect_eq(r.status, 0, "%s\n%s", r.out, r.err);
	cr_expect_eq(hello_pids(r.out, pids, 8), 2, "2 ranks:\n%s", r.out);
	cr_expect(strstr(r.out, "world=2 local=0/1 node=1/2") != NULL, "%s", r.out);
	run_result_free(&r);

	/* --exclude a whole host: 2 hosts x 2 */
	cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile, "--exclude",
						   hosts.addr[1], "--launcher-cmd",
						   hosts.launcher_cmd, "--export", SAN_VARS, hello,
						   NULL },
				 NULL, 120, &r),
		     0);
	cr_expect_eq(r.status, 0, "%s\n%s", r.out, r.err);
	memset(pids, 0, sizeof(pids));
	cr_expect_eq(hello_pids(r.out, pids, 8), 4, "4 ranks:\n%s", r.out);
	cr_expect(strstr(r.out, "world=4 local=1/2 node=1/2") != NULL, "%s", r.out);
	run_result_free(&r);

	/* an include that matches no host of the file */
	cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile, "--include",
						   "10.233.2.99", "--launcher-cmd",
						   hosts.launcher_cmd, hello, NULL },
				 NULL, 30, &r),
		     0);
	cr_expect_eq(r.status, 2, "%s", r.err);
	cr_expect(strstr(r.err, "10.233.2.99") && count_lines(r.err) == 1, "%s", r.err);
	run_result_free(&r);
}

Test(ssh, a_host_whose_sshd_is_down_is_reported_and_the_others_stop)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r;
	bool up[3] = { true, true, false };
	int pids[6] = { 0 };
	double t0;

	make_hosts(3, "10.233.3", up, 2);
	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	t0 = run_clock_s();
	cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile, "--launcher-cmd",
						   hosts.launcher_cmd, "--export", SAN_VARS,
						   "--rdzv-timeout", "60", hello, "--", "--sleep", "60",
						   NULL },
				 NULL, 120, &r),
		     0);
	cr_expect_eq(r.status, 255, "ssh's status (%d):\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "host 10.233.3.3 (hostfile") != NULL, "names the host:\n%s", r.err);
	cr_expect(strstr(r.err, "line 4, node 2): ssh failed: ") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "Connection refused") != NULL, "ssh's message:\n%s", r.err);
	cr_expect(strstr(r.err, "stopping the other hosts") != NULL, "%s", r.err);
	cr_expect_lt(run_clock_s() - t0, 50, "the others were torn down, not waited for");
	hello_pids(r.out, pids, 6);
	cr_expect(all_gone(pids, 6, 10000), "no rank is left:\n%s", r.out);
	run_result_free(&r);
}

/* Starts a 3-host job of sleeping hello ranks; returns it once all 6
 * said hello, with their pids. */
static struct run_job *start_sleepers(const char *ltrun, const char *hello, int *pids)
{
	struct run_job *j = run_start((const char *[]){ ltrun, "--hostfile", hostfile,
							"--launcher-cmd", hosts.launcher_cmd,
							"--export", SAN_VARS, hello, "--",
							"--sleep", "120", NULL },
				      NULL, -1);
	cr_assert_not_null(j);
	for (int waited = 0; waited < 60000; waited += 200) {
		if (hello_pids(run_job_out(j), pids, 6) == 6)
			return j;
		run_job_wait_for(j, "\n\n\n", 200);
	}
	cr_assert_fail("the ranks did not start:\n%s", run_job_out(j));
	return NULL;
}

Test(ssh, killing_the_launcher_leaves_no_rank_on_any_host)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r;
	int pids[6] = { 0 };
	struct run_job *j;

	make_hosts(3, "10.233.4", NULL, 2);
	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	j = start_sleepers(ltrun, hello, pids);
	/* only the launcher: its ssh processes are in groups of their own */
	kill(run_job_pid(j), SIGKILL);
	cr_expect(all_gone(pids, 6, 20000), "ranks are left after the launcher was killed");
	run_job_finish(j, 10, &r);
	run_result_free(&r);
}

Test(ssh, ctrl_c_reaches_every_rank_on_every_host)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r;
	int pids[6] = { 0 };
	struct run_job *j;
	const char *p;
	int stopped = 0;

	make_hosts(3, "10.233.5", NULL, 2);
	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	j = start_sleepers(ltrun, hello, pids);
	kill(run_job_pid(j), SIGINT);
	run_job_finish(j, 30, &r);
	cr_expect_eq(r.status, 130, "%s", r.err);
	for (p = r.err; (p = strstr(p, "stopped by SIGINT: forwarded it to every rank")); p++)
		stopped++;
	cr_expect_eq(stopped, 3, "each host's agent passed it on:\n%s", r.err);
	cr_expect(all_gone(pids, 6, 10000), "no rank is left");
	run_result_free(&r);
}

Test(ssh, a_second_launch_of_a_running_job_is_refused)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r, first;
	int pids[6] = { 0 };
	struct run_job *j;

	make_hosts(3, "10.233.6", NULL, 2);
	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	j = start_sleepers(ltrun, hello, pids);
	cr_assert_eq(run_command((const char *[]){ ltrun, "--hostfile", hostfile, "--launcher-cmd",
						   hosts.launcher_cmd, "--export", SAN_VARS, hello,
						   NULL },
				 NULL, 60, &r),
		     0);
	cr_expect_neq(r.status, 0);
	cr_expect(strstr(r.err, "already runs ltrun for this job") != NULL, "%s", r.err);
	run_result_free(&r);
	/* the first one runs on */
	for (int i = 0; i < 6; i++)
		cr_expect_eq(kill(pids[i], 0), 0, "rank %d of the first job is gone", i);
	kill(run_job_pid(j), SIGTERM);
	run_job_finish(j, 60, &first);
	cr_expect(all_gone(pids, 6, 10000), "no rank is left");
	run_result_free(&first);
}

/* --- the launch's plan and its bad input: --dry-run, no root needed --- */

static char plan_file[64];

static void plan_teardown(void)
{
	if (plan_file[0])
		unlink(plan_file);
	plan_file[0] = '\0';
}

TestSuite(ssh_plan, .fini = plan_teardown, .timeout = 60);

static void write_plan_file(const char *text)
{
	int fd;

	snprintf(plan_file, sizeof(plan_file), "/tmp/ltrun-hosts-XXXXXX");
	fd = mkstemp(plan_file);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* ltrun --hostfile plan_file --dry-run args... */
static void dry_run(const char *const *args, struct run_result *r)
{
	const char *argv[32] = { "--hostfile", plan_file, "--dry-run" };
	int n = 3;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(run_ltrun(argv, (const char *const[]){ "MASTER_PORT=", NULL }, r), 0);
}

Test(ssh_plan, the_dry_run_shows_hosts_nodes_ranks_and_the_command)
{
	struct run_result r;

	write_plan_file("# two hosts\n127.0.0.1 slots=2\n\n127.0.0.2 slots=2 max_slots=4\n");
	dry_run((const char *[]){ "--launcher-cmd", "ssh -p 2222 -o 'ProxyJump=a b'", NULL }, &r);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "to 2 hosts") && strstr(r.out, "(4 ranks, 2 a host)"), "%s", r.out);
	cr_expect(strstr(r.out, "node 0 at 127.0.0.1:29500"), "%s", r.out);
	cr_expect(strstr(r.out, "node 1: 127.0.0.2 (line 4), ranks 2-3, slots 0,1"), "%s", r.out);
	cr_expect(strstr(r.out, "command: ssh -p 2222 -o ProxyJump=a b -o BatchMode=yes"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "exec env LTRUN_SSH_STDIN=1 "), "%s", r.out);
	cr_expect(!strstr(r.out, "LTRUN_STORE_TOKEN="), "no token on a command line:\n%s", r.out);
	run_result_free(&r);

	/* JSON, with a filter and another port */
	dry_run((const char *[]){ "--json", "--include", "127.0.0.2:1", "--main-port", "4242", NULL },
		&r);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "\"main_addr\":\t\"127.0.0.2\""), "%s", r.out);
	cr_expect(strstr(r.out, "\"main_port\":\t4242"), "%s", r.out);
	cr_expect(strstr(r.out, "\"world_size\":\t1"), "%s", r.out);
	run_result_free(&r);
}

/* Each bad input: exit 2 and one line holding needle. */
static void expect_refused(const char *file, const char *const *args, const char *needle)
{
	struct run_result r;

	write_plan_file(file);
	dry_run(args, &r);
	cr_expect_eq(r.status, 2, "%s: status %d\n%s", needle, r.status, r.err);
	cr_expect(strstr(r.err, needle) != NULL, "want '%s' in:\n%s", needle, r.err);
	cr_expect_eq(count_lines(r.err), 1, "one line:\n%s", r.err);
	run_result_free(&r);
	plan_teardown();
}

Test(ssh_plan, bad_input_gets_one_line_naming_it)
{
	static const char two[] = "127.0.0.1 slots=2\n127.0.0.2 slots=2\n";
	const char *none[] = { NULL };

	expect_refused("127.0.0.1 slots=2\nnode;rm slots=1\n", none, "line 2");
	expect_refused("127.0.0.1 slots=0\n", none, "line 1");
	expect_refused("127.0.0.1 slots=2\nno-such-host.invalid slots=2\n", none,
		       "line 2: unknown host 'no-such-host.invalid'");
	expect_refused("127.0.0.1 slots=1\n127.0.0.2 slots=2\n", none,
		       "ltrun runs the same number of ranks on every host");
	expect_refused(two, (const char *[]){ "--include", "127.0.0.9", NULL }, "127.0.0.9");
	expect_refused(two, (const char *[]){ "--include", "127.0.0.1:5", NULL }, "127.0.0.1");
	expect_refused(two, (const char *[]){ "--devices", "2", NULL },
		       "--devices cannot go with --hostfile");
	expect_refused(two, (const char *[]){ "--num-nodes", "2", NULL },
		       "--num-nodes cannot go with --hostfile");
	expect_refused(two, (const char *[]){ "--export", "LT_SURELY_UNSET_VAR", NULL },
		       "LT_SURELY_UNSET_VAR is not set here");
	expect_refused(two, (const char *[]){ "--export", "A-B=1", NULL }, "not a variable's name");
	expect_refused(two, (const char *[]){ "--launcher-cmd", "ssh -o 'x", NULL },
		       "quote is not closed");
}

/* --- the far end alone: ltrun as ssh runs it, its stdin a pipe here --- */

static char remote_tmp[64];

static void remote_teardown(void)
{
	char rm[128];

	if (!remote_tmp[0])
		return;
	snprintf(rm, sizeof(rm), "rm -rf '%s'", remote_tmp);
	if (system(rm)) {
		/* a leftover temporary directory only */
	}
	remote_tmp[0] = '\0';
}

TestSuite(ssh_remote, .fini = remote_teardown, .timeout = 120);

/* Starts `env LTRUN_SSH_STDIN=1 ltrun --devices 2 hello.so -- hello_args`
 * with TMPDIR=remote_tmp, the job's records written on its stdin for
 * host `host`, main port `port`.  *in is the pipe's write end, kept open
 * (closing it stops the job). */
static struct run_job *start_remote(const char *host, const char *port,
				    const char *const *hello_args, int *in)
{
	char ltrun[PATH_MAX], hello[PATH_MAX], tmp_var[96], records[512];
	const char *argv[16] = { "env", "LTRUN_SSH_STDIN=1" };
	struct run_job *j;
	int p[2], n = 2, len;

	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	argv[n++] = ltrun;
	argv[n++] = "--devices";
	argv[n++] = "2";
	argv[n++] = "--hostfile";
	argv[n++] = "/nonexistent/hosts"; /* the launcher's: ignored here */
	argv[n++] = hello;
	argv[n++] = "--";
	for (; *hello_args; hello_args++)
		argv[n++] = *hello_args;
	argv[n] = NULL;
	snprintf(tmp_var, sizeof(tmp_var), "TMPDIR=%s", remote_tmp);
	len = snprintf(records, sizeof(records),
		       "LTRUN_SSH_HOST=%s%cLTRUN_MAIN_ADDR=127.0.0.1%cLTRUN_MAIN_PORT=%s%c"
		       "LTRUN_STORE_TOKEN=%064d%c%c",
		       host, 0, 0, port, 0, 7, 0, 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(write(p[1], records, (size_t)len), len);
	j = run_start(argv, (const char *const[]){ tmp_var, NULL }, p[0]);
	cr_assert_not_null(j);
	close(p[0]);
	*in = p[1];
	return j;
}

static void make_remote_tmp(void)
{
	snprintf(remote_tmp, sizeof(remote_tmp), "/tmp/ltrun-remote-XXXXXX");
	cr_assert_not_null(mkdtemp(remote_tmp));
}

Test(ssh_remote, the_records_set_the_job_and_a_second_one_is_refused)
{
	struct run_result r, second;
	struct run_job *j, *k;
	int pids[2] = { 0 }, in, in2;

	make_remote_tmp();
	j = start_remote("hostA", "29611", (const char *[]){ "--sleep", "60", NULL }, &in);
	cr_assert(run_job_wait_for(j, "pid=", 30000), "%s", run_job_out(j));
	for (int waited = 0; waited < 10000 && hello_pids(run_job_out(j), pids, 2) < 2; waited += 100)
		run_job_wait_for(j, "\n\n\n", 100);
	cr_expect(strstr(run_job_out(j), "world=2 local=0/2 node=0/1") != NULL, "%s",
		  run_job_out(j));
	/* the same job on the same host: refused, the first runs on */
	k = start_remote("hostA", "29611", (const char *[]){ NULL }, &in2);
	run_job_finish(k, 30, &second);
	close(in2);
	cr_expect_eq(second.status, 1, "%s", second.err);
	cr_expect(strstr(second.err, "host hostA already runs ltrun for this job (node 0 at 127.0.0.1:29611, pid ") != NULL,
		  "%s", second.err);
	cr_expect_eq(count_lines(second.err), 1, "%s", second.err);
	run_result_free(&second);
	cr_expect_eq(kill(pids[0], 0), 0, "the first job's rank 0 runs on");
	/* the end of stdin (the launcher gone) stops the ranks */
	close(in);
	run_job_finish(j, 60, &r);
	cr_expect_neq(r.status, 0);
	cr_expect(all_gone(pids, 2, 10000), "no rank is left:\n%s", r.err);
	run_result_free(&r);
}

Test(ssh_remote, a_signal_byte_reaches_the_ranks)
{
	struct run_result r;
	struct run_job *j;
	unsigned char sig = SIGINT;
	int pids[2] = { 0 }, in;

	make_remote_tmp();
	j = start_remote("hostB", "29612", (const char *[]){ "--sleep", "60", NULL }, &in);
	for (int waited = 0; waited < 30000 && hello_pids(run_job_out(j), pids, 2) < 2; waited += 100)
		run_job_wait_for(j, "\n\n\n", 100);
	cr_assert_eq(hello_pids(run_job_out(j), pids, 2), 2, "%s", run_job_out(j));
	cr_assert_eq(write(in, &sig, 1), 1);
	run_job_finish(j, 60, &r);
	close(in);
	cr_expect_eq(r.status, 130, "%s", r.err);
	cr_expect(strstr(r.err, "stopped by SIGINT: forwarded it to every rank") != NULL, "%s", r.err);
	cr_expect(all_gone(pids, 2, 10000), "no rank is left");
	run_result_free(&r);
}

Test(ssh_remote, a_lock_directory_of_another_user_is_refused)
{
	char dir[128];
	struct run_result r;
	struct run_job *j;
	int in;

	if (geteuid() != 0)
		cr_skip_test("needs root, to make a directory another user owns");
	make_remote_tmp();
	snprintf(dir, sizeof(dir), "%s/ltrun-ssh-%u", remote_tmp, (unsigned)getuid());
	cr_assert_eq(mkdir(dir, 0777), 0);
	cr_assert_eq(chown(dir, 65534, 65534), 0);
	j = start_remote("hostC", "29613", (const char *[]){ NULL }, &in);
	run_job_finish(j, 30, &r);
	close(in);
	cr_expect_eq(r.status, 1, "%s", r.err);
	cr_expect(strstr(r.err, "is not a private directory of this user's") != NULL, "%s", r.err);
	run_result_free(&r);
}

Test(ssh_remote, stdin_without_the_records_is_refused)
{
	char ltrun[PATH_MAX], hello[PATH_MAX];
	struct run_result r;
	struct run_job *j;
	int p[2];

	path_of("ltrun", ltrun);
	path_of("examples/models/hello.so", hello);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(write(p[1], "NOT A RECORD\0\0", 14), 14);
	close(p[1]);
	j = run_start((const char *[]){ "env", "LTRUN_SSH_STDIN=1", ltrun, hello, NULL }, NULL, p[0]);
	close(p[0]);
	run_job_finish(j, 30, &r);
	cr_expect_eq(r.status, 1, "%s", r.err);
	cr_expect(strstr(r.err, "bad environment record") != NULL && count_lines(r.err) == 1, "%s",
		  r.err);
	run_result_free(&r);
}
