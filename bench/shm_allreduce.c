/*
 * shm_allreduce.c - times the shm communicator's f32 sum all_reduce:
 * forks N ranks that meet through the file rendezvous (in a temporary
 * directory), runs a few warm-up calls then ITERS timed ones per size,
 * and prints rank 0's median and best time per call.  Not built by make:
 *
 *   make && cc -O2 -Iinclude -Isrc -D_GNU_SOURCE bench/shm_allreduce.c \
 *	$(find build/src -name '*.o') -o build/bench/shm_allreduce -lcjson -lslurm -lm -ldl -pthread
 *   build/bench/shm_allreduce [RANKS [ITERS [BYTES...]]]
 *
 * (default: 2 ranks, 20 iterations, 1 MB and 64 MB; add -lgloo -lmpi and
 * link with c++ once the build has those backends).
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "launch/rank.h"
#include "launch/rdzv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void time_size(struct lt_comm *c, size_t bytes, int iters)
{
	size_t n = bytes / 4;
	float *buf = malloc(bytes);
	double *t = calloc((size_t)iters, sizeof(double));
	struct lt_err err;

	for (size_t i = 0; i < n; i++)
		buf[i] = (float)(i % 7);
	for (int k = -3; k < iters; k++) {
		lt_comm_barrier(c, &err);
		double t0 = now();
		if (lt_comm_all_reduce(c, buf, n, LT_F32, LT_SUM, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
		if (k >= 0)
			t[k] = now() - t0;
	}
	qsort(t, (size_t)iters, sizeof(double), cmp);
	fflush(stdout);
	if (c->rank == 0)
		printf("all_reduce f32 sum, %d ranks, %9zu bytes: median %8.3f ms  best %8.3f ms\n",
		       c->size, bytes, t[iters / 2] * 1e3, t[0] * 1e3);
	fflush(stdout);
	free(t);
	free(buf);
}

static int rank_main(int rank, int size, const char *run_id, int iters, int nsizes,
		     size_t *sizes)
{
	struct lt_rank_info info = { .rank = rank, .world_size = size, .rdzv_timeout_s = 60 };
	struct lt_rdzv rz = { .ops = &lt_rdzv_file, .info = &info, .timeout_ms = 60000 };
	struct lt_err err;

	snprintf(info.run_id, sizeof(info.run_id), "%s", run_id);
	snprintf(rz.who, sizeof(rz.who), "rank %d", rank);
	if (rz.ops->open(&rz, &info, rz.who, &err))
		goto fail;
	struct lt_comm_args a = { .rank = rank, .size = size, .scope = "bench", .rz = &rz,
				  .run_id = run_id, .timeout_ms = 60000 };
	struct lt_comm *c = lt_comm_open(&lt_comm_shm, &a, &err);
	if (!c)
		goto fail;
	for (int i = 0; i < nsizes; i++)
		time_size(c, sizes[i], iters);
	lt_comm_close(c);
	rz.ops->close(&rz, &err);
	return 0;
fail:
	fprintf(stderr, "rank %d: %s\n", rank, err.msg);
	return 1;
}

int main(int argc, char **argv)
{
	int size = argc > 1 ? atoi(argv[1]) : 2, iters = argc > 2 ? atoi(argv[2]) : 20;
	size_t sizes[16] = { 1u << 20, 64u << 20 };
	int nsizes = 2, status, rc = 0;
	char dir[] = "/tmp/ltrun-bench-XXXXXX", run_id[32];

	if (argc > 3)
		for (nsizes = 0; nsizes < 16 && 3 + nsizes < argc; nsizes++)
			sizes[nsizes] = (size_t)strtoull(argv[3 + nsizes], NULL, 0);
	if (!mkdtemp(dir))
		return 1;
	setenv("LTRUN_RDZV_DIR", dir, 1);
	snprintf(run_id, sizeof(run_id), "bench%d", (int)getpid());
	for (int r = 0; r < size; r++)
		if (fork() == 0)
			_exit(rank_main(r, size, run_id, iters, nsizes, sizes));
	while (wait(&status) > 0)
		rc |= !WIFEXITED(status) || WEXITSTATUS(status);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		rc = 1;
	return rc;
}
