/*
 * memcpy_bw.c - bench/allreduce's limit column: memcpy of the same bytes
 * as each all-reduce message, on one core, between two buffers touched
 * beforehand; the same iteration recipe as bench/models/allreduce_bench.c
 * and the same output line (ranks=1).
 *
 *   cc -O2 memcpy_bw.c -o memcpy_bw      (bench/allreduce builds it)
 *   memcpy_bw [--sizes B,B,...] [--max-iters N] [--min-iters N] [--bytes-per-size B]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../timing.h"

#define MAX_SIZES 32

int main(int argc, char **argv)
{
	size_t sizes[MAX_SIZES] = { 4096, 65536, 1 << 20, 16 << 20, 64 << 20, 256 << 20 };
	int nsizes = 6;
	long max_iters = 100, min_iters = 3;
	double bytes_per_size = 1 << 30;
	size_t maxbytes = 0;
	char *src, *dst;
	double *t;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		char *end;

		if (!strcmp(a, "--sizes")) {
			nsizes = 0;
			for (const char *p = v; *p && nsizes < MAX_SIZES; p = *end ? end + 1 : end) {
				sizes[nsizes++] = (size_t)strtoull(p, &end, 10);
				if (end == p)
					return fprintf(stderr, "memcpy_bw: bad --sizes\n"), 2;
			}
		} else if (!strcmp(a, "--max-iters")) {
			max_iters = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--min-iters")) {
			min_iters = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--bytes-per-size")) {
			bytes_per_size = strtod(v, NULL);
		} else {
			return fprintf(stderr, "memcpy_bw: unknown option '%s'\n", a), 2;
		}
	}
	if (min_iters < 1 || max_iters < min_iters)
		return fprintf(stderr, "memcpy_bw: need 1 <= --min-iters <= --max-iters\n"), 2;
	for (int s = 0; s < nsizes; s++)
		if (sizes[s] > maxbytes)
			maxbytes = sizes[s];
	src = malloc(maxbytes);
	dst = malloc(maxbytes);
	t = malloc(sizeof(*t) * (size_t)max_iters);
	if (!src || !dst || !t)
		return fprintf(stderr, "memcpy_bw: out of memory\n"), 1;
	memset(src, 1, maxbytes);
	memset(dst, 0, maxbytes);

	for (int s = 0; s < nsizes; s++) {
		size_t bytes = sizes[s];
		long warm, iters = bench_iters(bytes, bytes_per_size, min_iters, max_iters, &warm);

		for (long i = 0; i < warm; i++)
			memcpy(dst, src, bytes);
		for (long i = 0; i < iters; i++) {
			double t0 = bench_now_ms();
			memcpy(dst, src, bytes);
			/* keep the copy from being optimised away */
			__asm__ volatile("" : : "r"(dst) : "memory");
			t[i] = bench_now_ms() - t0;
		}
		bench_report(1, bytes, iters, t);
	}
	free(t);
	free(dst);
	free(src);
	return 0;
}
