/*
 * mpi_allreduce.c - bench/allreduce's Open MPI peer of
 * bench/models/allreduce_bench.c: the same recipe (one checked
 * all-reduce, warm-up, a barrier, then `iters` back-to-back in-place
 * MPI_Allreduce(MPI_FLOAT, MPI_SUM) timed one by one), the same options and
 * the same output line from rank 0, so the columns compare.
 *
 *   mpicc -O2 mpi_allreduce.c -o mpi_allreduce      (bench/allreduce builds it)
 *   mpirun -np N mpi_allreduce [--sizes B,B,...] [--max-iters N]
 *          [--min-iters N] [--bytes-per-size B] [--recipe timed|stream|gap]
 *
 *   allreduce_bench: ranks=N bytes=S count=C iters=I median_ms=X mean_ms=Y min_ms=Z
 */
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../timing.h"

#define MAX_SIZES 32

static void die(const char *msg)
{
	fprintf(stderr, "mpi_allreduce: %s\n", msg);
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1);
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_SIZES] = { 4096, 65536, 1 << 20, 16 << 20, 64 << 20, 256 << 20 };
	int nsizes = 6, rank, n;
	long max_iters = 100, min_iters = 3;
	double bytes_per_size = 1 << 30;
	enum bench_recipe recipe = BENCH_TIMED;
	size_t maxbytes = 0;
	float *buf;
	double *t;

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!v)
			die("an option needs a value");
		if (!strcmp(a, "--sizes")) {
			nsizes = 0;
			for (const char *p = v; *p; p = *end ? end + 1 : end) {
				unsigned long long s = strtoull(p, &end, 10);
				if (end == p || s < 4 || s % 4 || nsizes == MAX_SIZES ||
				    (*end && *end != ','))
					die("bad --sizes");
				sizes[nsizes++] = (size_t)s;
			}
		} else if (!strcmp(a, "--max-iters")) {
			max_iters = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--min-iters")) {
			min_iters = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--bytes-per-size")) {
			bytes_per_size = strtod(v, NULL);
		} else if (!strcmp(a, "--recipe")) {
			if (bench_recipe_parse(v, &recipe))
				die("bad --recipe: timed, stream or gap");
		} else {
			die("unknown option");
		}
		i++;
	}
	if (min_iters < 1 || max_iters < min_iters)
		die("need 1 <= --min-iters <= --max-iters");
	for (int s = 0; s < nsizes; s++)
		if (sizes[s] > maxbytes)
			maxbytes = sizes[s];
	buf = malloc(maxbytes);
	t = malloc(sizeof(*t) * (size_t)max_iters);
	if (!buf || !t)
		die("out of memory");

	for (int s = 0; s < nsizes; s++) {
		size_t bytes = sizes[s], count = bytes / sizeof(float);
		long warm, iters = bench_iters(bytes, bytes_per_size, min_iters, max_iters, &warm);
		float want = (float)n * (float)(n + 1) / 2;

		for (size_t i = 0; i < count; i++)
			buf[i] = (float)(rank + 1);
		MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		for (size_t i = 0; i < count; i += count / 7 + 1)
			if (buf[i] != want)
				die("wrong sum");
		if (buf[count - 1] != want)
			die("wrong sum");

		memset(buf, 0, bytes);
		for (long i = 0; i < warm; i++)
			MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		MPI_Barrier(MPI_COMM_WORLD);
		if (recipe == BENCH_STREAM) {
			double t0 = MPI_Wtime();
			for (long i = 0; i < iters; i++)
				MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM,
					      MPI_COMM_WORLD);
			t[0] = (MPI_Wtime() - t0) * 1e3 / (double)iters;
			for (long i = 1; i < iters; i++)
				t[i] = t[0];
		} else {
			for (long i = 0; i < iters; i++) {
				double t0;
				if (recipe == BENCH_GAP)
					bench_compute_ms(BENCH_GAP_MS);
				t0 = MPI_Wtime();
				MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM,
					      MPI_COMM_WORLD);
				t[i] = (MPI_Wtime() - t0) * 1e3;
			}
		}
		if (rank == 0)
			bench_report(n, bytes, iters, t);
	}
	free(t);
	free(buf);
	MPI_Finalize();
	return 0;
}
