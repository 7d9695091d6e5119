/*
 * zstd_io.c - an example checkpoint IO plugin, `zstd`: every file of a
 * checkpoint (the safetensors file with its tensors, the index, `last`,
 * the history) is stored in a directory as one zstd frame (libzstd), with
 * its content size and a checksum in the frame header.  ltrun sees the
 * bytes it wrote: `--resume` reads through this plugin, and
 * `ltrun ckpt verify --plugin zstd_io.so --ckpt-io zstd DIR` checks every
 * tensor (a corrupted file fails zstd's own checksum before ltrun's).
 *
 * Writes are atomic as ltrun asks: compressed into memory, written to a
 * temporary name beside the final one, fsynced, renamed, and the
 * directory fsynced; a failure removes the temporary file and never
 * touches the complete one.  A read decompresses the whole file once and
 * serves every range from that copy until the file is written again (a
 * checkpoint's files are read whole, one after another).
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun libzstd) -o zstd_io.so \
 *      zstd_io.c $(pkg-config --libs libzstd)
 *   ltrun --plugin ./zstd_io.so --ckpt-io zstd --ckpt-dir ckpt model.so
 *   ltrun --plugin ./zstd_io.so --ckpt-io zstd:level=19 ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "ltrun/ckpt_io.h"

struct zio {
	char *base;
	int level;
	/* the last file read, decompressed */
	char *cached_rel;
	char *cached;
	size_t cached_len;
};

/* ------------------------------------------------------------ paths */

/* base/rel into a malloc'ed string, or NULL with err (rel must stay
 * under base: no absolute path, no ".." component). */
static char *path_of(const struct zio *z, const char *rel, struct lt_err *err)
{
	char *p;

	if (!*rel || rel[0] == '/' || !strcmp(rel, "..") || !strncmp(rel, "../", 3) ||
	    strstr(rel, "/../") || (strlen(rel) >= 3 && !strcmp(rel + strlen(rel) - 3, "/.."))) {
		lt_err_set(err, LT_EXIT_FAILURE, "'%s' is not a path under '%s'", rel, z->base);
		return NULL;
	}
	if (asprintf(&p, "%s/%s", z->base, rel) < 0) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the path of '%s'", rel);
		return NULL;
	}
	return p;
}

/* mkdir -p of the directories of path (the last component excluded when
 * file is set). */
static int make_dirs(char *path, bool file, struct lt_err *err)
{
	char *end = file ? strrchr(path, '/') : path + strlen(path);

	if (!end)
		return 0;
	for (char *s = path + 1; s <= end; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot make directory '%s': %s", path,
				   strerror(errno));
			*s = c;
			return -1;
		}
		*s = c;
	}
	return 0;
}

static void fsync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	int fd;

	if (slash) {
		*slash = '\0';
		fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	free(dir);
}

static void forget(struct zio *z)
{
	free(z->cached_rel);
	free(z->cached);
	z->cached_rel = z->cached = NULL;
	z->cached_len = 0;
}

/* ------------------------------------------------------------ the ops */

static int zio_open(const struct lt_ckpt_io_args *a, void **state, struct lt_err *err)
{
	struct zio *z;

	if (!a->base || !*a->base || !strncmp(a->base, "http://", 7) ||
	    !strncmp(a->base, "https://", 8))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "'%s' is not a directory: zstd stores checkpoints in a local or shared directory",
				  a->base ? a->base : "");
	z = calloc(1, sizeof(*z));
	if (!z || !(z->base = strdup(a->base))) {
		free(z);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening '%s'", a->base);
	}
	z->level = (int)lt_params_int(a->params, "level");
	if (make_dirs(z->base, false, err)) {
		free(z->base);
		free(z);
		return -1;
	}
	*state = z;
	return 0;
}

/* Compresses the iov into a malloc'ed frame (with checksum). */
static void *compress_iov(const struct zio *z, const struct iovec *iov, int iovcnt,
			  size_t *out_len, const char *rel, struct lt_err *err)
{
	size_t total = 0, off = 0, bound, n;
	char *plain, *packed = NULL;
	ZSTD_CCtx *cc;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	bound = ZSTD_compressBound(total);
	plain = malloc(total ? total : 1);
	cc = ZSTD_createCCtx();
	if (plain && cc)
		packed = malloc(bound);
	if (!plain || !cc || !packed) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory compressing '%s' (%zu bytes)", rel,
			   total);
		goto out;
	}
	for (int i = 0; i < iovcnt; i++) {
		memcpy(plain + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, z->level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
	n = ZSTD_compress2(cc, packed, bound, plain, total);
	if (ZSTD_isError(n)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot compress '%s': %s", rel,
			   ZSTD_getErrorName(n));
		free(packed);
		packed = NULL;
		goto out;
	}
	*out_len = n;
out:
	ZSTD_freeCCtx(cc);
	free(plain);
	return packed;
}

static int write_file(const char *tmp, const void *p, size_t len, struct lt_err *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot create '%s': %s", tmp,
				  strerror(errno));
	while (done < len) {
		ssize_t w = write(fd, (const char *)p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot write '%s': %s", tmp,
				   w < 0 ? strerror(errno) : "no progress");
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	if (fsync(fd)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot fsync '%s': %s", tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot close '%s': %s", tmp,
				  strerror(errno));
	return 0;
}

static int zio_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		     struct lt_err *err)
{
	struct zio *z = state;
	char *path = path_of(z, rel, err), *tmp = NULL;
	void *packed = NULL;
	size_t len = 0;
	int rc = -1;

	if (!path)
		return -1;
	if (z->cached_rel && !strcmp(z->cached_rel, rel))
		forget(z);
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		tmp = NULL;
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory writing '%s'", rel);
		goto out;
	}
	if (make_dirs(path, true, err) ||
	    !(packed = compress_iov(z, iov, iovcnt, &len, rel, err)))
		goto out;
	unlink(tmp);
	if (write_file(tmp, packed, len, err)) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot rename '%s' to '%s': %s", tmp, path,
			   strerror(errno));
		unlink(tmp);
		goto out;
	}
	fsync_dir_of(path);
	rc = 0;
out:
	free(packed);
	free(tmp);
	free(path);
	return rc;
}

/* Reads and decompresses file rel into the cache. */
static int load(struct zio *z, const char *rel, struct lt_err *err)
{
	char *path, *packed = NULL, *plain = NULL;
	unsigned long long size;
	struct stat st;
	size_t n;
	int fd, rc = -1;

	if (z->cached_rel && !strcmp(z->cached_rel, rel))
		return 0;
	forget(z);
	path = path_of(z, rel, err);
	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	packed = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!packed) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading '%s'", path);
		goto out;
	}
	for (n = 0; n < (size_t)st.st_size;) {
		ssize_t r = pread(fd, packed + n, (size_t)st.st_size - n, (off_t)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot read '%s': %s", path,
				   r < 0 ? strerror(errno) : "it is shorter than its size");
			goto out;
		}
		n += (size_t)r;
	}
	size = ZSTD_getFrameContentSize(packed, n);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "'%s' is not a zstd frame written by this plugin: was the checkpoint saved with --ckpt-io zstd?",
			   path);
		goto out;
	}
	plain = malloc(size ? (size_t)size : 1);
	if (!plain) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory decompressing '%s' (%llu bytes)",
			   path, size);
		goto out;
	}
	n = ZSTD_decompress(plain, (size_t)size, packed, n);
	if (ZSTD_isError(n) || n != size) {
		lt_err_set(err, LT_EXIT_FAILURE, "'%s' is corrupt: %s", path,
			   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "shorter than its header says");
		goto out;
	}
	z->cached_rel = strdup(rel);
	if (!z->cached_rel) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading '%s'", path);
		goto out;
	}
	z->cached = plain;
	z->cached_len = (size_t)size;
	plain = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(plain);
	free(packed);
	free(path);
	return rc;
}

static int zio_size(void *state, const char *rel, uint64_t *size, struct lt_err *err)
{
	struct zio *z = state;

	if (load(z, rel, err))
		return -1;
	*size = z->cached_len;
	return 0;
}

static int zio_read(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		    struct lt_err *err)
{
	struct zio *z = state;

	if (load(z, rel, err))
		return -1;
	if (off > z->cached_len || len > z->cached_len - off)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "'%s/%s' is truncated: %zu bytes at %llu asked, it holds %zu",
				  z->base, rel, len, (unsigned long long)off, z->cached_len);
	memcpy(buf, z->cached + off, len);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT ? -1 : 0;
}

static int zio_remove(void *state, const char *rel, struct lt_err *err)
{
	struct zio *z = state;
	char *path = path_of(z, rel, err);
	struct stat st;
	int rc = 0;

	if (!path)
		return -1;
	forget(z);
	if (!lstat(path, &st) && nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS))
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot remove '%s': %s", path,
				strerror(errno));
	free(path);
	return rc;
}

static void zio_close(void *state)
{
	struct zio *z = state;

	forget(z);
	free(z->base);
	free(z);
}

/* ------------------------------------------------------ registration */

static const struct lt_ckpt_io_ops zio_ops = {
	.open = zio_open,
	.write = zio_write,
	.size = zio_size,
	.read = zio_read,
	.remove = zio_remove,
	.close = zio_close,
};

static const struct lt_param_spec zio_params[] = {
	{ .name = "level", .type = LT_PARAM_INT, .default_value = "3", .min = 1, .max = 19,
	  .help = "zstd compression level (higher: smaller and slower)" },
	{ .name = NULL },
};

static const struct lt_plugin zio_plugin = {
	.kind = LT_KIND_CKPT_IO,
	.name = "zstd",
	.description = "Each checkpoint file as one zstd frame with a checksum, in a directory.",
	.recommended_when = "checkpoints are large and disk or network is slower than zstd (example plugin)",
	.params = zio_params,
	.ops = &zio_ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &zio_plugin, err);
}
