/*
 * offload.c - optimizer state in files (offload.h): ZeRO-Infinity's
 * "offload_optimizer: nvme".  Each slot is one file; a step walks the
 * state in chunks (LT_OFFLOAD_CHUNK_BYTES a slot), and up to three are in
 * memory: the one being stepped, the next one being read ahead, and the
 * previous one being written back.  Only those frames are this process's
 * memory; the files' pages belong to the kernel's page cache, which gives
 * them back under pressure.
 *
 * Why pread/pwrite threads and not io_uring: a chunk is megabytes, so a
 * system call per slot per chunk costs nothing beside the copy, and two
 * threads (the read ahead and the write-back at once) overlap the I/O
 * with the optimizer's arithmetic; io_uring is refused in many containers
 * (Docker's default seccomp profile, kernel.io_uring_disabled), so it
 * would need this path as its fallback anyway, and liburing would be one
 * more build dependency.  The threads need no order between them: a
 * chunk is read only when no frame holds it, and a frame is reused only
 * once its write-back is done, so a read never overtakes the write of
 * the same chunk.
 *
 * Coherence with lt_offload_map(): pread, pwrite and the MAP_SHARED
 * mapping share the page cache, so between steps (after a flush) the
 * files and the mapping are the state.  During a step a chunk is written
 * back only after the step has moved past it; the checkpoint hook
 * (ctx->before_update) has by then let an async save copy those elements.
 *
 * The files are unlinked as soon as they are made: their space comes
 * back when the descriptors and mappings close, however the process ends.
 */
#include "runtime/offload.h"
#include "core/error.h"
#include "core/thread.h"
#include "core/owner.h"
#include "core/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define NO_CHUNK SIZE_MAX

enum frame_op { OP_NONE, OP_READ, OP_WRITE };

/* One chunk of every slot in memory. */
struct frame {
	char *buf;        /* slot s at buf + s * chunk_bytes */
	size_t chunk;     /* the chunk it holds or is reading/writing, NO_CHUNK: none */
	bool valid;       /* buf holds that chunk's values */
	bool dirty;       /* stepped since it was read (the current frame only) */
	enum frame_op op; /* asked of the I/O threads and not done; OP_NONE: idle */
	bool busy;        /* an I/O thread is doing op now */
	uint64_t seq;     /* when op was asked: the threads serve the oldest first */
};

struct lt_offload {
	int nslots;
	size_t esz, numel, chunk_elems, chunk_bytes, nchunks;
	int fd[2];
	char path[2][PATH_MAX];
	void *map[2];
	struct frame frames[LT_OFFLOAD_FRAMES];
	int nframes;
	struct frame *cur; /* the chunk being stepped, or NULL */

	pthread_t threads[LT_OFFLOAD_THREADS];
	int nthreads;       /* started */
	pthread_mutex_t mu; /* guards the frames' op/busy/valid, stop, failed, err */
	pthread_cond_t work, done;
	uint64_t next_seq;
	bool stop;
	bool failed;        /* sticky: the first failure, in err */
	struct lt_err err;
};

/* --- the directory --- */

int lt_offload_check_dir(const char *dir, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	struct stat st;

	lt_quote(q, sizeof(q), dir);
	if (!dir[0])
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_dir is empty: give a directory for the optimizer state files");
	if (stat(dir, &st) && errno == ENOENT && mkdir(dir, 0700) && errno != EEXIST)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "cannot create offload_dir '%s': %s: create it, or give an existing directory",
				  q, strerror(errno));
	if (stat(dir, &st))
		return lt_err_set(err, LT_EXIT_USAGE, "cannot use offload_dir '%s': %s", q,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_dir '%s' is not a directory: give a directory for the optimizer state files",
				  q);
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_dir '%s' is world-writable without the sticky bit (anyone could replace the state files): chmod o-w or +t it, or give a directory of your own",
				  q);
	if (st.st_uid != geteuid() && !(st.st_mode & S_IWOTH))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_dir '%s' belongs to uid %ld: give a directory of your own (a missing one is made, mode 0700)",
				  q, (long)st.st_uid);
	if (access(dir, W_OK | X_OK))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_dir '%s' is not writable: %s: give a writable directory",
				  q, strerror(errno));
	return 0;
}

/* Bytes of one slot's chunk: LTRUN_OFFLOAD_CHUNK, else the default. */
static int chunk_bytes(size_t *out, struct lt_err *err)
{
	const char *v = getenv("LTRUN_OFFLOAD_CHUNK");
	char q[LT_QUOTE_MAX];
	long n;

	*out = LT_OFFLOAD_CHUNK_BYTES;
	if (!v)
		return 0;
	if (lt_parse_long(v, 1, 1L << 30, &n))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "LTRUN_OFFLOAD_CHUNK='%s': give the bytes of a chunk, 1 to 1073741824",
				  lt_quote(q, sizeof(q), v));
	*out = (size_t)n;
	return 0;
}

/* Fills err for a disk without room for `need` bytes (nfiles of each)
 * of `what`. */
static int disk_full(const char *dir, const char *what, unsigned long long need, int nfiles,
		     size_t each, struct lt_err *err)
{
	struct statvfs vfs;
	unsigned long long avail = 0;
	char q[LT_QUOTE_MAX];

	if (!statvfs(dir, &vfs))
		avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "offload_dir '%s' has %llu bytes free, the %s needs %llu (%d files of %zu bytes): free space there or give offload_dir a larger disk",
			  lt_quote(q, sizeof(q), dir), avail, what, need, nfiles, each);
}

/* Elements of a chunk of numel elements of esz bytes: cb bytes' worth,
 * at least 1, at most numel (state smaller than a chunk). */
static size_t chunk_elems(size_t numel, size_t esz, size_t cb)
{
	size_t n = cb / esz ? cb / esz : 1;

	return n < numel ? n : numel;
}

/* Frames a window of nchunks needs. */
static int frames(size_t nchunks)
{
	return nchunks < LT_OFFLOAD_FRAMES ? (int)nchunks : LT_OFFLOAD_FRAMES;
}

size_t lt_offload_window_bytes(size_t numel, int nslots, enum lt_dtype dt)
{
	size_t esz = lt_dtype_size(dt), cb, n;
	struct lt_err ignored;

	if (!numel || !nslots)
		return 0;
	if (chunk_bytes(&cb, &ignored))
		cb = LT_OFFLOAD_CHUNK_BYTES;
	n = chunk_elems(numel, esz, cb);
	return (size_t)frames((numel + n - 1) / n) * (size_t)nslots * n * esz;
}

int lt_offload_check_room(const char *dir, const char *what, int nfiles, size_t each,
		      struct lt_err *err)
{
	unsigned long long need = (unsigned long long)each * (unsigned)nfiles;
	struct statvfs vfs;

	if (statvfs(dir, &vfs) || (unsigned long long)vfs.f_bavail * vfs.f_frsize >= need)
		return 0; /* posix_fallocate tells what statvfs cannot */
	return disk_full(dir, what, need, nfiles, each, err);
}

/* --- the files --- */

int lt_offload_file(const struct lt_offload_file_spec *sp, char path[PATH_MAX],
		    struct lt_err *err)
{
	char tag[LT_OWNER_TAG_MAX], q[LT_QUOTE_MAX];
	int fd, e;

	lt_owner_tag(tag, sizeof(tag));
	lt_quote(q, sizeof(q), sp->dir);
	if ((size_t)snprintf(path, PATH_MAX, "%s/ltrun-%s-r%d-%s-%s-XXXXXX", sp->dir, sp->kind,
			     sp->rank, tag, sp->name) >= PATH_MAX)
		return lt_err_set(err, LT_EXIT_USAGE, "offload_dir '%s' is too long: give a shorter path",
				  q);
	fd = mkostemp(path, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot make a file for the %s in offload_dir '%s': %s",
				  sp->what, q, strerror(errno));
	unlink(path);
	e = sp->bytes ? posix_fallocate(fd, 0, (off_t)sp->bytes) : 0;
	if (e == ENOSPC)
		disk_full(sp->dir, sp->what, (unsigned long long)sp->bytes * (unsigned)sp->nfiles,
			  sp->nfiles, sp->bytes, err);
	else if (e)
		lt_err_set(err, LT_EXIT_FAILURE,
			   "cannot preallocate %zu bytes for '%s': %s: give offload_dir a local disk",
			   sp->bytes, path, strerror(e));
	if (e) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Makes slot s's file and maps it.  Returns 0, or -1 with err;
 * f->fd[s]/map[s] hold what was made. */
static int make_file(struct lt_offload *f, int s, const char *dir, int rank, const char *name,
		     struct lt_err *err)
{
	size_t bytes = f->numel * f->esz;
	struct lt_offload_file_spec sp = { .dir = dir, .kind = "optim", .what = "optimizer state",
					   .name = name, .rank = rank, .bytes = bytes,
					   .nfiles = f->nslots };

	f->fd[s] = lt_offload_file(&sp, f->path[s], err);
	if (f->fd[s] < 0)
		return -1;
	f->map[s] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd[s], 0);
	if (f->map[s] == MAP_FAILED) {
		f->map[s] = NULL;
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot map '%s': %s", f->path[s],
				  strerror(errno));
	}
	return 0;
}

int lt_offload_transfer(int fd, bool write, void *to, size_t len, off_t off)
{
	char *buf = to;

	while (len) {
		ssize_t k = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno;
		if (k == 0)
			return EIO;
		buf += k, len -= (size_t)k, off += k;
	}
	return 0;
}

/* Elements of chunk c (the last one may be short). */
static size_t chunk_len(const struct lt_offload *f, size_t c)
{
	size_t first = c * f->chunk_elems;

	return f->numel - first < f->chunk_elems ? f->numel - first : f->chunk_elems;
}

/* --- the I/O threads --- */

/* The oldest request no one serves yet, or NULL.  Under mu. */
static struct frame *oldest_request(struct lt_offload *f)
{
	struct frame *best = NULL;

	for (int i = 0; i < f->nframes; i++) {
		struct frame *fr = &f->frames[i];

		if (fr->op != OP_NONE && !fr->busy && (!best || fr->seq < best->seq))
			best = fr;
	}
	return best;
}

/* Does fr's op on every slot.  Returns 0, or an errno value with *slot. */
static int do_io(struct lt_offload *f, const struct frame *fr, enum frame_op op, int *slot)
{
	size_t len = chunk_len(f, fr->chunk) * f->esz;
	off_t off = (off_t)(fr->chunk * f->chunk_bytes);

	for (*slot = 0; *slot < f->nslots; (*slot)++) {
		int e = lt_offload_transfer(f->fd[*slot], op == OP_WRITE,
					    fr->buf + *slot * f->chunk_bytes, len, off);
		if (e)
			return e;
	}
	return 0;
}

/* Keeps the first failure.  Under mu. */
static void record_failure(struct lt_offload *f, const struct frame *fr, enum frame_op op,
			   int slot, int e)
{
	if (f->failed)
		return;
	f->failed = true;
	lt_err_set(&f->err, LT_EXIT_FAILURE,
		   "optimizer state in files: cannot %s '%s' (%zu bytes at offset %zu): %s: the optimizer state is no longer whole, free space in offload_dir or give another one",
		   op == OP_WRITE ? "write" : "read", f->path[slot], chunk_len(f, fr->chunk) * f->esz,
		   fr->chunk * f->chunk_bytes, strerror(e));
}

static void *io_thread(void *arg)
{
	struct lt_offload *f = arg;
	struct frame *fr;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!(fr = oldest_request(f)) && !f->stop)
			pthread_cond_wait(&f->work, &f->mu);
		if (!fr)
			break;
		enum frame_op op = fr->op;
		bool skip = f->failed; /* after a failure: nothing more */
		int slot = 0, e;

		fr->busy = true;
		pthread_mutex_unlock(&f->mu);
		e = skip ? 0 : do_io(f, fr, op, &slot);
		pthread_mutex_lock(&f->mu);
		if (e)
			record_failure(f, fr, op, slot, e);
		fr->valid = !e && !f->failed;
		fr->op = OP_NONE;
		fr->busy = false;
		pthread_cond_broadcast(&f->done);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Asks the I/O threads to read or write chunk c through fr. */
static void request(struct lt_offload *f, struct frame *fr, enum frame_op op, size_t c)
{
	pthread_mutex_lock(&f->mu);
	fr->chunk = c;
	fr->op = op;
	fr->seq = f->next_seq++;
	pthread_cond_signal(&f->work);
	pthread_mutex_unlock(&f->mu);
}

/* Waits until fr's op is done.  Returns whether fr holds its chunk's
 * values (false after any failure). */
static bool wait_frame(struct lt_offload *f, struct frame *fr)
{
	bool ok;

	pthread_mutex_lock(&f->mu);
	while (fr->op != OP_NONE)
		pthread_cond_wait(&f->done, &f->mu);
	ok = fr->valid && !f->failed;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

static bool has_failed(struct lt_offload *f)
{
	bool failed;

	pthread_mutex_lock(&f->mu);
	failed = f->failed;
	pthread_mutex_unlock(&f->mu);
	return failed;
}

/* --- the window of chunks --- */

/* The frame holding chunk c (in any state), or NULL. */
static struct frame *holding(struct lt_offload *f, size_t c)
{
	for (int i = 0; i < f->nframes; i++)
		if (f->frames[i].chunk == c)
			return &f->frames[i];
	return NULL;
}

/* A frame to read into, other than f->cur and keep: an idle one, else
 * the oldest busy one once its op is done. */
static struct frame *free_frame(struct lt_offload *f, const struct frame *keep)
{
	struct frame *pick = NULL;

	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->nframes; i++) {
		struct frame *fr = &f->frames[i];

		if (fr == f->cur || fr == keep)
			continue;
		if (!pick || (pick->op != OP_NONE && (fr->op == OP_NONE || fr->seq < pick->seq)))
			pick = fr;
	}
	pthread_mutex_unlock(&f->mu);
	wait_frame(f, pick);
	pick->chunk = NO_CHUNK;
	pick->valid = false;
	return pick;
}

/* The step leaves the current chunk: written back if it changed. */
static void leave_current(struct lt_offload *f)
{
	if (f->cur && f->cur->dirty) {
		f->cur->dirty = false;
		request(f, f->cur, OP_WRITE, f->cur->chunk);
	}
	f->cur = NULL;
}

/* Makes chunk c the current one and reads c + 1 ahead.  Returns 0, or -1
 * after a failure. */
static int advance(struct lt_offload *f, size_t c)
{
	struct frame *fr;

	leave_current(f);
	fr = holding(f, c);
	if (!fr) {
		fr = free_frame(f, NULL);
		request(f, fr, OP_READ, c);
	}
	if (!wait_frame(f, fr))
		return -1;
	f->cur = fr;
	if (c + 1 < f->nchunks && !holding(f, c + 1))
		request(f, free_frame(f, fr), OP_READ, c + 1);
	return 0;
}

int lt_offload_span(struct lt_offload *f, size_t offset, size_t n, void *slot[2], size_t *got)
{
	size_t c = offset / f->chunk_elems, first = offset - c * f->chunk_elems, in;

	if (has_failed(f))
		return -1;
	if ((!f->cur || f->cur->chunk != c) && advance(f, c))
		return -1;
	in = chunk_len(f, c) - first;
	*got = in < n ? in : n;
	slot[0] = slot[1] = NULL;
	for (int s = 0; s < f->nslots; s++)
		slot[s] = f->cur->buf + s * f->chunk_bytes + first * f->esz;
	f->cur->dirty = true;
	return 0;
}

int lt_offload_flush(struct lt_offload *f, struct lt_err *err)
{
	leave_current(f);
	for (int i = 0; i < f->nframes; i++) {
		wait_frame(f, &f->frames[i]);
		f->frames[i].chunk = NO_CHUNK;
		f->frames[i].valid = false;
	}
	/* pages a checkpoint touched: the page cache keeps them, not us */
	for (int s = 0; s < f->nslots; s++)
		madvise(f->map[s], f->numel * f->esz, MADV_DONTNEED);
	if (!has_failed(f))
		return 0;
	*err = f->err; /* set once, before failed: no lock needed to read it now */
	return -1;
}

void lt_offload_map(const struct lt_offload *f, void *slot[2])
{
	slot[0] = f->map[0];
	slot[1] = f->map[1];
}

size_t lt_offload_resident_bytes(const struct lt_offload *f)
{
	return (size_t)f->nframes * (size_t)f->nslots * f->chunk_bytes;
}

/* --- making and closing --- */

/* Allocates the frames and starts the I/O threads (taking no signals:
 * they stay with the training threads).  Returns 0, or -1 with err. */
static int start_io(struct lt_offload *f, struct lt_err *err)
{
	int rc;

	for (int i = 0; i < f->nframes; i++) {
		f->frames[i].chunk = NO_CHUNK;
		f->frames[i].buf = malloc(f->nslots * f->chunk_bytes);
		if (!f->frames[i].buf)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "out of memory for the optimizer state's chunks (%zu bytes): set LTRUN_OFFLOAD_CHUNK lower",
					  f->nslots * f->chunk_bytes);
	}
	for (rc = 0; !rc && f->nthreads < LT_OFFLOAD_THREADS; f->nthreads += !rc)
		rc = lt_thread_start(&f->threads[f->nthreads], io_thread, f);
	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot start the optimizer state's I/O threads: %s", strerror(rc));
	return 0;
}

struct lt_offload *lt_offload_open(const char *dir, int rank, const char *const names[],
				   int nslots, size_t numel, enum lt_dtype dt,
				   struct lt_err *err)
{
	struct lt_offload *f;
	size_t esz = lt_dtype_size(dt), cb;

	if (lt_offload_check_dir(dir, err) || chunk_bytes(&cb, err) ||
	    lt_offload_check_room(dir, "optimizer state", nslots, numel * esz, err))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the optimizer state files");
		return NULL;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->work, NULL);
	pthread_cond_init(&f->done, NULL);
	f->fd[0] = f->fd[1] = -1;
	f->nslots = nslots;
	f->esz = esz;
	f->numel = numel;
	f->chunk_elems = chunk_elems(numel, esz, cb);
	f->chunk_bytes = f->chunk_elems * esz;
	f->nchunks = (numel + f->chunk_elems - 1) / f->chunk_elems;
	f->nframes = frames(f->nchunks);
	for (int s = 0; s < nslots; s++)
		if (make_file(f, s, dir, rank, names[s], err))
			goto out_close;
	if (start_io(f, err))
		goto out_close;
	return f;
out_close:
	lt_offload_close(f);
	return NULL;
}

void lt_offload_close(struct lt_offload *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->work);
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	for (int i = 0; i < LT_OFFLOAD_FRAMES; i++)
		free(f->frames[i].buf);
	for (int s = 0; s < 2; s++) {
		if (f->map[s])
			munmap(f->map[s], f->numel * f->esz);
		if (f->fd[s] >= 0)
			close(f->fd[s]);
	}
	pthread_cond_destroy(&f->done);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
