/*
 * test_launch_hangs.c - the agent against ranks that hang or misbehave,
 * with real processes: a terminal with 'stty tostop' (a pseudo-terminal),
 * ranks that read stdin, ctrl-Z and fg, a rank stopped by someone else, a
 * rank stuck in a loop after another failed, a rank that returns early, a
 * descendant that leaves the ranks' group, and what killed agents left in
 * /dev/shm and $TMPDIR.  The ranks run tests/models/unruly.c.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

static const char *unruly(void)
{
	return build_path("tests/models/unruly.so");
}

/* The pid a "<what> rank=R pid=P" line of out gives, or -1. */
static long pid_of(const char *out, const char *what, int rank)
{
	char key[64];
	const char *p;
	long pid;

	snprintf(key, sizeof(key), "%s rank=%d pid=", what, rank);
	p = strstr(out, key);
	return p && sscanf(p + strlen(key), "%ld", &pid) == 1 ? pid : -1;
}

/* The state letter of /proc/PID/stat ('T' stopped), or '?'. */
static char state_of(long pid)
{
	char path[64], comm[64], state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	if (fscanf(f, "%*d (%63[^)]) %c", comm, &state) != 2)
		state = '?';
	fclose(f);
	return state;
}

/* Waits up to timeout_s for pid's state to be `want`. */
static bool wait_state(long pid, char want, double timeout_s)
{
	double end = run_clock_s() + timeout_s;

	while (state_of(pid) != want) {
		if (run_clock_s() > end)
			return false;
		usleep(20000);
	}
	return true;
}

/* --- a terminal with 'stty tostop' --- */

struct pty_run {
	int status;     /* exit status, 128 + signal; 128 + 9 after the timeout */
	char out[65536]; /* what reached the terminal */
	double seconds;
};

/* In the forkpty child: 'stty tostop', then ltrun, as the foreground job
 * or (background) in a process group of its own that this shell waits
 * for, as 'ltrun ... &' then 'wait' would. */
static __attribute__((noreturn)) void pty_child(const char *const *args, bool background)
{
	char *argv[32];
	struct termios t;
	int n = 0, status;
	pid_t job;

	if (tcgetattr(STDIN_FILENO, &t) == 0) {
		t.c_lflag |= TOSTOP;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	argv[n++] = (char *)build_path("ltrun");
	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (!background) {
		execv(argv[0], argv);
		_exit(127);
	}
	job = fork();
	if (job == 0) {
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	setpgid(job, job);
	if (waitpid(job, &status, 0) < 0)
		_exit(126);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void run_on_pty(const char *const *args, bool background, int timeout_s,
		       struct pty_run *r)
{
	double start = run_clock_s(), end = start + timeout_s;
	size_t used = 0;
	int master, status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0)
		cr_skip_test("no pseudo-terminal to run ltrun on (forkpty: %s)", strerror(errno));
	if (pid == 0)
		pty_child(args, background);
	for (;;) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		int left = (int)((end - run_clock_s()) * 1000);
		ssize_t got;
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		got = read(master, r->out + used, sizeof(r->out) - 1 - used);
		if (got <= 0)
			break; /* EIO: every holder of the terminal is gone */
		used += (size_t)got;
		if (used == sizeof(r->out) - 1)
			used = 0; /* keep the end */
	}
	r->out[used] = '\0';
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (run_clock_s() > end) {
			/* The session ends: its jobs get SIGHUP (and PDEATHSIG). */
			kill(pid, SIGKILL);
			kill(-pid, SIGKILL);
		}
		usleep(20000);
	}
	close(master);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->seconds = run_clock_s() - start;
}

Test(hangs, progress_bar_under_tostop, .timeout = 60)
{
	struct pty_run r;

	/* Rank 0 draws its bar on the terminal from the ranks' group. */
	run_on_pty((const char *[]){ "--devices", "2", "--max-epochs", "20", "--rdzv-timeout", "10",
				     build_path("tests/models/linreg.so"), NULL },
		   false, 25, &r);
	cr_expect_eq(r.status, 0, "status %d after %.1f s; terminal: %s", r.status, r.seconds, r.out);
	cr_expect(strstr(r.out, "step 40/40") != NULL, "the bar reached the end: %s", r.out);
}

Test(hangs, background_job_under_tostop, .timeout = 60)
{
	struct pty_run r;

	/* The agent relays the ranks' lines from a background job. */
	run_on_pty((const char *[]){ "--devices", "2", unruly(), "--", "--barriers", "2", NULL },
		   true, 25, &r);
	cr_expect_eq(r.status, 0, "status %d after %.1f s; terminal: %s", r.status, r.seconds, r.out);
	cr_expect(strstr(r.out, "[rank 1] bye rank=1") != NULL, "%s", r.out);
}

Test(hangs, ranks_reading_stdin_on_a_terminal, .timeout = 60)
{
	struct pty_run r;

	run_on_pty((const char *[]){ "--devices", "2", unruly(), "--", "--read-stdin", NULL }, false,
		   25, &r);
	cr_expect_eq(r.status, 0, "status %d after %.1f s; terminal: %s", r.status, r.seconds, r.out);
	cr_expect(strstr(r.out, "stdin rank=0 bytes=0\r\n") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "stdin rank=1 bytes=0\r\n") != NULL, "%s", r.out);
}

Test(hangs, ranks_read_dev_null_not_the_agents_stdin, .timeout = 60)
{
	struct run_result r;
	struct run_job *j;
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "twelve bytes", 12), 12);
	close(p[1]);
	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", unruly(), "--",
					"--read-stdin", NULL },
		      NULL, p[0]);
	close(p[0]);
	cr_assert_not_null(j);
	run_job_finish(j, 30, &r);
	cr_expect_eq(r.status, 0, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.out, "stdin rank=0 bytes=0\n") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "stdin rank=1 bytes=0\n") != NULL, "%s", r.out);
	run_result_free(&r);
}

/* --- job control --- */

Test(hangs, ctrl_z_stops_the_ranks_and_fg_resumes_them, .timeout = 60)
{
	struct run_result r;
	struct run_job *j;
	long rank[2];
	pid_t agent;

	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", unruly(), "--",
					"--sleep", "1.5", NULL },
		      NULL, -1);
	cr_assert_not_null(j);
	agent = run_job_pid(j);
	cr_assert(run_job_wait_for(j, "unruly rank=1", 20000) &&
		  run_job_wait_for(j, "unruly rank=0", 5000), "%s", run_job_out(j));
	for (int i = 0; i < 2; i++)
		rank[i] = pid_of(run_job_out(j), "unruly", i);
	kill(agent, SIGTSTP);
	cr_expect(wait_state(agent, 'T', 5), "the agent stops: state %c", state_of(agent));
	for (int i = 0; i < 2; i++)
		cr_expect(wait_state(rank[i], 'T', 5), "rank %d stops with it: state %c", i,
			  state_of(rank[i]));
	usleep(2000000); /* past their sleep: stopped, they do not end */
	for (int i = 0; i < 2; i++)
		cr_expect_eq(state_of(rank[i]), 'T', "rank %d is still stopped", i);
	kill(agent, SIGCONT);
	run_job_finish(j, 30, &r);
	cr_expect_eq(r.status, 0, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.out, "bye rank=0") && strstr(r.out, "bye rank=1"), "%s", r.out);
	cr_expect(strstr(r.err, "was stopped by") == NULL, "ctrl-Z is no failure: %s", r.err);
	run_result_free(&r);
}

Test(hangs, a_rank_stopped_by_someone_else, .timeout = 60)
{
	struct run_result r;
	struct run_job *j;
	long rank1;

	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", "--rdzv-timeout", "2",
					unruly(), "--", "--sleep", "0.5", NULL },
		      NULL, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "unruly rank=1", 20000), "%s", run_job_out(j));
	rank1 = pid_of(run_job_out(j), "unruly", 1);
	kill((pid_t)rank1, SIGSTOP);
	run_job_finish(j, 30, &r);
	cr_expect_eq(r.status, 128 + SIGSTOP, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "rank 1 (pid ") && strstr(r.err, "was stopped by SIGSTOP; the others wait for it"),
		  "said at once: %s", r.err);
	cr_expect(strstr(r.err, "rank 1 (local 1, pid ") &&
		  strstr(r.err, "was stopped by SIGSTOP and not continued within 2 s (--rdzv-timeout)"),
		  "the report names it: %s", r.err);
	cr_expect(kill((pid_t)rank1, 0) == -1 && errno == ESRCH, "rank 1 is gone");
	run_result_free(&r);
}

Test(hangs, ctrl_c_ends_a_stopped_rank_at_once, .timeout = 60)
{
	struct run_result r;
	struct run_job *j;
	double sent, took;
	long rank1;

	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", unruly(), "--",
					"--sleep", "30", NULL },
		      NULL, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "unruly rank=1", 20000), "%s", run_job_out(j));
	rank1 = pid_of(run_job_out(j), "unruly", 1);
	kill((pid_t)rank1, SIGSTOP);
	cr_assert(wait_state(rank1, 'T', 5));
	kill(run_job_pid(j), SIGINT);
	sent = run_clock_s();
	run_job_finish(j, 40, &r);
	took = run_clock_s() - sent;
	cr_expect_eq(r.status, 128 + SIGINT, "status %d; %s", r.status, r.err);
	cr_expect(took < 10, "the stopped rank got SIGCONT after SIGINT: %.1f s, not --term-timeout's 30",
		  took);
	run_result_free(&r);
}

/* --- teardown --- */

Test(hangs, teardown_after_a_failure_is_short, .timeout = 60)
{
	struct run_result r;
	double start = run_clock_s(), took;

	/* Rank 1 ignores SIGTERM in a loop; rank 2 fails. */
	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", unruly(), "--", "--sleep", "0.3",
						 "--stubborn", "1", "--fail", "2", NULL },
			       NULL, &r), 0);
	took = run_clock_s() - start;
	cr_expect_eq(r.status, 3, "status %d; %s", r.status, r.err);
	cr_expect(strstr(r.err, "rank 2 (local 2") != NULL, "%s", r.err);
	cr_expect(took < 12, "ended %.1f s after the start, not after --term-timeout (30 s)", took);
	run_result_free(&r);
}

Test(hangs, the_users_stop_signal_keeps_term_timeout, .timeout = 60)
{
	struct run_result r;
	struct run_job *j;
	double sent, took;

	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", "--term-timeout", "5",
					unruly(), "--", "--stubborn", "1", NULL },
		      NULL, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "stubborn rank=1", 20000), "%s", run_job_out(j));
	kill(run_job_pid(j), SIGTERM);
	sent = run_clock_s();
	run_job_finish(j, 30, &r);
	took = run_clock_s() - sent;
	cr_expect_eq(r.status, 128 + SIGTERM, "status %d; %s", r.status, r.err);
	cr_expect(took > 4.5, "rank 1 had its --term-timeout of 5 s: %.1f s", took);
	run_result_free(&r);
}

Test(hangs, a_rank_that_returns_early_is_named, .timeout = 60)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", "--rdzv-timeout", "3", unruly(),
						 "--", "--leave", "2", "--barriers", "2", NULL },
			       NULL, &r), 0);
	cr_expect_neq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.err, "rank 2 (local 2, pid ") != NULL &&
		  strstr(r.err, "exited with status 0 at ") != NULL &&
		  strstr(r.err, "before the others") != NULL,
		  "the report names rank 2: %s", r.err);
	run_result_free(&r);
}

/* The others do not wait --rdzv-timeout at a barrier the leaver never
 * reaches: they see it left, and say so. */
Test(hangs, the_others_stop_waiting_for_a_rank_that_left, .timeout = 90)
{
	struct run_result r;
	double start = run_clock_s(), took;

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "3", "--rdzv-timeout", "120", unruly(),
						 "--", "--leave", "2", "--barriers", "2", NULL },
			       NULL, &r), 0);
	took = run_clock_s() - start;
	cr_expect_neq(r.status, 0, "%s", r.err);
	cr_expect(took < 30, "ended after %.1f s, not at --rdzv-timeout (120 s)", took);
	cr_expect(strstr(r.err, "rank 2 left the job (its model returned) before this barrier") != NULL,
		  "the waiting ranks name rank 2: %s", r.err);
	run_result_free(&r);
}

Test(hangs, a_descendant_that_calls_setsid_is_ended, .timeout = 60)
{
	struct run_result r;
	long orphan[2];

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", unruly(), "--", "--orphan",
						 NULL },
			       NULL, &r), 0);
	cr_expect_eq(r.status, 0, "status %d; %s", r.status, r.err);
	for (int i = 0; i < 2; i++) {
		orphan[i] = pid_of(r.out, "orphan", i);
		cr_expect_gt(orphan[i], 0, "%s", r.out);
	}
	for (int i = 0; i < 2; i++)
		if (orphan[i] > 0) {
			bool gone = kill((pid_t)orphan[i], 0) == -1 && errno == ESRCH;
			cr_expect(gone, "rank %d's setsid child (pid %ld) outlived the job", i,
				  orphan[i]);
			if (!gone)
				kill((pid_t)orphan[i], SIGKILL);
		}
	run_result_free(&r);
}

/* --- what killed agents left --- */

static unsigned long pid_namespace(void)
{
	struct stat st;

	cr_assert_eq(stat("/proc/self/ns/pid", &st), 0);
	return (unsigned long)st.st_ino;
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/* Creates path as user nobody (65534), through setpriv: a file or (dir)
 * a directory. */
static void create_as_nobody(const char *path, bool dir)
{
	struct run_result r;

	cr_assert_eq(run_command((const char *[]){ "setpriv", "--reuid=65534", "--regid=65534",
						   "--clear-groups", dir ? "mkdir" : "touch", path,
						   NULL },
				 NULL, 10, &r),
		     0);
	cr_assert_eq(r.status, 0, "setpriv %s: %s", path, r.err);
	run_result_free(&r);
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

Test(hangs, stale_segments_and_run_dirs_are_removed, .timeout = 60)
{
	char tmp[] = "/tmp/ltrun-stale-XXXXXX", env[64], shm[4][128], dirs[4][128], path[300];
	unsigned long ns = pid_namespace();
	long dead = (long)dead_pid(), live = (long)getpid();
	struct run_result r;

	cr_assert_not_null(mkdtemp(tmp));
	cr_assert_eq(chmod(tmp, 01777), 0);
	snprintf(env, sizeof(env), "TMPDIR=%s", tmp);
	/* A dead owner's, a live one's, another user's, and not a tag. */
	snprintf(shm[0], sizeof(shm[0]), "/dev/shm/ltrun-%016lx-world-%ld.%lu-0", (unsigned long)live, dead, ns);
	snprintf(shm[1], sizeof(shm[1]), "/dev/shm/ltrun-%016lx-world-%ld.%lu-0", (unsigned long)live, live, ns);
	snprintf(shm[2], sizeof(shm[2]), "/dev/shm/ltrun-%016lx-world-%ld.%lu-1", (unsigned long)live, dead, ns);
	snprintf(shm[3], sizeof(shm[3]), "/dev/shm/ltrun-%016lx-world-%ld-2", (unsigned long)live, dead);
	snprintf(dirs[0], sizeof(dirs[0]), "%s/ltrun-%016lx-%ld.%lu", tmp, (unsigned long)live, dead, ns);
	snprintf(dirs[1], sizeof(dirs[1]), "%s/ltrun-%016lx-%ld.%lu", tmp, (unsigned long)live, live, ns);
	snprintf(dirs[2], sizeof(dirs[2]), "%s/ltrun-%016lx-%ld.%lu", tmp, (unsigned long)live + 1, dead, ns);
	/* A link to a directory that is not the run's: neither followed nor emptied. */
	snprintf(dirs[3], sizeof(dirs[3]), "%s/ltrun-%016lx-%ld.%lu", tmp, (unsigned long)live + 2, dead, ns);
	touch(shm[0]);
	touch(shm[1]);
	create_as_nobody(shm[2], false);
	touch(shm[3]);
	cr_assert_eq(mkdir(dirs[0], 0700), 0);
	snprintf(path, sizeof(path), "%s/error-0.json", dirs[0]);
	touch(path);
	cr_assert_eq(mkdir(dirs[1], 0700), 0);
	create_as_nobody(dirs[2], true);
	snprintf(path, sizeof(path), "%s/keep", tmp);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/keep/error-0.json", tmp);
	touch(path);
	snprintf(path, sizeof(path), "%s/keep", tmp);
	cr_assert_eq(symlink(path, dirs[3]), 0);

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "2", unruly(), NULL },
			       (const char *[]){ env, NULL }, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(!exists(shm[0]), "%s (owner gone) is removed", shm[0]);
	cr_expect(exists(shm[1]), "%s (owner alive) is kept", shm[1]);
	cr_expect(exists(shm[2]), "%s (another user's) is kept", shm[2]);
	cr_expect(exists(shm[3]), "%s (no owner tag) is kept", shm[3]);
	cr_expect(!exists(dirs[0]), "%s (owner gone) is removed", dirs[0]);
	cr_expect(exists(dirs[1]), "%s (owner alive) is kept", dirs[1]);
	cr_expect(exists(dirs[2]), "%s (another user's) is kept", dirs[2]);
	snprintf(path, sizeof(path), "%s/keep/error-0.json", tmp);
	cr_expect(exists(path), "a link's target is never entered");
	run_result_free(&r);

	for (int i = 0; i < 4; i++)
		unlink(shm[i]);
	cr_assert_eq(run_command((const char *[]){ "rm", "-rf", tmp, NULL }, NULL, 10, &r), 0);
	run_result_free(&r);
}

/* The name of the one ltrun-* entry of dir into name, or false. */
static bool run_dir_in(const char *dir, char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "ltrun-", 6) && n++ == 0)
			snprintf(name, len, "%s/%s", dir, e->d_name);
	closedir(d);
	return n == 1;
}

Test(hangs, a_killed_agents_run_dir_goes_at_the_next_start, .timeout = 60)
{
	char tmp[] = "/tmp/ltrun-killed-XXXXXX", env[64], left[300];
	const char *const envs[] = { env, NULL };
	struct run_result r;
	struct run_job *j;

	cr_assert_not_null(mkdtemp(tmp));
	snprintf(env, sizeof(env), "TMPDIR=%s", tmp);
	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", unruly(), "--",
					"--sleep", "30", NULL },
		      envs, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "unruly rank=1", 20000), "%s", run_job_out(j));
	kill(run_job_pid(j), SIGKILL);
	run_job_finish(j, 30, &r);
	run_result_free(&r);
	cr_assert(run_dir_in(tmp, left, sizeof(left)), "the killed agent left its run directory");

	cr_assert_eq(run_ltrun((const char *[]){ "--devices", "1", unruly(), NULL }, envs, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(!exists(left), "%s is removed at the next start", left);
	run_result_free(&r);
	cr_assert_eq(run_command((const char *[]){ "rm", "-rf", tmp, NULL }, NULL, 10, &r), 0);
	run_result_free(&r);
}
