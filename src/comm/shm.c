/*
 * shm.c - the `shm` communicator: collectives between the ranks of one
 * node through one POSIX shared-memory segment, the fast CPU path.
 *
 * Group rank 0 creates /dev/shm/ltrun-<run id>-<scope>-<owner>-<n> (owner:
 * its pid and pid namespace, core/owner.h) and publishes its name through
 * the rendezvous; the last member to map it unlinks it, so a crash after
 * that leaves nothing behind (and the agent removes every ltrun-<run id>-*
 * segment of a crashed attempt: lt_shm_remove_job; a killed agent's, at
 * the next start: lt_shm_remove_stale).  The segment holds a control block - per rank a
 * monotonic event counter on its own cache line, a waiter count and the
 * pid - then per rank STAGES staging slots of `chunk` bytes.
 *
 * Every rank counts the same events in the same order, so "peer j has
 * reached event E" is the only synchronisation there is: a rank publishes
 * an event with a release store (and a futex wake when someone sleeps on
 * it) and waits by polling briefly (spin_policy: yielding its cpu now and
 * then, at every poll when ranks outnumber cpus), then sleeping on the
 * futex, checking on the way that the peer is alive and the deadline not
 * passed.  A wait that the peer meets while polling makes no system call.  A slot
 * stage is rewritten only once every peer has passed the event after which
 * it no longer reads it, so consecutive chunks (and collectives) pipeline
 * over the stages.
 *
 * all_reduce, per chunk: each rank owns 1/size of the chunk; it copies
 * the parts others own into its slot (event 1), reduces its own part from
 * its buffer and the peers' slots into its buffer and its slot (event 2),
 * then copies the others' reduced parts out of their slots (event 3).
 * Each rank moves about two buffers' worth of bytes, whatever the size.
 * Up to one_shot_max bytes (64 KiB) an all-reduce takes one step instead:
 * every rank copies its buffer into its slot and reduces all the slots
 * (all_reduce_one_shot), one wait instead of three; the sums are in the
 * same order, so the bits are the same.
 * reduce_scatter and reduce_scatter_v (uneven blocks): each rank copies
 * the others' blocks into its slot (event 1) and reduces only its own
 * block from its send buffer and the peers' slots (event 2); in place
 * (comm.h), rank 0 and 1 read their block before they write it, a higher
 * rank stages its own piece in its slot first.  Every
 * reduction sums the ranks in order 0, 1, 2 ... (reduce_ordered), so the
 * three give the same bits from the same inputs (f16 and bf16 round at
 * every step).
 *
 * Each rank allocates its own slots (group rank 0 the header too) after
 * mapping the segment, and first asks, when the agent bound it to one NUMA
 * node (LTRUN_NUMA_NODE, launch/bind.h), that their pages come from that
 * node: the slots a rank writes are then local to it.
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "core/parse.h"
#include "core/clock.h"
#include "core/owner.h"
#include "rdzv/rdzv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SHM_MAGIC 0x6c7472756e73686dull /* "ltrunshm" */
#define STAGES 2
#define CHUNK_DEFAULT (1u << 20)
#define LINE 128
/* Reductions run over sub-blocks this big, so the result is still in the
 * cache when it is copied to the second place it goes. */
#define SUB_BLOCK (32u << 10)
#define SLEEP_SLICE_MS 20
#define ONE_SHOT_DEFAULT (64u << 10)
#define SPIN_US 200
#define OVERSUB_SPIN_US 50

struct shm_rank {
	_Atomic uint32_t seq;     /* events this rank has published */
	_Atomic uint32_t waiters; /* ranks sleeping on seq */
	_Atomic int32_t pid;      /* 0 until it has mapped the segment */
} __attribute__((aligned(LINE)));

struct shm_header {
	uint64_t magic;
	uint32_t size, stages;
	uint64_t chunk, bytes;
	_Atomic uint32_t attached; /* members that have mapped it */
	_Atomic int32_t aborted;   /* 1 + the rank at fault, or 0 */
	_Atomic int32_t abort_by;  /* the rank that saw it */
	_Atomic int32_t abort_why; /* 'd' it died, 't' it timed out */
	struct shm_rank rank[] __attribute__((aligned(LINE)));
};

struct shm {
	struct shm_header *h;
	size_t bytes;
	char *slots;             /* size * STAGES slots of chunk bytes */
	size_t chunk;
	int rank, size;
	uint32_t seq;            /* this rank's events so far */
	uint32_t stage_free[STAGES]; /* peers must reach this before reuse */
	unsigned next_stage;
	long spin_ns;
	unsigned yield_mask;     /* spinning yields the cpu every mask+1 turns */
	size_t one_shot_max;     /* all_reduce in one step up to this many bytes */
	int timeout_ms;
	int *global_rank;
	size_t *rs;              /* 4 * size: reduce_scatter's plan (rs_plan) */
	char scope[64];
	char name[NAME_MAX];
	const char *what;        /* the collective running, for messages */
};

/* Opens of this process, so two communicators of one scope get
 * different segment names and rendezvous keys. */
static _Atomic unsigned open_count;

/* ------------------------------------------------------------ helpers */

static bool reached(uint32_t v, uint32_t target)
{
	return (int32_t)(v - target) >= 0;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static char *slot(struct shm *s, int r, unsigned stage)
{
	return s->slots + ((size_t)r * STAGES + stage) * s->chunk;
}

static int global_of(const struct shm *s, int r)
{
	return s->global_rank ? s->global_rank[r] : r;
}

/* True while process pid exists and is not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool ok = true;

	if (pid <= 0)
		return true;
	if (kill(pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		ok = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return ok;
}

/* ------------------------------------------------------------ events */

static void publish(struct shm *s)
{
	struct shm_rank *me = &s->h->rank[s->rank];

	atomic_store_explicit(&me->seq, ++s->seq, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&me->waiters, memory_order_relaxed))
		futex_wake(&me->seq);
}

/* Records that peer `culprit` failed the group, so that every rank stops
 * waiting at once (the first report wins); returns -1. */
static int give_up(struct shm *s, int culprit, int why)
{
	int32_t none = 0;

	if (atomic_compare_exchange_strong(&s->h->aborted, &none, culprit + 1)) {
		atomic_store(&s->h->abort_by, s->rank);
		atomic_store(&s->h->abort_why, why);
	}
	return -1;
}

static int report_abort(struct shm *s, int32_t ab, struct lt_err *err)
{
	int by = atomic_load(&s->h->abort_by);

	if (atomic_load(&s->h->abort_why) == 'd')
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm %s (scope %s): rank %d died during the collective (rank %d saw it): see its own error",
				  s->what, s->scope, global_of(s, ab - 1), global_of(s, by));
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "shm %s (scope %s): rank %d timed out waiting for rank %d: see rank %d's message",
			  s->what, s->scope, global_of(s, by), global_of(s, ab - 1),
			  global_of(s, by));
}

static int wait_failed(struct shm *s, int j, uint32_t target, long waited_ns,
		       struct lt_err *err)
{
	int32_t ab = atomic_load(&s->h->aborted);
	pid_t pid = atomic_load(&s->h->rank[j].pid);

	if (ab && atomic_load(&s->h->abort_by) != s->rank)
		return report_abort(s, ab, err);
	if (!alive(pid)) {
		give_up(s, j, 'd');
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm %s (scope %s): rank %d (pid %d) died while rank %d waited for it: see its own error",
				  s->what, s->scope, global_of(s, j), (int)pid,
				  global_of(s, s->rank));
	}
	if (s->timeout_ms > 0 && waited_ns / 1000000 >= s->timeout_ms) {
		give_up(s, j, 't');
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm %s (scope %s): timed out after %g s waiting for rank %d%s (at event %u of %u): "
				  "every rank must call the same collectives in the same order; else raise the timeout",
				  s->what, s->scope, s->timeout_ms / 1000.0, global_of(s, j),
				  pid ? "" : ", which never attached",
				  atomic_load(&s->h->rank[j].seq), target);
	}
	return 0;
}

/* Sleeps on peer j's counter until it reaches target, or fails. */
static int wait_slow(struct shm *s, int j, uint32_t target, struct lt_err *err)
{
	struct shm_rank *p = &s->h->rank[j];
	long start = lt_now_ns();

	for (;;) {
		atomic_fetch_add(&p->waiters, 1);
		uint32_t v = atomic_load(&p->seq);
		if (!reached(v, target))
			futex_wait(&p->seq, v, SLEEP_SLICE_MS);
		atomic_fetch_sub(&p->waiters, 1);
		if (reached(atomic_load_explicit(&p->seq, memory_order_acquire), target))
			return 0;
		if (lt_now_ns() - start >= SLEEP_SLICE_MS * 1000000L &&
		    wait_failed(s, j, target, lt_now_ns() - start, err))
			return -1;
	}
}

static int wait_peer(struct shm *s, int j, uint32_t target, struct lt_err *err)
{
	_Atomic uint32_t *w = &s->h->rank[j].seq;
	long start;

	if (reached(atomic_load_explicit(w, memory_order_acquire), target))
		return 0;
	if (s->spin_ns > 0) {
		start = lt_now_ns();
		for (unsigned i = 1;; i++) {
			cpu_relax();
			if (reached(atomic_load_explicit(w, memory_order_acquire), target))
				return 0;
			/* and gives way now and then: each rank has a
			 * worker beside its compute thread, so a cpu a rank
			 * may spin on is still wanted by the peer it waits
			 * for (stage 3's gathers: 10% of its step) */
			if (!(i & s->yield_mask)) {
				if (lt_now_ns() - start > s->spin_ns)
					break;
				sched_yield();
			}
		}
	} else {
		sched_yield();
		if (reached(atomic_load_explicit(w, memory_order_acquire), target))
			return 0;
	}
	return wait_slow(s, j, target, err);
}

/* Waits until every other rank has published event target. */
static int wait_all(struct shm *s, uint32_t target, struct lt_err *err)
{
	for (int k = 1; k < s->size; k++)
		if (wait_peer(s, (s->rank + k) % s->size, target, err))
			return -1;
	return 0;
}

/* The next slot stage, once every peer is done reading it. */
static int take_stage(struct shm *s, unsigned *stage, struct lt_err *err)
{
	*stage = s->next_stage++ % STAGES;
	return wait_all(s, s->stage_free[*stage], err);
}

/* ------------------------------------------------------------ all_reduce */

/* Element range [*lo, *hi) of part j of an n-element chunk: equal parts
 * rounded up to 64 bytes, the last ones possibly short or empty. */
static void part(size_t n, size_t es, int size, int j, size_t *lo, size_t *hi)
{
	size_t align = 64 / es, per = (n + (size_t)size - 1) / (size_t)size;

	per = (per + align - 1) / align * align;
	*lo = per * (size_t)j < n ? per * (size_t)j : n;
	*hi = *lo + per < n ? *lo + per : n;
}

/* out[0..n) = the ranks' pieces reduced in rank order 0, 1, 2 ...
 * whichever rank reduces (so all_reduce, reduce_scatter and
 * reduce_scatter_v give the same bits from the same inputs): this rank's
 * piece is own, peer j's at byte `at` of its slot.  out must not alias
 * own unless this rank is 0 or 1 (read before written). */
static void reduce_ordered(struct shm *s, unsigned stage, char *out, const char *own, size_t at,
			   size_t n, enum lt_dtype dt, enum lt_op op)
{
	const char *a = s->rank == 0 ? own : slot(s, 0, stage) + at;
	const char *b = s->rank == 1 ? own : slot(s, 1, stage) + at;

	lt_reduce3(out, a, b, n, dt, op);
	for (int j = 2; j < s->size; j++)
		lt_reduce_into(out, j == s->rank ? own : slot(s, j, stage) + at, n, dt, op);
}

/* mine[lo..hi) and the peers' copies of it reduced into out and mine. */
static void reduce_own(struct shm *s, unsigned stage, char *mine, char *out, size_t off,
		       size_t n, enum lt_dtype dt, enum lt_op op)
{
	size_t es = lt_dtype_size(dt), step = SUB_BLOCK / es;

	for (size_t i = 0; i < n; i += step) {
		size_t m = n - i < step ? n - i : step, at = (off + i) * es;
		reduce_ordered(s, stage, out + at, mine + i * es, at, m, dt, op);
		memcpy(mine + i * es, out + at, m * es);
	}
}

static int all_reduce_chunk(struct shm *s, char *buf, size_t n, enum lt_dtype dt,
			    enum lt_op op, struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), lo, hi;
	unsigned stage;
	char *mine;

	if (take_stage(s, &stage, err))
		return -1;
	mine = slot(s, s->rank, stage);
	for (int j = 0; j < s->size; j++) {
		part(n, es, s->size, j, &lo, &hi);
		if (j != s->rank)
			memcpy(mine + lo * es, buf + lo * es, (hi - lo) * es);
	}
	publish(s);
	if (wait_all(s, s->seq, err))
		return -1;
	part(n, es, s->size, s->rank, &lo, &hi);
	reduce_own(s, stage, buf + lo * es, mine, lo, hi - lo, dt, op);
	publish(s);
	if (wait_all(s, s->seq, err))
		return -1;
	for (int j = 0; j < s->size; j++) {
		part(n, es, s->size, j, &lo, &hi);
		if (j != s->rank)
			memcpy(buf + lo * es, slot(s, j, stage) + lo * es, (hi - lo) * es);
	}
	publish(s);
	s->stage_free[stage] = s->seq;
	return 0;
}

/* A small all-reduce in one step: each rank copies its buffer into its
 * slot (event 1) and reduces every slot, in rank order, into its buffer
 * (event 2 says it is done reading).  One wait instead of three; each
 * rank reads size x n elements, which below one_shot_max costs less than
 * the two extra waits. */
static int all_reduce_one_shot(struct shm *s, char *buf, size_t n, enum lt_dtype dt,
			       enum lt_op op, struct lt_err *err)
{
	size_t bytes = n * lt_dtype_size(dt);
	unsigned stage;
	char *mine;

	if (take_stage(s, &stage, err))
		return -1;
	mine = slot(s, s->rank, stage);
	memcpy(mine, buf, bytes);
	publish(s);
	if (wait_all(s, s->seq, err))
		return -1;
	reduce_ordered(s, stage, buf, mine, 0, n, dt, op);
	publish(s);
	s->stage_free[stage] = s->seq;
	return 0;
}

static int shm_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			  enum lt_op op, struct lt_err *err)
{
	struct shm *s = c->state;
	size_t es = lt_dtype_size(dt), per = s->chunk / es;

	s->what = "all_reduce";
	if (s->size > 1 && count * es <= s->one_shot_max)
		return all_reduce_one_shot(s, buf, count, dt, op, err);
	for (size_t off = 0; s->size > 1 && off < count; off += per)
		if (all_reduce_chunk(s, (char *)buf + off * es,
				     count - off < per ? count - off : per, dt, op, err))
			return -1;
	return 0;
}

/* ------------------------------------------------------------ the others */

static int shm_barrier(struct lt_comm *c, struct lt_err *err)
{
	struct shm *s = c->state;

	s->what = "barrier";
	if (s->size == 1)
		return 0;
	publish(s);
	return wait_all(s, s->seq, err);
}

static int broadcast_chunk(struct shm *s, char *buf, size_t bytes, int root,
			   struct lt_err *err)
{
	unsigned stage;

	if (take_stage(s, &stage, err))
		return -1;
	if (s->rank == root)
		memcpy(slot(s, root, stage), buf, bytes);
	publish(s);
	if (s->rank != root) {
		if (wait_peer(s, root, s->seq, err))
			return -1;
		memcpy(buf, slot(s, root, stage), bytes);
	}
	publish(s);
	s->stage_free[stage] = s->seq;
	return 0;
}

static int shm_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			 int root, struct lt_err *err)
{
	struct shm *s = c->state;
	size_t bytes = count * lt_dtype_size(dt);

	s->what = "broadcast";
	for (size_t off = 0; s->size > 1 && off < bytes; off += s->chunk)
		if (broadcast_chunk(s, (char *)buf + off,
				    bytes - off < s->chunk ? bytes - off : s->chunk, root, err))
			return -1;
	return 0;
}

/* Bytes [off, off + len) of every rank's block: mine from send, the
 * others' through their slots. */
static int all_gather_chunk(struct shm *s, const char *send, char *recv, size_t block,
			    size_t off, size_t len, struct lt_err *err)
{
	unsigned stage;

	if (take_stage(s, &stage, err))
		return -1;
	memcpy(slot(s, s->rank, stage), send + off, len);
	publish(s);
	if (wait_all(s, s->seq, err))
		return -1;
	for (int j = 0; j < s->size; j++) {
		char *to = recv + (size_t)j * block + off;
		const char *from = j == s->rank ? send + off : slot(s, j, stage);
		if (to != from)
			memmove(to, from, len);
	}
	publish(s);
	s->stage_free[stage] = s->seq;
	return 0;
}

static int shm_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			  enum lt_dtype dt, struct lt_err *err)
{
	struct shm *s = c->state;
	size_t block = count * lt_dtype_size(dt);

	s->what = "all_gather";
	if (s->size == 1) {
		if (block && recv != send)
			memmove(recv, send, block);
		return 0;
	}
	for (size_t off = 0; off < block; off += s->chunk)
		if (all_gather_chunk(s, send, recv, block, off,
				     block - off < s->chunk ? block - off : s->chunk, err))
			return -1;
	return 0;
}

/* reduce_scatter and reduce_scatter_v run in rounds.  Per destination
 * rank j (counts[j] elements at displ[j] of send): done[j] of them
 * reduced so far, piece[j] in this round, at at[j] (bytes) of every
 * slot.  A round gives each destination with elements left an equal share
 * of a slot, so every rank reduces its part at once and a block that is
 * the only one left gets the whole slot. */
struct rs_plan {
	const size_t *counts; /* NULL: every block is `even` elements */
	size_t even, es;
	size_t *displ, *done, *piece, *at; /* size entries each, s->rs */
};

static size_t rs_count(const struct rs_plan *p, int j)
{
	return p->counts ? p->counts[j] : p->even;
}

/* The next round's pieces; false when every block is done. */
static bool rs_round(struct shm *s, struct rs_plan *p)
{
	size_t active = 0, per, align = 64 / p->es, off = 0;

	for (int j = 0; j < s->size; j++)
		active += p->done[j] < rs_count(p, j);
	if (!active)
		return false;
	per = s->chunk / p->es / active;
	if (per >= align)
		per = per / align * align;
	for (int j = 0; j < s->size; j++) {
		size_t left = rs_count(p, j) - p->done[j];
		p->piece[j] = left < per ? left : per;
		p->at[j] = off * p->es;
		off += p->piece[j];
	}
	return true;
}

/* One round: every rank stages its pieces for the others, then reduces
 * the peers' copies of its own piece into recv. */
static int rs_chunk(struct shm *s, const struct rs_plan *p, const char *send, char *recv,
		    enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	size_t es = p->es, n = p->piece[s->rank], step = SUB_BLOCK / es;
	const char *own = send + (p->displ[s->rank] + p->done[s->rank]) * es;
	char *out = recv + p->done[s->rank] * es, *mine;
	unsigned stage;

	if (take_stage(s, &stage, err))
		return -1;
	mine = slot(s, s->rank, stage);
	for (int j = 0; j < s->size; j++)
		if (j != s->rank && p->piece[j])
			memcpy(mine + p->at[j], send + (p->displ[j] + p->done[j]) * es,
			       p->piece[j] * es);
	publish(s);
	if (wait_all(s, s->seq, err))
		return -1;
	/* in place (recv inside send, the even form): own goes through my
	 * slot's unused piece first */
	if (n && s->rank > 1 && out < own + n * es && own < out + n * es) {
		memcpy(mine + p->at[s->rank], own, n * es);
		own = mine + p->at[s->rank];
	}
	for (size_t i = 0; i < n; i += step)
		reduce_ordered(s, stage, out + i * es, own + i * es, p->at[s->rank] + i * es,
			       n - i < step ? n - i : step, dt, op);
	publish(s);
	s->stage_free[stage] = s->seq;
	return 0;
}

static int reduce_scatter_any(struct shm *s, const void *send, void *recv, const size_t *counts,
			      size_t even, enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	struct rs_plan p = { .counts = counts, .even = even, .es = lt_dtype_size(dt),
			     .displ = s->rs, .done = s->rs + s->size, .piece = s->rs + 2 * s->size,
			     .at = s->rs + 3 * s->size };
	size_t total = 0;

	for (int j = 0; j < s->size; j++) {
		p.displ[j] = total;
		p.done[j] = 0;
		total += rs_count(&p, j);
	}
	if (s->size == 1) {
		if (total && recv != send)
			memmove(recv, send, total * p.es);
		return 0;
	}
	while (rs_round(s, &p)) {
		if (rs_chunk(s, &p, send, recv, dt, op, err))
			return -1;
		for (int j = 0; j < s->size; j++)
			p.done[j] += p.piece[j];
	}
	return 0;
}

static int shm_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			      enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	struct shm *s = c->state;

	s->what = "reduce_scatter";
	return reduce_scatter_any(s, send, recv, NULL, count, dt, op, err);
}

static int shm_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
				const size_t *counts, enum lt_dtype dt, enum lt_op op,
				struct lt_err *err)
{
	struct shm *s = c->state;

	s->what = "reduce_scatter_v";
	return reduce_scatter_any(s, send, recv, counts, 0, dt, op, err);
}

/* ------------------------------------------------------------ open/close */

/* How long a waiting rank spins before it sleeps on the futex, and how
 * often it gives its cpu away meanwhile.  With a cpu for every rank it
 * polls, yielding every 64 turns; oversubscribed, a spinning rank would
 * steal the time of the one it waits for, so it yields at every turn (as
 * Open MPI's yield_when_idle does), which runs that rank at once when it
 * shares this cpu. */
static void spin_policy(struct shm *s)
{
	cpu_set_t set;
	int cpus = 1;

	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	s->yield_mask = s->size > cpus ? 0 : 63;
	s->spin_ns = lt_env_long_or("LTRUN_SHM_SPIN_US", s->size > cpus ? OVERSUB_SPIN_US : SPIN_US, 0,
			      1000000) * 1000;
}

/* "ltrun-<run id>-<scope>-<owner>-<n>", scope with [A-Za-z0-9_.] only. */
static void segment_name(struct shm *s, const char *run_id, unsigned n)
{
	char scope[64], owner[LT_OWNER_TAG_MAX];
	size_t i;

	for (i = 0; s->scope[i] && i < sizeof(scope) - 1; i++) {
		char ch = s->scope[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
		scope[i] = ok ? ch : '_';
	}
	scope[i] = '\0';
	lt_owner_tag(owner, sizeof(owner));
	snprintf(s->name, sizeof(s->name), "/ltrun-%s-%s-%s-%u", run_id, scope, owner, n);
}

/* NUMA nodes an mbind mask here can name. */
#define NODE_BITS 1024

/* Prefers node $LTRUN_NUMA_NODE for the pages of this rank's slots, before
 * they exist.  MPOL_PREFERRED falls back to other nodes when that one is
 * full; a kernel without NUMA (ENOSYS), a seccomp filter (EPERM) or a bad
 * node leaves the default policy, silently. */
static void place_own_slots(struct shm *s)
{
	const size_t bits = 8 * sizeof(unsigned long);
	long node = lt_env_long_or("LTRUN_NUMA_NODE", -1, 0, NODE_BITS - 1);
	long page = sysconf(_SC_PAGESIZE);
	unsigned long mask[NODE_BITS / (8 * sizeof(unsigned long))] = { 0 };
	uintptr_t lo = (uintptr_t)slot(s, s->rank, 0), hi = lo + STAGES * s->chunk;

	if (node < 0 || page <= 0)
		return;
	lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	hi &= ~((uintptr_t)page - 1);
	if (hi <= lo)
		return;
	mask[(size_t)node / bits] |= 1UL << ((size_t)node % bits);
	syscall(SYS_mbind, (void *)lo, (unsigned long)(hi - lo), MPOL_PREFERRED, mask,
		(unsigned long)NODE_BITS + 1, 0U);
}

/* Allocates this rank's slots (group rank 0: with the header before them),
 * placed by place_own_slots(), so that a full /dev/shm fails here, not
 * with SIGBUS in a collective. */
static int allocate_own(struct shm *s, int fd, struct lt_err *err)
{
	size_t at = (size_t)(slot(s, s->rank, 0) - (char *)s->h), len = STAGES * s->chunk;
	int e;

	place_own_slots(s);
	if (s->rank == 0) {
		len += at;
		at = 0;
	}
	e = posix_fallocate(fd, (off_t)at, (off_t)len);
	if (e)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): cannot allocate %zu MB in /dev/shm: %s: "
				  "enlarge /dev/shm (docker run --shm-size) or set LTRUN_SHM_CHUNK lower",
				  s->scope, s->bytes >> 20, strerror(e));
	return 0;
}

static int map_segment(struct shm *s, int fd, struct lt_err *err)
{
	void *p = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): cannot map /dev/shm%s (%zu bytes): %s",
				  s->scope, s->name, s->bytes, strerror(errno));
	s->h = p;
	s->slots = (char *)p + (s->bytes - (size_t)s->size * STAGES * s->chunk);
	return 0;
}

static size_t header_bytes(int size)
{
	size_t n = sizeof(struct shm_header) + (size_t)size * sizeof(struct shm_rank);

	return (n + 4095) & ~(size_t)4095;
}

static int create_segment(struct shm *s, struct lt_err *err)
{
	int fd = shm_open(s->name, O_CREAT | O_EXCL | O_RDWR, 0600), e;

	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): cannot create /dev/shm%s: %s: is /dev/shm mounted and writable?",
				  s->scope, s->name, strerror(errno));
	if (ftruncate(fd, (off_t)s->bytes)) {
		e = errno;
		close(fd);
		shm_unlink(s->name);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): cannot allocate %zu MB in /dev/shm: %s: "
				  "enlarge /dev/shm (docker run --shm-size) or set LTRUN_SHM_CHUNK lower",
				  s->scope, s->bytes >> 20, strerror(e));
	}
	e = map_segment(s, fd, err) || allocate_own(s, fd, err);
	close(fd);
	if (e) {
		shm_unlink(s->name);
		s->name[0] = '\0';
		return -1;
	}
	s->h->size = (uint32_t)s->size;
	s->h->stages = STAGES;
	s->h->chunk = s->chunk;
	s->h->bytes = s->bytes;
	s->h->magic = SHM_MAGIC;
	return 0;
}

static int attach_segment(struct shm *s, struct lt_err *err)
{
	struct stat st;
	int fd = shm_open(s->name, O_RDWR, 0), e;

	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): cannot open /dev/shm%s that rank %d created: %s: "
				  "are all ranks of the group on one node (else use --comm gloo or auto)?",
				  s->scope, s->name, global_of(s, 0), strerror(errno));
	if (fstat(fd, &st) || (size_t)st.st_size != s->bytes) {
		close(fd);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): /dev/shm%s is %lld bytes, not %zu: "
				  "do all ranks run the same ltrun and LTRUN_SHM_CHUNK?",
				  s->scope, s->name, (long long)st.st_size, s->bytes);
	}
	e = map_segment(s, fd, err);
	if (!e && (s->h->magic != SHM_MAGIC || s->h->size != (uint32_t)s->size))
		e = lt_err_set(err, LT_EXIT_FAILURE,
			       "shm communicator (scope %s): /dev/shm%s is not a segment of this group of %d",
			       s->scope, s->name, s->size);
	if (!e)
		e = allocate_own(s, fd, err);
	close(fd);
	return e;
}

/* Rank 0 creates and publishes the name; the others attach; the last one
 * to attach unlinks it. */
static int join_segment(struct shm *s, const struct lt_comm_args *a, struct lt_err *err)
{
	char key[128];
	void *value = NULL;
	size_t len;

	snprintf(key, sizeof(key), "comm/%s/shm%u", s->scope, atomic_fetch_add(&open_count, 1));
	if (!a->rz || !a->run_id)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "shm communicator (scope %s): a group of %d needs a rendezvous and a run id",
				  s->scope, s->size);
	if (s->rank == 0) {
		segment_name(s, a->run_id, atomic_load(&open_count));
		if (create_segment(s, err) ||
		    a->rz->ops->put(a->rz, key, s->name, strlen(s->name) + 1, err))
			return -1;
	} else {
		/* The writer's global rank: the pmix rendezvous looks a key
		 * up in its writer's data. */
		if (a->rz->ops->get(a->rz, key, a->global_rank ? a->global_rank[0] : 0, &value,
				    &len, err))
			return -1;
		snprintf(s->name, sizeof(s->name), "%s", (char *)value);
		free(value);
		if (attach_segment(s, err))
			return -1;
	}
	atomic_store(&s->h->rank[s->rank].pid, (int32_t)getpid());
	if (atomic_fetch_add(&s->h->attached, 1) + 1 == (uint32_t)s->size) {
		shm_unlink(s->name);
		s->name[0] = '\0';
	}
	return 0;
}

static int shm_open_comm(struct lt_comm *c, const struct lt_comm_args *a, struct lt_err *err)
{
	struct shm *s = calloc(1, sizeof(*s));

	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE, "shm communicator: out of memory");
	c->state = s;
	s->rank = a->rank;
	s->size = a->size;
	s->timeout_ms = a->timeout_ms;
	s->what = "open";
	snprintf(s->scope, sizeof(s->scope), "%s", a->scope);
	if (a->global_rank) {
		s->global_rank = malloc((size_t)a->size * sizeof(int));
		if (!s->global_rank)
			return lt_err_set(err, LT_EXIT_FAILURE, "shm communicator: out of memory");
		memcpy(s->global_rank, a->global_rank, (size_t)a->size * sizeof(int));
	}
	s->rs = malloc(4 * (size_t)a->size * sizeof(size_t));
	if (!s->rs)
		return lt_err_set(err, LT_EXIT_FAILURE, "shm communicator: out of memory");
	if (s->size == 1)
		return 0;
	s->chunk = (size_t)lt_env_long_or("LTRUN_SHM_CHUNK", CHUNK_DEFAULT, 4096, 1L << 30) & ~(size_t)63;
	s->bytes = header_bytes(s->size) + (size_t)s->size * STAGES * s->chunk;
	spin_policy(s);
	s->one_shot_max = (size_t)lt_env_long_or("LTRUN_SHM_ONE_SHOT", ONE_SHOT_DEFAULT, 0, 1L << 30);
	if (s->one_shot_max > s->chunk)
		s->one_shot_max = s->chunk;
	if (join_segment(s, a, err))
		return -1;
	/* Open is collective: no member returns before all have mapped the
	 * segment, so one that finishes (or fails) at once cannot unlink it
	 * under a slower one still on its way. */
	publish(s);
	return wait_all(s, s->seq, err);
}

static void shm_close(struct lt_comm *c)
{
	struct shm *s = c->state;

	if (!s)
		return;
	if (s->h) {
		if (s->rank == 0 && s->name[0] && atomic_load(&s->h->attached) < (uint32_t)s->size)
			shm_unlink(s->name); /* the others never came */
		munmap(s->h, s->bytes);
	} else if (s->rank == 0 && s->name[0]) {
		shm_unlink(s->name);
	}
	free(s->global_rank);
	free(s->rs);
	free(s);
	c->state = NULL;
}

const struct lt_comm_ops lt_comm_shm = {
	.intra_node = true,
	.inter_node = false,
	.open = shm_open_comm,
	.barrier = shm_barrier,
	.broadcast = shm_broadcast,
	.all_reduce = shm_all_reduce,
	.all_gather = shm_all_gather,
	.reduce_scatter = shm_reduce_scatter,
	.reduce_scatter_v = shm_reduce_scatter_v,
	.close = shm_close,
};

/* ------------------------------------------------------------ cleanup */

/* True when name is "ltrun-<run id>-<scope>-<owner>-<n>" and its owner
 * (the field before the last '-': scopes have no '-') is gone. */
static bool stale_name(const char *name)
{
	const char *last = strrchr(name, '-'), *prev;

	if (strncmp(name, "ltrun-", 6) || !last || last == name)
		return false;
	for (prev = last - 1; prev > name && *prev != '-'; prev--)
		;
	return prev > name + 5 && lt_owner_gone(prev + 1, (size_t)(last - prev - 1));
}

void lt_shm_remove_job(const char *run_id)
{
	char prefix[128], path[NAME_MAX + 2];
	struct dirent *e;
	DIR *d;
	size_t n;

	if (!run_id || !*run_id)
		return;
	n = (size_t)snprintf(prefix, sizeof(prefix), "ltrun-%s-", run_id);
	d = opendir("/dev/shm");
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, n) && stale_name(e->d_name)) {
			snprintf(path, sizeof(path), "/%s", e->d_name);
			shm_unlink(path);
		}
	closedir(d);
}

void lt_shm_remove_stale(void)
{
	char path[NAME_MAX + 2];
	struct dirent *e;
	struct stat st;
	DIR *d = opendir("/dev/shm");

	if (!d)
		return;
	while ((e = readdir(d)))
		if (stale_name(e->d_name) && !fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
			snprintf(path, sizeof(path), "/%s", e->d_name);
			shm_unlink(path);
		}
	closedir(d);
}
