/*
 * convert_bw.c - bench/precision's measuring program: the bulk
 * conversions of src/precision/convert.c over a buffer of --mb MB of f32
 * (and half as many bytes of f16/bf16), on one core, beside memcpy of the
 * same f32 buffer, all in one run.  Bytes are counted as read + written
 * (f32 -> f16 over 256 MB: 256 + 128 MB; memcpy of 256 MB: 512 MB).
 *
 *   cc -O2 -Iinclude -Isrc bench/workers/convert_bw.c src/precision/convert.c -o convert_bw
 *   convert_bw [--mb N] [--iters N] [--kernel f16c|scalar]
 *
 * The bf16 operations run first, then f32_to_f16 leaves the f16 values
 * the f16 operations read.  Prints one line per operation, median of --iters timed runs after one
 * warm-up (buffers touched beforehand):
 *   convert_bw: op=f32_to_f16 kernel=f16c bytes=402653184 iters=10 median_ms=... gbps=...
 * and exits 2 on a bad option or a kernel this CPU cannot run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../timing.h"
#include "precision/convert.h"

struct bufs {
	float *f, *g;   /* n floats each: source and destination */
	uint16_t *h;    /* n halves */
	size_t n;
};

/* Runs operation `op` once; returns the bytes it reads and writes. */
static size_t run_op(const char *op, struct bufs *b)
{
	size_t n = b->n;

	if (!strcmp(op, "memcpy")) {
		memcpy(b->g, b->f, n * 4);
		return 8 * n;
	} else if (!strcmp(op, "f32_to_f16")) {
		lt_convert_f32_to_f16(b->h, b->f, n);
	} else if (!strcmp(op, "f32_to_bf16")) {
		lt_convert_f32_to_bf16(b->h, b->f, n);
	} else if (!strcmp(op, "f16_to_f32")) {
		lt_convert_f16_to_f32(b->g, b->h, n);
	} else if (!strcmp(op, "bf16_to_f32")) {
		lt_convert_bf16_to_f32(b->g, b->h, n);
	} else if (!strcmp(op, "unscale_f16")) {
		if (lt_unscale_half(b->g, b->h, n, false, 0x1p-10f))
			fprintf(stderr, "convert_bw: unexpected inf/NaN\n");
	} else if (!strcmp(op, "unscale_f32")) {
		/* in place: reads and writes 4 bytes an element; scale 1 keeps
		 * the values from drifting over the iterations */
		if (lt_unscale_f32(b->g, n, 1.0f))
			fprintf(stderr, "convert_bw: unexpected inf/NaN\n");
		return 8 * n;
	}
	return 6 * n;
}

int main(int argc, char **argv)
{
	static const char *const ops[] = { "memcpy", "f32_to_bf16", "bf16_to_f32", "f32_to_f16",
					   "f16_to_f32", "unscale_f16", "unscale_f32" };
	long mb = 256, iters = 10;
	const char *kernel = NULL;
	struct bufs b;
	double *t;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mb"))
			mb = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--iters"))
			iters = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--kernel"))
			kernel = argv[i + 1];
		else
			return fprintf(stderr, "convert_bw: unknown option '%s'\n", argv[i]), 2;
	}
	if (mb < 1 || iters < 1)
		return fprintf(stderr, "convert_bw: need --mb >= 1 and --iters >= 1\n"), 2;
	if (kernel && !lt_convert_use_kernel(kernel))
		return fprintf(stderr, "convert_bw: kernel '%s' cannot run here\n", kernel), 2;
	b.n = (size_t)mb << 18; /* mb MB of f32 */
	b.f = malloc(b.n * 4);
	b.g = malloc(b.n * 4);
	b.h = malloc(b.n * 2);
	t = malloc(sizeof(*t) * (size_t)iters);
	if (!b.f || !b.g || !b.h || !t)
		return fprintf(stderr, "convert_bw: out of memory\n"), 1;
	for (size_t i = 0; i < b.n; i++)
		b.f[i] = (float)(i % 1000) * 0.37f - 150.0f;
	memset(b.g, 0, b.n * 4);
	memset(b.h, 0, b.n * 2);

	for (size_t o = 0; o < sizeof(ops) / sizeof(*ops); o++) {
		size_t bytes = run_op(ops[o], &b); /* warm-up */

		for (long i = 0; i < iters; i++) {
			double t0 = bench_now_ms();

			run_op(ops[o], &b);
			__asm__ volatile("" : : "r"(b.g), "r"(b.h) : "memory");
			t[i] = bench_now_ms() - t0;
		}
		qsort(t, (size_t)iters, sizeof(*t), bench_cmp_double);
		double med = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2;
		printf("convert_bw: op=%s kernel=%s bytes=%zu iters=%ld median_ms=%.3f gbps=%.2f\n",
		       ops[o], lt_convert_kernel(), bytes, iters, med, (double)bytes / med / 1e6);
		fflush(stdout);
	}
	free(t);
	free(b.h);
	free(b.g);
	free(b.f);
	return 0;
}
