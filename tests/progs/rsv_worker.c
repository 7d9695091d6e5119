/*
 * rsv_worker.c - one rank of a reduce_scatter_v test: `rsv_worker BACKEND`
 * joins a group through the file rendezvous (as comm_worker does: RANK,
 * WORLD_SIZE or mpirun's OMPI_COMM_WORLD_*, LTRUN_RUN_ID, LTRUN_RDZV_DIR,
 * COMM_WORKER_HOST) and checks lt_comm_reduce_scatter_v and its
 * non-blocking form lt_comm_start_v:
 *   - uneven blocks, empty ones, one rank owning everything (many rounds
 *     of shm's slots), every dtype, SUM, AVG, MIN and MAX, against a
 *     reference computed locally (small integers: exact in f16 and bf16);
 *   - the same in place (recv = this rank's block of send), and
 *     all_gather in place (send = this rank's block of recv), and that a
 *     receive buffer overlapping send any other way is refused;
 *   - with RSV_WORKER_BITS=1, on f16 data that round: the bits of
 *     all_reduce, reduce_scatter and reduce_scatter_v, out of place and in
 *     place, agree on every element, and equal the sum taken in rank
 *     order 0, 1, 2 ... rounded at each step.
 * Every mismatch prints a line; the exit status is 0 only if all held.
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"
#include "worker_rdzv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 300007
#define MAX_REPORTS 5

static int rank, size, failures;
static long checks; /* elements compared */
static struct lt_comm *comm;

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

__attribute__((noreturn)) static void die(const char *what, const struct lt_err *err)
{
	fprintf(stderr, "rank %d: %s: %s\n", rank, what, err->msg);
	exit(1);
}

static void *alloc(size_t count, size_t es)
{
	void *p = calloc(count ? count : 1, es);

	if (!p) {
		fprintf(stderr, "rsv_worker: out of memory\n");
		exit(2);
	}
	return p;
}

/* Rank r's value at element i: an integer in [-9, 9]. */
static int value(int r, size_t i, unsigned salt)
{
	return (int)((i * i * 5 + i * 11 + (size_t)r * 13 + salt) % 19) - 9;
}

static double reference(enum lt_op op, enum lt_dtype dt, size_t i, unsigned salt)
{
	double acc = value(0, i, salt);
	uint64_t tmp;

	for (int r = 1; r < size; r++) {
		double v = value(r, i, salt);
		acc = op == LT_MIN ? (v < acc ? v : acc) : op == LT_MAX ? (v > acc ? v : acc) : acc + v;
	}
	if (op != LT_AVG)
		return acc;
	if (dt == LT_F64)
		return acc / size;
	if (dt == LT_I32 || dt == LT_I64)
		return (double)((int64_t)acc / size);
	lt_dtype_store(&tmp, dt, 0, (double)((float)acc / (float)size));
	return lt_dtype_load(&tmp, dt, 0);
}

/* One reduce_scatter_v of counts (blocking or started; in place: into
 * this rank's block of send), checked. */
static void check_v(const size_t *counts, enum lt_dtype dt, enum lt_op op, bool async,
		    bool in_place, unsigned salt)
{
	size_t es = lt_dtype_size(dt), total = 0, at = 0, mine = counts[rank];
	size_t *copy = alloc((size_t)size, sizeof(size_t));
	struct lt_err err;
	char *send, *recv;
	int reports = 0;

	for (int j = 0; j < size; j++) {
		at += j < rank ? counts[j] : 0;
		total += counts[j];
	}
	send = alloc(total, es);
	recv = in_place ? send + at * es : alloc(mine, es);
	for (size_t i = 0; i < total; i++)
		lt_dtype_store(send, dt, i, value(rank, i, salt));
	memcpy(copy, counts, (size_t)size * sizeof(size_t));
	if (async) {
		struct lt_comm_req *req = lt_comm_start_v(comm, send, recv, copy, dt, op, &err);

		if (!req)
			die("lt_comm_start_v", &err);
		/* the request keeps its own counts */
		memset(copy, 0xff, (size_t)size * sizeof(size_t));
		if (lt_comm_wait(req, &err))
			die("reduce_scatter_v (async)", &err);
	} else if (lt_comm_reduce_scatter_v(comm, send, recv, copy, dt, op, &err)) {
		die("reduce_scatter_v", &err);
	}
	for (size_t i = 0; i < mine; i++) {
		double want = reference(op, dt, at + i, salt), got = lt_dtype_load(recv, dt, i);

		if (want != got && reports++ < MAX_REPORTS)
			fprintf(stderr,
				"rank %d: FAIL reduce_scatter_v%s%s %s %s block %zu of %zu [%zu]: expected %g, got %g\n",
				rank, async ? " (async)" : "", in_place ? " (in place)" : "",
				lt_op_name(op), lt_dtype_name(dt), mine, total, i, want, got);
		failures += want != got;
		checks++;
	}
	free(send);
	if (!in_place)
		free(recv);
	free(copy);
}

/* all_gather in place: send is this rank's block of recv. */
static void check_gather_in_place(size_t n, enum lt_dtype dt, unsigned salt)
{
	size_t es = lt_dtype_size(dt), total = n * (size_t)size;
	char *recv = alloc(total, es);
	struct lt_err err;
	int reports = 0;

	for (size_t i = 0; i < n; i++)
		lt_dtype_store(recv, dt, (size_t)rank * n + i, value(rank, i, salt));
	if (lt_comm_all_gather(comm, recv + (size_t)rank * n * es, recv, n, dt, &err))
		die("all_gather (in place)", &err);
	for (size_t i = 0; i < total; i++) {
		double want = value((int)(i / n), i % n, salt), got = lt_dtype_load(recv, dt, i);

		if (want != got && reports++ < MAX_REPORTS)
			fprintf(stderr, "rank %d: FAIL all_gather (in place) %s %zu [%zu]: expected %g, got %g\n",
				rank, lt_dtype_name(dt), n, i, want, got);
		failures += want != got;
		checks++;
	}
	free(recv);
}

/* A receive buffer overlapping send other than in place is refused, by
 * every rank before anything is sent. */
static void check_overlap_refused(void)
{
	size_t *counts = alloc((size_t)size, sizeof(size_t)), at = 0;
	float *buf = alloc(8 * (size_t)size + 1, sizeof(float));
	struct lt_err err = { 0 };

	for (int j = 0; j < size; j++) {
		counts[j] = 8;
		at += j < rank ? 8 : 0;
	}
	if (!lt_comm_reduce_scatter_v(comm, buf, buf + at + 1, counts, LT_F32, LT_SUM, &err) ||
	    !strstr(err.msg, "other than in place")) {
		fprintf(stderr, "rank %d: FAIL reduce_scatter_v into send + 1 element: %s\n", rank,
			err.msg[0] ? err.msg : "accepted");
		failures++;
	}
	memset(&err, 0, sizeof(err));
	if (!lt_comm_all_gather(comm, buf + 1, buf, 8, LT_F32, &err) ||
	    !strstr(err.msg, "other than in place")) {
		fprintf(stderr, "rank %d: FAIL all_gather from recv + 1 element: %s\n", rank,
			err.msg[0] ? err.msg : "accepted");
		failures++;
	}
	checks++;
	free(buf);
	free(counts);
}

/* Count patterns: uneven, empty blocks, all on the last rank (beyond one
 * shm slot), all empty. */
static void pattern(int k, size_t *counts)
{
	for (int j = 0; j < size; j++)
		switch (k) {
		case 0: counts[j] = (size_t)j * 3 + 1; break;
		case 1: counts[j] = j % 2 ? 0 : (size_t)j * 1000 + 17; break;
		case 2: counts[j] = j == size - 1 ? BIG : 0; break;
		case 3: counts[j] = j == 0 ? 5 : (size_t)(j * 70001); break;
		default: counts[j] = 0; break;
		}
}

static void run_checks(void)
{
	static const enum lt_op ops[] = { LT_SUM, LT_AVG, LT_MIN, LT_MAX };
	size_t *counts = alloc((size_t)size, sizeof(size_t));
	unsigned salt = 0;

	for (int k = 0; k < 5; k++) {
		pattern(k, counts);
		for (int dt = 0; dt < LT_DTYPE_COUNT; dt++)
			for (int o = 0; o < 4; o++) {
				check_v(counts, dt, ops[o], (o + dt) % 2, false, salt++);
				check_v(counts, dt, ops[o], (o + dt + 1) % 2, true, salt++);
			}
	}
	for (int dt = 0; dt < LT_DTYPE_COUNT; dt++) {
		check_gather_in_place(5, dt, salt++);
		check_gather_in_place(BIG / 3, dt, salt++);
	}
	check_overlap_refused();
	free(counts);
}

/* ------------------------------------------------------------ bits */

/* f16 values that round when summed: rank r's element i. */
static float fraction(int r, size_t i)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(r * 40503 + 7);

	h ^= h >> 13;
	h *= 0x5bd1e995u;
	h ^= h >> 15;
	return ((float)(h % 20001) - 10000.0f) / 977.0f;
}

static int bits_differ(const char *what, const uint16_t *a, const uint16_t *b, size_t n,
		       size_t first)
{
	checks += (long)n;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i]) {
			fprintf(stderr, "rank %d: FAIL %s: element %zu: %04x, not %04x\n", rank, what,
				first + i, b[i], a[i]);
			return 1;
		}
	return 0;
}

/* all_reduce, reduce_scatter and reduce_scatter_v of the same f16 data
 * (n per rank block, uneven v blocks) against the sum in rank order. */
static void check_bits(size_t n)
{
	size_t total = n * (size_t)size, *counts = alloc((size_t)size, sizeof(size_t)), at = 0;
	uint16_t *data = alloc(total, 2), *ar = alloc(total, 2), *want = alloc(total, 2);
	uint16_t *rs = alloc(n, 2), *rsv = alloc(total, 2), *peer = alloc(total, 2);
	uint16_t *in = alloc(total, 2);
	struct lt_err err;

	for (int r = 0; r < size; r++) {
		for (size_t i = 0; i < total; i++)
			peer[i] = lt_f32_to_f16(fraction(r, i));
		if (r == rank)
			memcpy(data, peer, total * 2);
		if (r == 0)
			memcpy(want, peer, total * 2);
		else
			lt_reduce_into(want, peer, total, LT_F16, LT_SUM);
	}
	memcpy(ar, data, total * 2);
	if (lt_comm_all_reduce(comm, ar, total, LT_F16, LT_SUM, &err))
		die("all_reduce", &err);
	if (lt_comm_reduce_scatter(comm, data, rs, n, LT_F16, LT_SUM, &err))
		die("reduce_scatter", &err);
	for (int j = 0; j < size; j++) {
		counts[j] = j == size - 1 ? total - (size_t)j * (n / 2) : n / 2;
		at += j < rank ? counts[j] : 0;
	}
	if (lt_comm_reduce_scatter_v(comm, data, rsv, counts, LT_F16, LT_SUM, &err))
		die("reduce_scatter_v", &err);
	failures += bits_differ("all_reduce vs the sum in rank order", want, ar, total, 0);
	failures += bits_differ("reduce_scatter vs all_reduce", ar + (size_t)rank * n, rs, n,
				(size_t)rank * n);
	failures += bits_differ("reduce_scatter_v vs all_reduce", ar + at, rsv, counts[rank], at);
	memcpy(in, data, total * 2);
	if (lt_comm_reduce_scatter(comm, in, in + (size_t)rank * n, n, LT_F16, LT_SUM, &err))
		die("reduce_scatter (in place)", &err);
	failures += bits_differ("reduce_scatter in place vs all_reduce", ar + (size_t)rank * n,
				in + (size_t)rank * n, n, (size_t)rank * n);
	memcpy(in, data, total * 2);
	if (lt_comm_reduce_scatter_v(comm, in, in + at, counts, LT_F16, LT_SUM, &err))
		die("reduce_scatter_v (in place)", &err);
	failures += bits_differ("reduce_scatter_v in place vs all_reduce", ar + at, in + at,
				counts[rank], at);
	free(data), free(ar), free(want), free(rs), free(rsv), free(peer), free(counts), free(in);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct lt_rank_info info = { 0 };
	struct lt_rdzv rz = { 0 };
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_choice choice = { 0 };
	const char *host = getenv("COMM_WORKER_HOST");
	int *ranks;

	if (argc != 2 || !reg || lt_registry_resolve(reg, LT_KIND_COMM, argv[1], &choice, &err)) {
		fprintf(stderr, "usage: rsv_worker shm|tcp|gloo|mpi|auto%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		return 2;
	}
	rank = env_int("OMPI_COMM_WORLD_RANK", env_int("RANK", -1));
	size = env_int("OMPI_COMM_WORLD_SIZE", env_int("WORLD_SIZE", -1));
	if (size < 1 || rank < 0 || rank >= size) {
		fprintf(stderr, "rsv_worker: set RANK and WORLD_SIZE (0 <= RANK < WORLD_SIZE)\n");
		return 2;
	}
	info.rank = rank;
	info.world_size = size;
	if (worker_open_rdzv(&rz, &info, &err))
		die("rendezvous", &err);
	ranks = alloc((size_t)size, sizeof(int));
	for (int r = 0; r < size; r++)
		ranks[r] = r;
	struct lt_comm_args args = {
		.rank = rank, .size = size, .scope = "world", .rz = &rz, .run_id = info.run_id,
		.host = host && *host ? host : "127.0.0.1", .timeout_ms = 20000,
		.global_rank = ranks,
	};
	comm = lt_comm_open(lt_comm_of(&choice), choice.base->name, &args, &err);
	if (!comm)
		die("open", &err);
	if (env_int("RSV_WORKER_BITS", 0)) {
		check_bits(7);
		check_bits(200003);
	} else {
		run_checks();
	}
	lt_comm_close(comm);
	rz.ops->close(&rz, &err);
	free(ranks);
	lt_choice_free(&choice);
	lt_registry_free(reg);
	if (failures)
		fprintf(stderr, "rank %d: %d mismatches\n", rank, failures);
	/* the test counts these lines: every rank compared something */
	printf("rsv_worker: rank %d: %ld elements checked\n", rank, checks);
	return failures || !checks ? 1 : 0;
}
