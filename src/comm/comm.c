/*
 * comm.c - the generic layer of comm.h, above every backend:
 * lt_comm_open/close, argument checks, LT_AVG (the
 * backend's SUM, then a division by the group's size), and the
 * non-blocking forms (lt_comm_start_v keeps its own copy of the counts).  Those run on one worker thread per communicator,
 * started by the first lt_comm_start(): a FIFO of requests under a mutex,
 * each finished request signalled on a condition variable.  A blocking
 * call made while queued work is pending joins the queue and waits, so
 * every rank sees collectives in the order its caller issued them; with
 * nothing pending it runs on the caller's thread (no hand-off: two thread
 * wake-ups cost more than a small all-reduce), and work queued meanwhile
 * waits for it (the queue's `direct` flag).  A group (lt_comm_group_begin/
 * end) is held back until its end, then queued at once, its first request
 * counting it; the worker takes it whole and runs it through the
 * backend's group op when there is one (else one by one).  When
 * a queued operation fails, it and every operation queued after it fail
 * with its message (the communicator can then only be closed).
 *
 * Every operation bumps the communicator's sequence number and notes when
 * it started (a relaxed atomic store each, no system call), which the
 * rank's watchdog reads from its own thread to find a collective that has
 * waited past --timeout.  Under --debug-collectives each operation is
 * preceded by an all-gather of its description (kind, count, dtype, op,
 * root, sequence number) on the same backend, and the first rank whose
 * call differs from the group's rank 0's fails every rank with both calls
 * named.
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "core/clock.h"
#include "core/dtype.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lt_comm_req {
	struct lt_comm *c;
	enum lt_comm_kind kind;
	const void *send;
	void *recv;
	size_t count;
	enum lt_dtype dt;
	enum lt_op op;
	int root;
	const size_t *counts; /* reduce_scatter_v: size entries */
	size_t *own_counts;   /* lt_comm_start_v's copy of them, freed by wait */
	size_t group; /* the first of a group: how many it holds (else 0) */
	bool done; /* under the queue's mutex */
	int rc;
	struct lt_err err;
	struct lt_comm_req *next;
};

/* A group's requests run together at most this many at a time (the rest
 * next, as a group of their own: the same split on every rank). */
#define GROUP_MAX 64

struct lt_comm_queue {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* a request was queued, or stop */
	pthread_cond_t done;  /* a request finished */
	pthread_t thread;
	struct lt_comm_req *head, *tail;
	int pending;          /* queued or running */
	bool direct;          /* a blocking call runs on its caller's thread */
	bool running;         /* the worker runs a request it took */
	bool stop;
	bool failed;          /* an operation failed: err says which */
	struct lt_err err;
	/* a group being started (lt_comm_group_begin): its requests, held
	 * back from the worker until lt_comm_group_end */
	bool grouping;
	struct lt_comm_req *held_head, *held_tail;
	size_t held;
};

static const char *const kind_names[] = {
	[LT_COLL_BARRIER] = "barrier",
	[LT_COLL_BROADCAST] = "broadcast",
	[LT_COLL_ALL_REDUCE] = "all_reduce",
	[LT_COLL_ALL_GATHER] = "all_gather",
	[LT_COLL_REDUCE_SCATTER] = "reduce_scatter",
	[LT_COLL_REDUCE_SCATTER_V] = "reduce_scatter_v",
};

/* Every open communicator, for lt_comm_each(). */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lt_comm *open_head;

static void list_add(struct lt_comm *c)
{
	pthread_mutex_lock(&open_mu);
	c->next_open = open_head;
	open_head = c;
	pthread_mutex_unlock(&open_mu);
}

static void list_remove(struct lt_comm *c)
{
	pthread_mutex_lock(&open_mu);
	for (struct lt_comm **p = &open_head; *p; p = &(*p)->next_open)
		if (*p == c) {
			*p = c->next_open;
			break;
		}
	pthread_mutex_unlock(&open_mu);
}

void lt_comm_each(void (*fn)(struct lt_comm *c, void *arg), void *arg)
{
	pthread_mutex_lock(&open_mu);
	for (struct lt_comm *c = open_head; c; c = c->next_open)
		fn(c, arg);
	pthread_mutex_unlock(&open_mu);
}

/* ------------------------------------------------------------ backends */

static int check_args(const char *name, const struct lt_comm_args *a, struct lt_err *err)
{
	if (a->size < 1 || a->rank < 0 || a->rank >= a->size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s communicator: rank %d of a group of %d: the rank must be in 0..size-1",
				  name, a->rank, a->size);
	if (!a->scope || !*a->scope || strlen(a->scope) >= sizeof(((struct lt_comm *)0)->scope))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s communicator: scope '%.70s' must be 1 to %zu characters",
				  name, a->scope ? a->scope : "",
				  sizeof(((struct lt_comm *)0)->scope) - 1);
	return 0;
}

struct lt_comm *lt_comm_open(const struct lt_comm_ops *b, const char *name,
			     const struct lt_comm_args *args, struct lt_err *err)
{
	struct lt_comm *c;

	if (check_args(name, args, err))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		lt_err_set(err, LT_EXIT_FAILURE, "%s communicator: out of memory", name);
		return NULL;
	}
	c->ops = b;
	c->name = name;
	c->rank = args->rank;
	c->size = args->size;
	snprintf(c->scope, sizeof(c->scope), "%s", args->scope);
	c->check_calls = args->check_calls;
	c->published = UINT64_MAX; /* the watchdog tells where it stands at once */
	c->global = malloc(sizeof(*c->global) * (size_t)args->size);
	if (!c->global) {
		free(c);
		lt_err_set(err, LT_EXIT_FAILURE, "%s communicator: out of memory", name);
		return NULL;
	}
	for (int i = 0; i < args->size; i++)
		c->global[i] = args->global_rank ? args->global_rank[i] : i;
	if (b->open(c, args, err)) {
		b->close(c);
		free(c->global);
		free(c);
		return NULL;
	}
	list_add(c);
	return c;
}

/* ------------------------------------------------------------ checks */

/* Send and recv of a reduce-scatter (bytes: send's total, this rank's
 * block and its offset in send) or of an all-gather (the same, of recv):
 * apart, or the block exactly in place (comm.h). */
static int check_places(struct lt_comm_req *r, size_t total, size_t mine, size_t at,
			struct lt_err *err)
{
	const char *whole = r->kind == LT_COLL_ALL_GATHER ? r->recv : r->send;
	const char *block = r->kind == LT_COLL_ALL_GATHER ? r->send : r->recv;

	if (!mine || !total || block == whole + at || block >= whole + total ||
	    whole >= block + mine)
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: the receive buffer overlaps the send buffer other than in place: use separate buffers, or this rank's own block (offset %zu bytes)",
			  kind_names[r->kind], at);
}

/* reduce_scatter_v: every count, their sum (r->count) and the buffers. */
static int check_v(struct lt_comm *c, struct lt_comm_req *r, struct lt_err *err)
{
	size_t es = lt_dtype_size(r->dt), total = 0, at = 0, mine;

	if (!r->counts)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "reduce_scatter_v: NULL counts: pass one count per rank of the group");
	for (int j = 0; j < c->size; j++) {
		if (r->counts[j] > (size_t)-1 / 8 - total)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "reduce_scatter_v: the counts add up to more than %zu elements",
					  (size_t)-1 / 8);
		at += j < c->rank ? r->counts[j] : 0;
		total += r->counts[j];
	}
	mine = r->counts[c->rank];
	r->count = total;
	if ((total && !r->send) || (mine && !r->recv))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "reduce_scatter_v: NULL buffer for %zu %s elements: pass the buffers the call needs",
				  total, lt_dtype_name(r->dt));
	return check_places(r, total * es, mine * es, at * es, err);
}

static int check_op(struct lt_comm *c, struct lt_comm_req *r, struct lt_err *err)
{
	const char *what = kind_names[r->kind];

	if ((unsigned)r->dt >= LT_DTYPE_COUNT)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: unknown dtype %d: use one of enum lt_dtype",
				  what, (int)r->dt);
	if ((unsigned)r->op > LT_MAX)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: unknown op %d: use LT_SUM, LT_AVG, LT_MIN or LT_MAX",
				  what, (int)r->op);
	if (r->kind == LT_COLL_BROADCAST && (r->root < 0 || r->root >= c->size))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "broadcast: root %d is not a rank of the group: use 0..%d",
				  r->root, c->size - 1);
	if (r->kind == LT_COLL_REDUCE_SCATTER_V)
		return check_v(c, r, err);
	if (r->count > (size_t)-1 / 8 / (size_t)c->size)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: count %zu is too large", what, r->count);
	if (r->count && r->kind != LT_COLL_BARRIER &&
	    (!r->recv || (!r->send && (r->kind == LT_COLL_ALL_GATHER ||
				       r->kind == LT_COLL_REDUCE_SCATTER))))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: NULL buffer for %zu %s elements: pass the buffers the call needs",
				  what, r->count, lt_dtype_name(r->dt));
	if (r->kind == LT_COLL_ALL_GATHER || r->kind == LT_COLL_REDUCE_SCATTER) {
		size_t mine = r->count * lt_dtype_size(r->dt);

		return check_places(r, mine * (size_t)c->size, mine, mine * (size_t)c->rank, err);
	}
	return 0;
}

/* ------------------------------------------------------------ execution */

static const char *const op_names[] = { "sum", "avg", "min", "max" };

/* "all_reduce of 4096 float32 (sum)", "broadcast of 8 int64 from 0". */
static void describe_call(const int64_t d[6], char *buf, size_t len)
{
	const char *kind = (uint64_t)d[0] <= LT_COLL_REDUCE_SCATTER_V ? kind_names[d[0]] : "?";
	const char *dt = (uint64_t)d[2] < LT_DTYPE_COUNT ? lt_dtype_name((enum lt_dtype)d[2]) : "?";

	if (d[0] == LT_COLL_BARRIER)
		snprintf(buf, len, "barrier");
	else if (d[0] == LT_COLL_BROADCAST)
		snprintf(buf, len, "broadcast of %lld %s from rank %lld", (long long)d[1], dt,
			 (long long)d[4]);
	else if (d[0] == LT_COLL_ALL_GATHER)
		snprintf(buf, len, "%s of %lld %s", kind, (long long)d[1], dt);
	else
		snprintf(buf, len, "%s of %lld %s (%s)", kind, (long long)d[1], dt,
			 (uint64_t)d[3] <= LT_MAX ? op_names[d[3]] : "?");
}

/* --debug-collectives: every member's description of this call, compared
 * with the group's rank 0's.  Returns 0, or -1 with err naming both calls. */
static int check_same_call(struct lt_comm *c, const struct lt_comm_req *r, uint64_t seq,
			   struct lt_err *err)
{
	int64_t mine[6] = { r->kind, (int64_t)r->count, r->dt, r->op,
			    r->kind == LT_COLL_BROADCAST ? r->root : 0, (int64_t)seq };
	int64_t *all = malloc(sizeof(mine) * (size_t)c->size);
	char a[128], b[128], other[48] = "";
	int rc = 0;

	if (!all)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: out of memory", kind_names[r->kind]);
	if (c->ops->all_gather(c, mine, all, 6, LT_I64, err)) {
		free(all);
		return -1;
	}
	for (int j = 1; j < c->size && !rc; j++) {
		if (!memcmp(all, all + 6 * j, sizeof(mine)))
			continue;
		describe_call(all, a, sizeof(a));
		describe_call(all + 6 * j, b, sizeof(b));
		if (all[6 * j + 5] != all[5])
			snprintf(other, sizeof(other), " as its #%lld", (long long)all[6 * j + 5]);
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"--debug-collectives: collective #%lld on communicator '%s': rank %d calls %s, but rank %d calls %s%s: every rank must call the same collectives, with the same count and dtype, in the same order",
				(long long)all[5], c->scope, c->global[0], a, c->global[j], b, other);
	}
	free(all);
	return rc;
}

void lt_comm_flight(const struct lt_comm *c, struct lt_comm_flight *f)
{
	int64_t started = __atomic_load_n(&c->started_ns, __ATOMIC_ACQUIRE);
	int kind = __atomic_load_n(&c->in_kind, __ATOMIC_RELAXED);

	f->seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
	f->in_flight = started != 0;
	f->waited_s = started ? (double)(lt_now_ns() - started) / 1e9 : 0;
	f->kind = f->seq && (unsigned)kind <= LT_COLL_REDUCE_SCATTER_V ? kind_names[kind] : "";
	f->count = __atomic_load_n(&c->in_count, __ATOMIC_RELAXED);
	f->dt = (enum lt_dtype)__atomic_load_n(&c->in_dt, __ATOMIC_RELAXED);
}

static int run_op(struct lt_comm *c, const struct lt_comm_req *r, struct lt_err *err);

/* Runs one operation on the backend, in the calling thread, noting it for
 * the watchdog (and checking it first under --debug-collectives). */
static int execute(struct lt_comm *c, const struct lt_comm_req *r, struct lt_err *err)
{
	uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED) + 1;
	int rc;

	__atomic_store_n(&c->in_kind, (int)r->kind, __ATOMIC_RELAXED);
	__atomic_store_n(&c->in_count, r->count, __ATOMIC_RELAXED);
	__atomic_store_n(&c->in_dt, (int)r->dt, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, seq, __ATOMIC_RELAXED);
	__atomic_store_n(&c->started_ns, lt_now_ns(), __ATOMIC_RELEASE);
	rc = c->check_calls ? check_same_call(c, r, seq, err) : 0;
	if (!rc)
		rc = run_op(c, r, err);
	__atomic_store_n(&c->started_ns, 0, __ATOMIC_RELEASE);
	return rc;
}

/* The operation itself, on the backend. */
static int run_op(struct lt_comm *c, const struct lt_comm_req *r, struct lt_err *err)
{
	const struct lt_comm_ops *b = c->ops;
	/* the backend averages itself (nccl: its buffers may be on a device) */
	bool divide = r->op == LT_AVG && !b->averages;
	enum lt_op op = divide ? LT_SUM : r->op;

	switch (r->kind) {
	case LT_COLL_BARRIER:
		return b->barrier(c, err);
	case LT_COLL_BROADCAST:
		return b->broadcast(c, r->recv, r->count, r->dt, r->root, err);
	case LT_COLL_ALL_REDUCE:
		if (b->all_reduce(c, r->recv, r->count, r->dt, op, err))
			return -1;
		break;
	case LT_COLL_ALL_GATHER:
		return b->all_gather(c, r->send, r->recv, r->count, r->dt, err);
	case LT_COLL_REDUCE_SCATTER:
		if (b->reduce_scatter(c, r->send, r->recv, r->count, r->dt, op, err))
			return -1;
		break;
	case LT_COLL_REDUCE_SCATTER_V:
		if (b->reduce_scatter_v(c, r->send, r->recv, r->counts, r->dt, op, err))
			return -1;
		if (divide)
			lt_divide(r->recv, r->counts[c->rank], r->dt, c->size);
		return 0;
	}
	if (divide)
		lt_divide(r->recv, r->count, r->dt, c->size);
	return 0;
}

/* Under q->mu: the queue's head, taken off it. */
static struct lt_comm_req *take_head(struct lt_comm_queue *q)
{
	struct lt_comm_req *r = q->head;

	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	return r;
}

/* Under q->mu: the head and the rest of its group (GROUP_MAX at most)
 * taken off the queue into rs; how many. */
static size_t take_group(struct lt_comm_queue *q, struct lt_comm_req **rs)
{
	size_t want = q->head->group > 1 ? q->head->group : 1, n = 0;

	if (want > GROUP_MAX) {
		struct lt_comm_req *rest = q->head;

		for (size_t i = 0; i < GROUP_MAX; i++)
			rest = rest->next;
		rest->group = want - GROUP_MAX;
		want = GROUP_MAX;
	}
	while (n < want && q->head)
		rs[n++] = take_head(q);
	return n;
}

/* A group on the backend's group op: every request gets its result.
 * Returns 1 when the backend cannot run these together. */
static int execute_together(struct lt_comm *c, struct lt_comm_req **rs, size_t n)
{
	struct lt_comm_call calls[GROUP_MAX];
	struct lt_err err = { 0 };
	size_t total = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct lt_comm_req *r = rs[i];

		/* a backend that cannot average divides on the host: one by one */
		if (r->op == LT_AVG && !c->ops->averages)
			return 1;
		calls[i] = (struct lt_comm_call){ .kind = r->kind, .send = r->send, .recv = r->recv,
						  .count = r->count, .counts = r->counts,
						  .dt = r->dt, .op = r->op, .root = r->root };
		total += r->count;
	}
	__atomic_store_n(&c->in_kind, (int)rs[0]->kind, __ATOMIC_RELAXED);
	__atomic_store_n(&c->in_count, total, __ATOMIC_RELAXED);
	__atomic_store_n(&c->in_dt, (int)rs[0]->dt, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, __atomic_load_n(&c->seq, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->started_ns, lt_now_ns(), __ATOMIC_RELEASE);
	rc = c->ops->group(c, calls, n, &err);
	__atomic_store_n(&c->started_ns, 0, __ATOMIC_RELEASE);
	if (rc == 1)
		return 1;
	for (size_t i = 0; i < n; i++) {
		rs[i]->rc = rc;
		if (rc)
			rs[i]->err = err;
	}
	return 0;
}

/* Runs rs (one request, or a group) on this thread: each gets its result;
 * after a failure the rest fail with its message.  Returns the index of
 * the first failure, or n. */
static size_t execute_all(struct lt_comm *c, struct lt_comm_req **rs, size_t n)
{
	size_t i;

	if (n > 1 && c->ops->group && !c->check_calls && !execute_together(c, rs, n)) {
		for (i = 0; i < n && !rs[i]->rc; i++)
			;
		return i;
	}
	for (i = 0; i < n; i++)
		if ((rs[i]->rc = execute(c, rs[i], &rs[i]->err)))
			break;
	for (size_t k = i + 1; k < n; k++) {
		rs[k]->rc = -1;
		rs[k]->err = rs[i]->err;
	}
	return i;
}

/* Under q->mu, which it drops while they run: runs rs (taken off the
 * queue: one request or a group), or fails them at once after an
 * earlier failure, and tells their waiters. */
static void run_taken(struct lt_comm_queue *q, struct lt_comm_req **rs, size_t n)
{
	if (q->failed) {
		for (size_t i = 0; i < n; i++) {
			rs[i]->err = q->err;
			rs[i]->rc = -1;
		}
	} else {
		size_t bad;

		pthread_mutex_unlock(&q->mu);
		bad = execute_all(rs[0]->c, rs, n);
		pthread_mutex_lock(&q->mu);
		if (bad < n) {
			q->failed = true;
			q->err = rs[bad]->err;
		}
	}
	for (size_t i = 0; i < n; i++)
		rs[i]->done = true;
	q->pending -= (int)n;
	pthread_cond_broadcast(&q->done);
}

/* Under q->mu: runs the head of the queue (and its group). */
static void run_next(struct lt_comm_queue *q)
{
	struct lt_comm_req *rs[GROUP_MAX];

	run_taken(q, rs, take_group(q, rs));
}

static void *worker_main(void *arg)
{
	struct lt_comm_queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while ((!q->head || q->direct) && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (!q->head)
			break;
		q->running = true;
		run_next(q);
		q->running = false;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static int start_queue(struct lt_comm *c, struct lt_err *err)
{
	struct lt_comm_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s communicator: out of memory",
				  c->name);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->done, NULL);
	if (pthread_create(&q->thread, NULL, worker_main, q)) {
		pthread_cond_destroy(&q->done);
		pthread_cond_destroy(&q->work);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s communicator: cannot start its worker thread: raise the process's thread limit",
				  c->name);
	}
	c->queue = q;
	return 0;
}

static struct lt_comm_req *enqueue(struct lt_comm *c, const struct lt_comm_req *proto,
				   struct lt_err *err)
{
	struct lt_comm_queue *q;
	struct lt_comm_req *r;

	if (!c->queue && start_queue(c, err))
		return NULL;
	q = c->queue;
	r = malloc(sizeof(*r));
	if (!r) {
		lt_err_set(err, LT_EXIT_FAILURE, "%s: out of memory", kind_names[proto->kind]);
		return NULL;
	}
	*r = *proto;
	pthread_mutex_lock(&q->mu);
	if (q->failed) {
		*err = q->err;
		pthread_mutex_unlock(&q->mu);
		free(r);
		return NULL;
	}
	q->pending++;
	if (q->grouping) {
		/* held back until lt_comm_group_end */
		if (q->held_tail)
			q->held_tail->next = r;
		else
			q->held_head = r;
		q->held_tail = r;
		q->held++;
		pthread_mutex_unlock(&q->mu);
		return r;
	}
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return r;
}

void lt_comm_group_begin(struct lt_comm *c)
{
	struct lt_err ignored;

	/* a queue that cannot start: the group's starts say why */
	if (!c->queue && start_queue(c, &ignored))
		return;
	pthread_mutex_lock(&c->queue->mu);
	c->queue->grouping = true;
	pthread_mutex_unlock(&c->queue->mu);
}

void lt_comm_group_end(struct lt_comm *c)
{
	struct lt_comm_queue *q = c->queue;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->grouping = false;
	if (q->held_head) {
		q->held_head->group = q->held;
		if (q->tail)
			q->tail->next = q->held_head;
		else
			q->head = q->held_head;
		q->tail = q->held_tail;
		q->held_head = q->held_tail = NULL;
		q->held = 0;
		pthread_cond_signal(&q->work);
	}
	pthread_mutex_unlock(&q->mu);
}

struct lt_comm_req *lt_comm_start(struct lt_comm *c, enum lt_comm_kind kind, const void *send,
				  void *recv, size_t count, enum lt_dtype dt, enum lt_op op,
				  int root, struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = kind, .send = send, .recv = recv,
				 .count = count, .dt = dt, .op = op, .root = root };

	if ((unsigned)kind > LT_COLL_REDUCE_SCATTER) {
		lt_err_set(err, LT_EXIT_FAILURE, "lt_comm_start: %s collective %d%s",
			   kind == LT_COLL_REDUCE_SCATTER_V ? "counts missing for" : "unknown",
			   (int)kind, kind == LT_COLL_REDUCE_SCATTER_V ? ": use lt_comm_start_v" : "");
		return NULL;
	}
	if (check_op(c, &r, err))
		return NULL;
	return enqueue(c, &r, err);
}

struct lt_comm_req *lt_comm_start_v(struct lt_comm *c, const void *send, void *recv,
				    const size_t *counts, enum lt_dtype dt, enum lt_op op,
				    struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_REDUCE_SCATTER_V, .send = send,
				 .recv = recv, .counts = counts, .dt = dt, .op = op };
	struct lt_comm_req *q;

	if (check_op(c, &r, err))
		return NULL;
	r.own_counts = malloc((size_t)c->size * sizeof(size_t));
	if (!r.own_counts) {
		lt_err_set(err, LT_EXIT_FAILURE, "reduce_scatter_v: out of memory");
		return NULL;
	}
	memcpy(r.own_counts, counts, (size_t)c->size * sizeof(size_t));
	r.counts = r.own_counts;
	q = enqueue(c, &r, err);
	if (!q)
		free(r.own_counts);
	return q;
}

/* Under q->mu: req, next in line while the worker runs nothing, runs on
 * this thread (as run_blocking's calls do; with its group, when it heads
 * one) instead of waiting for the worker to wake up and then for this
 * thread to be woken in turn: two wake-ups, each up to a scheduler tick
 * on a busy machine. */
static void run_here(struct lt_comm_queue *q)
{
	q->direct = true;
	run_next(q);
	q->direct = false;
	if (q->head)
		pthread_cond_signal(&q->work);
}

int lt_comm_wait(struct lt_comm_req *req, struct lt_err *err)
{
	struct lt_comm_queue *q = req->c->queue;
	int rc;

	pthread_mutex_lock(&q->mu);
	if (!req->done && q->head == req && !q->running && !q->direct && !q->failed)
		run_here(q);
	while (!req->done)
		pthread_cond_wait(&q->done, &q->mu);
	pthread_mutex_unlock(&q->mu);
	rc = req->rc;
	if (rc)
		*err = req->err;
	free(req->own_counts);
	free(req);
	return rc;
}

bool lt_comm_test(struct lt_comm_req *req)
{
	struct lt_comm_queue *q = req->c->queue;
	bool done;

	pthread_mutex_lock(&q->mu);
	done = req->done;
	pthread_mutex_unlock(&q->mu);
	return done;
}

/* A blocking call: directly when nothing is queued, else through the
 * queue so that it runs after what was started before it. */
static int run_blocking(struct lt_comm *c, struct lt_comm_req *r, struct lt_err *err)
{
	struct lt_comm_queue *q = c->queue;
	struct lt_comm_req *queued;
	bool direct = true;

	if (check_op(c, r, err))
		return -1;
	if (q) {
		pthread_mutex_lock(&q->mu);
		if (q->failed || q->grouping) {
			if (q->failed)
				*err = q->err;
			else
				lt_err_set(err, LT_EXIT_FAILURE,
					   "%s communicator: a blocking %s inside a group (lt_comm_group_begin): end the group first",
					   c->name, kind_names[r->kind]);
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
		direct = q->pending == 0;
		q->direct = direct;
		pthread_mutex_unlock(&q->mu);
	}
	if (direct && q) {
		/* work another thread queues meanwhile waits for this one */
		int rc = execute(c, r, err);
		pthread_mutex_lock(&q->mu);
		q->direct = false;
		if (q->head)
			pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->mu);
		return rc;
	}
	if (direct)
		return execute(c, r, err);
	queued = enqueue(c, r, err);
	return queued ? lt_comm_wait(queued, err) : -1;
}

int lt_comm_barrier(struct lt_comm *c, struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_BARRIER };

	return run_blocking(c, &r, err);
}

int lt_comm_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt, int root,
		      struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_BROADCAST, .recv = buf,
				 .count = count, .dt = dt, .root = root };

	return run_blocking(c, &r, err);
}

int lt_comm_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
		       enum lt_op op, struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_ALL_REDUCE, .recv = buf,
				 .count = count, .dt = dt, .op = op };

	return run_blocking(c, &r, err);
}

int lt_comm_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
		       enum lt_dtype dt, struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_ALL_GATHER, .send = send,
				 .recv = recv, .count = count, .dt = dt };

	return run_blocking(c, &r, err);
}

int lt_comm_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			   enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_REDUCE_SCATTER, .send = send,
				 .recv = recv, .count = count, .dt = dt, .op = op };

	return run_blocking(c, &r, err);
}

int lt_comm_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
			     const size_t *counts, enum lt_dtype dt, enum lt_op op,
			     struct lt_err *err)
{
	struct lt_comm_req r = { .c = c, .kind = LT_COLL_REDUCE_SCATTER_V, .send = send,
				 .recv = recv, .counts = counts, .dt = dt, .op = op };

	return run_blocking(c, &r, err);
}

/* ------------------------------------------------------------ close */

static void stop_queue(struct lt_comm_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_cond_destroy(&q->done);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void lt_comm_close(struct lt_comm *c)
{
	if (!c)
		return;
	if (c->queue)
		stop_queue(c->queue);
	list_remove(c);
	c->ops->close(c);
	free(c->global);
	free(c);
}
