/*
 * async.c - the `async` checkpoint IO plugin: wraps another plugin (its
 * parameter `inner`, any checkpoint IO of the registry, with parameters:
 * "http:retries=2"; by default http for a URL, else file) and runs its writes and removals on one
 * background thread, in the order they were handed over, so that a save
 * costs the caller the time of a memory copy rather than of the disk or
 * the network.
 *
 * write() copies the iov into a snapshot owned by the queue and returns:
 * the caller may change its buffers at once.  Memory is bounded to one
 * checkpoint in flight: a file of SMALL_MAX bytes or more goes to the one
 * snapshot buffer (kept and reused from save to save, so the copy touches
 * no fresh pages after the first save, split over several threads when it
 * is large); while that buffer is still being written, the next big
 * write() waits for it first.  Smaller files (an index, `last`) get a copy
 * of their own, SMALL_LIMIT bytes of them at most in flight.  remove() is
 * queued behind the writes, so a save's files land, then `last`, then the
 * old checkpoints go.  size() and read() of a file first wait for the
 * queued ops that concern it (its writes, removals of a directory above
 * it) and everything queued before them - a flush as far as that file can
 * tell - then call through on a second state of the wrapped plugin, while
 * the thread goes on writing the rest: so a save that reads its history
 * file (history.c) is not stalled behind its own model file.
 *
 * A queued op that fails is remembered: the ops queued after it are
 * dropped (a `last` must never name a checkpoint whose files failed), and
 * the failure is returned by the next write(), remove() or flush(), which
 * then queues nothing of its own.  size() and read() return it too, but
 * leave it for those (a caller that ignores a failed read loses nothing).  close() waits for the queue and prints
 * nothing: flush first to see failures.
 *
 * One caller thread per state, as for every IO plugin.
 */
#include "ckpt/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "core/thread.h"

#define SMALL_MAX ((size_t)1 << 20)        /* smaller files get their own copy */
#define SMALL_LIMIT ((size_t)16 << 20)     /* ... this many bytes of them in flight */
#define PAR_COPY_MIN ((size_t)64 << 20)    /* copies split over threads from here */
#define PAR_COPY_MAX 8                     /* threads of one copy, at most */
#define SNAP_ALIGN ((size_t)2 << 20)       /* the snapshot buffer grows in these */
#define SAVE_CHUNK ((size_t)8 << 20)       /* a deferred save is copied in these, in order */

enum op_kind { OP_WRITE, OP_REMOVE, OP_SAVE };

struct op {
	struct op *next;
	enum op_kind kind;
	char *rel;
	void *data; /* OP_WRITE: the snapshot, or the op's own copy */
	size_t len;
	bool big;   /* data is (OP_SAVE: will be) the shared snapshot buffer */
	/* OP_SAVE: lt_ckpt_save's arguments; t[i].data are the caller's bytes
	 * until the thread has copied them, then point into the snapshot */
	struct lt_ckpt_tensor *t;
	size_t n;
	cJSON *meta;
	int64_t step;
	int keep;
	int (*ready)(void *arg, struct lt_err *err); /* before the copy, or NULL */
	void *ready_arg;
};

struct async {
	struct lt_choice choice; /* the wrapped plugin */
	const struct lt_ckpt_io_ops *inner;
	void *inner_state; /* the thread's */
	void *read_state;  /* the caller's, for size() and read() */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* broadcast when an op is queued or done, and at stop */
	struct op *head, **tail;
	struct op *running; /* popped, being run by the thread */
	int pending;        /* ops queued or running */
	bool big_busy;      /* the snapshot buffer is taken (being filled or written) */
	bool borrowed;      /* a queued OP_SAVE still reads the caller's bytes */
	size_t copied;      /* ... of which its first this many tensors are copied */
	size_t small_bytes; /* bytes of small copies in flight */
	bool stop;
	bool failed;        /* err holds a failure not yet returned */
	struct lt_err err;
	void *snap;         /* the snapshot buffer (mmap), snap_cap bytes */
	size_t snap_cap;
};

/* ------------------------------------------------------------ the thread */

/* Frees what an OP_SAVE owns besides rel. */
static void free_save_args(struct op *op)
{
	for (size_t i = 0; op->t && i < op->n; i++)
		free((char *)op->t[i].name);
	free(op->t);
	cJSON_Delete(op->meta);
}

static void free_op(struct async *a, struct op *op)
{
	if (op->big)
		a->big_busy = false;
	else if (op->kind == OP_WRITE) {
		a->small_bytes -= op->len;
		free(op->data);
	}
	if (op->kind == OP_SAVE) {
		a->borrowed = false; /* done with, or dropped unread */
		free_save_args(op);
	}
	free(op->rel);
	free(op);
	a->pending--;
}

static int reserve_snapshot(struct async *a, size_t len, const char *rel, struct lt_err *err);

/* Threads for a copy of total bytes: one a CPU (at most PAR_COPY_MAX)
 * from PAR_COPY_MIN on. */
static int copy_threads(size_t total)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (total < PAR_COPY_MIN || ncpu < 2)
		return 1;
	return ncpu > PAR_COPY_MAX ? PAR_COPY_MAX : (int)ncpu;
}

/* ------------------------------------------------- a deferred save's copy */

/* The copy of an OP_SAVE's tensors goes in chunks of SAVE_CHUNK bytes,
 * in the tensors' order, taken by up to one thread a CPU from a shared
 * counter.  When a tensor's last chunk lands, the prefix of tensors fully
 * copied (a->copied) moves on, and release(n) waits only for the first n:
 * the trainer's optimizer step updates parameter i as soon as it (and its
 * optimizer slots, which follow it) are copied, while the copy of the
 * rest goes on. */
struct save_chunk {
	size_t tensor, at, len;
};

struct save_copy {
	struct async *a;
	const struct lt_ckpt_tensor *t; /* the caller's bytes */
	size_t n;
	size_t *dst;                    /* where tensor i goes in the snapshot */
	atomic_size_t *left;            /* tensor i's chunks not copied yet */
	struct save_chunk *chunks;
	size_t nchunks;
	atomic_size_t next;
};

/* A tensor is complete: the copied prefix moves past every complete one. */
static void publish_copied(struct save_copy *c)
{
	struct async *a = c->a;

	pthread_mutex_lock(&a->mu);
	while (a->copied < c->n && !atomic_load(&c->left[a->copied]))
		a->copied++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void *copy_chunks(void *arg)
{
	struct save_copy *c = arg;
	size_t k;

	while ((k = atomic_fetch_add(&c->next, 1)) < c->nchunks) {
		const struct save_chunk *ch = &c->chunks[k];

		memcpy((char *)c->a->snap + c->dst[ch->tensor] + ch->at,
		       (const char *)c->t[ch->tensor].data + ch->at, ch->len);
		if (atomic_fetch_sub(&c->left[ch->tensor], 1) == 1)
			publish_copied(c);
	}
	return NULL;
}

/* Copies op's tensors into the snapshot (reserved, total bytes) and
 * points them there.  Returns 0, or -1 when out of memory (nothing
 * copied). */
static int copy_save(struct async *a, struct op *op, size_t total)
{
	struct save_copy c = { .a = a, .t = op->t, .n = op->n };
	pthread_t tid[PAR_COPY_MAX];
	bool started[PAR_COPY_MAX] = { false };
	int k = copy_threads(total);
	size_t pos = 0;
	int rc = -1;

	for (size_t i = 0; i < op->n; i++)
		c.nchunks += (op->t[i].bytes + SAVE_CHUNK - 1) / SAVE_CHUNK;
	c.dst = calloc(op->n ? op->n : 1, sizeof(*c.dst));
	c.left = calloc(op->n ? op->n : 1, sizeof(*c.left));
	c.chunks = calloc(c.nchunks ? c.nchunks : 1, sizeof(*c.chunks));
	if (!c.dst || !c.left || !c.chunks)
		goto out;
	c.nchunks = 0;
	for (size_t i = 0; i < op->n; i++) {
		size_t count = 0;

		c.dst[i] = pos;
		for (size_t at = 0; at < op->t[i].bytes; at += SAVE_CHUNK, count++)
			c.chunks[c.nchunks++] = (struct save_chunk){
				i, at, op->t[i].bytes - at < SAVE_CHUNK ? op->t[i].bytes - at : SAVE_CHUNK
			};
		atomic_init(&c.left[i], count);
		pos += op->t[i].bytes;
	}
	atomic_init(&c.next, 0);
	publish_copied(&c); /* past leading empty tensors */
	for (int j = 1; j < k; j++)
		started[j] = pthread_create(&tid[j], NULL, copy_chunks, &c) == 0;
	copy_chunks(&c); /* a helper that did not start leaves its chunks to us */
	for (int j = 1; j < k; j++)
		if (started[j])
			pthread_join(tid[j], NULL);
	for (size_t i = 0; i < op->n; i++)
		op->t[i].data = (char *)a->snap + c.dst[i];
	rc = 0;
out:
	free(c.dst);
	free(c.left);
	free(c.chunks);
	return rc;
}

/* The caller's bytes are no longer read: release() returns. */
static void give_back(struct async *a)
{
	pthread_mutex_lock(&a->mu);
	a->borrowed = false;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* OP_SAVE on the thread: the caller's bytes into the snapshot (then the
 * caller may change them), and lt_ckpt_save of the copy.  With a ready
 * hook the bytes are a stage the caller keeps until release(): written
 * from there once ready, without a copy, and given back when written. */
static int run_save(struct async *a, struct op *op, struct lt_err *err)
{
	size_t total = 0;
	int rc = -1;

	for (size_t i = 0; i < op->n; i++)
		total += op->t[i].bytes;
	if (op->ready ? op->ready(op->ready_arg, err) != 0
		      : reserve_snapshot(a, total, op->rel, err) != 0) {
		give_back(a);
		return -1;
	}
	if (!op->ready && copy_save(a, op, total)) {
		give_back(a);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot save checkpoint step-%lld: out of memory",
				  (long long)op->step);
	}
	if (!op->ready)
		give_back(a);
	rc = lt_ckpt_save(a->inner, a->inner_state, op->step, op->t, op->n, op->meta, op->keep, err);
	if (op->ready)
		give_back(a);
	return rc;
}

static int run_op(struct async *a, struct op *op, struct lt_err *err)
{
	struct iovec iov = { .iov_base = op->data, .iov_len = op->len };

	if (op->kind == OP_SAVE)
		return run_save(a, op, err);
	if (op->kind == OP_REMOVE)
		return a->inner->remove(a->inner_state, op->rel, err);
	return a->inner->write(a->inner_state, op->rel, &iov, 1, err);
}

static void *worker(void *arg)
{
	struct async *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct op *op;
		struct lt_err e = { 0 };
		bool skip;
		int rc = 0;

		while (!a->head && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (!a->head)
			break;
		op = a->head;
		a->head = op->next;
		if (!a->head)
			a->tail = &a->head;
		skip = a->failed;
		a->running = op;
		pthread_mutex_unlock(&a->mu);

		if (!skip)
			rc = run_op(a, op, &e);

		pthread_mutex_lock(&a->mu);
		if (rc && !a->failed) {
			a->failed = true;
			lt_err_set(&a->err, e.status ? e.status : LT_EXIT_FAILURE,
				   "in the background: %.480s", e.msg);
		}
		a->running = NULL;
		free_op(a, op);
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Returns the remembered failure into err and drops what is still queued
 * (the rest of the failed save).  Called with mu held; returns -1. */
static int report_locked(struct async *a, struct lt_err *err)
{
	while (a->head) {
		struct op *op = a->head;

		a->head = op->next;
		free_op(a, op);
	}
	a->tail = &a->head;
	*err = a->err;
	a->failed = false;
	pthread_cond_broadcast(&a->cv);
	return -1;
}

static void enqueue_locked(struct async *a, struct op *op)
{
	op->next = NULL;
	*a->tail = op;
	a->tail = &op->next;
	a->pending++;
	pthread_cond_broadcast(&a->cv);
}

/* ------------------------------------------------------------ the copy */

struct copy_part {
	const struct iovec *iov;
	int iovcnt;
	char *dst;
	size_t from, to; /* byte range of the concatenated iov */
};

static void *copy_range(void *arg)
{
	const struct copy_part *p = arg;
	size_t pos = 0;

	for (int i = 0; i < p->iovcnt && pos < p->to; i++) {
		size_t a = pos, b = pos + p->iov[i].iov_len;

		pos = b;
		if (b <= p->from)
			continue;
		if (a < p->from)
			a = p->from;
		if (b > p->to)
			b = p->to;
		memcpy(p->dst + a, (const char *)p->iov[i].iov_base + (a - (pos - p->iov[i].iov_len)),
		       b - a);
	}
	return NULL;
}

/* Copies the iov (total bytes) into dst, over several threads when it is
 * large (each first-touches and copies its own part). */
static void copy_iov(char *dst, const struct iovec *iov, int iovcnt, size_t total)
{
	struct copy_part part[PAR_COPY_MAX];
	pthread_t tid[PAR_COPY_MAX];
	bool started[PAR_COPY_MAX] = { false };
	int n = copy_threads(total);
	size_t step = (total / (size_t)n + 4095) & ~(size_t)4095;

	for (int i = 0; i < n; i++) {
		size_t from = step * (size_t)i, to = from + step;

		part[i] = (struct copy_part){ iov, iovcnt, dst, from > total ? total : from,
					      to > total ? total : to };
	}
	for (int i = 1; i < n; i++)
		started[i] = pthread_create(&tid[i], NULL, copy_range, &part[i]) == 0;
	copy_range(&part[0]);
	for (int i = 1; i < n; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			copy_range(&part[i]);
	}
}

/* Makes the snapshot buffer hold at least len bytes (only while no op
 * holds it).  Returns 0, or -1 with err. */
static int reserve_snapshot(struct async *a, size_t len, const char *rel, struct lt_err *err)
{
	size_t cap = (len + SNAP_ALIGN - 1) & ~(SNAP_ALIGN - 1);
	void *p;

	if (len <= a->snap_cap)
		return 0;
	if (a->snap)
		munmap(a->snap, a->snap_cap);
	a->snap = NULL;
	a->snap_cap = 0;
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot snapshot '%s' for the async writer: %zu bytes: %s; "
				  "hint: free memory, or save through the file IO", rel, len, strerror(errno));
	madvise(p, cap, MADV_HUGEPAGE);
	a->snap = p;
	a->snap_cap = cap;
	return 0;
}

/* ------------------------------------------------------------ the ops */

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static int async_open(const struct lt_ckpt_io_args *args, void **state, struct lt_err *err)
{
	const char *base = args->base, *name = lt_params_str(args->params, "inner");
	struct async *a;
	int rc;

	if (!name)
		name = is_url(base) ? "http" : "file";
	if (!args->reg)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "async: no registry to find the IO '%s' it wraps in (a bug)", name);
	a = calloc(1, sizeof(*a));
	if (!a)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening async IO for '%s'",
				  base);
	if (lt_registry_resolve(args->reg, LT_KIND_CKPT_IO, name, &a->choice, err))
		goto out_free;
	a->inner = lt_ckpt_io_of(&a->choice);
	if (a->inner->save_deferred) {
		lt_err_set(err, LT_EXIT_USAGE,
			   "async cannot wrap '%s', which saves in the background itself; "
			   "hint: wrap file or http (async:inner=file)", name);
		goto out_free;
	}
	a->tail = &a->head;
	if (lt_ckpt_io_open(args->reg, &a->choice, base, &a->inner_state, err))
		goto out_free;
	if (lt_ckpt_io_open(args->reg, &a->choice, base, &a->read_state, err)) {
		a->inner->close(a->inner_state);
		goto out_free;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	/* The writer takes no signals: they stay with the training threads. */
	rc = lt_thread_start(&a->thread, worker, a);
	if (rc) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the async checkpoint writer for '%s': %s",
			   base, strerror(rc));
		goto out_close;
	}
	*state = a;
	return 0;

out_close:
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	a->inner->close(a->read_state);
	a->inner->close(a->inner_state);
out_free:
	lt_choice_free(&a->choice);
	free(a);
	return -1;
}

/* Takes a snapshot of the iov (waiting for the previous big one to be
 * written, see the top of the file) and queues its write. */
static int async_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		       struct lt_err *err)
{
	struct async *a = state;
	struct op *op;
	size_t total = 0;
	bool big;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	big = total >= SMALL_MAX;
	op = calloc(1, sizeof(*op));
	if (!op || !(op->rel = strdup(rel))) {
		free(op);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory queueing '%s'", rel);
	}
	op->kind = OP_WRITE;
	op->len = total;
	op->big = big;

	pthread_mutex_lock(&a->mu);
	while (!a->failed && (big ? a->big_busy : a->small_bytes > 0 &&
						   a->small_bytes + total > SMALL_LIMIT))
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->failed) {
		free(op->rel);
		free(op);
		report_locked(a, err);
		pthread_mutex_unlock(&a->mu);
		return -1;
	}
	if (big)
		a->big_busy = true; /* the buffer is ours until the op is done */
	else
		a->small_bytes += total;
	pthread_mutex_unlock(&a->mu);

	if (big) {
		if (reserve_snapshot(a, total, rel, err))
			goto out_unreserve;
		op->data = a->snap;
	} else if (!(op->data = malloc(total ? total : 1))) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory snapshotting '%s' (%zu bytes)", rel,
			   total);
		goto out_unreserve;
	}
	copy_iov(op->data, iov, iovcnt, total);

	pthread_mutex_lock(&a->mu);
	enqueue_locked(a, op);
	pthread_mutex_unlock(&a->mu);
	return 0;

out_unreserve:
	pthread_mutex_lock(&a->mu);
	if (big)
		a->big_busy = false;
	else
		a->small_bytes -= total;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	free(op->rel);
	free(op);
	return -1;
}

static int async_remove(void *state, const char *rel, struct lt_err *err)
{
	struct async *a = state;
	struct op *op = calloc(1, sizeof(*op));

	if (!op || !(op->rel = strdup(rel))) {
		free(op);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory queueing removal of '%s'", rel);
	}
	op->kind = OP_REMOVE;
	pthread_mutex_lock(&a->mu);
	if (a->failed) {
		report_locked(a, err);
		pthread_mutex_unlock(&a->mu);
		free(op->rel);
		free(op);
		return -1;
	}
	enqueue_locked(a, op);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* Queues the whole save (see io.h): the thread copies the tensors (each
 * release(n) returns once the first n are copied), then runs lt_ckpt_save
 * on the inner IO; with a ready hook it calls the hook and saves the
 * caller's stage as it is (release returns once it is written).  Like a big
 * write, it waits first for the snapshot buffer (one save in flight). */
static int async_save_deferred(void *state, int64_t step, const struct lt_ckpt_tensor *t,
			       size_t n, const void *meta, int keep,
			       int (*ready)(void *arg, struct lt_err *err), void *ready_arg,
			       struct lt_err *err)
{
	struct async *a = state;
	struct op *op = calloc(1, sizeof(*op));
	char rel[48];

	snprintf(rel, sizeof(rel), "step-%lld", (long long)step);
	if (!op || !(op->rel = strdup(rel)) || !(op->t = calloc(n ? n : 1, sizeof(*op->t))) ||
	    (meta && !(op->meta = cJSON_Duplicate((const cJSON *)meta, true))))
		goto out_nomem;
	op->kind = OP_SAVE;
	op->big = true;
	op->step = step;
	op->keep = keep;
	op->ready = ready;
	op->ready_arg = ready_arg;
	for (size_t i = 0; i < n; i++, op->n++) {
		op->t[i] = t[i];
		if (!(op->t[i].name = strdup(t[i].name)))
			goto out_nomem;
	}

	pthread_mutex_lock(&a->mu);
	while (!a->failed && a->big_busy)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->failed) {
		report_locked(a, err);
		pthread_mutex_unlock(&a->mu);
		goto out_free;
	}
	a->big_busy = true;
	a->borrowed = true;
	a->copied = 0;
	enqueue_locked(a, op);
	pthread_mutex_unlock(&a->mu);
	return 0;

out_nomem:
	lt_err_set(err, LT_EXIT_FAILURE, "cannot save checkpoint step-%lld: out of memory",
		   (long long)step);
out_free:
	if (op) {
		free_save_args(op);
		free(op->rel);
	}
	free(op);
	return -1;
}

static void async_release(void *state, size_t n)
{
	struct async *a = state;

	pthread_mutex_lock(&a->mu);
	while (a->borrowed && a->copied < n)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
}

static int async_flush(void *state, struct lt_err *err)
{
	struct async *a = state;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	while (a->pending > 0)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->failed)
		rc = report_locked(a, err);
	pthread_mutex_unlock(&a->mu);
	if (!rc && a->inner->flush)
		rc = a->inner->flush(a->inner_state, err);
	return rc;
}

/* True when op changes what rel holds: a write of rel, or the removal of
 * rel or of a directory above it. */
static bool concerns(const struct op *op, const char *rel)
{
	size_t n = strlen(op->rel);

	if (op->kind == OP_SAVE)
		return true; /* a save writes step-N/, last, the history, and removes */
	if (op->kind == OP_WRITE)
		return !strcmp(op->rel, rel);
	while (n > 0 && op->rel[n - 1] == '/')
		n--;
	return !strncmp(op->rel, rel, n) && (rel[n] == '\0' || rel[n] == '/');
}

/* Waits until no queued or running op concerns rel; then the remembered
 * failure, if any, goes to err (and stays remembered).  Returns 0 or -1. */
static int settle(struct async *a, const char *rel, struct lt_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		bool busy = a->running && concerns(a->running, rel);

		for (const struct op *op = a->head; op && !busy; op = op->next)
			busy = concerns(op, rel);
		if (!busy)
			break;
		pthread_cond_wait(&a->cv, &a->mu);
	}
	if (a->failed) {
		*err = a->err;
		rc = -1;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static int async_size(void *state, const char *rel, uint64_t *size, struct lt_err *err)
{
	struct async *a = state;

	if (settle(a, rel, err))
		return -1;
	return a->inner->size(a->read_state, rel, size, err);
}

static int async_read(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		      struct lt_err *err)
{
	struct async *a = state;

	if (settle(a, rel, err))
		return -1;
	return a->inner->read(a->read_state, rel, off, buf, len, err);
}

static int async_read_crc(void *state, const char *rel, uint64_t off, void *buf, size_t len,
			  uint32_t *crc, struct lt_err *err)
{
	struct async *a = state;

	if (settle(a, rel, err))
		return -1;
	return lt_ckpt_io_read_crc(a->inner, a->read_state, rel, off, buf, len, crc, err);
}

/* Reads go to the inner IO (after the writes of the same file settle):
 * as parallel as it is. */
static bool async_parallel_reads(void *state)
{
	struct async *a = state;

	return a->inner->parallel_reads && a->inner->parallel_reads(a->read_state);
}

static void async_close(void *state)
{
	struct async *a = state;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	while (a->pending > 0)
		pthread_cond_wait(&a->cv, &a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	a->inner->close(a->read_state);
	a->inner->close(a->inner_state);
	lt_choice_free(&a->choice);
	if (a->snap)
		munmap(a->snap, a->snap_cap);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

const struct lt_ckpt_io_ops lt_ckpt_io_async = {
	.open = async_open,
	.write = async_write,
	.size = async_size,
	.read = async_read,
	.read_crc = async_read_crc,
	.parallel_reads = async_parallel_reads,
	.remove = async_remove,
	.save_deferred = async_save_deferred,
	.release = async_release,
	.flush = async_flush,
	.close = async_close,
};
