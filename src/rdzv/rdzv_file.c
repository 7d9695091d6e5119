/*
 * rdzv_file.c - the `file` rendezvous: a directory every rank can reach
 * (a shared filesystem), named by LTRUN_RDZV_DIR.  No server, no port.
 *
 * The job's files live in DIR/<run id>/r<restart count>/.  A value is a
 * file written aside and renamed into place; a barrier is one file per
 * rank ("<name>.<rank>"), counted by rank 0, which then writes
 * "<name>.done" for the others.  Waiting is polling, with a backoff from
 * 1 ms to 50 ms.  The directory can be deleted once the job has ended.
 */
#include "core/clock.h"
#include "rdzv/rdzv.h"
#include "core/contract.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LT_ENV_RDZV_DIR "LTRUN_RDZV_DIR"

struct files {
	char dir[PATH_MAX - 300];
};

/* "barrier/3" -> "barrier_3": names are flat in the directory. */
static void path_of(const struct files *f, const char *name, const char *suffix, char *out,
		    size_t len)
{
	int n = snprintf(out, len, "%s/", f->dir);

	for (const char *p = name; *p && n < (int)len - 1; p++)
		out[n++] = *p == '/' ? '_' : *p;
	snprintf(out + n, len - (size_t)n, "%s", suffix);
}

static int make_dirs(char *path, struct lt_err *err)
{
	for (char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot create '%s' (%s): %s", path,
				   LT_ENV_RDZV_DIR, strerror(errno));
			*p = saved;
			return -1;
		}
		*p = saved;
		if (!saved)
			return 0;
	}
}

static int file_open(struct lt_rdzv *rz, const struct lt_rank_info *info,
		     const char *who, struct lt_err *err)
{
	const char *base = getenv(LT_ENV_RDZV_DIR);
	struct files *f;

	(void)who;
	if (!base || !*base)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "the file rendezvous needs %s: set it to a directory every node can reach",
				  LT_ENV_RDZV_DIR);
	f = calloc(1, sizeof(*f));
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	rz->state = f;
	snprintf(f->dir, sizeof(f->dir), "%s/%s/r%d", base, info->run_id, info->restart_count);
	return make_dirs(f->dir, err);
}

/* Waits until `path` exists, polling. */
static int wait_for(struct lt_rdzv *rz, const char *path, const char *what,
		    const char *from, struct lt_err *err)
{
	double start = lt_now_s(), deadline = start + rz->timeout_ms / 1000.0;
	useconds_t pause = 1000;
	struct stat st;

	while (stat(path, &st)) {
		if (lt_now_s() > deadline)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "%s: timed out after %g s waiting for %s%s%s in %s",
					  rz->who, rz->timeout_ms / 1000.0, what, from ? " from " : "",
					  from ? from : "", ((struct files *)rz->state)->dir);
		usleep(pause);
		if (pause < 50000)
			pause *= 2;
	}
	return 0;
}

static int write_file(const char *path, const void *value, size_t len, struct lt_err *err)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f || fwrite(value, 1, len, f) != len || fclose(f) || rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot write '%s': %s", path, strerror(e));
	}
	return 0;
}

static int count_arrivals(const struct files *f, const char *prefix, int *n)
{
	size_t plen = strlen(prefix);
	struct dirent *e;
	DIR *d = opendir(f->dir);

	*n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, plen) && strcmp(e->d_name + plen, "done") &&
		    !strstr(e->d_name + plen, ".tmp"))
			(*n)++;
	closedir(d);
	return 0;
}

static int file_barrier(struct lt_rdzv *rz, const char *name, struct lt_err *err)
{
	struct files *f = rz->state;
	char mine[PATH_MAX], done[PATH_MAX], suffix[32], prefix[PATH_MAX], from[64];
	int world = rz->info->world_size, n;

	snprintf(suffix, sizeof(suffix), ".%d", rz->info->rank);
	path_of(f, name, suffix, mine, sizeof(mine));
	path_of(f, name, ".done", done, sizeof(done));
	if (write_file(mine, "", 0, err))
		return -1;
	if (rz->info->rank != 0) {
		snprintf(from, sizeof(from), "rank 0 (all %d ranks)", world);
		return wait_for(rz, done, "the end of a barrier", from, err);
	}
	path_of(f, name, ".", prefix, sizeof(prefix));
	{
		const char *base = strrchr(prefix, '/') + 1;
		double deadline = lt_now_s() + rz->timeout_ms / 1000.0;
		useconds_t pause = 1000;
		while (!count_arrivals(f, base, &n) && n < world) {
			if (lt_now_s() > deadline)
				return lt_err_set(err, LT_EXIT_FAILURE,
						  "%s: timed out after %g s at a barrier in %s: %d of %d ranks arrived",
						  rz->who, rz->timeout_ms / 1000.0, f->dir, n, world);
			usleep(pause);
			if (pause < 50000)
				pause *= 2;
		}
	}
	return write_file(done, "", 0, err);
}

static int file_put(struct lt_rdzv *rz, const char *key, const void *value, size_t len,
		    struct lt_err *err)
{
	char path[PATH_MAX];

	path_of(rz->state, key, ".value", path, sizeof(path));
	return write_file(path, value, len, err);
}

static int file_get(struct lt_rdzv *rz, const char *key, int from_rank, void **value,
		    size_t *len, struct lt_err *err)
{
	char path[PATH_MAX], what[300], from[32];
	struct stat st;
	char *buf;
	FILE *f;

	path_of(rz->state, key, ".value", path, sizeof(path));
	snprintf(what, sizeof(what), "key '%s'", key);
	snprintf(from, sizeof(from), "rank %d", from_rank);
	if (wait_for(rz, path, what, from, err))
		return -1;
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) || !(buf = malloc((size_t)st.st_size + 1))) {
		if (f)
			fclose(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read '%s': %s", path, strerror(errno));
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	*value = buf;
	return 0;
}

static int file_close(struct lt_rdzv *rz, struct lt_err *err)
{
	(void)err;
	free(rz->state);
	rz->state = NULL;
	return 0;
}

const struct lt_rdzv_ops lt_rdzv_file = {
	.store = false,
	.open = file_open,
	.barrier = file_barrier,
	.put = file_put,
	.get = file_get,
	.close = file_close,
};
