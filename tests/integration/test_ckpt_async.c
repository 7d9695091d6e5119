/*
 * test_ckpt_async.c - the async checkpoint IO over the file plugin: the
 * background thread keeps the order ops were handed over in (a step's
 * files, then `last`, then removals); the snapshot is taken at write()
 * (the caller's buffer may change at once); a failure of a queued write
 * surfaces at the next write or flush, naming the file, and drops what
 * was queued behind it (no `last` naming a failed step); at most one big
 * snapshot is in flight; a deferred save holds the caller's bytes until
 * release() and no longer (they change at once after it), tensor by
 * tensor when release names how many, and its failure surfaces at the
 * next save or flush, naming the file; a ready hook (a device's copy out)
 * runs on the thread before the bytes are read, which are then written
 * without a copy (release waits for the write), and its failure fails
 * that save.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "ckpt/ckpt.h"
#include "ckpt/io.h"
#include "comm_job.h"
#include "core/clock.h"

#define BIG ((size_t)4 << 20) /* over async's small-file limit (1 MiB) */

static char dir[] = "/tmp/ltrun-async-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(make_temp_dir(dir));
}

static void teardown(void)
{
	remove_dir(dir);
}

TestSuite(ckpt_async, .init = setup, .fini = teardown, .timeout = 60);

static void *open_async(void)
{
	struct lt_err err = { 0 };
	void *st = NULL;

	cr_assert_eq(io_open("async", dir, &st, &err), 0, "%s", err.msg);
	return st;
}

static int put(void *st, const char *rel, const void *p, size_t len, struct lt_err *err)
{
	return io_put(&lt_ckpt_io_async, st, rel, p, len, err);
}

/* The size of dir/rel, or -1 when it does not exist. */
static long long disk_size(const char *rel)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return stat(path, &sb) ? -1 : (long long)sb.st_size;
}

/* True when dir/rel holds exactly len bytes p. */
static bool disk_equals(const char *rel, const void *p, size_t len)
{
	char path[256], *buf = malloc(len + 1);
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return false;
	}
	got = fread(buf, 1, len + 1, f);
	fclose(f);
	got = got == len && !memcmp(buf, p, len);
	free(buf);
	return got;
}

/* Makes dir/rel a non-empty directory, so that no file can take its name
 * (root ignores permissions: this fails for root too). */
static void block(const char *rel)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "mkdir -p '%s/%s'", dir, rel);
	cr_assert_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/%s/keep", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
}

Test(ckpt_async, files_then_last_then_removal)
{
	void *st = open_async();
	char *m1 = pattern(BIG, 1), *m2 = pattern(BIG, 2);
	struct lt_err err = { 0 };
	double deadline;

	cr_assert_eq(put(st, "step-1/model.safetensors", m1, BIG, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "step-1/index.json", "{}", 2, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "last", "step-1", 6, &err), 0, "%s", err.msg);
	/* The moment `last` appears, the step it names is complete. */
	deadline = lt_now_s() + 20;
	while (disk_size("last") < 0) {
		cr_assert_lt(lt_now_s(), deadline, "`last` never appeared");
		usleep(200);
	}
	cr_expect_eq(disk_size("step-1/model.safetensors"), (long long)BIG,
		     "`last` was written before the model");
	cr_expect_eq(disk_size("step-1/index.json"), 2, "`last` was written before the index");

	cr_assert_eq(put(st, "step-2/model.safetensors", m2, BIG, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "last", "step-2", 6, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_async.remove(st, "step-1", &err), 0, "%s", err.msg);
	for (int i = 0; i < 50; i++) {
		char v[16];
		int n = snprintf(v, sizeof(v), "v%d", i);

		cr_assert_eq(put(st, "counter", v, (size_t)n, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	cr_expect(disk_equals("last", "step-2", 6));
	cr_expect(disk_equals("counter", "v49", 3), "writes of one file landed out of order");
	cr_expect(disk_equals("step-2/model.safetensors", m2, BIG));
	cr_expect_eq(disk_size("step-1"), -1, "the removal of step-1 did not happen");
	lt_ckpt_io_async.close(st);
	free(m1);
	free(m2);
}

Test(ckpt_async, snapshot_is_taken_at_write)
{
	void *st = open_async();
	char *big = pattern(BIG, 3), *want = pattern(BIG, 3);
	char small[64] = "the small file, as written", back[64] = "";
	struct iovec v[2] = { { big, BIG / 2 }, { big + BIG / 2, BIG / 2 } };
	struct lt_err err = { 0 };

	cr_assert_eq(lt_ckpt_io_async.write(st, "step-1/model.safetensors", v, 2, &err), 0, "%s",
		     err.msg);
	memset(big, 0xff, BIG); /* the caller reuses its buffers at once */
	cr_assert_eq(put(st, "step-1/note", small, sizeof(small), &err), 0, "%s", err.msg);
	memset(small, 'X', sizeof(small));
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	cr_expect(disk_equals("step-1/model.safetensors", want, BIG),
		  "the file holds bytes changed after write() returned");
	/* read flushes first, then reads through the file plugin. */
	cr_assert_eq(lt_ckpt_io_async.read(st, "step-1/note", 0, back, sizeof(back), &err), 0,
		     "%s", err.msg);
	cr_expect_str_eq(back, "the small file, as written");
	lt_ckpt_io_async.close(st);
	free(big);
	free(want);
}

Test(ckpt_async, inner_failure_surfaces_once_and_drops_the_rest_of_the_save)
{
	void *st = open_async();
	char *m = pattern(BIG, 4);
	struct lt_err err = { 0 }, err2 = { 0 };
	uint64_t size = 0;
	int rc_last, rc_flush;

	/* A directory where the model file should go: its write fails. */
	block("step-5/model.safetensors");

	cr_assert_eq(put(st, "step-5/model.safetensors", m, BIG, &err), 0,
		     "write() waited for the disk: %s", err.msg);
	rc_last = put(st, "last", "step-5", 6, &err);
	rc_flush = lt_ckpt_io_async.flush(st, &err2);
	cr_expect(rc_last != 0 || rc_flush != 0, "a failed background write was lost");
	cr_expect(rc_last == 0 || rc_flush == 0, "one failure was reported twice");
	if (rc_last == 0)
		err = err2;
	cr_expect(strstr(err.msg, "step-5/model.safetensors") != NULL,
		  "the error does not name the file: %s", err.msg);
	cr_expect_eq(disk_size("last"), -1, "`last` names a step whose model failed");

	/* Reported once; then the IO works again. */
	cr_expect_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "step-6/model.safetensors", m, BIG, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_async.size(st, "step-6/model.safetensors", &size, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(size, BIG);
	lt_ckpt_io_async.close(st);
	free(m);
}

Test(ckpt_async, a_failed_read_leaves_the_failure_for_flush)
{
	void *st = open_async();
	struct lt_err err = { 0 };
	uint64_t size;

	block("step-5/index.json");
	cr_assert_eq(put(st, "step-5/index.json", "{}", 2, &err), 0, "%s", err.msg);
	/* size() waits for the write of that file, which fails... */
	cr_expect_neq(lt_ckpt_io_async.size(st, "step-5/index.json", &size, &err), 0);
	cr_expect(strstr(err.msg, "step-5/index.json") != NULL, "%s", err.msg);
	/* ... and leaves the failure to flush, which reports it once. */
	memset(&err, 0, sizeof(err));
	cr_expect_neq(lt_ckpt_io_async.flush(st, &err), 0, "a failure was lost by a read");
	cr_expect(strstr(err.msg, "step-5/index.json") != NULL, "%s", err.msg);
	cr_expect_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	lt_ckpt_io_async.close(st);
}

Test(ckpt_async, close_waits_for_the_queue)
{
	void *st = open_async();
	char *m = pattern(BIG, 7);
	struct lt_err err = { 0 };

	cr_assert_eq(put(st, "step-1/model.safetensors", m, BIG, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "last", "step-1", 6, &err), 0, "%s", err.msg);
	lt_ckpt_io_async.close(st);
	cr_expect(disk_equals("step-1/model.safetensors", m, BIG), "close() dropped a queued write");
	cr_expect(disk_equals("last", "step-1", 6), "close() dropped a queued write");
	free(m);
}

Test(ckpt_async, at_most_one_big_snapshot_in_flight)
{
	void *st = open_async();
	char *a = pattern(BIG, 5), *b = pattern(BIG, 6);
	struct lt_err err = { 0 };

	cr_assert_eq(put(st, "a", a, BIG, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "b", b, BIG, &err), 0, "%s", err.msg);
	/* b's write() could only take the snapshot buffer once a was written. */
	cr_expect(disk_equals("a", a, BIG), "two big snapshots were in flight at once");
	cr_assert_eq(put(st, "a", b, BIG, &err), 0, "%s", err.msg);
	cr_expect(disk_equals("b", b, BIG), "two big snapshots were in flight at once");
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	cr_expect(disk_equals("a", b, BIG));
	lt_ckpt_io_async.close(st);
	free(a);
	free(b);
}

Test(ckpt_async, unknown_inner_and_itself_are_refused)
{
	struct lt_err err = { 0 };
	void *st = NULL;

	cr_expect_neq(io_open("async:inner=nfs", dir, &st, &err), 0);
	cr_expect(strstr(err.msg, "'nfs'") != NULL, "%s", err.msg);
	cr_expect_neq(io_open("async:inner=async", dir, &st, &err), 0);
	cr_expect(strstr(err.msg, "itself") != NULL, "%s", err.msg);
}

/* ------------------------------------------------- deferred saves */

/* Two tensors of `mb` MB, bytes from seed. */
static void two_tensors(struct lt_ckpt_tensor t[2], size_t mb, unsigned seed)
{
	for (int i = 0; i < 2; i++) {
		size_t bytes = mb << 20;

		t[i] = (struct lt_ckpt_tensor){ .name = i ? "b" : "a", .dtype = LT_F32, .ndim = 1,
						.shape = { (int64_t)(bytes / 4) },
						.data = pattern(bytes, seed + (unsigned)i), .bytes = bytes };
	}
}

/* last's tensors equal pattern(seed) and pattern(seed + 1), checksums
 * checked. */
static void expect_last(void *st, size_t mb, unsigned seed)
{
	struct lt_err err = { 0 };
	struct lt_ckpt_reader *r = lt_ckpt_open(&lt_ckpt_io_async, st, "last", &err);
	size_t bytes = mb << 20;
	char *got = malloc(bytes);

	cr_assert_not_null(r, "%s", err.msg);
	for (int i = 0; i < 2; i++) {
		int64_t shape[1] = { (int64_t)(bytes / 4) };
		char *want = pattern(bytes, seed + (unsigned)i);

		cr_assert_eq(lt_ckpt_read(r, i ? "b" : "a", LT_F32, 1, shape, got, &err), 0, "%s",
			     err.msg);
		cr_expect_eq(memcmp(got, want, bytes), 0, "tensor %d holds bytes changed after release()", i);
		free(want);
	}
	lt_ckpt_close(r);
	free(got);
}

Test(ckpt_async, deferred_save_holds_the_bytes_until_release)
{
	const size_t mb = 48; /* a copy of some milliseconds: a late release shows */
	void *st = open_async();
	struct lt_ckpt_tensor t[2];
	struct lt_err err = { 0 };

	lt_ckpt_io_async.release(st, SIZE_MAX); /* nothing in flight: returns */
	for (unsigned step = 1; step <= 3; step++) {
		two_tensors(t, mb, 10 * step);
		cr_assert_eq(lt_ckpt_io_async.save_deferred(st, step, t, 2, NULL, 2, NULL, NULL, &err), 0, "%s",
			     err.msg);
		lt_ckpt_io_async.release(st, SIZE_MAX);
		/* the caller's next optimizer step: every byte changes */
		for (int i = 0; i < 2; i++) {
			memset((void *)t[i].data, 0x5a, t[i].bytes);
			free((void *)t[i].data);
		}
	}
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	expect_last(st, mb, 30);
	cr_expect_eq(disk_size("step-1"), -1, "keep 2 removed step-1");
	cr_expect_gt(disk_size("step-2/model.safetensors"), 0);
	lt_ckpt_io_async.close(st);
}

/* Changes every byte of p, the last MB first: a copy still on its way
 * through p (it goes forward) would meet changed bytes. */
static void overwrite_backwards(char *p, size_t len)
{
	for (size_t end = len; end > 0;) {
		size_t n = end < ((size_t)1 << 20) ? end : (size_t)1 << 20;

		end -= n;
		memset(p + end, 0x5a, n);
	}
}

/* The trainer's optimizer step: release(i + 1), then tensor i changes at
 * once, while the rest may still be copying.  An empty tensor between
 * the two is released with them. */
Test(ckpt_async, deferred_save_releases_tensor_by_tensor)
{
	const size_t mb = 48; /* 96 MB: copied on one thread a CPU, in 8 MB chunks */
	void *st = open_async();
	struct lt_ckpt_tensor t[3], two[2];
	struct lt_err err = { 0 };

	for (unsigned step = 1; step <= 2; step++) {
		two_tensors(two, mb, 10 * step);
		t[0] = two[0];
		t[1] = (struct lt_ckpt_tensor){ .name = "empty", .dtype = LT_F32, .ndim = 1,
						.shape = { 0 }, .data = two[0].data, .bytes = 0 };
		t[2] = two[1];
		cr_assert_eq(lt_ckpt_io_async.save_deferred(st, step, t, 3, NULL, 1, NULL, NULL, &err), 0, "%s",
			     err.msg);
		lt_ckpt_io_async.release(st, 0); /* nothing asked: returns at once */
		for (size_t i = 0; i < 3; i++) {
			lt_ckpt_io_async.release(st, i + 1);
			overwrite_backwards((char *)t[i].data, t[i].bytes);
		}
		free((void *)two[0].data);
		free((void *)two[1].data);
	}
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	expect_last(st, mb, 20);
	lt_ckpt_io_async.close(st);
}

Test(ckpt_async, deferred_save_failure_surfaces_at_the_next_save_or_flush)
{
	void *st = open_async();
	struct lt_ckpt_tensor t[2];
	struct lt_err err = { 0 }, err2 = { 0 };
	int rc_next, rc_flush;

	block("step-7/model.safetensors");
	two_tensors(t, 2, 1);
	cr_assert_eq(lt_ckpt_io_async.save_deferred(st, 7, t, 2, NULL, 0, NULL, NULL, &err), 0,
		     "save_deferred waited for the disk: %s", err.msg);
	lt_ckpt_io_async.release(st, SIZE_MAX);
	rc_next = lt_ckpt_io_async.save_deferred(st, 8, t, 2, NULL, 0, NULL, NULL, &err);
	lt_ckpt_io_async.release(st, SIZE_MAX);
	rc_flush = lt_ckpt_io_async.flush(st, &err2);
	cr_expect(rc_next != 0 || rc_flush != 0, "a failed background save was lost");
	if (rc_next == 0)
		err = err2;
	cr_expect(strstr(err.msg, "step-7/model.safetensors") != NULL,
		  "the error does not name the file: %s", err.msg);
	cr_expect(!disk_equals("last", "step-7", 6), "`last` names the failed step");
	for (int i = 0; i < 2; i++)
		free((void *)t[i].data);
	lt_ckpt_io_async.close(st);
}

/* A device's copy out: the bytes handed over land only when the ready
 * hook returns, which the thread calls before it reads them (and the
 * caller, which goes on at once, never does). */
struct landing {
	struct lt_ckpt_tensor *t;
	size_t mb;
	unsigned seed;
	pthread_t caller;
	int calls;
	bool on_caller;
	const char *fail; /* the hook's error, or NULL */
};

static int land(void *arg, struct lt_err *err)
{
	struct landing *l = arg;
	struct lt_ckpt_tensor fresh[2];

	l->calls++;
	l->on_caller |= pthread_equal(pthread_self(), l->caller);
	if (l->fail)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s", l->fail);
	usleep(100 * 1000); /* a copy still on its way when save_deferred returned */
	two_tensors(fresh, l->mb, l->seed);
	for (int i = 0; i < 2; i++) {
		memcpy((void *)l->t[i].data, fresh[i].data, fresh[i].bytes);
		free((void *)fresh[i].data);
	}
	return 0;
}

Test(ckpt_async, deferred_save_reads_the_bytes_after_the_ready_hook)
{
	const size_t mb = 4;
	void *st = open_async();
	struct lt_ckpt_tensor t[2];
	struct landing l = { .t = t, .mb = mb, .seed = 40, .caller = pthread_self() };
	struct lt_err err = { 0 };

	two_tensors(t, mb, 1); /* what the stage held before the copy */
	cr_assert_eq(lt_ckpt_io_async.save_deferred(st, 4, t, 2, NULL, 0, land, &l, &err), 0, "%s",
		     err.msg);
	/* the stage is written as it is, not copied: release waits for the write */
	lt_ckpt_io_async.release(st, SIZE_MAX);
	cr_expect_gt(disk_size("step-4/model.safetensors"), 0,
		     "release() returned before the stage was written");
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	cr_expect_eq(l.calls, 1, "the ready hook ran %d times", l.calls);
	cr_expect_not(l.on_caller, "the ready hook ran on the caller's thread");
	expect_last(st, mb, 40);
	for (int i = 0; i < 2; i++)
		free((void *)t[i].data);
	lt_ckpt_io_async.close(st);
}

Test(ckpt_async, a_failed_ready_hook_fails_that_save_only)
{
	void *st = open_async();
	struct lt_ckpt_tensor t[2];
	struct landing l = { .t = t, .mb = 2, .seed = 3, .caller = pthread_self(),
			     .fail = "cannot copy the state out of GPU 0 (an Xid error)" };
	struct lt_err err = { 0 };

	two_tensors(t, 2, 1);
	cr_assert_eq(lt_ckpt_io_async.save_deferred(st, 5, t, 2, NULL, 0, land, &l, &err), 0, "%s",
		     err.msg);
	cr_expect_neq(lt_ckpt_io_async.flush(st, &err), 0, "a failed copy out was saved");
	cr_expect(strstr(err.msg, "GPU 0 (an Xid error)") != NULL, "%s", err.msg);
	cr_expect_eq(disk_size("step-5/model.safetensors"), -1, "step-5 was written");
	cr_expect_eq(disk_size("last"), -1, "`last` names a save whose copy failed");
	/* the failure is reported once: the next save goes through */
	l.fail = NULL;
	l.seed = 50;
	cr_assert_eq(lt_ckpt_io_async.save_deferred(st, 6, t, 2, NULL, 0, land, &l, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(lt_ckpt_io_async.flush(st, &err), 0, "%s", err.msg);
	expect_last(st, 2, 50);
	for (int i = 0; i < 2; i++)
		free((void *)t[i].data);
	lt_ckpt_io_async.close(st);
}
