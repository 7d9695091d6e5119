/*
 * test_ckpt_format.c - checkpoints through the file plugin: save, open
 * and read back every dtype (0-d and empty tensors too), the header's
 * layout (8-byte aligned data, checksums, metadata), `last` and keep,
 * failed writes that leave the previous checkpoint intact and take their
 * partial step directory with them (injected, and real ENOSPC on a small
 * tmpfs), CRC-32C
 * against known values, and a reader in Python's standard library.
 */
#include <criterion/criterion.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ckpt_cases.h"
#include "ckpt/crc32c.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/inspect.h"
#include "core/sha256.h"
#include "integration/run.h"

static cJSON *meta_of(int64_t step)
{
	cJSON *m = cJSON_CreateObject();
	char s[32];

	snprintf(s, sizeof(s), "%lld", (long long)step);
	cJSON_AddStringToObject(m, "step", s);
	cJSON_AddStringToObject(m, "strategy", "ddp");
	cJSON_AddStringToObject(m, "note", "tab\there \"quoted\"\n");
	return m;
}

static void save(struct ckpt_dir *d, const struct model *m, int64_t step, int keep)
{
	struct lt_err err = { 0, "" };
	cJSON *meta = meta_of(step);

	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d->io, step, m->t, MODEL_TENSORS, meta, keep, &err),
		     0, "%s", err.msg);
	cJSON_Delete(meta);
}

/* Opens where and checks every tensor of m reads back byte for byte. */
static void expect_model(struct ckpt_dir *d, const char *where, const struct model *m,
			 const char *rel)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r = lt_ckpt_open(&lt_ckpt_io_file, d->io, where, &err);
	const struct lt_ckpt_tensor *t;
	size_t n;

	cr_assert_not_null(r, "%s", err.msg);
	if (rel)
		cr_expect_str_eq(lt_ckpt_path(r), rel);
	t = lt_ckpt_tensors(r, &n);
	cr_assert_eq(n, MODEL_TENSORS);
	for (int i = 0; i < MODEL_TENSORS; i++) {
		const struct lt_ckpt_tensor *w = &m->t[i];
		unsigned char *buf = malloc(w->bytes + 1);

		cr_expect_str_eq(t[i].name, w->name, "file order is the caller's order");
		cr_expect_eq(t[i].dtype, w->dtype);
		cr_expect_eq(t[i].ndim, w->ndim);
		cr_expect_eq(t[i].bytes, w->bytes);
		cr_expect_null(t[i].data);
		memset(buf, 0xee, w->bytes + 1);
		cr_assert_eq(lt_ckpt_read(r, w->name, w->dtype, w->ndim, w->shape, buf, &err), 0,
			     "%s", err.msg);
		cr_expect_eq(memcmp(buf, w->data, w->bytes), 0, "tensor %s differs", w->name);
		cr_expect_eq(buf[w->bytes], 0xee, "tensor %s: read past its end", w->name);
		free(buf);
	}
	cr_assert_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
	lt_ckpt_close(r);
}


Test(ckpt_format, round_trip_every_dtype)
{
	struct ckpt_dir d;
	struct model m;
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r;
	const cJSON *meta;
	char path[128];

	ckpt_dir_make(&d);
	model_make(&m, 1);
	save(&d, &m, 3, 0);
	expect_model(&d, "last", &m, "step-3/model.safetensors");
	expect_model(&d, "step-3", &m, "step-3/model.safetensors");
	expect_model(&d, "step-3/model.safetensors", &m, NULL);

	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	meta = lt_ckpt_meta(r);
	cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "step")->valuestring, "3");
	cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "format")->valuestring, "ltrun-ckpt-1");
	cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "note")->valuestring, "tab\there \"quoted\"\n");
	{
		char want[32];
		uint32_t crc;

		snprintf(want, sizeof(want), "crc32c:%08x", lt_crc32c(0, m.t[0].data, m.t[0].bytes));
		cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "checksum/fc1.weight")->valuestring, want);
		cr_expect(lt_ckpt_checksum(r, 0, &crc));
		cr_expect_eq(crc, lt_crc32c(0, m.t[0].data, m.t[0].bytes));
	}
	cr_expect_str_eq(lt_ckpt_label(r), (snprintf(path, sizeof(path), "%s/step-3/model.safetensors", d.path), path));
	lt_ckpt_close(r);

	{
		size_t len;
		char *last, *idx;

		snprintf(path, sizeof(path), "%s/last", d.path);
		last = (char *)slurp(path, &len);
		cr_expect_eq(len, 7);
		cr_expect_eq(memcmp(last, "step-3\n", 7), 0);
		free(last);
		snprintf(path, sizeof(path), "%s/step-3/index.json", d.path);
		idx = (char *)slurp(path, &len);
		idx[len] = '\0';
		cr_expect_str_eq(idx, "{\"files\":[\"model.safetensors\"],\"step\":3,\"tensors\":9}\n");
		free(idx);
	}
	model_free(&m);
	ckpt_dir_done(&d);
}

/* The file is what the safetensors library accepts: header starting with
 * '{', data 8-byte aligned, tensors contiguous in offset order, the last
 * ending at the end of the file. */
Test(ckpt_format, layout_is_safetensors)
{
	struct ckpt_dir d;
	struct model m;
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r;
	unsigned char *f;
	uint64_t hlen = 0;
	size_t len;
	char path[128];

	ckpt_dir_make(&d);
	model_make(&m, 2);
	save(&d, &m, 0, 0);
	snprintf(path, sizeof(path), "%s/step-0/model.safetensors", d.path);
	f = slurp(path, &len);
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | f[i];
	cr_assert_leq(8 + hlen, len);
	cr_expect_eq((8 + hlen) % 8, 0, "data starts 8-byte aligned");
	cr_expect_eq(f[8], '{');
	r = lt_ckpt_parse_header("x", f + 8, hlen, len, &err);
	cr_assert_not_null(r, "%s", err.msg);
	{
		size_t n;
		const struct lt_ckpt_tensor *t = lt_ckpt_tensors(r, &n);
		uint64_t total = 0;
		cJSON *root = cJSON_ParseWithLength((const char *)f + 8, hlen);

		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, t[i].name), "data_offsets");
			uint64_t b = (uint64_t)cJSON_GetArrayItem(o, 0)->valuedouble;
			size_t es = t[i].dtype == LT_F64 || t[i].dtype == LT_I64 ? 8 : t[i].dtype == LT_F16 || t[i].dtype == LT_BF16 ? 2 : 4;

			cr_expect_eq((8 + hlen + b) % es, 0, "tensor %s aligned to its element size", t[i].name);
			cr_expect_eq(memcmp(f + 8 + hlen + b, m.t[i].data, m.t[i].bytes), 0);
			total += t[i].bytes;
		}
		cr_expect_eq(8 + hlen + total, len, "no gaps: the data ends at the end of the file");
		cJSON_Delete(root);
	}
	lt_ckpt_close(r);
	free(f);
	model_free(&m);
	ckpt_dir_done(&d);
}

static bool exists(const struct ckpt_dir *d, const char *rel)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", d->path, rel);
	return stat(path, &st) == 0;
}

Test(ckpt_format, keep_two_of_five)
{
	struct ckpt_dir d;
	struct model m[5];

	ckpt_dir_make(&d);
	for (int s = 0; s < 5; s++) {
		model_make(&m[s], 10 + (unsigned)s);
		save(&d, &m[s], (s + 1) * 10, 2);
	}
	cr_expect(!exists(&d, "step-10") && !exists(&d, "step-20") && !exists(&d, "step-30"));
	cr_expect(exists(&d, "step-40/index.json") && exists(&d, "step-50/index.json"));
	expect_model(&d, "last", &m[4], "step-50/model.safetensors");
	expect_model(&d, "step-40", &m[3], NULL);
	{
		char path[160], *h;
		size_t len;

		snprintf(path, sizeof(path), "%s/checkpoints.json", d.path);
		h = (char *)slurp(path, &len);
		h[len] = '\0';
		cr_expect_str_eq(h, "{\"format\":\"ltrun-ckpt-1\",\"steps\":[40,50]}\n");
		free(h);
	}
	for (int s = 0; s < 5; s++)
		model_free(&m[s]);
	ckpt_dir_done(&d);
}

Test(ckpt_format, keep_zero_keeps_all_and_incomplete_dirs_go)
{
	struct ckpt_dir d;
	struct model m;
	char path[160];

	ckpt_dir_make(&d);
	model_make(&m, 3);
	save(&d, &m, 1, 0);
	save(&d, &m, 2, 0);
	snprintf(path, sizeof(path), "%s/step-3", d.path); /* a save that crashed */
	cr_assert_eq(mkdir(path, 0755), 0);
	save(&d, &m, 4, 0);
	cr_expect(exists(&d, "step-1") && exists(&d, "step-2") && exists(&d, "step-3"));
	save(&d, &m, 5, 1);
	cr_expect(!exists(&d, "step-1") && !exists(&d, "step-2") && !exists(&d, "step-3") &&
		  !exists(&d, "step-4"));
	expect_model(&d, "last", &m, "step-5/model.safetensors");
	model_free(&m);
	ckpt_dir_done(&d);
}

/* An IO that fails the k-th write (counting from 1), then works. */
static int fail_at, writes;

static int failing_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
			 struct lt_err *err)
{
	if (++writes == fail_at)
		return lt_err_set(err, 1, "injected failure writing '%s'", rel);
	return lt_ckpt_io_file.write(state, rel, iov, iovcnt, err);
}

static int failing_remove(void *state, const char *rel, struct lt_err *err)
{
	if (++writes == fail_at)
		return lt_err_set(err, 1, "injected failure removing '%s'", rel);
	return lt_ckpt_io_file.remove(state, rel, err);
}

Test(ckpt_file, failed_write_leaves_previous_checkpoint)
{
	struct lt_ckpt_io_ops io = lt_ckpt_io_file;
	struct ckpt_dir d;
	struct model a, b;

	io.write = failing_write;
	io.remove = failing_remove;
	ckpt_dir_make(&d);
	model_make(&a, 4);
	model_make(&b, 5);
	save(&d, &a, 1, 1);
	/* every write and remove of the next save fails in turn */
	for (fail_at = 1;; fail_at++) {
		struct lt_err err = { 0, "" };
		int rc;

		writes = 0;
		rc = lt_ckpt_save(&io, d.io, 2, b.t, MODEL_TENSORS, NULL, 1, &err);
		if (!rc) {
			cr_expect_lt(writes, fail_at);
			break;
		}
		cr_expect(strstr(err.msg, "injected failure"), "%s", err.msg);
		/* a failed model file or index takes step-2 with it: nothing
		 * of it is left to fill the disk */
		if (fail_at <= 2)
			cr_expect(!exists(&d, "step-2"), "write %d failed: step-2 is left behind", fail_at);
		/* last names a complete checkpoint: the old one, or the new one
		 * once last was written */
		if (fail_at <= 4)
			expect_model(&d, "last", &a, "step-1/model.safetensors");
		else
			expect_model(&d, "last", &b, "step-2/model.safetensors");
		cr_assert_lt(fail_at, 20);
	}
	expect_model(&d, "last", &b, "step-2/model.safetensors");
	cr_expect(!exists(&d, "step-1"));
	model_free(&a);
	model_free(&b);
	ckpt_dir_done(&d);
}

/* ... but a step that was complete before the failed save stays. */
Test(ckpt_file, a_failed_save_leaves_a_complete_step_alone)
{
	struct lt_ckpt_io_ops io = lt_ckpt_io_file;
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model a;

	io.write = failing_write;
	io.remove = failing_remove;
	ckpt_dir_make(&d);
	model_make(&a, 4);
	save(&d, &a, 2, 0);
	writes = 0;
	fail_at = 2; /* the index */
	cr_assert_eq(lt_ckpt_save(&io, d.io, 2, a.t, MODEL_TENSORS, NULL, 0, &err), -1);
	expect_model(&d, "step-2", &a, NULL);
	model_free(&a);
	ckpt_dir_done(&d);
}

/* Real ENOSPC, on a tmpfs of 1 MB: the failed save gives back every block
 * it took, and the next (smaller) save fits. */
static char small_fs[64];

static void unmount_small_fs(void)
{
	if (small_fs[0]) {
		umount2(small_fs, MNT_DETACH);
		rmdir(small_fs);
	}
}

static uint64_t free_blocks(const char *path)
{
	struct statvfs v;

	cr_assert_eq(statvfs(path, &v), 0);
	return (uint64_t)v.f_bfree;
}

Test(ckpt_file, no_space_leaves_nothing_behind, .fini = unmount_small_fs)
{
	struct lt_err err = { 0, "" };
	void *io;
	float *small = calloc(75000, sizeof(float)), *big = calloc(250000, sizeof(float));
	struct lt_ckpt_tensor t = { .name = "w", .dtype = LT_F32, .ndim = 1 };
	char path[160];
	uint64_t before;

	cr_assert(small && big);
	snprintf(small_fs, sizeof(small_fs), "/tmp/ltrun-enospc-XXXXXX");
	cr_assert_not_null(mkdtemp(small_fs));
	if (mount("tmpfs", small_fs, "tmpfs", 0, "size=1m")) {
		rmdir(small_fs);
		small_fs[0] = '\0';
		cr_skip_test("cannot mount a tmpfs (needs root): %s", strerror(errno));
	}
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = small_fs }, &io, &err), 0, "%s", err.msg);
	t.shape[0] = 75000; /* 300 KB */
	t.data = small;
	t.bytes = 75000 * sizeof(float);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, io, 1, &t, 1, NULL, 1, &err), 0, "%s", err.msg);
	before = free_blocks(small_fs);
	t.shape[0] = 250000; /* 1 MB: more than is left */
	t.data = big;
	t.bytes = 250000 * sizeof(float);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, io, 2, &t, 1, NULL, 1, &err), -1);
	cr_expect(strstr(err.msg, "No space left") != NULL, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/step-2", small_fs);
	cr_expect_neq(access(path, F_OK), 0, "the failed save left %s", path);
	cr_expect_eq(free_blocks(small_fs), before, "the failed save kept blocks");
	t.shape[0] = 75000;
	t.data = small;
	t.bytes = 75000 * sizeof(float);
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, io, 3, &t, 1, NULL, 1, &err), 0, "%s", err.msg);
	lt_ckpt_io_file.close(io);
	free(small);
	free(big);
}

Test(ckpt_file, file_where_a_directory_should_be)
{
	struct ckpt_dir d;
	struct model a, b;
	struct lt_err err = { 0, "" };
	char path[160];

	ckpt_dir_make(&d);
	model_make(&a, 6);
	model_make(&b, 7);
	save(&d, &a, 1, 2);
	snprintf(path, sizeof(path), "%s/step-2", d.path);
	spit(path, "x", 1);
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 2, b.t, MODEL_TENSORS, NULL, 2, &err), -1);
	cr_expect(strstr(err.msg, "step-2") && strstr(err.msg, "is a file"), "%s", err.msg);
	cr_expect(!strchr(err.msg, '\n'));
	expect_model(&d, "last", &a, "step-1/model.safetensors");
	model_free(&a);
	model_free(&b);
	ckpt_dir_done(&d);
}

Test(ckpt_file, read_only_directory)
{
	struct ckpt_dir d;
	struct model a, b;
	struct lt_err err = { 0, "" };

	if (geteuid() == 0)
		cr_skip_test("root writes to read-only directories");
	ckpt_dir_make(&d);
	model_make(&a, 8);
	model_make(&b, 9);
	save(&d, &a, 1, 2);
	cr_assert_eq(chmod(d.path, 0555), 0);
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 2, b.t, MODEL_TENSORS, NULL, 2, &err), -1);
	cr_expect(strstr(err.msg, d.path), "%s", err.msg);
	chmod(d.path, 0755);
	expect_model(&d, "last", &a, "step-1/model.safetensors");
	model_free(&a);
	model_free(&b);
	ckpt_dir_done(&d);
}

Test(ckpt_file, many_iovs_and_open_makes_parents)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct iovec iov[3000];
	unsigned char src[3000], back[3000];
	char base[128];
	void *io;
	uint64_t size;

	ckpt_dir_make(&d);
	snprintf(base, sizeof(base), "%s/a/b/c", d.path);
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = base }, &io, &err), 0, "%s", err.msg);
	for (int i = 0; i < 3000; i++) {
		src[i] = (unsigned char)(i * 13);
		iov[i].iov_base = &src[i];
		iov[i].iov_len = 1;
	}
	cr_assert_eq(lt_ckpt_io_file.write(io, "x/y.bin", iov, 3000, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_file.size(io, "x/y.bin", &size, &err), 0, "%s", err.msg);
	cr_expect_eq(size, 3000);
	cr_assert_eq(lt_ckpt_io_file.read(io, "x/y.bin", 0, back, 3000, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(src, back, 3000), 0);
	cr_expect_eq(lt_ckpt_io_file.read(io, "x/y.bin", 2990, back, 20, &err), -1);
	cr_expect(strstr(err.msg, "truncated"), "%s", err.msg);
	cr_expect_eq(lt_ckpt_io_file.write(io, "../escape", iov, 1, &err), -1);
	cr_expect_eq(lt_ckpt_io_file.remove(io, "x", &err), 0, "%s", err.msg);
	cr_expect_eq(lt_ckpt_io_file.remove(io, "x", &err), 0, "removing what is gone is fine");
	cr_expect_eq(lt_ckpt_io_file.flush(io, &err), 0);
	lt_ckpt_io_file.close(io);
	cr_expect_eq(lt_registry_find(builtins(), LT_KIND_CKPT_IO, "file")->ops, &lt_ckpt_io_file);
	cr_expect_null(lt_registry_find(builtins(), LT_KIND_CKPT_IO, "nope"));
	ckpt_dir_done(&d);
}

Test(ckpt_format, python_reader_agrees)
{
	const char *py = "/usr/bin/python3";
	struct ckpt_dir d;
	struct model m;
	struct run_result res;
	char path[160], want[8192], hex[2 * LT_SHA256_BYTES + 1];
	size_t n = 0;

	if (access(py, X_OK))
		cr_skip_test("%s is missing: the independent reader needs it", py);
	ckpt_dir_make(&d);
	model_make(&m, 77);
	save(&d, &m, 12, 0);
	snprintf(path, sizeof(path), "%s/step-12/model.safetensors", d.path);
	{
		const char *argv[] = { py, "tests/scripts/read_safetensors.py", path, NULL };

		cr_assert_eq(run_command(argv, NULL, 60, &res), 0);
	}
	cr_expect_eq(res.status, 0, "the reader refused the file: %s", res.err);
	for (int i = 0; i < MODEL_TENSORS; i++) {
		uint8_t dig[LT_SHA256_BYTES];
		static const char *const names[] = { "F32", "F64", "F16", "BF16", "I32", "I64" };

		lt_sha256(m.t[i].data, m.t[i].bytes, dig);
		for (int k = 0; k < LT_SHA256_BYTES; k++)
			snprintf(hex + 2 * k, 3, "%02x", dig[k]);
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%s\t%s\t", m.t[i].name, names[m.t[i].dtype]);
		for (int k = 0; k < m.t[i].ndim; k++)
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%lld", k ? "," : "",
					      (long long)m.t[i].shape[k]);
		n += (size_t)snprintf(want + n, sizeof(want) - n, "\t%s\n", hex);
	}
	snprintf(want + n, sizeof(want) - n, "format\tltrun-ckpt-1\n");
	cr_expect_str_eq(res.out, want);
	run_result_free(&res);
	model_free(&m);
	ckpt_dir_done(&d);
}

/* A step's file written over with another step's (what reusing a file a
 * backup shared used to do): every checksum matches, yet verify refuses. */
Test(ckpt_format, verify_refuses_a_step_holding_another_step)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model a, b;
	char from[200], to[200];
	unsigned char *bytes;
	size_t len;
	FILE *out = fopen("/dev/null", "w");

	cr_assert_not_null(out);
	ckpt_dir_make(&d);
	model_make(&a, 1);
	model_make(&b, 2);
	save(&d, &a, 2, 0);
	save(&d, &b, 8, 0);
	snprintf(from, sizeof(from), "%s/step-8/model.safetensors", d.path);
	snprintf(to, sizeof(to), "%s/step-2/model.safetensors", d.path);
	bytes = slurp(from, &len);
	spit(to, bytes, len);
	cr_expect_eq(lt_ckpt_verify_path(builtins(), NULL, to, out, &err), -1);
	cr_expect(strstr(err.msg, "'step-2/model.safetensors' holds step 8, not 2"), "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify_path(builtins(), NULL, from, out, &err), 0, "%s", err.msg);
	fclose(out);
	free(bytes);
	model_free(&a);
	model_free(&b);
	ckpt_dir_done(&d);
}

Test(ckpt_format, inspect_and_verify_paths)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model m;
	char path[200], *text;
	size_t len;
	FILE *out;
	const char *const forms[] = { "", "/", "/step-5", "/step-5/", "/step-5/model.safetensors" };

	ckpt_dir_make(&d);
	model_make(&m, 5);
	save(&d, &m, 5, 0);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", d.path, forms[i]);
		out = open_memstream(&text, &len);
		cr_assert_eq(lt_ckpt_verify_path(builtins(), NULL, path, out, &err), 0, "%s: %s", path, err.msg);
		fclose(out);
		cr_expect_str_eq(text, "ok: 9 tensors, 276 bytes, every checksum matches\n", "%s", path);
		free(text);
		out = open_memstream(&text, &len);
		cr_assert_eq(lt_ckpt_inspect(builtins(), NULL, path, false, out, &err), 0, "%s: %s", path, err.msg);
		fclose(out);
		cr_expect(strstr(text, "step-5/model.safetensors: 9 tensors, 276 bytes\n"), "%s", text);
		cr_expect(strstr(text, "  fc1.weight             F32    [5, 6]       120  crc32c:"), "%s", text);
		cr_expect(strstr(text, "metadata:\n  format    ltrun-ckpt-1\n  step      5\n"), "%s", text);
		free(text);
	}
	out = open_memstream(&text, &len);
	cr_assert_eq(lt_ckpt_inspect(builtins(), NULL, d.path, true, out, &err), 0, "%s", err.msg);
	fclose(out);
	{
		cJSON *j = cJSON_Parse(text), *t0;

		cr_assert_not_null(j, "%s", text);
		t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tensors"), 0);
		cr_expect_str_eq(cJSON_GetObjectItem(t0, "name")->valuestring, "fc1.weight");
		cr_expect_str_eq(cJSON_GetObjectItem(t0, "dtype")->valuestring, "F32");
		cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t0, "shape")), 2);
		cr_expect_eq(cJSON_GetObjectItem(t0, "bytes")->valuedouble, 120);
		cr_expect(!strncmp(cJSON_GetObjectItem(t0, "checksum")->valuestring, "crc32c:", 7));
		cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "step")->valuestring, "5");
		cr_expect_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "checksum/fc1.weight"));
		cJSON_Delete(j);
	}
	free(text);
	snprintf(path, sizeof(path), "%s/step-5/index.json", d.path);
	cr_expect_eq(lt_ckpt_inspect(builtins(), NULL, path, false, stdout, &err), -1);
	cr_expect(strstr(err.msg, "is not a checkpoint"), "%s", err.msg);
	snprintf(path, sizeof(path), "%s/nothing", d.path);
	cr_expect_eq(lt_ckpt_inspect(builtins(), NULL, path, false, stdout, &err), -1);
	cr_expect(strstr(err.msg, "No such file"), "%s", err.msg);
	cr_expect_eq(lt_ckpt_inspect(builtins(), "nope", d.path, false, stdout, &err), -1);
	cr_expect(strstr(err.msg, "unknown ckpt-io 'nope'") && strstr(err.msg, "file"), "%s", err.msg);
	model_free(&m);
	ckpt_dir_done(&d);
}
