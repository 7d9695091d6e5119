/*
 * test_comm.c - the communicators between real processes: N comm_worker
 * ranks (tests/progs/comm_worker.c) per backend and world size, meeting
 * through the file rendezvous in a fresh directory under a unique run id,
 * each checking every collective; a rank killed in the middle of the
 * collectives, after which the others must fail with a message naming it
 * (not hang); and lt_shm_remove_job() clearing a crashed job's segments.
 * Each rank runs through run_command() on its own thread, with a deadline.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "params.h"
#include "core/owner.h"
#include "run.h"
#include "comm/comm.h"

#define MAX_RANKS 8
#define DEADLINE_S 120

/* The backends under test that every build has (gloo and mpi have
 * suites of their own, test_comm_gloo.c and test_mpi.c). */
static const char *const backends[] = { "shm", "tcp" };

struct rank_run {
	pthread_t thread;
	const char *argv[3];
	const char *env[12];
	char vars[8][600];
	struct run_result r;
	int started;
};

struct group {
	int n;
	char dir[64], run_id[64];
	struct rank_run rank[MAX_RANKS];
};

static void *run_rank(void *arg)
{
	struct rank_run *rr = arg;

	rr->started = run_command(rr->argv, rr->env, DEADLINE_S, &rr->r) == 0;
	return NULL;
}

/* Runs ranks 0..started-1 of a group of n workers of backend, with extra
 * environment (NULL-terminated, at most 4 entries), and waits for them. */
static void run_group(struct group *g, const char *backend, int n, int started,
		      const char *const *extra)
{
	static int serial;
	const char *worker = build_path("tests/progs/comm_worker");

	cr_assert_leq(started, MAX_RANKS);
	memset(g, 0, sizeof(*g));
	g->n = started;
	snprintf(g->dir, sizeof(g->dir), "/tmp/ltrun-test-comm-XXXXXX");
	cr_assert_not_null(mkdtemp(g->dir));
	snprintf(g->run_id, sizeof(g->run_id), "tc%d-%d", (int)getpid(), serial++);
	for (int r = 0; r < started; r++) {
		struct rank_run *rr = &g->rank[r];
		int v = 0;
		rr->argv[0] = worker;
		rr->argv[1] = backend;
		snprintf(rr->vars[v++], sizeof(rr->vars[0]), "RANK=%d", r);
		snprintf(rr->vars[v++], sizeof(rr->vars[0]), "WORLD_SIZE=%d", n);
		snprintf(rr->vars[v++], sizeof(rr->vars[0]), "LTRUN_RDZV_DIR=%s", g->dir);
		snprintf(rr->vars[v++], sizeof(rr->vars[0]), "LTRUN_RUN_ID=%s", g->run_id);
		for (int i = 0; i < v; i++)
			rr->env[i] = rr->vars[i];
		for (int i = 0; extra && extra[i]; i++)
			rr->env[v++] = extra[i];
		cr_assert_eq(pthread_create(&rr->thread, NULL, run_rank, rr), 0);
	}
	for (int r = 0; r < started; r++) {
		pthread_join(g->rank[r].thread, NULL);
		cr_assert(g->rank[r].started, "rank %d: cannot start %s", r, worker);
	}
}

static void free_group(struct group *g)
{
	char cmd[128];

	for (int r = 0; r < g->n; r++)
		run_result_free(&g->rank[r].r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g->dir);
	cr_expect_eq(system(cmd), 0);
}

/* No segment of the job is left in /dev/shm. */
static void expect_no_segments(const struct group *g)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ls /dev/shm | grep -q 'ltrun-%s-'", g->run_id);
	cr_expect_neq(system(cmd), 0, "segments of run %s left in /dev/shm", g->run_id);
}

/* ------------------------------------------------------------ every op */

struct size_case {
	int backend; /* index into backends */
	int n;
};

static const struct size_case size_cases[] = {
	{ 0, 1 }, { 0, 2 }, { 0, 3 }, { 0, 4 }, { 0, 5 },
	{ 1, 1 }, { 1, 2 }, { 1, 3 }, { 1, 4 }, { 1, 5 },
};

ParameterizedTestParameters(comm, every_collective)
{
	return LT_TABLE_PARAMS(size_cases);
}

ParameterizedTest(size_t *idx, comm, every_collective, .timeout = DEADLINE_S + 30)
{
	const struct size_case *c = &size_cases[*idx];
	struct group g;

	run_group(&g, backends[c->backend], c->n, c->n, NULL);
	for (int r = 0; r < c->n; r++)
		cr_expect_eq(g.rank[r].r.status, 0, "%s, %d ranks: rank %d exited %d:\n%s",
			     backends[c->backend], c->n, r, g.rank[r].r.status, g.rank[r].r.err);
	expect_no_segments(&g);
	free_group(&g);
}

/* ------------------------------------------------------------ a rank dies */

ParameterizedTestParameters(comm, peer_killed_mid_collective)
{
	return LT_TABLE_PARAMS(backends);
}

/* Rank 2 of 3 kills itself before collective 40 (one of 2^20+3 f32
 * elements); the other two are then waiting in that collective. */
ParameterizedTest(size_t *idx, comm, peer_killed_mid_collective, .timeout = 60)
{
	static const char *const extra[] = { "COMM_WORKER_DIE_AT=40", "COMM_WORKER_DIE_RANK=2",
					     "COMM_WORKER_TIMEOUT_MS=30000", NULL };
	struct group g;

	run_group(&g, backends[*idx], 3, 3, extra);
	cr_expect_eq(g.rank[2].r.status, 128 + 9, "rank 2 should have killed itself: %d\n%s",
		     g.rank[2].r.status, g.rank[2].r.err);
	for (int r = 0; r < 2; r++) {
		cr_expect_eq(g.rank[r].r.status, 1, "rank %d exited %d:\n%s", r,
			     g.rank[r].r.status, g.rank[r].r.err);
		cr_expect(strstr(g.rank[r].r.err, "rank 2") != NULL,
			  "rank %d's message should name rank 2:\n%s", r, g.rank[r].r.err);
		cr_expect_eq(count_lines(g.rank[r].r.err), 1, "rank %d: one line expected:\n%s", r,
			     g.rank[r].r.err);
	}
	free_group(&g);
}

/* A group of 2 where only rank 0 runs: rank 1 never attaches, so rank 0's
 * open (a collective: no member returns before all have mapped the
 * segment) times out naming it, and rank 0 removes the segment nobody else
 * mapped. */
Test(comm, timeout_names_missing_rank, .timeout = 60)
{
	static const char *const extra[] = { "COMM_WORKER_TIMEOUT_MS=1000", NULL };
	const char *err;
	struct group g;

	run_group(&g, "shm", 2, 1, extra);
	err = g.rank[0].r.err;
	cr_expect_eq(g.rank[0].r.status, 1, "rank 0 exited %d:\n%s", g.rank[0].r.status, err);
	cr_expect(strstr(err, "timed out") && strstr(err, "rank 1") && strstr(err, "never attached"),
		  "the message should name rank 1 and the timeout:\n%s", err);
	cr_expect(strstr(err, "shm open") != NULL, "the open should be what timed out:\n%s", err);
	expect_no_segments(&g);
	free_group(&g);
}

/* ------------------------------------------------------------ cleanup */

Test(comm, remove_job_segments)
{
	char me[LT_OWNER_TAG_MAX], dead[LT_OWNER_TAG_MAX], job[64], path[200];
	char gone[128], live[128], other[128];
	const char *ns;
	struct stat st;
	pid_t child;
	int fd;

	/* an owner that has exited, and this live one, in this pid namespace */
	lt_owner_tag(me, sizeof(me));
	ns = strchr(me, '.');
	cr_assert_not_null(ns, "%s", me);
	child = fork();
	if (child == 0)
		_exit(0);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	snprintf(dead, sizeof(dead), "%d%s", (int)child, ns);
	snprintf(job, sizeof(job), "rmtest%d", (int)getpid());
	snprintf(gone, sizeof(gone), "/ltrun-%s-world-%s-1", job, dead);
	snprintf(live, sizeof(live), "/ltrun-%s-world-%s-1", job, me);
	snprintf(other, sizeof(other), "/ltrun-%sx-world-%s-1", job, dead);
	for (int i = 0; i < 3; i++) {
		fd = shm_open(i == 0 ? gone : i == 1 ? live : other, O_CREAT | O_EXCL | O_RDWR, 0600);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	lt_shm_remove_job(job);
	snprintf(path, sizeof(path), "/dev/shm%s", gone);
	cr_expect_neq(stat(path, &st), 0, "%s (its creator is gone) is still there", path);
	snprintf(path, sizeof(path), "/dev/shm%s", live);
	cr_expect_eq(stat(path, &st), 0,
		     "%s (a live creator's: another node's, sharing /dev/shm) was removed", path);
	snprintf(path, sizeof(path), "/dev/shm%s", other);
	cr_expect_eq(stat(path, &st), 0, "%s (another job's) was removed", path);
	shm_unlink(gone);
	shm_unlink(live);
	shm_unlink(other);
}
