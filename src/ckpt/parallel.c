/*
 * parallel.c - checksums and checked reads of checkpoint data on several
 * threads (parallel.h).  The bytes are cut into pieces of PIECE bytes;
 * the threads take pieces in order from a shared counter, each piece's
 * CRC is kept, and the CRCs of one buffer's pieces are joined in order at
 * the end.  Below PARALLEL_MIN bytes, or with one CPU, the caller does it
 * all on its own thread.
 *
 * Why: a save blocks the training loop for its checksums (async saves
 * for nothing else), and a load is a copy out of the page cache with a
 * checksum (one pass where the IO has read_crc), which one core does at
 * a fraction of what the disk (and a warm cache) delivers; reading on two
 * threads also keeps more requests in flight to the disk.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/crc32c.h"
#include "ckpt/parallel.h"

#define PIECE ((size_t)8 << 20)
#define PARALLEL_MIN ((size_t)16 << 20)
#define THREADS_MAX 8

/* One buffer: its bytes are pieces first .. first + count - 1. */
struct span {
	const void *data; /* checksum: the bytes; read: NULL */
	void *dst;        /* read: where the bytes go */
	uint64_t off;     /* read: offset in the file */
	size_t len;
	size_t first, count;
};

struct work {
	struct span *spans;
	size_t nspans;
	uint32_t *piece_crc; /* one a piece */
	size_t npieces;
	atomic_size_t next;      /* the next piece to take */
	atomic_bool failed;      /* a read failed: take no more */
	/* reads */
	const struct lt_ckpt_io_ops *io;
	void *state;
	const char *rel;
	pthread_mutex_t mu; /* guards err */
	struct lt_err err;
};

/* The span holding piece p (spans are in piece order). */
static const struct span *span_of(const struct work *w, size_t p)
{
	size_t lo = 0, hi = w->nspans;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->spans[mid].first <= p)
			lo = mid;
		else
			hi = mid;
	}
	return &w->spans[lo];
}

static void *worker(void *arg)
{
	struct work *w = arg;
	size_t p;

	while (!atomic_load(&w->failed) && (p = atomic_fetch_add(&w->next, 1)) < w->npieces) {
		const struct span *s = span_of(w, p);
		size_t at = (p - s->first) * PIECE, len = s->len - at < PIECE ? s->len - at : PIECE;
		struct lt_err e = { 0 };

		if (s->data) {
			w->piece_crc[p] = lt_crc32c(0, (const char *)s->data + at, len);
		} else if (lt_ckpt_io_read_crc(w->io, w->state, w->rel, s->off + at, (char *)s->dst + at,
					       len, &w->piece_crc[p], &e)) {
			pthread_mutex_lock(&w->mu);
			if (!atomic_exchange(&w->failed, true))
				w->err = e;
			pthread_mutex_unlock(&w->mu);
			break;
		}
	}
	return NULL;
}

/* Threads for total bytes: 1 below PARALLEL_MIN, else one a CPU. */
static size_t threads_for(size_t total)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (total < PARALLEL_MIN || cpus < 2)
		return 1;
	return cpus < THREADS_MAX ? (size_t)cpus : THREADS_MAX;
}

/* Runs w on k threads, the caller being one of them; a thread that
 * cannot start leaves its pieces to the others. */
static void run(struct work *w, size_t k)
{
	pthread_t tid[THREADS_MAX];
	bool started[THREADS_MAX] = { false };

	for (size_t j = 1; j < k; j++)
		started[j] = pthread_create(&tid[j], NULL, worker, w) == 0;
	worker(w);
	for (size_t j = 1; j < k; j++)
		if (started[j])
			pthread_join(tid[j], NULL);
}

/* The CRC of span s from its pieces' CRCs. */
static uint32_t joined_crc(const struct work *w, const struct span *s)
{
	uint32_t crc = 0;

	for (size_t i = 0; i < s->count; i++) {
		size_t at = i * PIECE, len = s->len - at < PIECE ? s->len - at : PIECE;

		crc = i ? lt_crc32c_combine(crc, w->piece_crc[s->first + i], len) : w->piece_crc[s->first];
	}
	return s->count ? crc : 0;
}

/* Numbers the pieces of w's spans; false when out of memory. */
static bool cut(struct work *w)
{
	w->npieces = 0;
	for (size_t i = 0; i < w->nspans; i++) {
		w->spans[i].first = w->npieces;
		w->spans[i].count = (w->spans[i].len + PIECE - 1) / PIECE;
		w->npieces += w->spans[i].count;
	}
	w->piece_crc = malloc((w->npieces ? w->npieces : 1) * sizeof(*w->piece_crc));
	atomic_init(&w->next, 0);
	atomic_init(&w->failed, false);
	return w->piece_crc != NULL;
}

void lt_ckpt_checksum_tensors(const struct lt_ckpt_tensor *t, size_t n, uint32_t *crc)
{
	struct work w = { 0 };
	size_t total = 0, k;

	for (size_t i = 0; i < n; i++)
		total += t[i].bytes;
	k = threads_for(total);
	w.spans = k > 1 ? calloc(n, sizeof(*w.spans)) : NULL;
	w.nspans = n;
	for (size_t i = 0; w.spans && i < n; i++)
		w.spans[i] = (struct span){ .data = t[i].data, .len = t[i].bytes };
	if (!w.spans || !cut(&w)) {
		/* one thread (or no memory for the pieces' table) */
		for (size_t i = 0; i < n; i++)
			crc[i] = lt_crc32c(0, t[i].data, t[i].bytes);
		free(w.spans);
		return;
	}
	run(&w, k);
	for (size_t i = 0; i < n; i++)
		crc[i] = joined_crc(&w, &w.spans[i]);
	free(w.piece_crc);
	free(w.spans);
}

int lt_ckpt_read_checked(const struct lt_ckpt_io_ops *io, void *state, const char *rel,
			 uint64_t off, void *dst, size_t len, uint32_t *crc, struct lt_err *err)
{
	struct span s = { .dst = dst, .off = off, .len = len };
	struct work w = { .spans = &s, .nspans = 1, .io = io, .state = state, .rel = rel };
	size_t k = io->parallel_reads && io->parallel_reads(state) ? threads_for(len) : 1;
	int rc = 0;

	if (k == 1 || !cut(&w))
		return lt_ckpt_io_read_crc(io, state, rel, off, dst, len, crc, err);
	pthread_mutex_init(&w.mu, NULL);
	run(&w, k);
	if (atomic_load(&w.failed)) {
		*err = w.err;
		rc = -1;
	} else {
		*crc = joined_crc(&w, &s);
	}
	pthread_mutex_destroy(&w.mu);
	free(w.piece_crc);
	return rc;
}
