/*
 * comm_allreduce.c - how long one communicator backend takes to all-reduce
 * f32 buffers (SUM), as every rank of a job sees it.  Each rank is its own
 * process: rank and size from RANK/WORLD_SIZE (or mpirun's
 * OMPI_COMM_WORLD_RANK/SIZE), meeting through the file rendezvous in
 * LTRUN_RDZV_DIR (LTRUN_RUN_ID names the job).  After two warm-up rounds,
 * each size runs BENCH_REPS times (default 20) between barriers; rank 0
 * prints "median [min-max]" in milliseconds, and every rank checks the sum.
 *
 *   RANK=0 WORLD_SIZE=2 LTRUN_RDZV_DIR=/tmp/r build/bench/comm_allreduce gloo 64 1 &
 *   RANK=1 WORLD_SIZE=2 LTRUN_RDZV_DIR=/tmp/r build/bench/comm_allreduce gloo 64 1
 *   mpirun -np 2 build/bench/comm_allreduce mpi 64 1
 *
 * Sizes are in MB (default: 64 1).  Build: make build/bench/comm_allreduce.
 */
#include "comm/comm.h"
#include "core/clock.h"
#include "core/registry.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int env_int(const char *a, const char *b, int dflt)
{
	const char *v = getenv(a);

	if (!v && b)
		v = getenv(b);
	return v ? atoi(v) : dflt;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Times reps all-reduces of `mb` MB; 0 or -1. */
static int run_size(struct lt_comm *c, double mb, int reps, struct lt_err *err)
{
	size_t n = (size_t)(mb * 1024 * 1024 / sizeof(float));
	float *buf = malloc(n * sizeof(float));
	double *t = calloc((size_t)reps, sizeof(double));
	float want = (float)c->size * (float)(c->size + 1) / 2;
	int rc = -1;

	if (!buf || !t) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %g MB", mb);
		goto out;
	}
	for (int i = -2; i < reps; i++) {
		for (size_t k = 0; k < n; k++)
			buf[k] = (float)(c->rank + 1);
		if (lt_comm_barrier(c, err))
			goto out;
		double t0 = lt_now_ms();
		if (lt_comm_all_reduce(c, buf, n, LT_F32, LT_SUM, err))
			goto out;
		if (i >= 0)
			t[i] = lt_now_ms() - t0;
		if (buf[0] != want || buf[n - 1] != want) {
			lt_err_set(err, LT_EXIT_FAILURE, "rank %d: sum is %g, want %g", c->rank,
				   buf[0], want);
			goto out;
		}
	}
	qsort(t, (size_t)reps, sizeof(double), cmp_double);
	if (c->rank == 0)
		printf("%s all_reduce f32 %g MB, %d ranks: %.3f ms [%.3f-%.3f]\n", c->name, mb,
		       c->size, reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2, t[0],
		       t[reps - 1]);
	rc = 0;
out:
	free(buf);
	free(t);
	return rc;
}

int main(int argc, char **argv)
{
	struct lt_rank_info info = { 0 };
	struct lt_rdzv rz = { 0 };
	struct lt_comm_args args = { 0 };
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_choice comm = { 0 };
	struct lt_comm *c;
	const char *run_id = getenv("LTRUN_RUN_ID");
	int reps = env_int("BENCH_REPS", NULL, 20), rc = 0;

	if (argc < 2 || !reg || lt_registry_resolve(reg, LT_KIND_COMM, argv[1], &comm, &err)) {
		fprintf(stderr, "usage: comm_allreduce shm|gloo|mpi|auto [MB...]%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		return 2;
	}
	info.rank = env_int("RANK", "OMPI_COMM_WORLD_RANK", 0);
	info.world_size = env_int("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", 1);
	snprintf(info.run_id, sizeof(info.run_id), "%s", run_id ? run_id : "bench");
	rz.ops = &lt_rdzv_file;
	rz.info = &info;
	rz.timeout_ms = 60000;
	snprintf(rz.who, sizeof(rz.who), "rank %d", info.rank);
	if (getenv("LTRUN_RDZV_DIR") && rz.ops->open(&rz, &info, rz.who, &err)) {
		fprintf(stderr, "comm_allreduce: %s\n", err.msg);
		return 1;
	}
	args.rank = info.rank;
	args.size = info.world_size;
	args.scope = "world";
	args.rz = getenv("LTRUN_RDZV_DIR") ? &rz : NULL;
	args.run_id = info.run_id;
	args.host = getenv("LTRUN_COMM_HOST");
	args.timeout_ms = 60000;
	c = lt_comm_open(lt_comm_of(&comm), comm.base->name, &args, &err);
	if (!c) {
		fprintf(stderr, "comm_allreduce: %s\n", err.msg);
		return 1;
	}
	for (int i = 2; i < argc || (argc == 2 && i < 4); i++) {
		double mb = argc > 2 ? atof(argv[i]) : (i == 2 ? 64 : 1);
		if (run_size(c, mb, reps, &err)) {
			fprintf(stderr, "comm_allreduce: %s\n", err.msg);
			rc = 1;
			break;
		}
	}
	lt_comm_close(c);
	lt_choice_free(&comm);
	lt_registry_free(reg);
	if (args.rz)
		rz.ops->close(&rz, &err);
	return rc;
}
