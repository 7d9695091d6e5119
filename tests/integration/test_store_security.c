/*
 * test_store_security.c - the rendezvous store against another local user,
 * with real processes: two agents on this host as two nodes (as in
 * test_launch_local.c), and an attacker forked as nobody (uid 65534) that
 * does what the probe of issue 13 did: it computes the token from what
 * squeue shows and tries to stop the job with a forged failure report, or
 * it listens on the store's port first and answers like a store.  Also:
 * no secret means no run without --insecure-store, the srun relaunch
 * hands its step a fresh token, and one node's store listens on loopback
 * only.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "core/sha256.h"
#include "rdzv/store.h"
#include "rdzv/store_proto.h"

#define NOBODY 65534
#define FORGED "rank 0 on node 0 was killed by an attacker\033[31m"

static char tmp[] = "/tmp/ltrun-security-XXXXXX";
static bool made;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(tmp));
	cr_assert_eq(chmod(tmp, 0755), 0, "others may look in, as in a home on a cluster");
	made = true;
}

static void teardown(void)
{
	struct run_result r;

	if (made && run_command((const char *[]){ "rm", "-rf", tmp, NULL }, NULL, 10, &r) == 0)
		run_result_free(&r);
	made = false;
}

TestSuite(store_security, .init = setup, .fini = teardown, .timeout = 90);

/* Each test process its own port, outside the ephemeral range and away
 * from test_launch_local.c's. */
static int test_port(void)
{
	return 20000 + (int)((getpid() + 6000) % 12000);
}

/* "LTRUN_SECRET_FILE=<tmp>/secret": a secret of the test's own. */
static const char *secret_env(void)
{
	static char buf[PATH_MAX + 32];

	snprintf(buf, sizeof(buf), "LTRUN_SECRET_FILE=%s/secret", tmp);
	return buf;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("running an attacker as another user (nobody) needs root");
}

/* In a forked child: become nobody, for good. */
static void become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		_exit(3);
}

/* --- the attacker that computes the token --- */

enum { ATTACK_FAILED = 0, ATTACK_READ_SECRET = 10, ATTACK_JOINED = 11 };

/* As nobody: tries to read the secret, then for up to `seconds` to join
 * the store at port with the token derived from the job's description
 * ("ltrun-token:<job id>:<step>:<addr>:<port>:<world>", all public), and
 * if it gets in, forges rank 0's failure.  Exits with what it managed. */
static pid_t start_token_attacker(const char *secret, int port, int seconds)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char seed[128];
		uint8_t token[LT_STORE_TOKEN_BYTES];
		struct lt_store *st;
		struct lt_err err;
		time_t end = time(NULL) + seconds;
		int fd;

		become_nobody();
		fd = open(secret, O_RDONLY);
		if (fd >= 0)
			_exit(ATTACK_READ_SECRET);
		snprintf(seed, sizeof(seed), "ltrun-token:::127.0.0.1:%d:4", port);
		lt_sha256(seed, strlen(seed), token);
		while (time(NULL) < end) {
			if (lt_store_connect("127.0.0.1", port, token, "attacker", 200, &st, &err) == 0) {
				lt_store_set(st, "r0/failed", FORGED, strlen(FORGED), &err);
				lt_store_close(st);
				_exit(ATTACK_JOINED);
			}
			usleep(20000);
		}
		_exit(ATTACK_FAILED);
	}
	return pid;
}

static int attack_result(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : ATTACK_FAILED;
}

/* Two agents on this host, 2 ranks each, sleeping `sleep` s before their
 * barriers; env adds to each agent's environment; flags (one word, or
 * "") go before the model. */
static const char two_agents_sh[] =
	"for k in 0 1; do\n"
	"  \"$1\" --num-nodes 2 --node-rank $k --main-addr 127.0.0.1 --main-port \"$2\" \\\n"
	"    --devices 2 --term-timeout 5 --rdzv-timeout 20 $3 \"$4\" -- --sleep $5 &\n"
	"done\n"
	"wait %1; s0=$?; wait %2; s1=$?\n"
	"echo \"statuses: $s0 $s1\"\n";

static void run_two_agents(const char *flags, const char *sleep_s, const char *const *env,
			   struct run_result *r)
{
	char ltrun[600], model[600], port[16];

	snprintf(port, sizeof(port), "%d", test_port());
	snprintf(ltrun, sizeof(ltrun), "%s", build_path("ltrun"));
	snprintf(model, sizeof(model), "%s", build_path("examples/models/hello.so"));
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_agents_sh, "sh", ltrun, port,
						   flags, model, sleep_s, NULL },
				 env, 60, r),
		     0);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* The probe's first scenario: with the user's secret file (made on first
 * use by the two agents at once, in a home others may look into), nobody
 * can neither read the secret nor join the store, and the job ends well. */
Test(store_security, another_user_cannot_stop_a_two_node_job)
{
	char home[PATH_MAX - 64], home_var[PATH_MAX], secret[PATH_MAX];
	struct run_result r;
	struct stat sb;
	pid_t attacker;

	need_root();
	snprintf(home, sizeof(home), "%s/home", tmp);
	cr_assert_eq(mkdir(home, 0755), 0);
	snprintf(home_var, sizeof(home_var), "HOME=%s", home);
	snprintf(secret, sizeof(secret), "%s/.config/ltrun/secret", home);
	attacker = start_token_attacker(secret, test_port(), 8);
	run_two_agents("", "3", (const char *[]){ home_var, NULL }, &r);
	cr_expect_eq(attack_result(attacker), ATTACK_FAILED, "nobody read the secret or joined");
	cr_expect(strstr(r.out, "statuses: 0 0") != NULL, "the job ends well: %s%s", r.out, r.err);
	cr_expect(!strstr(r.err, "attacker"), "no forged report: %s", r.err);
	cr_expect_eq(count_of(r.out, "bye rank="), 4, "%s", r.out);
	/* Dozens of refused tries, a few lines (at most one a second). */
	cr_expect_geq(count_of(r.err, ": wrong token"), 1, "%s", r.err);
	cr_expect_leq(count_of(r.err, ": wrong token"), 6, "%s", r.err);
	cr_assert_eq(stat(secret, &sb), 0, "the agents made %s", secret);
	cr_expect_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	run_result_free(&r);
}

/* The same attacker, when the user gives up the secret: --insecure-store
 * runs, says what it gives up, and the attacker can stop the job (which
 * also shows the attacker above computed the token the right way).  What
 * it forged reaches the terminal without its control characters. */
Test(store_security, insecure_store_runs_and_gives_up_exactly_that)
{
	char secret_var[PATH_MAX + 32], secret[PATH_MAX];
	struct run_result r;
	pid_t attacker;

	need_root();
	snprintf(secret, sizeof(secret), "%s/missing/secret", tmp);
	snprintf(secret_var, sizeof(secret_var), "LTRUN_SECRET_FILE=%s", secret);
	attacker = start_token_attacker(secret, test_port(), 8);
	run_two_agents("--insecure-store", "3", (const char *[]){ secret_var, NULL }, &r);
	cr_expect_eq(attack_result(attacker), ATTACK_JOINED, "%s", r.err);
	cr_expect(strstr(r.err, "ltrun: warning: --insecure-store: the secret file '") != NULL, "%s",
		  r.err);
	cr_expect(strstr(r.err, "any user who can see the job can compute it") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "rank 0 on node 0 was killed by an attacker?[31m") != NULL,
		  "the forged report, its escape defused: %s", r.err);
	cr_expect(!strstr(r.err, "\033"), "no control characters reach the terminal");
	run_result_free(&r);
}

/* Without any secret, a multi-node run stops before it starts, and says
 * why and how to fix it. */
Test(store_security, no_secret_no_run)
{
	char secret_var[PATH_MAX], port[16];
	struct run_result r;

	snprintf(secret_var, sizeof(secret_var), "LTRUN_SECRET_FILE=%s/missing/secret", tmp);
	snprintf(port, sizeof(port), "%d", test_port());
	cr_assert_eq(run_ltrun((const char *[]){ "--num-nodes", "2", "--node-rank", "1",
						 "--main-addr", "127.0.0.1", "--main-port", port,
						 "--rdzv-timeout", "2",
						 build_path("examples/models/hello.so"), NULL },
			       (const char *[]){ secret_var, NULL }, &r),
		     0);
	cr_expect_eq(r.status, 1, "%s", r.err);
	cr_expect(strstr(r.err, "ltrun: no secret to protect the store with: LTRUN_STORE_TOKEN is unset, no PMIx launcher made this process, and the secret file '") != NULL,
		  "%s", r.err);
	cr_expect(strstr(r.err, "export LTRUN_STORE_TOKEN") && strstr(r.err, "srun --mpi=pmix") &&
			  strstr(r.err, "--insecure-store"),
		  "every way out: %s", r.err);
	cr_expect(!strstr(r.err, "[rank"), "no rank started: %s", r.err);
	run_result_free(&r);
}

/* The file rendezvous has no store: the token only names the run, and a
 * job of several nodes needs no secret for it. */
Test(store_security, the_file_rendezvous_needs_no_secret)
{
	char dir[PATH_MAX + 32], secret[PATH_MAX + 32], ltrun[600], model[600], port[16];
	struct run_result r;

	snprintf(dir, sizeof(dir), "LTRUN_RDZV_DIR=%s", tmp);
	snprintf(secret, sizeof(secret), "LTRUN_SECRET_FILE=%s/missing/secret", tmp);
	snprintf(port, sizeof(port), "%d", test_port());
	snprintf(ltrun, sizeof(ltrun), "%s", build_path("ltrun"));
	snprintf(model, sizeof(model), "%s", build_path("examples/models/hello.so"));
	cr_assert_eq(run_command((const char *[]){ "sh", "-c",
						   "for k in 0 1; do\n"
						   "  \"$1\" --rdzv file --num-nodes 2 --node-rank $k --main-addr 127.0.0.1 --main-port \"$2\" \"$3\" &\n"
						   "done\n"
						   "wait %1; s0=$?; wait %2; s1=$?\n"
						   "echo \"statuses: $s0 $s1\"\n",
						   "sh", ltrun, port, model, NULL },
				 (const char *[]){ dir, secret, NULL }, 60, &r),
		     0);
	cr_expect(strstr(r.out, "statuses: 0 0") != NULL, "%s%s", r.out, r.err);
	cr_expect_eq(count_of(r.out, "bye rank="), 2, "%s", r.out);
	cr_expect(!strstr(r.err, "insecure"), "no warning: %s", r.err);
	run_result_free(&r);
}

/* --- the attacker that holds connections --- */

/* As nobody: once port listens, opens `per` connections from each of
 * 127.0.0.2 to 127.0.0.(1 + addresses), never logs in, and holds what the
 * store keeps open until killed. */
static pid_t start_idle_flood(int port, int addresses, int per)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		struct rlimit fds = { (rlim_t)(addresses * per + 64), (rlim_t)(addresses * per + 64) };
		int probe;

		setrlimit(RLIMIT_NOFILE, &fds); /* as root still: the hard limit too */
		become_nobody();
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		for (;;) { /* wait for the store */
			probe = socket(AF_INET, SOCK_STREAM, 0);
			if (!connect(probe, (struct sockaddr *)&a, sizeof(a)))
				break;
			close(probe);
			usleep(20000);
		}
		for (int k = 0; k < addresses; k++)
			for (int i = 0; i < per; i++) {
				struct sockaddr_in src = { .sin_family = AF_INET,
							   .sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)k) };
				int fd = socket(AF_INET, SOCK_STREAM, 0);
				if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
				    connect(fd, (struct sockaddr *)&a, sizeof(a)))
					close(fd);
			}
		pause();
		_exit(0);
	}
	return pid;
}

/* The probe's third scenario: thousands of connections that never log in
 * made restarted ranks fail.  Now the store holds at most 16384 from one
 * source (every loopback address is one), each for 5 s, closes the rest
 * at once and says so in a few lines, and the job, restart included,
 * ends well: its ranks get in once the idle ones are dropped.  Each
 * attempt sleeps 3 s, so the job outlasts the 5 s login deadline of the
 * flood's first connections however fast its ranks got in (with 1 s, a
 * job whose ranks beat the flood ended before any was dropped). */
Test(store_security, idle_connections_do_not_lock_the_ranks_out)
{
	char ltrun[600], model[600], port[16];
	struct run_result r;
	pid_t flood;
	int status;

	need_root();
	snprintf(port, sizeof(port), "%d", test_port());
	snprintf(ltrun, sizeof(ltrun), "%s", build_path("ltrun"));
	snprintf(model, sizeof(model), "%s", build_path("examples/models/hello.so"));
	/* 9 loopback addresses x 1900: more than the store holds from one. */
	flood = start_idle_flood(test_port(), 9, 1900);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c",
						   "for k in 0 1; do\n"
						   "  \"$1\" --num-nodes 2 --node-rank $k --main-addr 127.0.0.1 --main-port \"$2\" \\\n"
						   "    --devices 2 --max-restarts 1 --rdzv-timeout 30 \"$3\" -- \\\n"
						   "    --sleep 3 --fail-rank 3 --fail exit:4 --fail-once &\n"
						   "done\n"
						   "wait %1; s0=$?; wait %2; s1=$?\n"
						   "echo \"statuses: $s0 $s1\"\n",
						   "sh", ltrun, port, model, NULL },
				 (const char *[]){ secret_env(), NULL }, 80, &r),
		     0);
	kill(flood, SIGKILL);
	waitpid(flood, &status, 0);
	cr_expect(strstr(r.out, "statuses: 0 0") != NULL, "the job ends well: %s%s", r.out, r.err);
	cr_expect_eq(count_of(r.out, "bye rank="), 4, "every rank of the restart ends: %s", r.out);
	cr_expect(strstr(r.err, ": 16384 connections from there wait to log in already") != NULL,
		  "%s", r.err);
	cr_expect(strstr(r.err, ": did not log in within 5 s") != NULL, "%s", r.err);
	cr_expect_leq(count_of(r.err, "ltrun: store: "), 20, "a few lines, not hundreds: %s", r.err);
	run_result_free(&r);
}

/* --- the attacker that listens first --- */

/* As nobody: listens on port and answers every connection like a store
 * that never checks anything (the server of before version 2): a
 * challenge, OK to whatever comes, then OK to every request. */
static pid_t start_fake_store(int port)
{
	int p[2];
	pid_t pid;
	char ready;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		uint8_t challenge[6 + 4 + 32] = { LT_STORE_VERSION, LT_STORE_CHALLENGE, 36, 0, 0, 0, 32 };
		uint8_t ok[6] = { LT_STORE_VERSION, LT_STORE_OK }, buf[4096];
		int one = 1, fd;

		become_nobody();
		fd = socket(AF_INET, SOCK_STREAM, 0);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16))
			_exit(2);
		close(p[0]);
		if (write(p[1], "", 1) != 1)
			_exit(2);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			if (send(c, challenge, sizeof(challenge), MSG_NOSIGNAL) > 0)
				while (recv(c, buf, sizeof(buf), 0) > 0)
					if (send(c, ok, sizeof(ok), MSG_NOSIGNAL) < 0)
						break;
			close(c);
		}
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &ready, 1), 1, "the fake store listens");
	close(p[0]);
	return pid;
}

/* The probe's second scenario: a store on node 0's port that holds no
 * token.  Node 1's ranks refuse it at once, naming the address. */
Test(store_security, node_1_refuses_a_store_that_cannot_prove_the_token)
{
	char port[16], want[160];
	struct run_result r;
	pid_t fake;
	int status;

	need_root();
	snprintf(port, sizeof(port), "%d", test_port());
	fake = start_fake_store(test_port());
	cr_assert_eq(run_ltrun((const char *[]){ "--num-nodes", "2", "--node-rank", "1",
						 "--main-addr", "127.0.0.1", "--main-port", port,
						 "--devices", "2", "--rdzv-timeout", "10",
						 build_path("examples/models/hello.so"), NULL },
			       (const char *[]){ secret_env(), NULL }, &r),
		     0);
	kill(fake, SIGKILL);
	waitpid(fake, &status, 0);
	snprintf(want, sizeof(want),
		 "the store at 127.0.0.1:%s could not prove the job's token: another program is listening there",
		 port);
	cr_expect_eq(r.status, 1, "%s", r.err);
	cr_expect(strstr(r.err, want) != NULL, "%s", r.err);
	cr_expect(!strstr(r.out, "bye rank="), "no rank went past the first barrier: %s", r.out);
	run_result_free(&r);
}

/* --- srun from a batch script --- */

/* ltrun in a 2-node batch script starts itself with srun, giving the step
 * a fresh random token in its environment (a fake srun shows it). */
Test(store_security, the_srun_step_gets_a_fresh_token)
{
	char srun[PATH_MAX], script[PATH_MAX + 64], tokens[2][80];
	struct run_result r;
	FILE *f;

	snprintf(srun, sizeof(srun), "%s/srun", tmp);
	f = fopen(srun, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\necho \"token=$LTRUN_STORE_TOKEN\"\n", f);
	fclose(f);
	cr_assert_eq(chmod(srun, 0755), 0);
	snprintf(script, sizeof(script), "PATH=%s:$PATH exec \"$0\" --devices 2 \"$1\"", tmp);
	for (int i = 0; i < 2; i++) {
		const char *p;
		cr_assert_eq(run_command((const char *[]){ "sh", "-c", script, build_path("ltrun"),
							   build_path("examples/models/hello.so"),
							   NULL },
					 (const char *[]){ "SLURM_JOB_ID=77", "SLURM_JOB_NUM_NODES=2",
							   "SLURM_JOB_NODELIST=host-[1-2]",
							   "SLURM_NODEID=0", NULL },
					 20, &r),
			     0);
		cr_expect_eq(r.status, 0, "%s", r.err);
		p = strstr(r.out, "token=");
		cr_assert_not_null(p, "%s%s", r.out, r.err);
		sscanf(p, "token=%79s", tokens[i]);
		cr_expect_eq(strlen(tokens[i]), 64, "%s", tokens[i]);
		cr_expect_eq(strspn(tokens[i], "0123456789abcdef"), 64, "%s", tokens[i]);
		run_result_free(&r);
	}
	cr_expect_str_neq(tokens[0], tokens[1], "a new token for every job");
}

/* --- one node: loopback only --- */

struct background {
	const char *port;
	struct run_result r;
};

static void *run_one_node(void *arg)
{
	struct background *b = arg;

	run_ltrun((const char *[]){ "--main-addr", "localhost", "--main-port", b->port, "--devices",
				    "2", build_path("examples/models/hello.so"), "--", "--sleep",
				    "2", NULL },
		  NULL, &b->r);
	return NULL;
}

/* The local address of the listening socket on port, from /proc/net/tcp
 * or tcp6 ("0100007F" is 127.0.0.1); "" if none yet. */
static void listener_of(int port, char *addr, size_t len)
{
	const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512], local[64], remote[64], state[8];
	unsigned lport;

	addr[0] = '\0';
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %63s %7s", local, &lport, remote,
				   state) == 4 &&
			    (int)lport == port && !strcmp(state, "0A"))
				snprintf(addr, len, "%s", local);
		fclose(f);
	}
}

/* Even when node 0's address is a name that others could reach, one node's
 * store listens on 127.0.0.1 only. */
Test(store_security, one_node_listens_on_loopback_only)
{
	char port[16], addr[64] = "";
	struct background b = { port, { 0 } };
	pthread_t t;

	snprintf(port, sizeof(port), "%d", test_port());
	cr_assert_eq(pthread_create(&t, NULL, run_one_node, &b), 0);
	for (int i = 0; i < 200 && !addr[0]; i++) {
		usleep(20000);
		listener_of(test_port(), addr, sizeof(addr));
	}
	pthread_join(t, NULL);
	cr_expect_str_eq(addr, "0100007F", "the store's listening address (hex, /proc/net/tcp)");
	cr_expect_eq(b.r.status, 0, "%s", b.r.err);
	cr_expect_eq(count_of(b.r.out, "bye rank="), 2, "%s", b.r.out);
	run_result_free(&b.r);
}
