/*
 * nccl_allreduce.c - bench/gpu's peer: raw ncclAllReduce (SUM, f32, in
 * place), one process a GPU as ltrun runs them, each op timed alone to
 * the end of its stream (as a blocking lt_all_reduce is), median of the
 * timed iterations after 5 warm-up ones.  The parent makes the unique id
 * and forks the ranks (no CUDA before the fork).  Built by bench/gpu:
 *
 *   cc -O2 -I$CUDA/include nccl_allreduce.c -L$CUDA/lib64 -lnccl -lcudart -o nccl_allreduce
 *   nccl_allreduce RANKS BYTES[,BYTES...] [ITERS]
 *
 * Rank 0 prints one line a size, as bench/models/allreduce_bench.c does:
 *   nccl_allreduce: ranks=N bytes=S iters=I median_ms=X
 */
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 32

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define CHECK(what, ok)                                                                    \
	do {                                                                               \
		if (!(ok)) {                                                               \
			fprintf(stderr, "nccl_allreduce: rank %d: %s failed\n", rank, what); \
			return 1;                                                          \
		}                                                                          \
	} while (0)

static int run_rank(int rank, int n, ncclUniqueId id, const size_t *sizes, int nsizes,
		    int iters)
{
	size_t most = 0;
	ncclComm_t comm;
	cudaStream_t s;
	float *buf;
	double *t = malloc(sizeof(double) * (size_t)iters);

	for (int i = 0; i < nsizes; i++)
		most = sizes[i] > most ? sizes[i] : most;
	CHECK("cudaSetDevice", cudaSetDevice(rank) == cudaSuccess);
	CHECK("cudaMalloc", cudaMalloc((void **)&buf, most) == cudaSuccess && t);
	CHECK("cudaMemset", cudaMemset(buf, 0, most) == cudaSuccess);
	CHECK("cudaStreamCreate", cudaStreamCreate(&s) == cudaSuccess);
	CHECK("ncclCommInitRank", ncclCommInitRank(&comm, n, id, rank) == ncclSuccess);
	for (int k = 0; k < nsizes; k++) {
		size_t count = sizes[k] / sizeof(float);

		for (int i = 0; i < 5 + iters; i++) {
			double t0 = now_ms();

			CHECK("ncclAllReduce", ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, comm, s) == ncclSuccess);
			CHECK("cudaStreamSynchronize", cudaStreamSynchronize(s) == cudaSuccess);
			if (i >= 5)
				t[i - 5] = now_ms() - t0;
		}
		qsort(t, (size_t)iters, sizeof(double), cmp);
		if (rank == 0)
			printf("nccl_allreduce: ranks=%d bytes=%zu iters=%d median_ms=%.6f\n", n,
			       sizes[k], iters, t[iters / 2]);
		fflush(stdout);
	}
	ncclCommDestroy(comm);
	cudaFree(buf);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_SIZES];
	int nsizes = 0, n, iters, failed = 0;
	ncclUniqueId id;
	char *p;

	if (argc < 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: nccl_allreduce RANKS BYTES[,BYTES...] [ITERS]\n");
		return 2;
	}
	iters = argc > 3 ? atoi(argv[3]) : 50;
	for (p = argv[2]; *p && nsizes < MAX_SIZES;) {
		sizes[nsizes++] = strtoull(p, &p, 10);
		if (*p == ',')
			p++;
	}
	if (iters < 1 || ncclGetUniqueId(&id) != ncclSuccess) {
		fprintf(stderr, "nccl_allreduce: bad ITERS, or ncclGetUniqueId failed\n");
		return 1;
	}
	for (int r = 0; r < n; r++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(run_rank(r, n, id, sizes, nsizes, iters));
		if (pid < 0)
			return 1;
	}
	for (int r = 0; r < n; r++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	}
	return failed;
}
