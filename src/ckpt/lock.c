/*
 * lock.c - one run per checkpoint directory.  Two runs given the same
 * --ckpt-dir would each prune the other's checkpoints (--ckpt-keep) and
 * overwrite its `last`; so the process that saves and prunes holds
 * flock(LOCK_EX) on DIR/.lock from start-up to the end of the run, and a
 * second run is refused with the holder's identity, which the holder
 * wrote into the file.
 *
 * flock belongs to the open file description: the kernel drops it when
 * the holder exits or is killed, so a restarted run (--max-restarts, a
 * requeued job) takes it again at once, and no stale lock is ever left
 * to clear by hand.  The file is made mode 0600 and must be a regular
 * file of this user: another local user can neither take it (and so
 * block our runs) nor plant one for us to write through.  The file stays
 * when the run ends, emptied: removing it would race with a run taking
 * it.  On NFS, Linux emulates flock with byte-range locks, which hold
 * across clients when the lock service runs; Lustre needs the flock
 * mount option (without it flock fails, and ltrun warns and goes on
 * unlocked).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/file.h"
#include "ckpt/lock.h"
#include "core/url.h"

struct lt_ckpt_lock {
	int fd;        /* -1: the filesystem has no flock, nothing is held */
	bool recorded; /* the holder's identity is in the file */
};

/* The holder's line from the locked file fd, sanitised, into buf. */
static const char *holder_of(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);
	size_t i;

	if (n <= 0)
		return "its identity not yet written";
	buf[n] = '\0';
	for (i = 0; buf[i] && buf[i] != '\n'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[i] = '\0';
	return buf;
}

/* Writes "pid P on host H, run R, since T" over the file's contents. */
static void record(int fd, const char *host, const char *run_id)
{
	char line[512], since[40];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (!gmtime_r(&now, &tm) || !strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(since, sizeof(since), "%lld", (long long)now);
	n = snprintf(line, sizeof(line), "pid %ld on host %s, run %s, since %s\n", (long)getpid(),
		     host, run_id && *run_id ? run_id : "?", since);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);
	if (ftruncate(fd, 0) || pwrite(fd, line, (size_t)n, 0) < 0)
		return; /* best effort: a refusal then names no holder */
}

/* Opens path (the lock file), refusing what is not a regular file of ours. */
static int open_lock_file(const char *dir, const char *path, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;

		bool other = e == EACCES || e == EPERM || e == ELOOP;

		lt_err_set(err, other ? LT_EXIT_USAGE : LT_EXIT_FAILURE,
			   "cannot lock --ckpt-dir '%s': cannot open its " LT_CKPT_LOCK_FILE ": %s: %s",
			   lt_quote(q, sizeof(q), dir), strerror(e),
			   other ? "it is another user's, or a link: give each run its own --ckpt-dir"
				 : "check the directory is writable");
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		lt_err_set(err, LT_EXIT_USAGE,
			   "cannot lock --ckpt-dir '%s': its " LT_CKPT_LOCK_FILE " is not a regular file: remove it, or give this run another --ckpt-dir",
			   lt_quote(q, sizeof(q), dir));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		lt_err_set(err, LT_EXIT_USAGE,
			   "--ckpt-dir '%s' is in use by another user's runs (its " LT_CKPT_LOCK_FILE " belongs to uid %ld): give each run its own --ckpt-dir",
			   lt_quote(q, sizeof(q), dir), (long)st.st_uid);
		return -1;
	}
	return fd;
}

bool lt_ckpt_dir_is_local(const char *dir, const char *io)
{
	/* io may carry inline parameters: "http:retries=8" is http */
	return dir && !lt_is_url(dir) &&
	       (!io || strncmp(io, "http", 4) || (io[4] && io[4] != ':'));
}

int lt_ckpt_lock_take(const char *dir, const char *host, const char *run_id,
		      struct lt_ckpt_lock **out, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], holder[512], *path = NULL;
	struct lt_ckpt_lock *l = calloc(1, sizeof(*l));
	int fd = -1;

	*out = NULL;
	if (!l || asprintf(&path, "%s/" LT_CKPT_LOCK_FILE, dir) < 0) {
		free(l);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory locking --ckpt-dir");
	}
	if (lt_ckpt_make_dirs(dir, err) || (fd = open_lock_file(dir, path, err)) < 0)
		goto out_fail;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		if (e == EWOULDBLOCK) {
			lt_err_set(err, LT_EXIT_USAGE,
				   "--ckpt-dir '%s' is in use by another run (%s): give each run its own --ckpt-dir",
				   lt_quote(q, sizeof(q), dir), holder_of(fd, holder, sizeof(holder)));
			goto out_fail;
		}
		if (e != ENOLCK && e != ENOSYS && e != EOPNOTSUPP) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot lock --ckpt-dir '%s': %s",
				   lt_quote(q, sizeof(q), dir), strerror(e));
			goto out_fail;
		}
		if (host) /* the holder warns; a probe would say it twice */
			lt_warn("cannot lock --ckpt-dir '%s' (%s): nothing stops another run from using it and deleting its checkpoints",
				lt_quote(q, sizeof(q), dir), strerror(e));
		close(fd);
		fd = -1;
	}
	l->fd = fd;
	if (fd >= 0 && host) {
		record(fd, host, run_id);
		l->recorded = true;
	}
	free(path);
	*out = l;
	return 0;
out_fail:
	if (fd >= 0)
		close(fd);
	free(path);
	free(l);
	return -1;
}

bool lt_ckpt_lock_held(const struct lt_ckpt_lock *l)
{
	return l && l->fd >= 0;
}

void lt_ckpt_lock_release(struct lt_ckpt_lock *l)
{
	if (!l)
		return;
	if (l->fd >= 0) {
		/* best effort: a stale identity is only read while locked */
		if (l->recorded)
			(void)!ftruncate(l->fd, 0);
		close(l->fd);
	}
	free(l);
}
