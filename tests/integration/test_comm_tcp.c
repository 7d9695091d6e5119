/*
 * test_comm_tcp.c - what the tcp communicator adds to test_comm.c's checks
 * (every collective at 1-5 ranks, a rank killed midway): its listening
 * socket holds against strangers.  Rank 1 of a 2-rank job publishes its
 * address; before rank 0 starts, two strangers connect to it: another
 * user (uid 65534, when the test runs as root) sending garbage, and this
 * user posing as rank 0 with a made-up token.  Both must be closed on,
 * and the job must then form its ring with the real rank 0 and pass every
 * collective.  And a rank that stalls, alive with its connections open,
 * fails the others once --timeout passes without progress, naming it.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

#define DEADLINE_S 120

struct rank_run {
	pthread_t thread;
	const char *argv[3];
	char vars[5][600];
	const char *env[16];
	struct run_result r;
	int started;
};

static void *run_rank(void *arg)
{
	struct rank_run *rr = arg;

	rr->started = run_command(rr->argv, rr->env, DEADLINE_S, &rr->r) == 0;
	return NULL;
}

static void start_rank_with(struct rank_run *rr, int rank, int world, const char *dir,
			    const char *run_id, const char *const *extra)
{
	memset(rr, 0, sizeof(*rr));
	rr->argv[0] = build_path("tests/progs/comm_worker");
	rr->argv[1] = "tcp";
	snprintf(rr->vars[0], sizeof(rr->vars[0]), "RANK=%d", rank);
	snprintf(rr->vars[1], sizeof(rr->vars[1]), "WORLD_SIZE=%d", world);
	snprintf(rr->vars[2], sizeof(rr->vars[2]), "LTRUN_RDZV_DIR=%s", dir);
	snprintf(rr->vars[3], sizeof(rr->vars[3]), "LTRUN_RUN_ID=%s", run_id);
	snprintf(rr->vars[4], sizeof(rr->vars[4]), "COMM_WORKER_QUICK=1");
	for (int i = 0; i < 5; i++)
		rr->env[i] = rr->vars[i];
	for (int i = 0; extra && extra[i] && 5 + i < 15; i++)
		rr->env[5 + i] = extra[i];
	cr_assert_eq(pthread_create(&rr->thread, NULL, run_rank, rr), 0);
}

static void start_rank(struct rank_run *rr, int rank, const char *dir, const char *run_id)
{
	start_rank_with(rr, rank, 2, dir, run_id, NULL);
}

/* Rank 1's published record ("<address> <port> <token>"): its port. */
static int wait_port(const char *dir, const char *run_id)
{
	char path[512], addr[64], tok[80];
	int port = 0;

	snprintf(path, sizeof(path), "%s/%s/r0/world_tcp_1.value", dir, run_id);
	for (int i = 0; i < 600 && !port; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%63s %d %79s", addr, &port, tok) != 3)
				port = 0;
			fclose(f);
		}
		if (!port)
			usleep(50000);
	}
	return port;
}

/* Connects to 127.0.0.1:port and sends len bytes of msg: the socket, or
 * -1 when it cannot connect. */
static int stranger_connect(int port, const void *msg, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Waits (30 s at most) for the other end to close fd: 1 when it did, 0
 * when the connection stayed open or got data. */
static int closed_on(int fd)
{
	struct timeval tv = { .tv_sec = 30 };
	char buf[64];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* A stranger of uid/gid 65534 in a child: it connects and sends msg,
 * writes one byte to `ready`, then waits to be closed on; its exit status
 * is closed_on()'s result, 2 when it could not connect, 3 when it cannot
 * become 65534 (not root). */
static pid_t nobody_stranger(int port, const void *msg, size_t len, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd;
		if (setgid(65534) || setuid(65534)) {
			(void)!write(ready, "x", 1);
			_exit(3);
		}
		fd = stranger_connect(port, msg, len);
		(void)!write(ready, "x", 1);
		_exit(fd < 0 ? 2 : closed_on(fd));
	}
	return pid;
}

Test(comm_tcp, strangers_are_closed_on_and_the_ring_forms, .timeout = DEADLINE_S + 30)
{
	/* a hello's shape (tcp.c): magic, rank and size in network order,
	 * the receiver's 32-byte token, here made up */
	unsigned char posing[48] = { 'l', 't', 'r', 'u', 'n', 't', 'c', '1', 0, 0, 0, 0, 0, 0, 0, 2 };
	static const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
	struct rank_run r0, r1;
	char dir[64], run_id[64];
	int port, posed, posing_fd, ready[2], status;
	pid_t pid;
	char ch;

	for (size_t i = 16; i < sizeof(posing); i++)
		posing[i] = (unsigned char)(i * 37);
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "ltrun-test-tcp"), 0);
	snprintf(run_id, sizeof(run_id), "tcp%d", (int)getpid());
	cr_assert_eq(chmod(dir, 0755), 0);
	start_rank(&r1, 1, dir, run_id);
	port = wait_port(dir, run_id);
	cr_assert_gt(port, 0, "rank 1 published no address under %s", dir);
	/* queued on rank 1's listening socket before rank 0's connection */
	cr_assert_eq(pipe(ready), 0);
	pid = nobody_stranger(port, garbage, sizeof(garbage) - 1, ready[1]);
	cr_assert_gt(pid, 0);
	cr_assert_eq(read(ready[0], &ch, 1), 1);
	posing_fd = stranger_connect(port, posing, sizeof(posing));
	cr_assert_geq(posing_fd, 0, "cannot connect to rank 1's port %d", port);
	/* now the real rank 0: rank 1 accepts only once it has connected to
	 * it, the strangers first (they are first in its queue) */
	start_rank(&r0, 0, dir, run_id);
	posed = closed_on(posing_fd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	pthread_join(r0.thread, NULL);
	pthread_join(r1.thread, NULL);
	cr_assert(r0.started && r1.started, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r0.r.status, 0, "rank 0 exited %d:\n%s", r0.r.status, r0.r.err);
	cr_expect_eq(r1.r.status, 0, "rank 1 exited %d:\n%s", r1.r.status, r1.r.err);
	cr_expect_eq(posed, 1, "a connection posing as rank 0 with a made-up token was not closed");
	cr_expect(WIFEXITED(status), "the stranger of uid 65534 did not exit");
	if (WEXITSTATUS(status) == 3)
		cr_log_warn("not root: the stranger of another uid was not tried");
	else
		cr_expect_eq(WEXITSTATUS(status), 1,
			     "another user's connection to rank 1 was not closed (status %d)",
			     WEXITSTATUS(status));
	run_result_free(&r0.r);
	run_result_free(&r1.r);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		cr_expect_eq(system(cmd), 0);
	}
}

/* Rank 2 of 3 stalls before its fifth collective for 40 s; with a 2 s
 * timeout ranks 0 and 1 must fail within seconds, one line each, rank 0
 * (which waits for rank 2's data) naming it. */
Test(comm_tcp, a_stalled_rank_fails_the_others_at_the_timeout, .timeout = DEADLINE_S + 30)
{
	static const char *const extra[] = { "COMM_WORKER_DIE_AT=5", "COMM_WORKER_DIE_RANK=2",
					     "COMM_WORKER_STALL_S=40", "COMM_WORKER_TIMEOUT_MS=2000",
					     NULL };
	struct rank_run rr[3];
	char dir[64], run_id[64], cmd[128];
	double start = run_clock_s(), took[2];

	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "ltrun-test-tcp"), 0);
	snprintf(run_id, sizeof(run_id), "tcps%d", (int)getpid());
	for (int r = 0; r < 3; r++)
		start_rank_with(&rr[r], r, 3, dir, run_id, extra);
	for (int r = 0; r < 2; r++) {
		pthread_join(rr[r].thread, NULL);
		took[r] = run_clock_s() - start;
	}
	pthread_join(rr[2].thread, NULL);
	for (int r = 0; r < 2; r++) {
		cr_assert(rr[r].started, "cannot start comm_worker: build the tests first");
		cr_expect_eq(rr[r].r.status, 1, "rank %d exited %d:\n%s", r, rr[r].r.status, rr[r].r.err);
		cr_expect_eq(count_lines(rr[r].r.err), 1, "rank %d: one line expected:\n%s", r,
			     rr[r].r.err);
		cr_expect_lt(took[r], 30, "rank %d took %.1f s to fail: the 2 s timeout did not end it",
			     r, took[r]);
	}
	cr_expect(strstr(rr[0].r.err, "rank 2") && strstr(rr[0].r.err, "timeout"),
		  "rank 0's line should name rank 2 and the timeout:\n%s", rr[0].r.err);
	for (int r = 0; r < 3; r++)
		run_result_free(&rr[r].r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}
