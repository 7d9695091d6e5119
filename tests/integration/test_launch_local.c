/*
 * test_launch_local.c - the agent on a bare node, with real processes: the
 * example model examples/models/hello.c started by `ltrun --devices N`,
 * with both launchers, failures of every kind, restarts, signals, log
 * files, and a check that nothing is left running afterwards.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "run.h"

#define MAX_RANKS 16

/* What the hello lines of one run said. */
struct hellos {
	int count;                  /* hello lines */
	int seen[MAX_RANKS];        /* hello lines per rank */
	int byes;
	long pid[MAX_RANKS];
	int world, restart;
	char main[128];
	bool agree;                 /* same world size and main address everywhere */
};

static void parse_hellos(const char *text, struct hellos *h)
{
	memset(h, 0, sizeof(*h));
	h->agree = true;
	for (const char *p = text; p && (p = strstr(p, "hello rank=")); p++) {
		int rank, world, local, lw, node, nn, restart;
		char main[128];
		long pid;
		if (sscanf(p, "hello rank=%d world=%d local=%d/%d node=%d/%d restart=%d main=%127s pid=%ld",
			   &rank, &world, &local, &lw, &node, &nn, &restart, main, &pid) != 9 ||
		    rank < 0 || rank >= MAX_RANKS)
			continue;
		if (h->count && (world != h->world || strcmp(main, h->main)))
			h->agree = false;
		h->world = world;
		h->restart = restart;
		snprintf(h->main, sizeof(h->main), "%s", main);
		h->seen[rank]++;
		h->pid[rank] = pid;
		h->count++;
	}
	for (const char *p = text; p && (p = strstr(p, "bye rank=")); p++)
		h->byes++;
}

static void expect_gone(const struct hellos *h, int n)
{
	for (int r = 0; r < n; r++)
		if (h->pid[r] > 0)
			cr_expect(kill((pid_t)h->pid[r], 0) == -1 && errno == ESRCH,
				  "rank %d (pid %ld) is still running", r, h->pid[r]);
}

static const char *hello(void)
{
	return build_path("examples/models/hello.so");
}

/* --- every rank starts, meets the others and ends --- */

static const struct { const char *strategy; int devices; } ok_cases[] = {
	{ "ddp", 1 }, { "ddp", 2 }, { "ddp", 3 }, { "ddp", 4 }, { "ddp", 8 },
	{ "ddp_spawn", 4 }, { "ddp_fork", 2 },
};

ParameterizedTestParameters(launch, devices)
{
	return LT_TABLE_PARAMS(ok_cases);
}

ParameterizedTest(size_t *i, launch, devices, .timeout = 60)
{
	char devices[8];
	struct run_result r;
	struct hellos h;

	snprintf(devices, sizeof(devices), "%d", ok_cases[*i].devices);
	cr_assert_eq(run_ltrun((const char *[]){ "--strategy", ok_cases[*i].strategy, "--devices",
						 devices, hello(), "--", "--barriers", "3", NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 0, "%s x%s: status %d, stderr: %s", ok_cases[*i].strategy, devices,
		     r.status, r.err);
	parse_hellos(r.out, &h);
	cr_expect_eq(h.count, ok_cases[*i].devices, "hello lines: %d; stdout: %s", h.count, r.out);
	for (int k = 0; k < ok_cases[*i].devices; k++)
		cr_expect_eq(h.seen[k], 1, "rank %d said hello %d times", k, h.seen[k]);
	cr_expect_eq(h.byes, ok_cases[*i].devices, "every rank passes the barriers: %s", r.out);
	cr_expect(h.agree, "ranks disagree on world size or main address: %s", r.out);
	cr_expect_eq(h.world, ok_cases[*i].devices);
	cr_expect(strstr(r.out, "[rank 0] hello rank=0") != NULL, "lines are prefixed: %s", r.out);
	expect_gone(&h, ok_cases[*i].devices);
	run_result_free(&r);
}

/* --- failures: one report, the failed rank's status, nobody left --- */

static const struct {
	const char *how;
	int status;
	const char *want[3];
} fail_cases[] = {
	{ "exit:3", 3, { "rank 2 ", "exited with status 3", "fails as asked (exit:3)" } },
	{ "signal:SEGV", 128 + SIGSEGV, { "killed by SIGSEGV", "error: killed by SIGSEGV" } },
	{ "signal:ABRT", 128 + SIGABRT, { "killed by SIGABRT", "error: killed by SIGABRT" } },
	{ "fatal", 1, { "exited with status 1", "error: hello: rank 2 failed on purpose" } },
};

ParameterizedTestParameters(launch, failure_report)
{
	return LT_TABLE_PARAMS(fail_cases);
}

ParameterizedTest(size_t *i, launch, failure_report, .timeout = 60)
{
	struct run_result r;
	struct hellos h;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "4", "--term-timeout", "5", hello(),
						 "--", "--fail-rank", "2", "--fail",
						 fail_cases[*i].how, "--sleep", "0.2", NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, fail_cases[*i].status, "%s: status %d; stderr: %s",
		     fail_cases[*i].how, r.status, r.err);
	for (int k = 0; k < 3 && fail_cases[*i].want[k]; k++)
		cr_expect(strstr(r.err, fail_cases[*i].want[k]) != NULL, "%s: no '%s' in: %s",
			  fail_cases[*i].how, fail_cases[*i].want[k], r.err);
	cr_expect(strstr(r.err, "the first rank to fail") != NULL, "%s", r.err);
	parse_hellos(r.out, &h);
	expect_gone(&h, 4);
	run_result_free(&r);
}

Test(launch, restart_after_a_failure, .timeout = 60)
{
	struct run_result r;
	struct hellos h;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", "--max-restarts", "2", hello(),
						 "--", "--fail-rank", "1", "--fail", "exit:5",
						 "--fail-once", NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 0, "status %d; stderr: %s", r.status, r.err);
	cr_expect(strstr(r.err, "restarting every rank (restart 1 of 2)") != NULL, "%s", r.err);
	cr_expect(strstr(r.out, "restart=1") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "bye rank=1") != NULL, "rank 1 finishes after the restart: %s", r.out);
	parse_hellos(r.out, &h);
	expect_gone(&h, 3);
	run_result_free(&r);
}

Test(launch, restarts_run_out, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", "--max-restarts", "1", hello(),
						 "--", "--fail-rank", "0", "--fail", "exit:7", NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 7, "status %d; stderr: %s", r.status, r.err);
	cr_expect(strstr(r.err, "no restarts left (--max-restarts 1)") != NULL, "%s", r.err);
	run_result_free(&r);
}

/* --- killing a rank, or the agent, from outside --- */

struct killer {
	const char *log_dir;
	int rank;       /* the rank to kill, or -1: the agent */
	int sig;
	struct hellos seen;
};

/* Waits for every rank's hello in the log files, then sends the signal. */
static void *kill_when_ready(void *arg)
{
	struct killer *k = arg;

	for (int tries = 0; tries < 400; tries++) {
		char path[600], text[8192] = "";
		struct hellos one;
		int ready = 0;
		for (int r = 0; r < 4; r++) {
			FILE *f;
			snprintf(path, sizeof(path), "%s/rank-%d.out", k->log_dir, r);
			f = fopen(path, "r");
			if (!f)
				continue;
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
			parse_hellos(text, &one);
			if (one.seen[r]) {
				k->seen.pid[r] = one.pid[r];
				ready++;
			}
		}
		if (ready == 4) {
			pid_t target = (pid_t)k->seen.pid[k->rank < 0 ? 0 : k->rank];
			if (k->rank < 0) {
				/* The agent is every rank's parent. */
				char stat[64];
				long ppid = 0;
				FILE *f;
				snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)target);
				f = fopen(stat, "r");
				if (f) {
					cr_assert_eq(fscanf(f, "%*d %*s %*c %ld", &ppid), 1);
					fclose(f);
				}
				target = (pid_t)ppid;
			}
			kill(target, k->sig);
			return NULL;
		}
		usleep(25000);
	}
	return NULL;
}

static void run_and_kill(struct killer *k, struct run_result *r)
{
	char dir[] = "/tmp/ltrun-kill-XXXXXX";
	pthread_t t;

	cr_assert_not_null(mkdtemp(dir));
	k->log_dir = dir;
	cr_assert_eq(pthread_create(&t, NULL, kill_when_ready, k), 0);
	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "4", "--term-timeout", "5",
						 "--log-dir", dir, "--tee", hello(), "--",
						 "--sleep", "30", NULL },
			       NULL, r), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < 4; i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/rank-%d.out", dir, i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/rank-%d.err", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

Test(launch, sigkill_of_one_rank_leaves_nothing_behind, .timeout = 60)
{
	struct killer k = { .rank = 1, .sig = SIGKILL };
	struct run_result r;

	run_and_kill(&k, &r);
	cr_expect_eq(r.status, 128 + SIGKILL, "status %d; stderr: %s", r.status, r.err);
	cr_expect(strstr(r.err, "rank 1 (local 1") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "was killed by SIGKILL") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "ltrun stopped the other 3 ranks") != NULL, "%s", r.err);
	expect_gone(&k.seen, 4);
	run_result_free(&r);
}

Test(launch, sigterm_to_the_agent_is_forwarded, .timeout = 60)
{
	struct killer k = { .rank = -1, .sig = SIGTERM };
	struct run_result r;

	run_and_kill(&k, &r);
	cr_expect_eq(r.status, 128 + SIGTERM, "status %d; stderr: %s", r.status, r.err);
	cr_expect(strstr(r.err, "stopped by SIGTERM") != NULL, "%s", r.err);
	expect_gone(&k.seen, 4);
	run_result_free(&r);
}

/* --- output --- */

Test(launch, log_dir_without_tee, .timeout = 60)
{
	char dir[] = "/tmp/ltrun-logs-XXXXXX", path[600], text[4096];
	struct run_result r;
	size_t n;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", "--log-dir", dir, hello(), NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "hello") == NULL, "without --tee nothing reaches the terminal: %s",
		  r.out);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/rank-%d.out", dir, i);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s is missing", path);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		cr_expect(!strncmp(text, "hello rank=", 11), "%s holds raw lines: %s", path, text);
		unlink(path);
		snprintf(path, sizeof(path), "%s/rank-%d.err", dir, i);
		unlink(path);
	}
	rmdir(dir);
	run_result_free(&r);
}

Test(launch, lines_never_interleave, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "4", hello(), "--", "--barriers",
						 "20", NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	for (const char *p = r.out; *p;) {
		const char *end = strchr(p, '\n');
		cr_assert_not_null(end, "output ends mid-line: %s", p);
		cr_expect(!strncmp(p, "[rank ", 6), "a line without its prefix: %.*s", (int)(end - p), p);
		p = end + 1;
	}
	run_result_free(&r);
}

/* --- two agents on this host, as two nodes: a failure on one stops both --- */

static const char two_agents_sh[] =
	"for k in 0 1; do\n"
	"  \"$1\" --num-nodes 2 --node-rank $k --main-addr 127.0.0.1 --main-port \"$2\" \\\n"
	"    --devices 2 --term-timeout 5 $3 \"$4\" -- --sleep 0.3 --fail-rank 3 --fail exit:4 $5 &\n"
	"done\n"
	"wait %1; s0=$?; wait %2; s1=$?\n"
	"echo \"statuses: $s0 $s1\"\n";

/* Each test process its own port, outside the ephemeral range. */
static void run_two_agents(const char *restarts, const char *once, struct run_result *r)
{
	char ltrun[600], model[600], port[16];

	snprintf(port, sizeof(port), "%d", 20000 + (int)(getpid() % 12000));

	snprintf(ltrun, sizeof(ltrun), "%s", build_path("ltrun"));
	snprintf(model, sizeof(model), "%s", hello());
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_agents_sh, "sh", ltrun, port,
						   restarts, model, once, NULL },
				 NULL, 60, r),
		     0);
}

Test(launch, a_failure_on_one_node_stops_the_other, .timeout = 90)
{
	struct run_result r;

	run_two_agents("", "", &r);
	cr_expect(strstr(r.out, "statuses: 1 4") != NULL, "node 0 ends 1, node 1 with rank 3's 4: %s%s",
		  r.out, r.err);
	cr_expect(strstr(r.err, "ltrun: rank 3 on node 1 exited with status 4: ltrun stopped the 2 ranks of node 0") != NULL,
		  "%s", r.err);
	cr_expect(strstr(r.err, "rank 3 (local 1") != NULL, "%s", r.err);
	run_result_free(&r);
}

Test(launch, both_nodes_restart_together, .timeout = 90)
{
	struct run_result r;
	struct hellos h;

	run_two_agents("--max-restarts=1", "--fail-once", &r);
	cr_expect(strstr(r.out, "statuses: 0 0") != NULL, "%s%s", r.out, r.err);
	parse_hellos(r.out, &h);
	cr_expect_eq(h.byes, 4, "all 4 ranks end after the restart: %s", r.out);
	cr_expect(strstr(r.out, "restart=1") != NULL, "%s", r.out);
	run_result_free(&r);
}

/* --- the file rendezvous: a shared directory instead of a store --- */

Test(launch, file_rendezvous, .timeout = 60)
{
	char dir[] = "/tmp/ltrun-rdzv-XXXXXX", env[64];
	struct run_result r;
	struct hellos h;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(env, sizeof(env), "LTRUN_RDZV_DIR=%s", dir);
	cr_assert_eq(run_ltrun((const char *[]){ "--rdzv", "file", "--devices", "3", hello(), "--",
						 "--barriers", "4", NULL },
			       (const char *[]){ env, NULL }, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	parse_hellos(r.out, &h);
	cr_expect_eq(h.count, 3, "%s", r.out);
	cr_expect_eq(h.byes, 3, "every rank passes the barriers: %s", r.out);
	run_result_free(&r);
	cr_assert_eq(run_command((const char *[]){ "rm", "-rf", dir, NULL }, NULL, 10, &r), 0);
	run_result_free(&r);
}

/* --- bad models --- */

Test(launch, model_without_lt_main_or_abi, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2",
						 build_path("examples/plugins/hostfile_env.so"), NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 1, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "does not say which ltrun ABI it was built for") != NULL, "%s",
		  r.err);
	run_result_free(&r);
}

Test(launch, bad_signal_list, .timeout = 30)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--signals", "INT,BOGUS", "--devices", "2",
						 hello(), NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 2, "%s", r.err);
	cr_expect(strstr(r.err, "'BOGUS' is not a signal name") != NULL, "%s", r.err);
	run_result_free(&r);
}
