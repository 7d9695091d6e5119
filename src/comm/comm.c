/*
 * comm.c - the generic layer of comm.h, above every backend:
 * lt_comm_open/close, argument checks, LT_AVG (the
 * backend's SUM, then a division by the group's size), and the
 * non-blocking forms (lt_comm_start_v keeps its own copy of the counts).  Those run on one worker thread per communicator,
 * started by the first lt_comm_start(): a FIFO of requests under a mutex,
 * each finished request signalled on a condition variable.  A blocking
 * call made while queued work is pending joins the queue and waits, so
 * every rank sees collectives in the order its caller issued them.  When
 * a queued operation fails, it and every operation queued after it fail
 * with its message (the communicator can then only be closed).
 */
#include "comm/comm.h"
#include "comm/reduce.h"

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
	bool done; /* under the queue's mutex */
	int rc;
	struct lt_err err;
	struct lt_comm_req *next;
};

struct lt_comm_queue {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* a request was queued, or stop */
	pthread_cond_t done;  /* a request finished */
	pthread_t thread;
	struct lt_comm_req *head, *tail;
	int pending;          /* queued or running */
	bool stop;
	bool failed;          /* an operation failed: err says which */
	struct lt_err err;
};

static const char *const kind_names[] = {
	[LT_COLL_BARRIER] = "barrier",
	[LT_COLL_BROADCAST] = "broadcast",
	[LT_COLL_ALL_REDUCE] = "all_reduce",
	[LT_COLL_ALL_GATHER] = "all_gather",
	[LT_COLL_REDUCE_SCATTER] = "reduce_scatter",
	[LT_COLL_REDUCE_SCATTER_V] = "reduce_scatter_v",
};

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
	if (b->open(c, args, err)) {
		b->close(c);
		free(c);
		return NULL;
	}
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

/* Runs one operation on the backend, in the calling thread. */
static int execute(struct lt_comm *c, const struct lt_comm_req *r, struct lt_err *err)
{
	const struct lt_comm_ops *b = c->ops;
	enum lt_op op = r->op == LT_AVG ? LT_SUM : r->op;

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
		if (r->op == LT_AVG)
			lt_divide(r->recv, r->counts[c->rank], r->dt, c->size);
		return 0;
	}
	if (r->op == LT_AVG)
		lt_divide(r->recv, r->count, r->dt, c->size);
	return 0;
}

static void *worker_main(void *arg)
{
	struct lt_comm_queue *q = arg;
	struct lt_comm_req *r;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (!q->head)
			break;
		r = q->head;
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		if (q->failed) {
			r->err = q->err;
			r->rc = -1;
		} else {
			pthread_mutex_unlock(&q->mu);
			r->rc = execute(r->c, r, &r->err);
			pthread_mutex_lock(&q->mu);
			if (r->rc) {
				q->failed = true;
				q->err = r->err;
			}
		}
		r->done = true;
		q->pending--;
		pthread_cond_broadcast(&q->done);
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
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->pending++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return r;
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

int lt_comm_wait(struct lt_comm_req *req, struct lt_err *err)
{
	struct lt_comm_queue *q = req->c->queue;
	int rc;

	pthread_mutex_lock(&q->mu);
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
		if (q->failed) {
			*err = q->err;
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
		direct = q->pending == 0;
		pthread_mutex_unlock(&q->mu);
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
	c->ops->close(c);
	free(c);
}
