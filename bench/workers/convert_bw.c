/*
 * convert_bw.c - bench/precision's measuring program: the bulk
 * conversions of src/precision/convert.c over a buffer of --mb MB of f32
 * (and half as many bytes of f16/bf16), on one core, beside memcpy of the
 * same f32 buffer, all in one run.  Bytes are counted as read + written
 * (f32 -> f16 over 256 MB: 256 + 128 MB; memcpy of 256 MB: 512 MB).
 *
 *   cc -O2 -Iinclude -Isrc bench/workers/convert_bw.c src/precision/convert.c -o convert_bw
 *   convert_bw [--mb N] [--iters N] [--kernel K[,K...]]
 *
 * K is avx512, f16c or scalar (default: the one convert.c picks).  Each
 * of --iters rounds (after one warm-up round; buffers touched beforehand)
 * runs every operation of every kernel once, in turn, so that all cells
 * see the same machine; before each, the buffers are flushed from the
 * caches (x86: clflush), so that every operation starts from memory.  In
 * a round the bf16 operations run first, then
 * f32_to_f16 leaves the f16 values the f16 operations read.  Prints one
 * line per kernel and operation, the median of its --iters runs:
 *   convert_bw: op=f32_to_f16 kernel=f16c bytes=402653184 iters=10 median_ms=... gbps=...
 * and exits 2 on a bad option or a kernel this CPU cannot run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#endif

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

/* Writes back and drops every line of the buffers from the caches, so
 * that each timed operation starts from memory: this VM's CPU has a
 * 480 MiB L3, larger than the 256 MB buffers, and without this a cell
 * measures whatever the operation before it left in cache. */
static void evict(const struct bufs *b)
{
#if defined(__x86_64__) || defined(__i386__)
	const char *p[] = { (const char *)b->f, (const char *)b->g, (const char *)b->h };
	size_t len[] = { b->n * 4, b->n * 4, b->n * 2 };

	for (int i = 0; i < 3; i++)
		for (size_t off = 0; off < len[i]; off += 64)
			_mm_clflush(p[i] + off);
	_mm_mfence();
#else
	(void)b;
#endif
}

/* Median of the n values in v (sorted in place). */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const char *const ops[] = { "memcpy", "f32_to_bf16", "bf16_to_f32", "f32_to_f16",
					   "f16_to_f32", "unscale_f16", "unscale_f32" };
	enum { NOPS = sizeof(ops) / sizeof(*ops), MAXK = 4 };
	long mb = 256, iters = 10;
	char kernel_arg[64] = "";
	const char *kernels[MAXK];
	size_t nk = 0;
	struct bufs b;
	double *t;
	size_t bytes[NOPS];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mb"))
			mb = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--iters"))
			iters = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--kernel"))
			snprintf(kernel_arg, sizeof(kernel_arg), "%s", argv[i + 1]);
		else
			return fprintf(stderr, "convert_bw: unknown option '%s'\n", argv[i]), 2;
	}
	if (mb < 1 || iters < 1)
		return fprintf(stderr, "convert_bw: need --mb >= 1 and --iters >= 1\n"), 2;
	for (char *save = NULL, *k = strtok_r(kernel_arg, ",", &save); k;
	     k = strtok_r(NULL, ",", &save)) {
		if (nk == MAXK)
			return fprintf(stderr, "convert_bw: at most %d kernels\n", MAXK), 2;
		if (!lt_convert_use_kernel(k))
			return fprintf(stderr, "convert_bw: kernel '%s' cannot run here\n", k), 2;
		kernels[nk++] = k;
	}
	if (!nk) {
		lt_convert_use_kernel(NULL);
		kernels[nk++] = lt_convert_kernel();
	}
	b.n = (size_t)mb << 18; /* mb MB of f32 */
	b.f = malloc(b.n * 4);
	b.g = malloc(b.n * 4);
	b.h = malloc(b.n * 2);
	t = malloc(sizeof(*t) * (size_t)iters * NOPS * nk);
	if (!b.f || !b.g || !b.h || !t)
		return fprintf(stderr, "convert_bw: out of memory\n"), 1;
	for (size_t i = 0; i < b.n; i++)
		b.f[i] = (float)(i % 1000) * 0.37f - 150.0f;
	memset(b.g, 0, b.n * 4);
	memset(b.h, 0, b.n * 2);

	/* One warm-up round, then --iters rounds, each running every
	 * operation of every kernel once in turn: a slow phase of a shared
	 * machine then costs every cell alike, not one of them. */
	for (long r = -1; r < iters; r++) {
		for (size_t k = 0; k < nk; k++) {
			lt_convert_use_kernel(kernels[k]);
			for (size_t o = 0; o < NOPS; o++) {
				evict(&b);
				double t0 = bench_now_ms();

				bytes[o] = run_op(ops[o], &b);
				__asm__ volatile("" : : "r"(b.g), "r"(b.h) : "memory");
				if (r >= 0)
					t[(k * NOPS + o) * (size_t)iters + (size_t)r] = bench_now_ms() - t0;
			}
		}
	}
	for (size_t k = 0; k < nk; k++) {
		for (size_t o = 0; o < NOPS; o++) {
			double med = median(t + (k * NOPS + o) * (size_t)iters, (size_t)iters);

			printf("convert_bw: op=%s kernel=%s bytes=%zu iters=%ld median_ms=%.3f gbps=%.2f\n",
			       ops[o], kernels[k], bytes[o], iters, med, (double)bytes[o] / med / 1e6);
		}
	}
	free(t);
	free(b.h);
	free(b.g);
	free(b.f);
	return 0;
}
