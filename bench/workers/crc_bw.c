/*
 * crc_bw.c - bench/ckpt's CRC-32C table: on one core, over a buffer of M
 * MB (default 1024: past this VM's 480 MB L3, as a load's bytes are),
 * GB/s of lt_crc32c (bytes read) and of lt_crc32c_copy (bytes copied)
 * for every kernel this CPU runs, beside memcpy of the same bytes; the
 * median of REPS runs.  Prints one line a kernel, then memcpy's:
 *
 *   crc_bw: kernel=NAME crc_gbps=X copy_gbps=Y
 *   crc_bw: memcpy_gbps=Z
 *
 *   crc_bw [--mb 1024] [--reps 3]      (make build/bench/crc_bw)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../timing.h"
#include "ckpt/crc32c.h"

static volatile uint32_t sink;

/* GB/s of bytes in ms. */
static double gbps(size_t bytes, double ms)
{
	return ms > 0 ? (double)bytes / ms / 1e6 : 0;
}

/* The median time of reps runs of what (0 crc, 1 copy, 2 memcpy). */
static double timed(int what, unsigned char *dst, const unsigned char *src, size_t len, int reps)
{
	double t[16];

	for (int r = 0; r < reps; r++) {
		double t0 = bench_now_ms();

		if (what == 0)
			sink = lt_crc32c(0, src, len);
		else if (what == 1)
			sink = lt_crc32c_copy(0, dst, src, len);
		else
			memcpy(dst, src, len);
		t[r] = bench_now_ms() - t0;
	}
	qsort(t, (size_t)reps, sizeof(*t), bench_cmp_double);
	return t[reps / 2];
}

int main(int argc, char **argv)
{
	static const char *const kernels[] = { "vpclmul", "pclmul", "sse42", "table" };
	long mb = 1024, reps = 3;
	unsigned char *src, *dst;
	size_t len;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mb"))
			mb = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atol(argv[i + 1]);
	}
	if (mb < 1 || reps < 1 || reps > 16) {
		fprintf(stderr, "usage: crc_bw [--mb M >= 1] [--reps 1..16]\n");
		return 2;
	}
	len = (size_t)mb << 20;
	src = malloc(len);
	dst = malloc(len);
	if (!src || !dst) {
		fprintf(stderr, "crc_bw: out of memory for 2 x %ld MB\n", mb);
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		src[i] = (unsigned char)(i * 2654435761u >> 24);
	memset(dst, 0, len);
	for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
		if (lt_crc32c_use_kernel(kernels[k]))
			continue;
		printf("crc_bw: kernel=%s crc_gbps=%.2f copy_gbps=%.2f\n", kernels[k],
		       gbps(len, timed(0, dst, src, len, (int)reps)),
		       gbps(len, timed(1, dst, src, len, (int)reps)));
	}
	printf("crc_bw: memcpy_gbps=%.2f\n", gbps(len, timed(2, dst, src, len, (int)reps)));
	return 0;
}
