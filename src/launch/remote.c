/*
 * remote.c - the far end of a --hostfile launch (remote.h): the job's
 * environment from ssh's stdin, the host's job lock, and the small parent
 * that passes the launcher's signals on to the node's agent.
 */
#include "launch/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/io.h"

/* After the launcher went away, the agent gets SIGTERM, and this long to
 * stop its ranks before SIGKILL (its own grace is shorter). */
#define REMOTE_KILL_AFTER_S 60

static bool remote_active;

bool lt_remote_active(void)
{
	return remote_active;
}

static bool valid_name(const char *s, size_t n)
{
	if (!n || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

long lt_remote_parse_env(const char *buf, size_t n, struct lt_err *err)
{
	size_t at = 0;

	while (at < n) {
		const char *rec = buf + at;
		const char *end = memchr(rec, '\0', n - at);
		const char *eq;
		char name[256];

		if (!end)
			return 0; /* the rest has not arrived */
		if (end == rec)
			return (long)(at + 1);
		eq = memchr(rec, '=', (size_t)(end - rec));
		if (!eq || (size_t)(eq - rec) >= sizeof(name) || !valid_name(rec, (size_t)(eq - rec)))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "the launcher sent a bad environment record on stdin (%s is for ltrun's own ssh launch, not for a user)",
					  LT_ENV_SSH_STDIN);
		memcpy(name, rec, (size_t)(eq - rec));
		name[eq - rec] = '\0';
		if (setenv(name, eq + 1, 1))
			return lt_err_set(err, LT_EXIT_FAILURE, "cannot set %s: %s", name,
					  strerror(errno));
		at = (size_t)(end - buf) + 1;
	}
	return 0;
}

/* Reads the records from fd 0.  Bytes after them (signals already sent)
 * are kept in rest. */
static int read_env(char *rest, size_t *nrest, struct lt_err *err)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	long used = 0;

	if (!buf)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *bigger;
			if (cap >= LT_REMOTE_ENV_MAX) {
				free(buf);
				return lt_err_set(err, LT_EXIT_FAILURE,
						  "the environment on stdin is over %d bytes", LT_REMOTE_ENV_MAX);
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
			}
			buf = bigger;
			cap *= 2;
		}
		got = read(0, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			free(buf);
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "stdin ended before the job's environment did: %s is set by ltrun's ssh launch, which writes it there",
					  LT_ENV_SSH_STDIN);
		}
		n += (size_t)got;
		used = lt_remote_parse_env(buf, n, err);
		if (used < 0) {
			free(buf);
			return -1;
		}
		if (used > 0)
			break;
	}
	*nrest = n - (size_t)used < *nrest ? n - (size_t)used : *nrest;
	memcpy(rest, buf + used, *nrest);
	free(buf);
	return 0;
}

/* ------------------------------------------------------------ job lock */

/* "<TMPDIR>/ltrun-ssh-<uid>", this user's own directory (mode 0700, not a
 * link): another local user can neither take nor fake a lock in it. */
static int lock_dir(char *dir, size_t len, struct lt_err *err)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	snprintf(dir, len, "%s/ltrun-ssh-%u", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot create '%s': %s (set TMPDIR to a writable directory)",
				  dir, strerror(errno));
	if (lstat(dir, &st))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "'%s' is not a private directory of this user's (another user made it, or it is a link): remove it, or set TMPDIR",
				  dir);
	return 0;
}

/* The job is its main address and port (two jobs cannot share them) on
 * this host, as the hostfile names it (hosts of one machine share /tmp). */
static int take_job_lock(struct lt_err *err)
{
	const char *host = getenv(LT_ENV_SSH_HOST), *addr = getenv("LTRUN_MAIN_ADDR");
	const char *port = getenv("LTRUN_MAIN_PORT");
	char dir[4096], path[4800], key[600], pid[32];
	ssize_t n;
	int fd;

	if (!host || !addr || !port)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "the launcher sent no %s, LTRUN_MAIN_ADDR or LTRUN_MAIN_PORT", LT_ENV_SSH_HOST);
	if (lock_dir(dir, sizeof(dir), err))
		return -1;
	snprintf(key, sizeof(key), "%s@%s:%s", host, addr, port);
	for (char *c = key; *c; c++)
		if (*c == '/')
			*c = '_';
	snprintf(path, sizeof(path), "%s/%s.lock", dir, key);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot open '%s': %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "host %s already runs ltrun for this job (node 0 at %s:%s%s%s): stop that one first, or give this launch another --main-port",
					  host, addr, port, pid[0] ? ", pid " : "", pid);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot lock '%s': %s", path, strerror(e));
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* the pid is only for the message above */
	}
	/* fd stays open (close-on-exec) for the job's life: the lock. */
	return 0;
}

/* -------------------------------------------------------------- relay */

static int status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

/* A signal the launcher may pass on: those a terminal or a scheduler
 * sends to stop or notify a job. */
static bool passable(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
	       sig == SIGUSR1 || sig == SIGUSR2;
}

static void on_bytes(pid_t agent, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (passable(p[i]))
			kill(agent, p[i]);
}

static __attribute__((noreturn)) void relay(pid_t agent, int sigfd, const char *rest, size_t nrest)
{
	bool eof = false;
	time_t kill_at = 0;

	on_bytes(agent, (const unsigned char *)rest, nrest);
	for (;;) {
		struct pollfd p[2] = { { .fd = sigfd, .events = POLLIN },
				       { .fd = eof ? -1 : 0, .events = POLLIN } };
		int status;
		pid_t w;

		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			_exit(1);
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo != SIGCHLD)
				kill(agent, (int)si.ssi_signo);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			unsigned char b[64];
			ssize_t n = read(0, b, sizeof(b));
			if (n > 0) {
				on_bytes(agent, b, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				/* The launcher is gone, or stops the job. */
				eof = true;
				kill(agent, SIGTERM);
				kill_at = time(NULL) + REMOTE_KILL_AFTER_S;
			}
		}
		w = waitpid(agent, &status, WNOHANG);
		if (w == agent)
			_exit(status_of(status));
		if (kill_at && time(NULL) >= kill_at) {
			kill(agent, SIGKILL);
			kill_at = 0;
		}
	}
}

int lt_remote_begin(struct lt_err *err)
{
	char rest[4096];
	size_t nrest = sizeof(rest);
	sigset_t set, old;
	int sigfd, null;
	pid_t agent;

	if (!getenv(LT_ENV_SSH_STDIN))
		return 0;
	unsetenv(LT_ENV_SSH_STDIN);
	if (read_env(rest, &nrest, err) || take_job_lock(err))
		return -1;
	remote_active = true;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return lt_err_set(err, LT_EXIT_FAILURE, "signalfd: %s", strerror(errno));
	}
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	agent = fork();
	if (agent < 0) {
		close(sigfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return lt_err_set(err, LT_EXIT_FAILURE, "fork: %s", strerror(errno));
	}
	if (agent > 0)
		relay(agent, sigfd, rest, nrest);
	/* The agent: told to stop if the relay dies; stdin is the relay's. */
	close(sigfd);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		raise(SIGTERM);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	return 0;
}
