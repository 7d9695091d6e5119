/*
 * file.c - the "file" checkpoint IO plugin: files under a base directory
 * (made, with its parents, at open).  A write goes to a temporary name in
 * the same directory (O_EXCL), is fsynced, renamed over the final name,
 * and the directory is fsynced: a crash leaves the old file or the new
 * one, never part of one.  Reads use pread, checked reads a mapping
 * (mapped.c: copied and checksummed in one pass); remove deletes a step
 * directory and what it holds.
 *
 * Speed, for checkpoints of many GB:
 * - remove keeps the largest file of the step it deletes as a spare,
 *   <base>/.ltrun-spare-<k> (at most SPARE_SLOTS), and the next large
 *   write claims a spare by renaming it to its temporary name and writes
 *   over it in place.  Blocks the filesystem already holds are much
 *   cheaper to write than new ones (on a thin-provisioned virtual disk,
 *   where a new block must first be allocated by the host, 2-4x here:
 *   bench/README.md).  The spare is renamed, never written under its own
 *   name, so a crash leaves it a spare or a temporary file; what is durable
 *   is still the fsynced rename.  An IO that made spares deletes what is
 *   left of them at close: at rest the directory holds only checkpoints.
 *   Only a regular file of this user with one name becomes or is claimed
 *   as a spare (checked again through the fd after the claim's rename): a
 *   file a backup shares (`cp -al`, `rsync --link-dest`) is never written
 *   over, and another user's file is neither used nor deleted.
 * - lt_ckpt_io_file_clean removes what killed or failed saves left (the
 *   start of a run calls it, holding the directory's lock: lock.c).
 * - a large file goes to the disk with O_DIRECT (direct.c), past the page
 *   cache, unless it is written over a spare whose pages are still cached
 *   (from the save that wrote it, or a load that read it).  A buffered
 *   write into new pages of the page cache costs, in a virtual machine
 *   whose host reclaims free guest memory, a host fault per 4 KB page: a
 *   first save of 1 GB ran at 0.3-0.5 GB/s, buffered, and 2-3 GB/s direct
 *   (bench/README.md).  The parameter direct=false turns it off; a
 *   filesystem that refuses direct IO gets buffered writes.
 * - a buffered write starts writeback of each SYNC_CHUNK written at once
 *   (sync_file_range), so the disk works while the rest is copied into the
 *   page cache, and the final fsync has little left to do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ckpt/crc32c.h"
#include "ckpt/direct.h"
#include "ckpt/file.h"
#include "ckpt/io.h"
#include "ckpt/mapped.h"
#include "core/buf.h"

struct file_io {
	char *base;
	bool made_spare; /* remove() kept a spare: close deletes the spares */
	bool direct;     /* large files with O_DIRECT (parameter direct) */
	/* direct writes' bounce buffers, kept */
	struct lt_ckpt_bounce bounce[LT_CKPT_DIRECT_WRITERS];
};

/* Spares: how many a base may hold, and the smallest file worth keeping
 * (or worth claiming one for). */
#define SPARE_SLOTS 2
#define SPARE_MIN_BYTES ((uint64_t)1 << 20)
/* Files this large or larger are written with O_DIRECT. */
#define DIRECT_MIN_BYTES ((uint64_t)1 << 20)
/* A spare with at least this share of its pages cached is written over
 * buffered. */
#define CACHED_SHARE 0.875
#define CACHE_PROBES 64
/* Writeback is started after every this many bytes written. */
#define SYNC_CHUNK ((size_t)32 << 20)

static atomic_uint tmp_counter;

/* A path as a message quotes it: control characters as '?', at most
 * 256 bytes. */
static const char *shown(char *buf, size_t size, const char *path)
{
	size_t i, n = 0;

	for (i = 0; path[i] && n + 4 < size && i < 256; i++) {
		unsigned char c = (unsigned char)path[i];

		buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (path[i])
		n += (size_t)snprintf(buf + n, size - n, "...");
	buf[n] = '\0';
	return buf;
}

#define SHOWN_MAX 264

bool lt_ckpt_parse_step(const char *s, size_t len, int64_t *step)
{
	int64_t v = 0;
	size_t i;

	if (len <= 5 || strncmp(s, "step-", 5))
		return false;
	for (i = 5; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (len - 5 > 1 && s[5] == '0')
		return false; /* step-007: not a name ltrun writes */
	*step = v;
	return true;
}

/* rel must be relative and stay under the base. */
static int check_rel(const char *rel, struct lt_err *err)
{
	char q[SHOWN_MAX];
	const char *p = rel;

	if (!*rel || *rel == '/')
		goto out_bad;
	while (*p) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
			goto out_bad;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
out_bad:
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "checkpoint path '%s' is not a plain relative path: use names like step-<N>/model.safetensors",
			  shown(q, sizeof(q), rel));
}

static char *join(const char *base, const char *rel)
{
	char *s;

	if (asprintf(&s, "%s/%s", base, rel) < 0)
		return NULL;
	return s;
}

static int fsync_dir(const char *dir, struct lt_err *err)
{
	char q[SHOWN_MAX];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (fsync(fd) && errno != EINVAL && errno != EROFS)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot fsync checkpoint directory '%s': %s",
				  shown(q, sizeof(q), dir), strerror(e));
	}
	close(fd);
	return 0;
}

/* mkdir -p path; each directory made is fsynced into its parent. */
static int make_dirs(char *path, struct lt_err *err)
{
	char q[SHOWN_MAX];
	struct stat st;
	char *slash;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "checkpoint directory '%s' is a file: remove it or choose another directory",
				  shown(q, sizeof(q), path));
	}
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		if (make_dirs(path, err)) {
			*slash = '/';
			return -1;
		}
		*slash = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot create checkpoint directory '%s': %s: check its parent is writable",
				  shown(q, sizeof(q), path), strerror(errno));
	if (slash && slash != path) {
		int rc;

		*slash = '\0';
		rc = fsync_dir(path, err);
		*slash = '/';
		return rc;
	}
	return 0;
}

int lt_ckpt_make_dirs(const char *path, struct lt_err *err)
{
	char *p = strdup(path);
	int rc;

	if (!p)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory making a checkpoint directory");
	rc = make_dirs(p, err);
	free(p);
	return rc;
}

static int file_open(const struct lt_ckpt_io_args *args, void **state, struct lt_err *err)
{
	const char *base = args->base;
	struct file_io *f;
	size_t len;

	if (!base || !*base)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "the checkpoint directory is empty: give a directory such as checkpoints/");
	f = calloc(1, sizeof(*f));
	if (!f || !(f->base = strdup(base)))
		goto out_nomem;
	len = strlen(f->base);
	while (len > 1 && f->base[len - 1] == '/')
		f->base[--len] = '\0';
	if (make_dirs(f->base, err))
		goto out_free;
	/* on unless turned off (an IO opened without parameters: on) */
	f->direct = !args->params || lt_params_bool(args->params, "direct");
	*state = f;
	return 0;
out_nomem:
	lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening checkpoint directory");
out_free:
	if (f)
		free(f->base);
	free(f);
	return -1;
}

/* Writes every byte of iov to fd from offset 0: batches of up to 64
 * pieces of at most SYNC_CHUNK bytes, short writes resumed, writeback
 * started after each SYNC_CHUNK. */
static int write_synced(int fd, const struct iovec *iov, int iovcnt)
{
	struct iovec batch[64];
	int i = 0;
	size_t done = 0; /* bytes of iov[i] already written */
	uint64_t pos = 0, synced = 0;

	while (i < iovcnt) {
		int nb = 0;
		ssize_t w;

		size_t room = SYNC_CHUNK;

		for (int k = i; k < iovcnt && room && nb < (int)(sizeof(batch) / sizeof(batch[0])); k++) {
			size_t skip = k == i ? done : 0, len = iov[k].iov_len - skip;

			if (!len)
				continue;
			if (len > room)
				len = room;
			batch[nb].iov_base = (char *)iov[k].iov_base + skip;
			batch[nb].iov_len = len;
			room -= len;
			nb++;
		}
		if (!nb)
			return 0;
		w = writev(fd, batch, nb);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		pos += (uint64_t)w;
		if (pos - synced >= SYNC_CHUNK) {
			/* a hint: fsync still waits for every page */
			(void)sync_file_range(fd, (off_t)synced, (off_t)(pos - synced),
					      SYNC_FILE_RANGE_WRITE);
			synced = pos;
		}
		/* advance (i, done) by w bytes */
		while (w > 0 && i < iovcnt) {
			size_t left = iov[i].iov_len - done;

			if ((size_t)w < left) {
				done += (size_t)w;
				w = 0;
			} else {
				w -= (ssize_t)left;
				i++;
				done = 0;
			}
		}
		while (i < iovcnt && iov[i].iov_len == done) {
			i++;
			done = 0;
		}
	}
	return 0;
}

/* The name of spare slot k, relative to the base. */
static const char *spare_name(char buf[32], int k)
{
	snprintf(buf, 32, ".ltrun-spare-%d", k);
	return buf;
}

/* Whether st is a file that may become a spare, or be claimed as one: a
 * regular file of this user with no other name.  A backup made with
 * `cp -al` or `rsync --link-dest` shares the inode, and writing over it
 * in place would silently change the backup. */
static bool reusable(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 && st->st_uid == geteuid();
}

/* After a claim failed its last check: puts what was renamed to tmp back
 * under the spare's name (dfd, name), or, when it is this user's file,
 * unlinks the name tmp (another name, a backup, keeps its bytes). */
static void unclaim(int dfd, const char *name, const char *tmp)
{
	struct stat st;

	if (!renameat2(AT_FDCWD, tmp, dfd, name, RENAME_NOREPLACE))
		return;
	if (!lstat(tmp, &st) && st.st_uid == geteuid())
		unlink(tmp);
}

/* Claims a spare of this base for the temporary file tmp: renames it
 * there and opens it to write over (read and write: mostly_cached() maps
 * it), if it is reusable() both before the rename and, through the open
 * fd, after it (the same inode: nothing
 * swapped in or linked meanwhile).  Returns the fd, or -1 when there is
 * no spare to use (a new file is made instead; a spare that is not
 * reusable is left alone). */
static int claim_spare(const struct file_io *f, const char *tmp)
{
	int dfd = open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;

	for (int k = 0; dfd >= 0 && fd < 0 && k < SPARE_SLOTS; k++) {
		char name[32];
		struct stat seen, now;

		if (fstatat(dfd, spare_name(name, k), &seen, AT_SYMLINK_NOFOLLOW) || !reusable(&seen) ||
		    renameat(dfd, name, AT_FDCWD, tmp))
			continue; /* none there, not reusable, or another writer took it */
		fd = open(tmp, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && !fstat(fd, &now) && reusable(&now) && now.st_dev == seen.st_dev &&
		    now.st_ino == seen.st_ino)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		unclaim(dfd, name, tmp);
	}
	if (dfd >= 0)
		close(dfd);
	return fd;
}

/* Before the directory dir (under f's base) is deleted: moves its largest
 * reusable() file, when large enough, into a free spare slot.  Best
 * effort: whatever is not moved is deleted with the directory (a file
 * with another name, a backup's, loses only this name). */
static void keep_spare(struct file_io *f, const char *dir)
{
	char best[NAME_MAX + 1] = "", name[32];
	off_t best_size = (off_t)SPARE_MIN_BYTES - 1;
	struct dirent *de;
	DIR *d = opendir(dir);
	int dfd;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) && reusable(&st) &&
		    st.st_size > best_size) {
			best_size = st.st_size;
			snprintf(best, sizeof(best), "%s", de->d_name);
		}
	}
	dfd = best[0] ? open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	for (int k = 0; dfd >= 0 && k < SPARE_SLOTS; k++) {
		if (!renameat2(dirfd(d), best, dfd, spare_name(name, k), RENAME_NOREPLACE)) {
			f->made_spare = true;
			break;
		}
		if (errno != EEXIST)
			break; /* no renameat2 here, or another filesystem */
	}
	if (dfd >= 0)
		close(dfd);
	closedir(d);
}

/* Whether the entry name of directory dfd is a regular file of this user
 * (*size: its size). */
static bool own_file(int dfd, const char *name, off_t *size)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid())
		return false;
	*size = st.st_size;
	return true;
}

/* Deletes the spares of f's base (close, after remove() made some): this
 * user's files only. */
static void drop_spares(const struct file_io *f)
{
	int dfd = open(f->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[32];
	off_t size;

	for (int k = 0; dfd >= 0 && k < SPARE_SLOTS; k++)
		if (own_file(dfd, spare_name(name, k), &size))
			unlinkat(dfd, name, 0);
	if (dfd >= 0)
		close(dfd);
}

static uint64_t iov_bytes(const struct iovec *iov, int iovcnt)
{
	uint64_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Whether at least CACHED_SHARE of the first size bytes of fd are in the
 * page cache, judged by CACHE_PROBES pages spread evenly over them
 * (mincore of a mapping: page by page over 1 GB took 12-18 ms); false when
 * that cannot be told. */
static bool mostly_cached(int fd, uint64_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, resident = 0;
	char *map;

	if (!size || size > SIZE_MAX / 2)
		return false;
	pages = (size_t)((size + page - 1) / page);
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return false;
	for (size_t k = 0; k < CACHE_PROBES; k++) {
		unsigned char v = 0;
		size_t at = pages * k / CACHE_PROBES;

		if (!mincore(map + at * page, page, &v))
			resident += v & 1;
	}
	munmap(map, (size_t)size);
	return (double)resident >= CACHED_SHARE * CACHE_PROBES;
}

/* Writes iov's total bytes to fd, a new file (spare: false) or a claimed
 * spare, from offset 0: large files direct (O_DIRECT, direct.c) unless f
 * says not to or the spare's pages are cached, the rest, and every file of
 * a filesystem that refuses direct IO, buffered (write_synced).  The file
 * may be left longer than total: the caller truncates it.  Returns 0, or
 * -1 with errno. */
static int write_bytes(struct file_io *f, int fd, bool spare, const struct iovec *iov, int iovcnt,
		       uint64_t total)
{
	if (f->direct && total >= DIRECT_MIN_BYTES && !(spare && mostly_cached(fd, total)) &&
	    !lt_ckpt_direct_on(fd)) {
		int fl;

		if (!lt_ckpt_direct_write(fd, f->bounce, iov, iovcnt))
			return 0;
		if (errno != EINVAL)
			return -1;
		/* refused by this filesystem: buffered, from the start */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_DIRECT))
			return -1;
	}
	return write_synced(fd, iov, iovcnt);
}

static int file_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		      struct lt_err *err)
{
	struct file_io *f = state;
	char q[SHOWN_MAX], *path = NULL, *tmp = NULL, *slash;
	uint64_t total = iov_bytes(iov, iovcnt);
	int fd = -1, e;
	bool spare;

	if (check_rel(rel, err))
		return -1;
	path = join(f->base, rel);
	if (!path)
		goto out_nomem;
	slash = strrchr(path, '/');
	*slash = '\0';
	if (make_dirs(path, err))
		goto out_free;
	if (asprintf(&tmp, "%s/.%s.tmp-%ld-%u", path, slash + 1, (long)getpid(),
		     atomic_fetch_add(&tmp_counter, 1)) < 0) {
		tmp = NULL;
		goto out_nomem;
	}
	*slash = '/';
	fd = total >= SPARE_MIN_BYTES ? claim_spare(f, tmp) : -1;
	spare = fd >= 0;
	if (fd < 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "cannot create checkpoint file '%s': %s: check the directory is writable",
			   shown(q, sizeof(q), tmp), strerror(errno));
		goto out_free;
	}
	/* ftruncate: a claimed spare may be longer than what was written, and
	 * a direct write pads its last block */
	if (write_bytes(f, fd, spare, iov, iovcnt, total) || ftruncate(fd, (off_t)total) ||
	    fsync(fd)) {
		e = errno;
		lt_err_set(err, LT_EXIT_FAILURE,
			   "cannot write checkpoint file '%s': %s: free space on its filesystem or choose another directory",
			   shown(q, sizeof(q), path), strerror(e));
		goto out_unlink;
	}
	e = close(fd);
	fd = -1;
	if (e) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot write checkpoint file '%s': %s",
			   shown(q, sizeof(q), path), strerror(errno));
		goto out_unlink;
	}
	if (rename(tmp, path)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot rename '%s' to '%s': %s",
			   shown(q, sizeof(q), tmp), rel, strerror(errno));
		goto out_unlink;
	}
	*strrchr(path, '/') = '\0';
	if (fsync_dir(path, err))
		goto out_free;
	free(tmp);
	free(path);
	return 0;
out_nomem:
	lt_err_set(err, LT_EXIT_FAILURE, "out of memory writing checkpoint file '%s'",
		   shown(q, sizeof(q), rel));
	goto out_free;
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	free(path);
	return -1;
}

static int file_size(void *state, const char *rel, uint64_t *size, struct lt_err *err)
{
	struct file_io *f = state;
	char q[SHOWN_MAX], *path;
	struct stat st;
	int rc = 0;

	if (check_rel(rel, err))
		return -1;
	if (!(path = join(f->base, rel)))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (stat(path, &st))
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot read checkpoint file '%s': %s",
				shown(q, sizeof(q), path), strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"checkpoint file '%s' is not a regular file: give a checkpoint's file",
				shown(q, sizeof(q), path));
	else
		*size = (uint64_t)st.st_size;
	free(path);
	return rc;
}

/* Opens file rel for reading: the fd, or -1 with err set; *path (to
 * free) names it in messages. */
static int open_for_read(struct file_io *f, const char *rel, char **path, struct lt_err *err)
{
	char q[SHOWN_MAX];
	int fd;

	*path = NULL;
	if (check_rel(rel, err))
		return -1;
	if (!(*path = join(f->base, rel))) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		return -1;
	}
	fd = open(*path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		lt_err_set(err, LT_EXIT_FAILURE, "cannot read checkpoint file '%s': %s",
			   shown(q, sizeof(q), *path), strerror(errno));
	return fd;
}

/* The error for a read of len bytes at off that found the file ending at
 * byte end. */
static int truncated(const char *path, uint64_t end, uint64_t off, size_t len, struct lt_err *err)
{
	char q[SHOWN_MAX];

	return lt_err_set(err, LT_EXIT_FAILURE,
			  "checkpoint file '%s' ends at byte %llu, before the %zu bytes asked at offset %llu: it is truncated",
			  shown(q, sizeof(q), path), (unsigned long long)end, len, (unsigned long long)off);
}

/* Reads exactly len bytes at off of fd (the file path) with pread. */
static int pread_all(int fd, const char *path, uint64_t off, void *buf, size_t len,
		     struct lt_err *err)
{
	char q[SHOWN_MAX];
	size_t done = 0;

	while (done < len) {
		size_t want = len - done > (1u << 30) ? (1u << 30) : len - done;
		ssize_t r = pread(fd, (char *)buf + done, want, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return lt_err_set(err, LT_EXIT_FAILURE, "cannot read checkpoint file '%s': %s",
					  shown(q, sizeof(q), path), strerror(errno));
		if (r == 0)
			return truncated(path, off + done, off, len, err);
		done += (size_t)r;
	}
	return 0;
}

static int file_read(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		     struct lt_err *err)
{
	char *path;
	int fd = open_for_read(state, rel, &path, err), rc = -1;

	if (fd >= 0) {
		rc = pread_all(fd, path, off, buf, len, err);
		close(fd);
	}
	free(path);
	return rc;
}

/* Whether a file of st's size ends before len bytes at off. */
static bool ends_before(const struct stat *st, uint64_t off, size_t len)
{
	return (uint64_t)st->st_size < off || (uint64_t)st->st_size - off < len;
}

/* Through a mapping (mapped.c): the bytes are read once, copied and
 * checksummed together.  Where the file cannot be mapped, pread. */
static int file_read_crc(void *state, const char *rel, uint64_t off, void *buf, size_t len,
			 uint32_t *crc, struct lt_err *err)
{
	char q[SHOWN_MAX], *path;
	int fd = open_for_read(state, rel, &path, err), rc = -1;
	struct stat st;

	if (fd < 0)
		goto out;
	if (fstat(fd, &st)) {
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot read checkpoint file '%s': %s",
				shown(q, sizeof(q), path), strerror(errno));
	} else if (ends_before(&st, off, len)) {
		rc = truncated(path, (uint64_t)st.st_size, off, len, err);
	} else {
		switch (lt_ckpt_mapped_read(fd, off, buf, len, crc)) {
		case LT_MAPPED_OK:
			rc = 0;
			break;
		case LT_MAPPED_NO_MAP:
			rc = pread_all(fd, path, off, buf, len, err);
			if (!rc)
				*crc = lt_crc32c(0, buf, len);
			break;
		case LT_MAPPED_FAULT:
			if (!fstat(fd, &st) && ends_before(&st, off, len))
				rc = truncated(path, (uint64_t)st.st_size, off, len, err);
			else
				rc = lt_err_set(err, LT_EXIT_FAILURE,
						"cannot read checkpoint file '%s' at offset %llu: the disk or filesystem failed under its mapping (SIGBUS): check the device, then retry",
						shown(q, sizeof(q), path), (unsigned long long)off);
			break;
		}
	}
	close(fd);
out:
	free(path);
	return rc;
}

/* Removes name (in directory at) and everything under it. */
static int remove_tree(int at, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (!unlinkat(at, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > 16) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    remove_tree(dirfd(d), de->d_name, depth + 1))
			rc = -1;
	closedir(d);
	if (!rc && unlinkat(at, name, AT_REMOVEDIR) && errno != ENOENT)
		rc = -1;
	return rc;
}

static int file_remove(void *state, const char *rel, struct lt_err *err)
{
	struct file_io *f = state;
	char q[SHOWN_MAX], *path;
	struct stat st;
	int rc = 0;

	if (check_rel(rel, err))
		return -1;
	if (!(path = join(f->base, rel)))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot remove old checkpoint '%s': %s",
					shown(q, sizeof(q), path), strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		/* a step's name, but not a directory ltrun made: not its to delete */
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"checkpoint '%s' is not a directory: remove it by hand",
				shown(q, sizeof(q), path));
		goto out;
	}
	keep_spare(f, path);
	if (remove_tree(AT_FDCWD, path, 0))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"cannot remove old checkpoint '%s': %s: remove it by hand",
				shown(q, sizeof(q), path), strerror(errno));
	else
		rc = fsync_dir(f->base, err);
out:
	free(path);
	return rc;
}

/* Reads open the file each time and use pread: any number at once. */
static bool file_parallel_reads(void *state)
{
	(void)state;
	return true;
}

static int file_flush(void *state, struct lt_err *err)
{
	(void)state;
	(void)err;
	return 0;
}

static void file_close(void *state)
{
	struct file_io *f = state;

	if (f && f->made_spare)
		drop_spares(f);
	if (f) {
		for (int k = 0; k < LT_CKPT_DIRECT_WRITERS; k++)
			lt_ckpt_bounce_free(&f->bounce[k]);
		free(f->base);
	}
	free(f);
}

int lt_ckpt_io_file_steps(void *state, struct lt_ckpt_step_dir **dirs, size_t *n,
			  struct lt_err *err)
{
	struct file_io *f = state;
	struct lt_ckpt_step_dir *v = NULL;
	size_t cap = 0, count = 0;
	char q[SHOWN_MAX];
	struct dirent *de;
	DIR *d;

	*dirs = NULL;
	*n = 0;
	d = opendir(f->base);
	if (!d)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot list checkpoint directory '%s': %s",
				  shown(q, sizeof(q), f->base), strerror(errno));
	while ((de = readdir(d))) {
		struct stat st;
		char idx[NAME_MAX + 16];
		int64_t step;

		if (!lt_ckpt_parse_step(de->d_name, strlen(de->d_name), &step))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		if (LT_ARRAY_RESERVE(v, cap, count + 1))
			goto out_nomem;
		snprintf(idx, sizeof(idx), "%s/index.json", de->d_name);
		v[count].step = step;
		v[count].complete = !fstatat(dirfd(d), idx, &st, 0) && S_ISREG(st.st_mode);
		count++;
	}
	closedir(d);
	*dirs = v;
	*n = count;
	return 0;
out_nomem:
	closedir(d);
	free(v);
	return lt_err_set(err, LT_EXIT_FAILURE, "out of memory listing '%s'",
			  shown(q, sizeof(q), f->base));
}

/* Whether name is a temporary of file_write (".<name>.tmp-<pid>-<n>"). */
static bool is_tmp_name(const char *name)
{
	return name[0] == '.' && strstr(name, ".tmp-") != NULL;
}

/* Removes this user's temporaries (and, with spares, spares) from the
 * directory dfd, counting them into c. */
static void clean_files(int dfd, bool spares, struct lt_ckpt_cleaned *c)
{
	struct dirent *de;
	/* a descriptor of its own: a dup would share dfd's position */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	off_t size;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		bool spare = spares && !strncmp(de->d_name, ".ltrun-spare-", 13);

		if ((spare || is_tmp_name(de->d_name)) && own_file(dfd, de->d_name, &size) &&
		    !unlinkat(dfd, de->d_name, 0)) {
			c->files++;
			c->bytes += (uint64_t)size;
		}
	}
	closedir(d);
}

/* Cleans the entry name of the base dfd when it is a step directory of
 * this user: removed whole when incomplete (no index.json), its
 * temporaries removed otherwise. */
static void clean_step(int dfd, const char *name, struct lt_ckpt_cleaned *c)
{
	struct stat st;
	int64_t step;
	int sfd;

	if (!lt_ckpt_parse_step(name, strlen(name), &step) ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid())
		return;
	sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return;
	if (fstatat(sfd, "index.json", &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) {
		if (!remove_tree(dfd, name, 0))
			c->dirs++;
	} else {
		clean_files(sfd, false, c);
	}
	close(sfd);
}

int lt_ckpt_io_file_clean(const char *base, struct lt_ckpt_cleaned *c, struct lt_err *err)
{
	char q[SHOWN_MAX];
	struct lt_err ignored;
	struct dirent *de;
	int dfd, fd = -1;
	DIR *d = NULL;

	memset(c, 0, sizeof(*c));
	dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return 0;
	if (dfd >= 0 && (fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		d = fdopendir(fd);
	if (!d) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (dfd >= 0)
			close(dfd);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot list checkpoint directory '%s': %s",
				  shown(q, sizeof(q), base), strerror(e));
	}
	clean_files(dfd, true, c);
	while ((de = readdir(d)))
		clean_step(dfd, de->d_name, c);
	closedir(d);
	close(dfd);
	if (c->files || c->dirs)
		(void)fsync_dir(base, &ignored);
	return 0;
}

const char *lt_ckpt_io_file_base(void *state)
{
	return ((struct file_io *)state)->base;
}

const struct lt_ckpt_io_ops lt_ckpt_io_file = {
	.open = file_open,
	.write = file_write,
	.size = file_size,
	.read = file_read,
	.read_crc = file_read_crc,
	.parallel_reads = file_parallel_reads,
	.remove = file_remove,
	.flush = file_flush,
	.close = file_close,
};
