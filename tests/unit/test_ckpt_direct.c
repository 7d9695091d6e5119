/*
 * test_ckpt_direct.c - direct (O_DIRECT) checkpoint writes: direct.c's
 * writer against the plain concatenation of its pieces (aligned runs
 * written from the caller's memory, odd pieces through the bounce, files
 * larger than the bounce, a last block padded), and the file plugin's
 * choice: large new files go past the page cache, a spare whose pages are
 * cached is written over buffered, `direct=false` writes every file
 * buffered, the same bytes either way.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ckpt_cases.h"
#include "ckpt/direct.h"
#include "ckpt/io.h"
#include "core/registry.h"

#define MB ((size_t)1 << 20)
#define TMPFS_MAGIC_ 0x01021994

/* A file in a fresh directory under /tmp, opened for writing with
 * O_DIRECT on; cr_skip when /tmp takes no direct IO. */
static int open_direct(char dir[64], char path[96])
{
	int fd;

	snprintf(dir, 64, "/tmp/ltrun-direct-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, 96, "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	if (lt_ckpt_direct_on(fd)) {
		close(fd);
		unlink(path);
		rmdir(dir);
		cr_skip_test("/tmp takes no O_DIRECT here");
	}
	return fd;
}

/* Writes iov with lt_ckpt_direct_write through b, truncates to length and
 * compares the file with the concatenation. */
static void write_and_check(struct lt_ckpt_bounce *b, const struct iovec *iov, int n)
{
	char dir[64], path[96];
	int fd = open_direct(dir, path);
	size_t total = 0, len, at = 0;
	unsigned char *got;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	cr_assert_eq(lt_ckpt_direct_write(fd, b, iov, n), 0, "direct write: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)total), 0);
	close(fd);
	got = slurp(path, &len);
	cr_assert_eq(len, total);
	for (int i = 0; i < n; i++) {
		cr_expect_eq(memcmp(got + at, iov[i].iov_base, iov[i].iov_len), 0,
			     "piece %d (%zu bytes at %zu) differs", i, iov[i].iov_len, at);
		at += iov[i].iov_len;
	}
	free(got);
	unlink(path);
	rmdir(dir);
}

Test(ckpt_direct, pieces_of_every_alignment)
{
	struct lt_ckpt_bounce b[LT_CKPT_DIRECT_WRITERS] = { LT_CKPT_BOUNCE_INIT };
	const size_t A = LT_CKPT_DIRECT_ALIGN;
	unsigned char *mem = NULL;

	cr_assert_eq(posix_memalign((void **)&mem, A, 24 * MB), 0);
	fill_bytes(mem, 24 * MB, 7);

	/* one aligned piece of whole blocks: from the caller's memory */
	write_and_check(b, (struct iovec[]){ { mem, 3 * MB } }, 1);
	/* aligned, with a ragged end (the last block padded, then cut) */
	write_and_check(b, (struct iovec[]){ { mem, 3 * MB + 123 } }, 1);
	cr_expect_leq(b[0].size, 8 * MB, "the bounce stays small");
	/* a header of odd length, then unaligned tensors, more than a bounce
	 * holds and enough for two writers: everything through the bounces,
	 * flushed as they fill, each part by its own thread */
	write_and_check(b, (struct iovec[]){ { mem + 1, 600 }, { mem + 4096 + 16, 9 * MB + 5 },
					       { mem + 10 * MB + 3, 1 }, { mem + 11 * MB + 8, 7 * MB } }, 4);
	/* unaligned bytes up to a block boundary, then a lined-up run: the
	 * bounce is written out and the run goes straight from memory */
	write_and_check(b, (struct iovec[]){ { mem + 100, A - 100 }, { mem + 2 * A, 5 * MB },
					       { mem + 13 * MB, A }, { mem + 15 * MB + 1, 2 * A + 3 } }, 4);
	/* tiny and empty pieces */
	write_and_check(b, (struct iovec[]){ { mem, 0 }, { mem + 5, 1 }, { mem + 9, 0 }, { mem + 77, 3 } }, 4);
	/* a lined-up run for two writers, with a ragged end */
	write_and_check(b, (struct iovec[]){ { mem, 20 * MB + 1000 } }, 1);
	/* two writers, the middle inside a piece that is not lined up */
	write_and_check(b, (struct iovec[]){ { mem + 3, 7 * MB }, { mem + 8 * MB, 4 * MB + 77 },
					     { mem + 13 * MB + 5, 11 * MB - 10 } }, 3);
	/* three writers, unaligned */
	write_and_check(b, (struct iovec[]){ { mem + 1, 24 * MB - 1 } }, 1);
	cr_expect_leq(b[1].size, 8 * MB);
	for (int k = 0; k < LT_CKPT_DIRECT_WRITERS; k++) {
		lt_ckpt_bounce_free(&b[k]);
		cr_expect_null(b[k].buf);
	}
	free(mem);
}

/* Share of path's pages in the page cache, 0..1. */
static double cached_share(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, n = 0;
	unsigned char *vec;
	void *map;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	pages = ((size_t)st.st_size + page - 1) / page;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	vec = malloc(pages);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return (double)n / (double)pages;
}

static void open_io(struct ckpt_dir *d, const char *spec, const struct lt_registry *reg,
		    struct lt_choice *c)
{
	struct lt_err err = { 0, "" };

	snprintf(d->path, sizeof(d->path), "/tmp/ltrun-ckpt-XXXXXX");
	cr_assert_not_null(mkdtemp(d->path));
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, spec, c, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_open(reg, c, d->path, &d->io, &err), 0, "%s", err.msg);
}

static void save(struct ckpt_dir *d, int64_t step, float *p, size_t n)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_tensor t = { .name = "w", .dtype = LT_F32, .ndim = 1, .shape = { (int64_t)n },
				    .data = p, .bytes = n * sizeof(*p) };

	for (size_t i = 0; i < n; i++)
		p[i] = (float)(i % 1013) * 0.25f + (float)step;
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d->io, step, &t, 1, NULL, 1, &err), 0, "%s",
		     err.msg);
}

static void load(struct ckpt_dir *d, float *want, size_t n)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r = lt_ckpt_open(&lt_ckpt_io_file, d->io, "last", &err);
	int64_t shape[1] = { (int64_t)n };
	float *got = malloc(n * sizeof(*got));

	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(lt_ckpt_read(r, "w", LT_F32, 1, shape, got, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(got, want, n * sizeof(*got)), 0, "the checkpoint reads back different");
	lt_ckpt_close(r);
	free(got);
}

static bool on_tmpfs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && sf.f_type == TMPFS_MAGIC_;
}

/* Saves step and returns the share of its model file in the page cache. */
static double saved_share(struct ckpt_dir *d, int64_t step, float *p, size_t n)
{
	char path[160];

	save(d, step, p, n);
	snprintf(path, sizeof(path), "%s/step-%lld/model.safetensors", d->path, (long long)step);
	return cached_share(path);
}

Test(ckpt_direct, new_files_skip_the_page_cache_cached_spares_do_not)
{
	const size_t n = 2 * MB + 17; /* 8 MB of f32 and a ragged end */
	const struct lt_registry *reg = builtins();
	struct lt_choice c = { 0 };
	struct ckpt_dir d;
	float *p = malloc(n * sizeof(*p));

	cr_assert(p);
	open_io(&d, "file", reg, &c);
	if (on_tmpfs(d.path)) {
		ckpt_dir_done(&d);
		cr_skip_test("/tmp is a tmpfs: every page is cached");
	}
	/* a new file: written direct, so none of it is cached after */
	cr_expect_lt(saved_share(&d, 1, p, n), 0.5, "a first save goes past the page cache");
	load(&d, p, n);
	/* reading it cached it: step-1's file, retired by step 2, becomes a
	 * spare whose pages are cached, and step 3 is written over it
	 * buffered (its pages stay cached) */
	cr_expect_lt(saved_share(&d, 2, p, n), 0.5, "no spare yet: direct");
	cr_expect_gt(saved_share(&d, 3, p, n), 0.8, "a cached spare is written over buffered");
	load(&d, p, n);
	/* step-2's file, never read, is the spare now: step 4 goes direct */
	cr_expect_lt(saved_share(&d, 4, p, n), 0.5, "an uncached spare is written over direct");
	load(&d, p, n);
	lt_ckpt_io_file.close(d.io);
	d.io = NULL;
	lt_choice_free(&c);
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d.path);
		cr_expect_eq(system(cmd), 0);
	}
	free(p);
}

Test(ckpt_direct, direct_false_writes_buffered_the_same_bytes)
{
	const size_t n = MB / 2 + 3; /* just over 2 MB */
	const struct lt_registry *reg = builtins();
	struct lt_choice c1 = { 0 }, c2 = { 0 };
	struct ckpt_dir a, b;
	char pa[160], pb[160], cmd[400];
	unsigned char *ba, *bb;
	size_t la, lb;
	float *p = malloc(n * sizeof(*p));

	cr_assert(p);
	open_io(&a, "file", reg, &c1);
	open_io(&b, "file:direct=false", reg, &c2);
	save(&a, 1, p, n);
	save(&b, 1, p, n);
	snprintf(pa, sizeof(pa), "%s/step-1/model.safetensors", a.path);
	snprintf(pb, sizeof(pb), "%s/step-1/model.safetensors", b.path);
	ba = slurp(pa, &la);
	bb = slurp(pb, &lb);
	cr_assert_eq(la, lb);
	cr_expect_eq(memcmp(ba, bb, la), 0, "direct and buffered saves write the same bytes");
	if (!on_tmpfs(b.path))
		cr_expect_gt(cached_share(pb), 0.8, "direct=false: written through the page cache");
	free(ba);
	free(bb);
	lt_ckpt_io_file.close(a.io);
	lt_ckpt_io_file.close(b.io);
	lt_choice_free(&c1);
	lt_choice_free(&c2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", a.path, b.path);
	cr_expect_eq(system(cmd), 0);
	free(p);
}

Test(ckpt_direct, the_parameter_is_checked)
{
	const struct lt_registry *reg = builtins();
	struct lt_err err = { 0, "" };
	struct lt_choice c = { 0 };

	cr_expect_neq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, "file:direct=maybe", &c, &err), 0);
	cr_expect(strstr(err.msg, "direct"), "%s", err.msg);
}
