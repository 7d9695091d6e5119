/*
 * ckpt_bw.c - the measuring program of bench/ckpt: saves a state of T
 * tensors of M MB of f32 with lt_ckpt_save through one checkpoint IO
 * plugin (file, or async over file) under a directory, ITERS times
 * (keep 1), then loads the newest with lt_ckpt_open + lt_ckpt_read
 * (checksums checked) ITERS times, and prints one line:
 *
 *   ckpt_bw: io=NAME bytes=B iters=N save_ms=S first_save_ms=F blocked_ms=K write_ms=W
 *            load_ms=L load_warm_ms=M dropped=0|1 crc=KERNEL
 *
 * medians: save_ms until the checkpoint is durable (lt_ckpt_save, then
 * the IO's flush), of the saves after the first: each of those retires
 * the checkpoint before it, as a run with --ckpt-keep 1 does, so the
 * file IO writes over the retired file (first_save_ms: the first save,
 * into new blocks); blocked_ms the lt_ckpt_save call alone (what the
 * training loop waits for: checksums plus the IO's write() calls);
 * write_ms the time spent inside the IO's write() calls of one save
 * (async: the save queued with save_deferred as the trainer does, the
 * waits in release() of an optimizer step that comes at once and, as the
 * trainer's, releases one tensor and updates it in place before the
 * next, while the copy of the rest goes on); for async also
 * blocked_step_ms, the same with --step-ms (250) of work by the caller (a
 * step's forward and backward, touching 64 MB of its own) between the
 * save and the optimizer step, as in training;
 * load_ms open + read of every tensor (checksums checked) after the page
 * cache is dropped, as root (dropped=1; 0 when that was refused);
 * load_warm_ms the same from the page cache; crc the CRC-32C kernel used
 * (crc32c.h: vpclmul, pclmul, sse42 or table).
 *
 * With --keep 0 (ltrun's --ckpt-keep 0: every checkpoint kept) no
 * checkpoint is retired, so every save writes a new file into new blocks,
 * and save_ms is the median of such saves.
 *
 *   ckpt_bw --dir DIR --io file|async [--tensors 4] [--mb 256] [--iters 4] [--step-ms 250]
 *           [--keep 1]
 *
 * Built by bench/ckpt with `make build/bench/ckpt_bw` (the library objects).
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../timing.h"
#include "ckpt/ckpt.h"
#include "ckpt/crc32c.h"
#include "ckpt/io.h"
#include "core/registry.h"

/* A pass-through IO that adds up the time spent in write(). */
static const struct lt_ckpt_io_ops *timed_inner;
static double write_ms;

static int timed_write(void *st, const char *rel, const struct iovec *iov, int n, struct lt_err *e)
{
	double t0 = bench_now_ms();
	int rc = timed_inner->write(st, rel, iov, n, e);

	write_ms += bench_now_ms() - t0;
	return rc;
}

/* A training step's forward and backward for ms milliseconds: this
 * thread reads and writes 64 MB of its own, over and over (memory
 * traffic, as a model's compute has). */
static void busy_ms(long ms)
{
	static float *act;
	const size_t n = (size_t)16 << 20;
	double end = bench_now_ms() + (double)ms;

	if (!act && !(act = calloc(n, sizeof(*act))))
		return;
	while (bench_now_ms() < end)
		for (size_t i = 0; i < n; i++)
			act[i] = act[i] * 0.5f + 1.0f;
}

/* The trainer's optimizer step after a deferred save: each tensor is
 * released (the wait is timed), then updated in place, as the optimizer
 * writes a parameter (here x * one, one = 1 read at run time: the bytes
 * stay as they were, for the check after the loads).  Returns the ms spent
 * waiting. */
static double optimizer_step(const struct lt_ckpt_io_ops *io, void *st, struct lt_ckpt_tensor *t,
			     size_t n)
{
	static volatile float one = 1.0f;
	double waited = 0;

	for (size_t i = 0; i < n; i++) {
		float *p = (float *)t[i].data, k = one;
		double t0 = bench_now_ms();

		io->release(st, i + 1);
		waited += bench_now_ms() - t0;
		for (size_t j = 0; j < t[i].bytes / sizeof(float); j++)
			p[j] *= k;
	}
	return waited;
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Writes back dirty pages and drops the page cache; 1 when it could. */
static int drop_caches(void)
{
	int fd, ok;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return 0;
	ok = write(fd, "3\n", 2) == 2;
	close(fd);
	return ok;
}

static void die(const char *what, const struct lt_err *err)
{
	fprintf(stderr, "ckpt_bw: %s: %s\n", what, err->msg);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *io_name = "file";
	long tensors = 4, mb = 256, iters = 4, keep = 1;
	struct lt_ckpt_io_ops timed;
	struct lt_registry *reg;
	struct lt_choice io = { 0 };
	struct lt_ckpt_tensor *t;
	struct lt_err err = { 0 };
	double *save, *blocked, *writes, *load, *warm, *blocked_step;
	long step_ms = 250;
	void *st = NULL, **dst;
	size_t bytes, total = 0;
	int dropped = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--io"))
			io_name = argv[i + 1];
		else if (!strcmp(argv[i], "--tensors"))
			tensors = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--mb"))
			mb = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--iters"))
			iters = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--step-ms"))
			step_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--keep"))
			keep = atol(argv[i + 1]);
	}
	reg = lt_registry_new(&err);
	if (!dir || tensors < 1 || mb < 1 || iters < 2 || keep < 0 || !reg ||
	    lt_registry_resolve(reg, LT_KIND_CKPT_IO, io_name, &io, &err)) {
		fprintf(stderr, "usage: ckpt_bw --dir DIR --io file|async [--tensors N] [--mb M] [--iters K >= 2] [--keep K]%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		return 2;
	}
	timed_inner = lt_ckpt_io_of(&io);
	timed = *timed_inner;
	timed.write = timed_write;
	if (timed.open(&(struct lt_ckpt_io_args){ .base = dir, .params = io.params, .reg = reg },
		       &st, &err))
		die("open", &err);

	bytes = (size_t)mb << 20;
	t = calloc((size_t)tensors, sizeof(*t));
	dst = calloc((size_t)tensors, sizeof(*dst));
	save = calloc((size_t)iters, sizeof(double));
	blocked = calloc((size_t)iters, sizeof(double));
	writes = calloc((size_t)iters, sizeof(double));
	load = calloc((size_t)iters, sizeof(double));
	warm = calloc((size_t)iters, sizeof(double));
	blocked_step = calloc((size_t)iters, sizeof(double));
	for (long i = 0; i < tensors; i++) {
		float *p = malloc(bytes);
		char *name = malloc(32);

		dst[i] = malloc(bytes);
		if (!p || !name || !dst[i]) {
			fprintf(stderr, "ckpt_bw: out of memory\n");
			return 1;
		}
		for (size_t k = 0; k < bytes / sizeof(float); k++)
			p[k] = (float)(k % 1000) * 0.001f + (float)i;
		memset(dst[i], 0, bytes); /* touched before any load is timed */
		snprintf(name, 32, "layer%ld.weight", i);
		t[i] = (struct lt_ckpt_tensor){ .name = name, .dtype = LT_F32, .ndim = 2,
						.shape = { (int64_t)mb << 10, 256 }, .data = p,
						.bytes = bytes };
		total += bytes;
	}

	/* iters saves with the next optimizer step at once after each, then
	 * (async) iters - 1 with a step of --step-ms of work before it */
	for (long it = 0; it < (timed.save_deferred ? 2 * iters - 1 : iters); it++) {
		cJSON *meta = cJSON_CreateObject();
		bool overlap = it >= iters;
		char step[32];
		double t0, t1;

		snprintf(step, sizeof(step), "%ld", it + 1);
		cJSON_AddStringToObject(meta, "step", step);
		write_ms = 0;
		t0 = bench_now_ms();
		if (timed.save_deferred) {
			/* as the trainer saves: the optimizer step waits for the copy */
			if (timed.save_deferred(st, it + 1, t, (size_t)tensors, meta, (int)keep, NULL,
						NULL, &err))
				die("save", &err);
			t1 = bench_now_ms();
			if (overlap)
				busy_ms(step_ms);
			write_ms = optimizer_step(&timed, st, t, (size_t)tensors);
			t1 += write_ms;
		} else {
			if (lt_ckpt_save(&timed, st, it + 1, t, (size_t)tensors, meta, (int)keep, &err))
				die("save", &err);
			t1 = bench_now_ms();
		}
		if (timed.flush(st, &err))
			die("flush", &err);
		if (overlap) {
			blocked_step[it - iters] = t1 - t0;
		} else {
			save[it] = bench_now_ms() - t0;
			blocked[it] = t1 - t0;
			writes[it] = write_ms;
		}
		cJSON_Delete(meta);
	}

	/* iters cold loads, then iters from the page cache */
	for (long it = 0; it < 2 * iters; it++) {
		struct lt_ckpt_reader *r;
		double t0;

		if (it < iters)
			dropped &= drop_caches();
		t0 = bench_now_ms();
		r = lt_ckpt_open(&timed, st, "last", &err);
		if (!r)
			die("open last", &err);
		for (long i = 0; i < tensors; i++)
			if (lt_ckpt_read(r, t[i].name, LT_F32, 2, t[i].shape, dst[i], &err))
				die("read", &err);
		(it < iters ? load : warm)[it % iters] = bench_now_ms() - t0;
		lt_ckpt_close(r);
	}
	for (long i = 0; i < tensors; i++)
		if (memcmp(dst[i], t[i].data, bytes)) {
			fprintf(stderr, "ckpt_bw: tensor %s came back different\n", t[i].name);
			return 1;
		}
	timed.close(st);
	lt_choice_free(&io);
	lt_registry_free(reg);
	printf("ckpt_bw: io=%s bytes=%zu iters=%ld save_ms=%.3f first_save_ms=%.3f blocked_ms=%.3f write_ms=%.3f",
	       io_name, total, iters, median(save + 1, (int)iters - 1), save[0],
	       median(blocked + 1, (int)iters - 1), median(writes + 1, (int)iters - 1));
	if (timed.save_deferred)
		printf(" step_ms=%ld blocked_step_ms=%.3f", step_ms,
		       median(blocked_step, (int)iters - 1));
	printf(" load_ms=%.3f load_warm_ms=%.3f dropped=%d crc=%s\n", median(load, (int)iters),
	       median(warm, (int)iters), dropped, lt_crc32c_kernel());
	return 0;
}
