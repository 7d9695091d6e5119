/*
 * run.c - spawning ltrun (and the real launchers around it) for the
 * integration tests: posix_spawn with both output pipes drained through
 * poll(), so a chatty child never blocks.
 */
#include "run.h"
#include "core/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64
#define MAX_ENV 64

const char *build_path(const char *rel)
{
	static char buf[8][512];
	static int next;
	const char *dir = getenv("LTRUN_BUILD");
	char *p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir && *dir ? dir : "build/check", rel);
	return p;
}

/* PMIx (under mpirun and srun --mpi=pmix) leaves allocations at exit that
 * are its own; tests/lsan.supp names them. */
static char *lsan_options(void)
{
	static char buf[600];
	char cwd[512];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "LSAN_OPTIONS=suppressions=%s/tests/lsan.supp:print_suppressions=0",
			 getcwd(cwd, sizeof(cwd)) ? cwd : ".");
	return buf;
}

/* Jobs of several nodes need a secret (SECURITY in ltrun(1)): the tests'
 * own file in the build tree, made on first use, never the user's
 * ~/.config; unless the test's env names a secret file or a HOME. */
static char *secret_file(const char *const *env)
{
	/* Per thread, and not through build_path(): tests start processes
	 * from several threads at once, and build_path()'s few buffers hold
	 * their argv[0]s. */
	static __thread char buf[1200];
	char cwd[512];
	const char *dir = getenv("LTRUN_BUILD");

	if (!dir || !*dir)
		dir = "build/check";
	for (; env && *env; env++)
		if (!strncmp(*env, "LTRUN_SECRET_FILE=", 18) || !strncmp(*env, "HOME=", 5))
			return NULL;
	snprintf(buf, sizeof(buf), "LTRUN_SECRET_FILE=%s%s%s/tests/store-secret",
		 dir[0] == '/' ? "" : getcwd(cwd, sizeof(cwd)) ? cwd : ".",
		 dir[0] == '/' ? "" : "/", dir);
	return buf;
}

struct sink {
	char *data;
	size_t len, cap;
};

static int sink_read(int fd, struct sink *s)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : 0;
	if (s->len + (size_t)n + 1 > s->cap) {
		size_t cap = (s->cap ? s->cap * 2 : 8192) + (size_t)n;
		char *grown = realloc(s->data, cap);
		if (!grown)
			return 0;
		s->data = grown;
		s->cap = cap;
	}
	memcpy(s->data + s->len, chunk, (size_t)n);
	s->len += (size_t)n;
	s->data[s->len] = '\0';
	return 1;
}

static char *sink_take(struct sink *s)
{
	return s->data ? s->data : strdup("");
}

int run_ltrun(const char *const *args, const char *const *env, struct run_result *r)
{
	char *argv[MAX_ARGS + 2], *envp[MAX_ENV + 5];
	int out[2], err[2], n = 0, m = 0, status;
	posix_spawn_file_actions_t fa;
	struct sink so = { 0 }, se = { 0 };
	struct pollfd pfd[2];
	pid_t pid;

	argv[n++] = (char *)build_path("ltrun");
	while (args && *args && n < MAX_ARGS + 1)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	envp[m++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	envp[m++] = "ASAN_OPTIONS=exitcode=99:detect_leaks=1";
	envp[m++] = lsan_options();
	envp[m++] = "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1";
	if (secret_file(env))
		envp[m++] = secret_file(env);
	while (env && *env && m < MAX_ENV + 4)
		envp[m++] = (char *)*env++;
	envp[m] = NULL;

	if (pipe(out) || pipe(err))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	posix_spawn_file_actions_addclose(&fa, err[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	pfd[0] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = err[0], .events = POLLIN };
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		if (poll(pfd, 2, 30000) <= 0)
			break;
		if (pfd[0].revents && !sink_read(out[0], &so))
			pfd[0].fd = -1;
		if (pfd[1].revents && !sink_read(err[0], &se))
			pfd[1].fd = -1;
	}
	close(out[0]);
	close(err[0]);
	waitpid(pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = sink_take(&so);
	r->err = sink_take(&se);
	return 0;
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int count_lines(const char *text)
{
	int n = 0;

	for (; text && *text; text++)
		if (*text == '\n' || !text[1])
			n++;
	return n;
}

#define RUN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Finds name in RUN_PATH (or keeps it, if it is a path); NULL if absent. */
static const char *find_program(const char *name, char *buf, size_t size)
{
	const char *dir = RUN_PATH;

	if (strchr(name, '/'))
		return name;
	while (*dir) {
		size_t len = strcspn(dir, ":");
		snprintf(buf, size, "%.*s/%s", (int)len, dir, name);
		if (access(buf, X_OK) == 0)
			return buf;
		dir += len + (dir[len] == ':');
	}
	return NULL;
}

double run_clock_s(void)
{
	return lt_now_s();
}

/* ------------------------------------------------- jobs in the background */

struct run_job {
	pid_t pid;
	int fd[2];          /* stdout, stderr; -1 at end of file */
	struct sink s[2];
};

struct run_job *run_start(const char *const *argv, const char *const *env, int stdin_fd)
{
	char *envp[MAX_ENV + 5], path[512];
	const char *prog = argv && argv[0] ? find_program(argv[0], path, sizeof(path)) : NULL;
	struct run_job *j = calloc(1, sizeof(*j));
	int out[2], err[2], m = 0, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;

	/* Close-on-exec: a daemon the program leaves behind must not hold the
	 * pipes open (dup2 onto 1 and 2 clears the flag there). */
	if (!prog || !j || pipe2(out, O_CLOEXEC)) {
		free(j);
		return NULL;
	}
	if (pipe2(err, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		free(j);
		return NULL;
	}
	envp[m++] = "PATH=" RUN_PATH;
	envp[m++] = "ASAN_OPTIONS=exitcode=99:detect_leaks=1";
	envp[m++] = lsan_options();
	envp[m++] = "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1";
	if (secret_file(env))
		envp[m++] = secret_file(env);
	while (env && *env && m < MAX_ENV + 4)
		envp[m++] = (char *)*env++;
	envp[m] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (stdin_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&j->pid, prog, &fa, &attr, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(err[1]);
	j->fd[0] = out[0];
	j->fd[1] = err[0];
	if (rc) {
		close(out[0]);
		close(err[0]);
		free(j);
		return NULL;
	}
	return j;
}

int run_job_pid(const struct run_job *j)
{
	return (int)j->pid;
}

const char *run_job_out(const struct run_job *j)
{
	return j->s[0].data ? j->s[0].data : "";
}

/* Reads what is there, waiting at most timeout_ms; false once both
 * streams ended. */
static bool job_read(struct run_job *j, int timeout_ms)
{
	struct pollfd pfd[2];

	for (int k = 0; k < 2; k++)
		pfd[k] = (struct pollfd){ .fd = j->fd[k], .events = POLLIN };
	if (j->fd[0] < 0 && j->fd[1] < 0)
		return false;
	if (poll(pfd, 2, timeout_ms) <= 0)
		return true;
	for (int k = 0; k < 2; k++)
		if (pfd[k].revents && !sink_read(j->fd[k], &j->s[k])) {
			close(j->fd[k]);
			j->fd[k] = -1;
		}
	return true;
}

int run_job_wait_for(struct run_job *j, const char *needle, int timeout_ms)
{
	long deadline = (long)lt_now_ms() + timeout_ms;

	while (!strstr(run_job_out(j), needle)) {
		long left = deadline - (long)lt_now_ms();
		if (left <= 0 || !job_read(j, (int)left))
			return 0;
	}
	return 1;
}

void run_job_finish(struct run_job *j, int timeout_s, struct run_result *r)
{
	long deadline = (long)lt_now_ms() + timeout_s * 1000L;
	int status;

	for (;;) {
		long left = deadline - (long)lt_now_ms();
		if (left <= 0) {
			kill(-j->pid, SIGKILL);
			break;
		}
		if (!job_read(j, (int)left))
			break;
	}
	for (int k = 0; k < 2; k++)
		if (j->fd[k] >= 0)
			close(j->fd[k]);
	waitpid(j->pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = sink_take(&j->s[0]);
	r->err = sink_take(&j->s[1]);
	free(j);
}

int run_command(const char *const *argv, const char *const *env, int timeout_s,
		struct run_result *r)
{
	struct run_job *j = run_start(argv, env, -1);

	if (!j)
		return -1;
	run_job_finish(j, timeout_s, r);
	return 0;
}

int tmp_dir_make(char *dir, size_t size, const char *prefix)
{
	snprintf(dir, size, "/tmp/%s.XXXXXX", prefix);
	return mkdtemp(dir) ? 0 : -1;
}

void tmp_dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}
