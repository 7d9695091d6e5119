/*
 * allreduce_bench.c - bench/allreduce's Fabric-mode model: times
 * lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM) for each message size,
 * over whichever communicator the run has (--comm).  Built by the script
 * like a user would build it:
 *
 *   cc -O2 -shared -fPIC -Iinclude bench/models/allreduce_bench.c -o allreduce_bench.so
 *   ltrun --devices N --comm shm allreduce_bench.so -- [--sizes B,B,...]
 *         [--max-iters N] [--min-iters N] [--bytes-per-size B]
 *         [--recipe timed|stream|gap]
 *
 * For each size (bytes of f32): one checked all-reduce (every rank's
 * buffer holds rank+1, the sum must be n(n+1)/2 everywhere), warm-up
 * iterations, an lt_barrier, then `iters` timed back-to-back all-reduces of
 * a zeroed buffer, each timed on its own.  iters = bytes-per-size / size,
 * clamped to [min-iters, max-iters]; warm-up = iters / 5, clamped to [1, 5].
 * --recipe stream times the iterations as a whole, gap puts 5 ms of
 * compute before each (bench/timing.h).  --buffer param makes the
 * buffer a registered parameter (of ones) instead of host memory: in the
 * accelerator's memory, a GPU's under --accelerator cuda (bench/gpu); the
 * check then reads back the first and last elements of every rank with
 * lt_all_gather, and the timed all-reduces sum what is there.
 * bench/workers/mpi_allreduce.c and torch_allreduce.py follow the same
 * recipe, so the columns compare.  Rank 0 prints one line per size:
 *
 *   allreduce_bench: ranks=N bytes=S count=C iters=I median_ms=X mean_ms=Y min_ms=Z
 */
#include <ltrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../timing.h"

#define MAX_SIZES 32

struct options {
	size_t sizes[MAX_SIZES];
	int nsizes;
	long max_iters, min_iters;
	double bytes_per_size;
	enum bench_recipe recipe;
	int param; /* --buffer param */
};

static void parse(lt_ctx *ctx, int argc, char **argv, struct options *o)
{
	static const size_t dflt[] = { 4096, 65536, 1 << 20, 16 << 20, 64 << 20, 256 << 20 };

	memset(o, 0, sizeof(*o));
	o->max_iters = 100;
	o->min_iters = 3;
	o->bytes_per_size = 1 << 30;
	for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
		o->sizes[o->nsizes++] = dflt[i];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!v)
			lt_fatal(ctx, "allreduce_bench: option '%s' needs a value", a);
		if (!strcmp(a, "--sizes")) {
			o->nsizes = 0;
			for (const char *p = v; *p;) {
				unsigned long long s = strtoull(p, &end, 10);
				if (end == p || s < 4 || s % 4 || o->nsizes == MAX_SIZES)
					lt_fatal(ctx, "allreduce_bench: bad --sizes '%s': up to %d byte counts, multiples of 4, ','-separated",
						 v, MAX_SIZES);
				o->sizes[o->nsizes++] = (size_t)s;
				p = *end == ',' ? end + 1 : end;
				if (*end && *end != ',')
					lt_fatal(ctx, "allreduce_bench: bad --sizes '%s'", v);
			}
		} else if (!strcmp(a, "--max-iters")) {
			o->max_iters = strtol(v, &end, 10);
		} else if (!strcmp(a, "--min-iters")) {
			o->min_iters = strtol(v, &end, 10);
		} else if (!strcmp(a, "--bytes-per-size")) {
			o->bytes_per_size = strtod(v, &end);
		} else if (!strcmp(a, "--buffer")) {
			if (strcmp(v, "host") && strcmp(v, "param"))
				lt_fatal(ctx, "allreduce_bench: bad --buffer '%s': host or param", v);
			o->param = !strcmp(v, "param");
		} else if (!strcmp(a, "--recipe")) {
			if (bench_recipe_parse(v, &o->recipe))
				lt_fatal(ctx, "allreduce_bench: bad --recipe '%s': timed, stream or gap", v);
		} else {
			lt_fatal(ctx, "allreduce_bench: unknown option '%s'", a);
		}
		i++;
	}
	if (o->min_iters < 1 || o->max_iters < o->min_iters)
		lt_fatal(ctx, "allreduce_bench: need 1 <= --min-iters <= --max-iters");
}

/* The buffer is a parameter of ones on every rank (rank 0's, shared):
 * after one all-reduce, its first and last elements are the world size
 * on every rank, read back to the host with lt_all_gather.  The buffer
 * holds its sums afterwards, which the timed all-reduces add up again. */
static void check_param(lt_ctx *ctx, float *buf, size_t count, int n)
{
	float *first = malloc(sizeof(float) * (size_t)n), *last = malloc(sizeof(float) * (size_t)n);

	if (!first || !last)
		lt_fatal(ctx, "allreduce_bench: out of memory");
	lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM);
	lt_all_gather(ctx, buf, first, 1, LT_F32);
	lt_all_gather(ctx, buf + count - 1, last, 1, LT_F32);
	for (int r = 0; r < n; r++)
		if (first[r] < (float)n || last[r] < (float)n)
			lt_fatal(ctx, "allreduce_bench: %zu floats in a parameter: rank %d holds %g and %g at the ends after the sum, want at least %d",
				 count, r, (double)first[r], (double)last[r], n);
	free(first);
	free(last);
}

/* The buffer in host memory: every rank's holds rank+1, the sum must be
 * n(n+1)/2 everywhere; zeroed afterwards for the timed all-reduces. */
static void check_host(lt_ctx *ctx, float *buf, size_t count, int rank, int n)
{
	float want = (float)n * (float)(n + 1) / 2;

	for (size_t i = 0; i < count; i++)
		buf[i] = (float)(rank + 1);
	lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM);
	for (size_t i = 0; i < count; i += count / 7 + 1)
		if (buf[i] != want)
			lt_fatal(ctx, "allreduce_bench: %zu bytes: element %zu is %g, want %g",
				 count * sizeof(float), i, (double)buf[i], (double)want);
	if (buf[count - 1] != want)
		lt_fatal(ctx, "allreduce_bench: %zu bytes: last element is %g, want %g",
			 count * sizeof(float), (double)buf[count - 1], (double)want);
	memset(buf, 0, count * sizeof(float));
}

/* The timed all-reduces of one size, as the recipe says. */
static void time_all_reduces(lt_ctx *ctx, const struct options *o, float *buf, size_t count,
			     long iters, double *t)
{
	if (o->recipe == BENCH_STREAM) {
		double t0 = bench_now_ms();
		for (long i = 0; i < iters; i++)
			lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM);
		t[0] = (bench_now_ms() - t0) / (double)iters;
		for (long i = 1; i < iters; i++)
			t[i] = t[0];
		return;
	}
	for (long i = 0; i < iters; i++) {
		double t0;
		if (o->recipe == BENCH_GAP)
			bench_compute_ms(BENCH_GAP_MS);
		t0 = bench_now_ms();
		lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM);
		t[i] = bench_now_ms() - t0;
	}
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct options o;
	int rank = lt_rank(ctx), n = lt_world_size(ctx);
	size_t maxbytes = 0;
	float *buf;
	double *t;

	parse(ctx, argc, argv, &o);
	for (int s = 0; s < o.nsizes; s++)
		if (o.sizes[s] > maxbytes)
			maxbytes = o.sizes[s];
	buf = o.param ? lt_data(lt_param(ctx, "buf", LT_SHAPE((int64_t)(maxbytes / sizeof(float))),
					 LT_CONSTANT(1)))
		      : malloc(maxbytes);
	t = malloc(sizeof(*t) * (size_t)o.max_iters);
	if (!buf || !t)
		lt_fatal(ctx, "allreduce_bench: out of memory for %zu bytes", maxbytes);

	for (int s = 0; s < o.nsizes; s++) {
		size_t bytes = o.sizes[s], count = bytes / sizeof(float);
		long warm, iters = bench_iters(bytes, o.bytes_per_size, o.min_iters, o.max_iters, &warm);

		if (o.param)
			check_param(ctx, buf, count, n);
		else
			check_host(ctx, buf, count, rank, n);
		for (long i = 0; i < warm; i++)
			lt_all_reduce(ctx, buf, count, LT_F32, LT_SUM);
		lt_barrier(ctx);
		time_all_reduces(ctx, &o, buf, count, iters, t);
		if (rank == 0)
			bench_report(n, bytes, iters, t);
	}
	free(t);
	if (!o.param)
		free(buf);
	return 0;
}
