/*
 * test_ckpt_parallel.c - the checkpoint work done on several threads and
 * the file plugin's spares: lt_crc32c_combine against the CRC of the
 * concatenation; lt_ckpt_checksum_tensors and lt_ckpt_read_checked over
 * buffers of many pieces (odd lengths and offsets, one failing read, an
 * IO that allows no parallel reads; the file plugin's reads through a
 * mapping and with pread) against one-thread results; and a
 * retired checkpoint's file kept as a spare, rewritten in place by the
 * next save (shorter and longer), never read as a checkpoint, and gone
 * after close.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_cases.h"
#include "ckpt/crc32c.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/parallel.h"

#define MB ((size_t)1 << 20)

Test(ckpt_parallel, crc32c_combine_equals_concatenation)
{
	enum { N = 70000 };
	unsigned char *buf = malloc(N);
	size_t cuts[] = { 0, 1, 7, 8, 255, 256, 8191, 8192, 24577, 40000, N };

	cr_assert(buf);
	fill_bytes(buf, N, 1);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
		size_t a = cuts[i], b = N - a;
		uint32_t whole = lt_crc32c(0, buf, N);

		cr_assert_eq(lt_crc32c_combine(lt_crc32c(0, buf, a), lt_crc32c(0, buf + a, b), b), whole,
			     "cut at %zu", a);
		/* three pieces, joined left to right */
		size_t m = a / 2;
		uint32_t c = lt_crc32c_combine(lt_crc32c(0, buf, m), lt_crc32c(0, buf + m, a - m), a - m);

		cr_assert_eq(lt_crc32c_combine(c, lt_crc32c(0, buf + a, b), b), whole, "cuts %zu %zu", m, a);
	}
	cr_expect_eq(lt_crc32c_combine(0x12345678, 0, 0), 0x12345678, "nothing appended");
	/* with crc_b = 0, combine shifts crc_a over len_b zero bytes: two
	 * shifts of 2^32 are one of 2^33 (lengths past 32 bits), and 8 + 5
	 * is 13 */
	cr_expect_eq(lt_crc32c_combine(lt_crc32c_combine(0xdeadbeef, 0, (uint64_t)1 << 32), 0,
				       (uint64_t)1 << 32),
		     lt_crc32c_combine(0xdeadbeef, 0, (uint64_t)1 << 33));
	cr_expect_eq(lt_crc32c_combine(lt_crc32c_combine(0x1234, 0, 8), 0, 5),
		     lt_crc32c_combine(0x1234, 0, 13));
	free(buf);
}

Test(ckpt_parallel, checksum_tensors_match_one_thread)
{
	size_t sizes[] = { 0, 1, 4 * MB - 1, 4 * MB, 4 * MB + 1, 17 * MB + 3, 9 * MB };
	enum { N = sizeof(sizes) / sizeof(*sizes) };
	struct lt_ckpt_tensor t[N];
	uint32_t crc[N];

	for (size_t i = 0; i < N; i++) {
		unsigned char *p = malloc(sizes[i] + 1);

		cr_assert(p);
		fill_bytes(p, sizes[i], (unsigned)i + 3);
		t[i] = (struct lt_ckpt_tensor){ .name = "t", .data = p, .bytes = sizes[i] };
	}
	lt_ckpt_checksum_tensors(t, N, crc);
	for (size_t i = 0; i < N; i++) {
		cr_expect_eq(crc[i], lt_crc32c(0, t[i].data, t[i].bytes), "tensor %zu (%zu bytes)", i, sizes[i]);
		free((void *)t[i].data);
	}
	lt_ckpt_checksum_tensors(t, 0, crc); /* nothing to do */
}

/* An IO over the file plugin that counts reads, can fail the k-th, and
 * says whether it allows parallel reads. */
static atomic_int reads, fail_read_at;
static bool allow_parallel;

static int counting_read(void *st, const char *rel, uint64_t off, void *buf, size_t len,
			 struct lt_err *err)
{
	int n = atomic_fetch_add(&reads, 1) + 1;

	if (n == atomic_load(&fail_read_at))
		return lt_err_set(err, 1, "injected failure reading '%s' at %llu", rel,
				  (unsigned long long)off);
	return lt_ckpt_io_file.read(st, rel, off, buf, len, err);
}

static int counting_read_crc(void *st, const char *rel, uint64_t off, void *buf, size_t len,
			     uint32_t *crc, struct lt_err *err)
{
	int n = atomic_fetch_add(&reads, 1) + 1;

	if (n == atomic_load(&fail_read_at))
		return lt_err_set(err, 1, "injected failure reading '%s' at %llu", rel,
				  (unsigned long long)off);
	return lt_ckpt_io_file.read_crc(st, rel, off, buf, len, crc, err);
}

static bool counting_parallel(void *st)
{
	(void)st;
	return allow_parallel;
}

/* Checked reads through the file plugin, its pieces counted: with
 * read_crc (mapped: copied and checksummed at once) or without it (read,
 * then lt_crc32c). */
static void read_checked_case(bool mapped)
{
	const size_t len = 40 * MB + 5, off = 3;
	struct lt_ckpt_io_ops io = lt_ckpt_io_file;
	struct lt_err err = { 0, "" };
	unsigned char *src = malloc(len + off), *dst = malloc(len + 1);
	struct ckpt_dir d;
	char path[128];
	uint32_t crc = 0;

	cr_assert(src && dst);
	io.read = mapped ? NULL : counting_read; /* every read is counted */
	io.read_crc = mapped ? counting_read_crc : NULL;
	io.parallel_reads = counting_parallel;
	ckpt_dir_make(&d);
	fill_bytes(src, len + off, 9);
	snprintf(path, sizeof(path), "%s/blob", d.path);
	spit(path, src, len + off);

	/* parallel: pieces of a few MB, every byte and the CRC right */
	allow_parallel = true;
	atomic_store(&reads, 0);
	atomic_store(&fail_read_at, 0);
	memset(dst, 0xee, len + 1);
	cr_assert_eq(lt_ckpt_read_checked(&io, d.io, "blob", off, dst, len, &crc, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(dst, src + off, len), 0);
	cr_expect_eq(dst[len], 0xee, "read past the end");
	cr_expect_eq(crc, lt_crc32c(0, src + off, len));
	cr_expect_gt(atomic_load(&reads), 3, "read in pieces (%d reads)", atomic_load(&reads));

	/* one piece fails: -1 with that read's message */
	atomic_store(&reads, 0);
	atomic_store(&fail_read_at, 3);
	cr_expect_eq(lt_ckpt_read_checked(&io, d.io, "blob", off, dst, len, &crc, &err), -1);
	cr_expect(strstr(err.msg, "injected failure reading 'blob'"), "%s", err.msg);

	/* an IO without parallel reads: one read */
	allow_parallel = false;
	atomic_store(&reads, 0);
	atomic_store(&fail_read_at, 0);
	cr_assert_eq(lt_ckpt_read_checked(&io, d.io, "blob", off, dst, len, &crc, &err), 0, "%s", err.msg);
	cr_expect_eq(atomic_load(&reads), 1);
	cr_expect_eq(crc, lt_crc32c(0, src + off, len));

	/* a truncated file: the file plugin's message */
	allow_parallel = true;
	cr_expect_eq(lt_ckpt_read_checked(&io, d.io, "blob", off + 8, dst, len, &crc, &err), -1);
	cr_expect(strstr(err.msg, "it is truncated"), "%s", err.msg);
	free(src);
	free(dst);
	ckpt_dir_done(&d);
}

Test(ckpt_parallel, read_checked_pieces_and_failures)
{
	read_checked_case(false);
}

Test(ckpt_parallel, read_checked_mapped_pieces_and_failures)
{
	read_checked_case(true);
}

/* ---------------------------------------------------------------- spares */

/* Saves one tensor of n floats, valued from seed, as step `step`, keep 1. */
static void save_big(struct ckpt_dir *d, int64_t step, size_t n, unsigned seed, float **keep)
{
	struct lt_err err = { 0, "" };
	float *p = malloc(n * sizeof(*p));
	struct lt_ckpt_tensor t = { .name = "w", .dtype = LT_F32, .ndim = 1, .shape = { (int64_t)n },
				    .data = p, .bytes = n * sizeof(*p) };

	cr_assert(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(i % 977) * 0.5f + (float)seed;
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d->io, step, &t, 1, NULL, 1, &err), 0, "%s", err.msg);
	*keep = p;
}

static void expect_big(struct ckpt_dir *d, const char *where, size_t n, const float *want)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r = lt_ckpt_open(&lt_ckpt_io_file, d->io, where, &err);
	int64_t shape[1] = { (int64_t)n };
	float *got = malloc(n * sizeof(*got));

	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(lt_ckpt_read(r, "w", LT_F32, 1, shape, got, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(got, want, n * sizeof(*got)), 0, "%s reads back different", where);
	cr_expect_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
	lt_ckpt_close(r);
	free(got);
}

Test(ckpt_file, retired_file_is_rewritten_in_place)
{
	const size_t big = 3 * MB / 4, small = MB / 2; /* 3 MB and 2 MB of f32 */
	struct ckpt_dir d;
	float *a, *b, *c, *e;
	off_t size, size_a;
	struct stat st1, st2;
	char path[200];

	ckpt_dir_make(&d);
	save_big(&d, 1, big, 1, &a);
	cr_expect(!exists_in(d.path, ".ltrun-spare-0", NULL), "no checkpoint retired yet");
	cr_assert(exists_in(d.path, "step-1/model.safetensors", &size_a));
	snprintf(path, sizeof(path), "%s/step-1/model.safetensors", d.path);
	cr_assert_eq(stat(path, &st1), 0);

	save_big(&d, 2, big, 2, &b);
	cr_expect(!exists_in(d.path, "step-1", NULL));
	cr_assert(exists_in(d.path, ".ltrun-spare-0", &size), "step-1's file kept as a spare");
	cr_expect_eq(size, size_a);
	expect_big(&d, "last", big, b);

	/* the next save writes over the spare: the same inode, cut to its
	 * new, shorter length */
	save_big(&d, 3, small, 3, &c);
	snprintf(path, sizeof(path), "%s/step-3/model.safetensors", d.path);
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_eq(st2.st_ino, st1.st_ino, "step-3 was written over step-1's file");
	cr_expect_lt(st2.st_size, size_a);
	expect_big(&d, "last", small, c);
	cr_assert(exists_in(d.path, ".ltrun-spare-0", &size), "step-2's file is the spare now");
	cr_expect_eq(size, size_a);

	/* and a longer one over a shorter spare */
	save_big(&d, 4, big, 4, &e);
	expect_big(&d, "last", big, e);
	cr_expect(!exists_in(d.path, "step-3", NULL));

	/* the spares are not checkpoints: the listing and `last` ignore them */
	{
		struct lt_ckpt_step_dir *dirs;
		size_t n;
		struct lt_err err = { 0, "" };

		cr_assert_eq(lt_ckpt_io_file_steps(d.io, &dirs, &n, &err), 0, "%s", err.msg);
		cr_expect_eq(n, 1);
		cr_expect_eq(dirs[0].step, 4);
		free(dirs);
	}
	lt_ckpt_io_file.close(d.io);
	cr_expect(!exists_in(d.path, ".ltrun-spare-0", NULL), "close deletes the spares it made");
	cr_expect(!exists_in(d.path, ".ltrun-spare-1", NULL));
	{
		struct lt_err err = { 0, "" };

		cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = d.path }, &d.io, &err), 0, "%s", err.msg);
	}
	expect_big(&d, "last", big, e);
	free(a);
	free(b);
	free(c);
	free(e);
	ckpt_dir_done(&d);
}

Test(ckpt_file, spares_of_others_and_odd_spares)
{
	const size_t big = MB / 2; /* 2 MB */
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	void *reader;
	float *a, *b;
	char path[200];

	ckpt_dir_make(&d);
	/* a directory where a spare would be is left alone, and saves work */
	snprintf(path, sizeof(path), "%s/.ltrun-spare-0", d.path);
	cr_assert_eq(mkdir(path, 0755), 0);
	save_big(&d, 1, big, 1, &a);
	save_big(&d, 2, big, 2, &b);
	expect_big(&d, "last", big, b);
	cr_expect(exists_in(d.path, ".ltrun-spare-1", NULL), "the next free slot");
	/* an IO that only read (ltrun ckpt inspect, say) leaves spares be */
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = d.path }, &reader, &err), 0, "%s", err.msg);
	lt_ckpt_io_file.close(reader);
	cr_expect(exists_in(d.path, ".ltrun-spare-1", NULL));
	free(a);
	free(b);
	ckpt_dir_done(&d);
}

/* The bytes of dir/rel, malloc'ed (*len set). */
static unsigned char *bytes_of(const char *dir, const char *rel, size_t *len)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return slurp(path, len);
}

/* A backup made by hard links (`cp -al`, `rsync --link-dest`) of a
 * checkpoint that is then retired: its file must not become a spare that
 * the next save writes over in place. */
Test(ckpt_file, a_hard_linked_checkpoint_is_never_written_over)
{
	const size_t big = MB / 2; /* 2 MB */
	struct ckpt_dir d;
	float *a, *b, *c;
	unsigned char *before, *after;
	size_t n0, n1;
	char src[200], dst[200];

	ckpt_dir_make(&d);
	save_big(&d, 1, big, 1, &a);
	snprintf(src, sizeof(src), "%s/step-1/model.safetensors", d.path);
	snprintf(dst, sizeof(dst), "%s/backup.safetensors", d.path);
	cr_assert_eq(link(src, dst), 0);
	before = bytes_of(d.path, "backup.safetensors", &n0);
	save_big(&d, 2, big, 2, &b); /* retires step-1 */
	save_big(&d, 3, big, 3, &c); /* would claim step-1's file */
	expect_big(&d, "last", big, c);
	after = bytes_of(d.path, "backup.safetensors", &n1);
	cr_expect(n0 == n1 && !memcmp(before, after, n0),
		  "the backup's bytes changed: a linked file was written over");
	expect_big(&d, "backup.safetensors", big, a);
	free(before);
	free(after);
	free(a);
	free(b);
	free(c);
	ckpt_dir_done(&d);
}

/* A spare linked after it became one (a `cp -al` of the whole directory
 * between two saves) is not claimed either. */
Test(ckpt_file, a_spare_linked_later_is_not_claimed)
{
	const size_t big = MB / 2;
	struct ckpt_dir d;
	float *a, *b, *c;
	struct stat linked, st;
	char src[200], dst[200];

	ckpt_dir_make(&d);
	save_big(&d, 1, big, 1, &a);
	save_big(&d, 2, big, 2, &b);
	snprintf(src, sizeof(src), "%s/.ltrun-spare-0", d.path);
	snprintf(dst, sizeof(dst), "%s/backup.safetensors", d.path);
	cr_assert_eq(link(src, dst), 0, "step-1's file is a spare");
	cr_assert_eq(stat(dst, &linked), 0);
	save_big(&d, 3, big, 3, &c);
	snprintf(src, sizeof(src), "%s/step-3/model.safetensors", d.path);
	cr_assert_eq(stat(src, &st), 0);
	cr_expect_neq(st.st_ino, linked.st_ino, "step-3 was written over a linked spare");
	expect_big(&d, "backup.safetensors", big, a);
	expect_big(&d, "last", big, c);
	free(a);
	free(b);
	free(c);
	ckpt_dir_done(&d);
}

/* A spare that belongs to another user is neither claimed nor deleted. */
Test(ckpt_file, another_users_spare_is_neither_used_nor_deleted)
{
	const size_t big = MB / 2;
	struct ckpt_dir d;
	float *a, *b, *c;
	struct stat theirs, st;
	char spare[200], path[200];

	if (geteuid() != 0)
		cr_skip_test("needs root to give a file to another user");
	ckpt_dir_make(&d);
	save_big(&d, 1, big, 1, &a);
	save_big(&d, 2, big, 2, &b);
	snprintf(spare, sizeof(spare), "%s/.ltrun-spare-0", d.path);
	cr_assert_eq(chown(spare, 65534, 65534), 0);
	cr_assert_eq(stat(spare, &theirs), 0);
	save_big(&d, 3, big, 3, &c);
	snprintf(path, sizeof(path), "%s/step-3/model.safetensors", d.path);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_neq(st.st_ino, theirs.st_ino, "step-3 was written over another user's file");
	lt_ckpt_io_file.close(d.io);
	cr_assert_eq(stat(spare, &st), 0, "close deleted another user's file");
	cr_expect_eq(st.st_ino, theirs.st_ino);
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = d.path }, &d.io, &(struct lt_err){ 0, "" }), 0);
	free(a);
	free(b);
	free(c);
	ckpt_dir_done(&d);
}
