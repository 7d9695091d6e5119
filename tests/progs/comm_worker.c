/*
 * comm_worker.c - one rank of a communicator test: `comm_worker BACKEND`
 * joins a group through the file rendezvous and checks every collective
 * against a reference computed locally from the same deterministic data.
 *
 * Identity: RANK and WORLD_SIZE (OMPI_COMM_WORLD_RANK/SIZE win when set,
 * for mpirun); LTRUN_RUN_ID names the job and LTRUN_RDZV_DIR the
 * rendezvous directory.  Options, from the environment:
 *   COMM_WORKER_TIMEOUT_MS  the collective timeout (default 20000)
 *   COMM_WORKER_DIE_AT=N    rank COMM_WORKER_DIE_RANK (default the last)
 *                           kills itself with SIGKILL before collective N
 *   COMM_WORKER_STALL_S=S   ... or, instead, sleeps S seconds there (its
 *                           connections open) and exits 3
 *   COMM_WORKER_QUICK=1     small counts only
 *   COMM_WORKER_SCHED=1     print, after opening, how many of this
 *                           process's threads are in the idle scheduling
 *                           class (gloo's loop thread must be)
 * Data are small integers, so sums are exact in f16 and bf16 too.  Every
 * mismatch prints one line (collective, op, dtype, count, index, expected,
 * got; the first few per check); the exit status is 0 only if all passed.
 */
#include "accel/accel.h"
#include "comm/comm.h"
#include "comm/reduce.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"
#include "worker_rdzv.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG_COUNT ((1u << 20) + 3)
#define BIG_GATHER ((1u << 20) + 3) /* per rank: buffers are size times it */
#define MAX_REPORTS 5
#define INFLIGHT 6
#define PERIOD 1009

struct worker {
	struct lt_comm *c;
	int rank, size;
	int calls;     /* collectives issued */
	int die_at, die_rank;
	int stall_s; /* COMM_WORKER_STALL_S: stall instead of dying */
	int failures;
	unsigned salt;
};

static const enum lt_op all_ops[] = { LT_SUM, LT_AVG, LT_MIN, LT_MAX };

/* ------------------------------------------------------------ data */

/* Rank r's value at index i: an integer in [-12, 12], periodic in i
 * with the prime period PERIOD (never a multiple of a chunk), so that the
 * references are tables of PERIOD entries. */
static int value(const struct worker *w, int r, size_t i)
{
	size_t k = i % PERIOD;

	return (int)((k * k * 7 + k * 3 + (size_t)r * 17 + w->salt) % 25) - 12;
}

/* The dtype's own AVG: exact sum divided in f32 (f64 for f64), rounded
 * to the dtype; integers truncate. */
static double average(enum lt_dtype dt, double sum, int size)
{
	uint64_t tmp;

	switch (dt) {
	case LT_F64: return sum / size;
	case LT_I32: case LT_I64: return (double)((int64_t)sum / size);
	default:
		lt_dtype_store(&tmp, dt, 0, (double)((float)sum / (float)size));
		return lt_dtype_load(&tmp, dt, 0);
	}
}

/* op over every rank's value at index i. */
static double reduced(const struct worker *w, enum lt_op op, enum lt_dtype dt, size_t i)
{
	double acc = value(w, 0, i);

	for (int r = 1; r < w->size; r++) {
		double v = value(w, r, i);
		acc = op == LT_MIN ? (v < acc ? v : acc) : op == LT_MAX ? (v > acc ? v : acc) : acc + v;
	}
	return op == LT_AVG ? average(dt, acc, w->size) : acc;
}

/* out[k]: rank r's value (r >= 0) or the reduction (r < 0) at index k,
 * for k < PERIOD. */
static void table(const struct worker *w, int r, enum lt_op op, enum lt_dtype dt,
		  double out[PERIOD])
{
	for (size_t k = 0; k < PERIOD; k++)
		out[k] = r >= 0 ? value(w, r, k) : reduced(w, op, dt, k);
}

/* buf[i] = rank r's value at i + first, for i < n. */
static void fill(const struct worker *w, void *buf, enum lt_dtype dt, int r, size_t first,
		 size_t n)
{
	double t[PERIOD];

	table(w, r, LT_SUM, dt, t);
	for (size_t i = 0; i < n; i++)
		lt_dtype_store(buf, dt, i, t[(i + first) % PERIOD]);
}

/* ------------------------------------------------------------ checks */

struct check {
	const char *what;
	enum lt_op op;
	bool has_op;
	enum lt_dtype dt;
	size_t count;
	int root;
	int reports;
};

static void expect(struct worker *w, struct check *k, size_t i, double want, double got)
{
	if (want == got)
		return;
	w->failures++;
	if (k->reports++ >= MAX_REPORTS)
		return;
	fprintf(stderr, "rank %d: FAIL %s%s%s %s count %zu", w->rank, k->what,
		k->has_op ? " " : "", k->has_op ? lt_op_name(k->op) : "", lt_dtype_name(k->dt),
		k->count);
	if (k->root >= 0)
		fprintf(stderr, " root %d", k->root);
	fprintf(stderr, " [%zu]: expected %g, got %g\n", i, want, got);
}

static void *alloc(size_t count, enum lt_dtype dt)
{
	void *p = malloc(count ? count * lt_dtype_size(dt) : 1);

	if (!p) {
		fprintf(stderr, "comm_worker: out of memory\n");
		exit(2);
	}
	return p;
}

/* Called before each collective: dies where asked to. */
static void next_call(struct worker *w)
{
	if (w->calls++ == w->die_at && w->rank == w->die_rank) {
		if (w->stall_s > 0) {
			/* alive, connections open, but silent */
			fprintf(stderr, "rank %d: stalling %d s before collective %d as asked\n",
				w->rank, w->stall_s, w->die_at);
			sleep((unsigned)w->stall_s);
			_exit(3);
		}
		fprintf(stderr, "rank %d: dying before collective %d as asked\n", w->rank, w->die_at);
		raise(SIGKILL);
	}
}

__attribute__((noreturn)) static void failed(struct worker *w, const char *what,
					     const struct lt_err *err)
{
	fprintf(stderr, "rank %d: %s: %s\n", w->rank, what, err->msg);
	exit(1);
}

static void check_all_reduce(struct worker *w, enum lt_op op, enum lt_dtype dt, size_t n)
{
	struct check k = { "all_reduce", op, true, dt, n, -1, 0 };
	void *buf = alloc(n, dt);
	struct lt_err err;

	w->salt++;
	double t[PERIOD];

	fill(w, buf, dt, w->rank, 0, n);
	next_call(w);
	if (lt_comm_all_reduce(w->c, buf, n, dt, op, &err))
		failed(w, "all_reduce", &err);
	table(w, -1, op, dt, t);
	for (size_t i = 0; i < n; i++)
		expect(w, &k, i, t[i % PERIOD], lt_dtype_load(buf, dt, i));
	free(buf);
}

static void check_broadcast(struct worker *w, enum lt_dtype dt, size_t n, int root)
{
	struct check k = { "broadcast", LT_SUM, false, dt, n, root, 0 };
	void *buf = alloc(n, dt);
	struct lt_err err;

	w->salt++;
	double t[PERIOD];

	fill(w, buf, dt, w->rank, 0, n);
	next_call(w);
	if (lt_comm_broadcast(w->c, buf, n, dt, root, &err))
		failed(w, "broadcast", &err);
	table(w, root, LT_SUM, dt, t);
	for (size_t i = 0; i < n; i++)
		expect(w, &k, i, t[i % PERIOD], lt_dtype_load(buf, dt, i));
	free(buf);
}

static void check_all_gather(struct worker *w, enum lt_dtype dt, size_t n)
{
	struct check k = { "all_gather", LT_SUM, false, dt, n, -1, 0 };
	void *send = alloc(n, dt), *recv = alloc(n * (size_t)w->size, dt);
	struct lt_err err;

	w->salt++;
	double t[PERIOD];

	fill(w, send, dt, w->rank, 0, n);
	next_call(w);
	if (lt_comm_all_gather(w->c, send, recv, n, dt, &err))
		failed(w, "all_gather", &err);
	for (int r = 0; r < w->size; r++) {
		table(w, r, LT_SUM, dt, t);
		for (size_t i = 0; i < n; i++)
			expect(w, &k, r * n + i, t[i % PERIOD], lt_dtype_load(recv, dt, r * n + i));
	}
	free(send);
	free(recv);
}

static void check_reduce_scatter(struct worker *w, enum lt_op op, enum lt_dtype dt, size_t n)
{
	struct check k = { "reduce_scatter", op, true, dt, n, -1, 0 };
	size_t total = n * (size_t)w->size;
	void *send = alloc(total, dt), *recv = alloc(n, dt);
	struct lt_err err;

	w->salt++;
	double t[PERIOD];

	fill(w, send, dt, w->rank, 0, total);
	next_call(w);
	if (lt_comm_reduce_scatter(w->c, send, recv, n, dt, op, &err))
		failed(w, "reduce_scatter", &err);
	table(w, -1, op, dt, t);
	for (size_t i = 0; i < n; i++)
		expect(w, &k, i, t[((size_t)w->rank * n + i) % PERIOD], lt_dtype_load(recv, dt, i));
	free(send);
	free(recv);
}

/* ------------------------------------------------------------ async */

/* Several all_reduces and an all_gather in flight at once, a blocking
 * broadcast queued behind them, then every result checked. */
static void check_async(struct worker *w, enum lt_dtype dt, size_t n)
{
	struct lt_comm_req *req[INFLIGHT + 1];
	void *buf[INFLIGHT], *gather = alloc(n * (size_t)w->size, dt), *bc = alloc(n, dt);
	unsigned salt0 = ++w->salt;
	struct lt_err err;
	double t[PERIOD];

	for (int q = 0; q < INFLIGHT; q++) {
		buf[q] = alloc(n, dt);
		w->salt = salt0 + (unsigned)q;
		fill(w, buf[q], dt, w->rank, 0, n);
		next_call(w);
		req[q] = lt_comm_start(w->c, LT_COLL_ALL_REDUCE, NULL, buf[q], n, dt,
				       all_ops[q % 4], 0, &err);
		if (!req[q])
			failed(w, "all_reduce (async)", &err);
	}
	next_call(w);
	req[INFLIGHT] = lt_comm_start(w->c, LT_COLL_ALL_GATHER, buf[0], gather, n, dt, LT_SUM, 0,
				      &err);
	if (!req[INFLIGHT])
		failed(w, "all_gather (async)", &err);
	w->salt = salt0 + 100;
	fill(w, bc, dt, w->rank, 0, n);
	next_call(w);
	if (lt_comm_broadcast(w->c, bc, n, dt, w->size - 1, &err))
		failed(w, "broadcast (behind async work)", &err);
	struct check kb = { "broadcast (behind async work)", LT_SUM, false, dt, n, w->size - 1, 0 };
	table(w, w->size - 1, LT_SUM, dt, t);
	for (size_t i = 0; i < n; i++)
		expect(w, &kb, i, t[i % PERIOD], lt_dtype_load(bc, dt, i));
	for (int q = INFLIGHT; q >= 0; q--)
		if (lt_comm_wait(req[q], &err))
			failed(w, "wait", &err);
	/* The all_gather was queued after all_reduce 0, so it sees its result. */
	w->salt = salt0;
	struct check kg = { "all_gather (async)", LT_SUM, false, dt, n, -1, 0 };
	table(w, -1, LT_SUM, dt, t);
	for (int r = 0; r < w->size; r++)
		for (size_t i = 0; i < n; i++)
			expect(w, &kg, r * n + i, t[i % PERIOD], lt_dtype_load(gather, dt, r * n + i));
	for (int q = 0; q < INFLIGHT; q++) {
		struct check k = { "all_reduce (async)", all_ops[q % 4], true, dt, n, -1, 0 };
		w->salt = salt0 + (unsigned)q;
		table(w, -1, all_ops[q % 4], dt, t);
		for (size_t i = 0; i < n; i++)
			expect(w, &k, i, t[i % PERIOD], lt_dtype_load(buf[q], dt, i));
		free(buf[q]);
	}
	w->salt = salt0 + 100;
	free(gather);
	free(bc);
}

/* ------------------------------------------------------------ main */

static void run_checks(struct worker *w, bool quick)
{
	const size_t counts[] = { 0, 1, 7, BIG_COUNT };
	const size_t gathers[] = { 0, 1, 7, BIG_GATHER };
	size_t ncounts = quick ? 3 : 4;
	struct lt_err err;

	for (int dt = 0; dt < LT_DTYPE_COUNT; dt++)
		for (size_t c = 0; c < ncounts; c++) {
			for (int o = 0; o < 4; o++) {
				check_all_reduce(w, all_ops[o], dt, counts[c]);
				check_reduce_scatter(w, all_ops[o], dt, gathers[c]);
			}
			for (int root = 0; root < w->size; root++)
				if (counts[c] < 1000 || root == w->size - 1)
					check_broadcast(w, dt, counts[c], root);
			check_all_gather(w, dt, gathers[c]);
			next_call(w);
			if (lt_comm_barrier(w->c, &err))
				failed(w, "barrier", &err);
		}
	/* shm all-reduces up to 64 KiB in one step, above it in three */
	for (int dt = 0; !quick && dt < LT_DTYPE_COUNT; dt++)
		for (size_t extra = 0; extra < 2; extra++)
			check_all_reduce(w, LT_SUM, dt, (64u << 10) / lt_dtype_size(dt) + extra);
	check_async(w, LT_F32, 7);
	check_async(w, LT_BF16, quick ? 100 : BIG_COUNT);
	check_async(w, LT_I64, 100000);
}

/* The host this rank says it is on (auto groups ranks into nodes by it):
 * COMM_WORKER_HOST, so that tests can put ranks of one machine on several
 * "nodes", else loopback. */
static const char *host_name(void)
{
	const char *h = getenv("COMM_WORKER_HOST");

	return h && *h ? h : "127.0.0.1";
}

/* How many of this process's threads run under SCHED_IDLE. */
static int idle_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && sched_getscheduler(atoi(e->d_name)) == SCHED_IDLE)
			n++;
	closedir(d);
	return n;
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

int main(int argc, char **argv)
{
	struct lt_rank_info info = { 0 };
	struct lt_rdzv rz = { 0 };
	struct lt_err err = { 0 };
	struct worker w = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_choice comm = { 0 };
	int *ranks;

	if (argc != 2 || !reg || lt_registry_resolve(reg, LT_KIND_COMM, argv[1], &comm, &err)) {
		fprintf(stderr, "usage: comm_worker shm|tcp|gloo|mpi|auto|nccl (a backend this build has)%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		return 2;
	}
	w.rank = env_int("OMPI_COMM_WORLD_RANK", env_int("RANK", -1));
	w.size = env_int("OMPI_COMM_WORLD_SIZE", env_int("WORLD_SIZE", -1));
	w.die_at = env_int("COMM_WORKER_DIE_AT", -1);
	w.stall_s = env_int("COMM_WORKER_STALL_S", 0);
	w.die_rank = env_int("COMM_WORKER_DIE_RANK", w.size - 1);
	if (w.size < 1 || w.rank < 0 || w.rank >= w.size) {
		fprintf(stderr, "comm_worker: set RANK and WORLD_SIZE (0 <= RANK < WORLD_SIZE)\n");
		return 2;
	}
	info.rank = w.rank;
	info.world_size = w.size;
	/* nccl: this rank's GPU first, as a rank of ltrun takes it (the
	 * checks' host buffers go through the backend's device scratch) */
	if (lt_comm_of(&comm)->device_buffers) {
		struct lt_choice accel = { 0 };
		const struct lt_accelerator_ops *a;

		if (lt_registry_resolve(reg, LT_KIND_ACCELERATOR, "cuda", &accel, &err))
			failed(&w, "the cuda accelerator", &err);
		a = lt_accel_of(&accel);
		if (a->open(w.rank, w.size, &err))
			failed(&w, "the cuda accelerator", &err);
		lt_choice_free(&accel);
	}
	if (worker_open_rdzv(&rz, &info, &err))
		failed(&w, "rendezvous", &err);
	ranks = malloc((size_t)w.size * sizeof(int));
	for (int r = 0; r < w.size; r++)
		ranks[r] = r;
	struct lt_comm_args args = {
		.rank = w.rank, .size = w.size, .scope = "world", .rz = &rz,
		.run_id = info.run_id, .host = host_name(),
		.timeout_ms = env_int("COMM_WORKER_TIMEOUT_MS", 20000), .global_rank = ranks,
	};
	w.c = lt_comm_open(lt_comm_of(&comm), comm.base->name, &args, &err);
	if (!w.c)
		failed(&w, "open", &err);
	/* The tests check that auto saw the nodes they laid out. */
	if (lt_comm_auto_nodes(w.c) > 0) {
		printf("comm_worker: rank %d: auto over %d nodes\n", w.rank, lt_comm_auto_nodes(w.c));
		fflush(stdout);
	}
	if (env_int("COMM_WORKER_SCHED", 0)) {
		printf("comm_worker: rank %d: %d idle threads\n", w.rank, idle_threads());
		fflush(stdout);
	}
	run_checks(&w, env_int("COMM_WORKER_QUICK", 0) != 0);
	lt_comm_close(w.c);
	rz.ops->close(&rz, &err);
	free(ranks);
	lt_choice_free(&comm);
	lt_registry_free(reg);
	if (w.failures)
		fprintf(stderr, "rank %d: %d mismatches\n", w.rank, w.failures);
	return w.failures ? 1 : 0;
}
