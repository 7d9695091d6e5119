/*
 * direct.c - direct (O_DIRECT) writes of a checkpoint file (direct.h).
 * The bytes are walked in file order: where a byte's address and its file
 * offset are both at a multiple of LT_CKPT_DIRECT_ALIGN (the async
 * plugin's snapshot, say), the run of whole blocks from there is written
 * straight from the caller's memory, up to DIRECT_MAX bytes a call;
 * everything else is copied into the bounce buffer, which is written
 * whenever it fills, or at the next aligned run, or at the end (padded).
 * The bounce is small (BOUNCE_MAX) and kept: the first save touches its
 * pages once, later saves find them resident.
 *
 * A file of 2 x WRITER_MIN bytes or more is cut in up to
 * LT_CKPT_DIRECT_WRITERS parts at multiples of BOUNCE_MAX, each written by
 * a thread of its own with its own bounce: one synchronous direct write
 * keeps only its own requests in flight, and more writers keep the disk
 * busier (1 GB over a file's blocks here: 2.0 GB/s from one thread, 2.8
 * from two; 5-6 from two or four on a quiet day, as fast as buffered
 * writes over cached pages).  The file is allocated first
 * (fallocate): the writes then all fall within its length, and ext4 lets
 * such aligned direct writes run side by side.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/direct.h"
#include "core/thread.h"

#define BOUNCE_MAX ((size_t)4 << 20) /* a bounce buffer's size at most */
#define DIRECT_MAX ((size_t)32 << 20) /* one write from the caller's memory at most */
#define WRITER_MIN ((uint64_t)8 << 20) /* bytes a writer thread gets at least */

#define A LT_CKPT_DIRECT_ALIGN

/* One writer: the bytes of iov at file offsets [lo, hi). */
struct direct_writer {
	int fd;
	struct lt_ckpt_bounce *b;
	const struct iovec *iov;
	int iovcnt;
	uint64_t lo, hi; /* lo: a multiple of LT_CKPT_DIRECT_ALIGN */
	size_t fill;     /* bytes in the bounce: the file's [pos - fill, pos) */
	uint64_t pos;    /* file offset of the next byte */
	int rc, err;     /* the result, errno */
};

int lt_ckpt_direct_on(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT))
		return -1;
	return 0;
}

/* pwrite of all len bytes at off; a short write goes on from where it
 * stopped.  Returns 0, or -1 with errno. */
static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes the bounce's fill bytes (padded with zeros to a whole block) at
 * the file offset they belong to, and empties it. */
static int flush_bounce(struct direct_writer *w)
{
	size_t n = (w->fill + A - 1) / A * A;

	if (!w->fill)
		return 0;
	memset(w->b->buf + w->fill, 0, n - w->fill);
	if (pwrite_all(w->fd, w->b->buf, n, w->pos - w->fill))
		return -1;
	w->fill = 0;
	return 0;
}

/* Sizes the bounce for len bytes: BOUNCE_MAX, or less for fewer bytes; a
 * buffer large enough already is kept. */
static int size_bounce(struct lt_ckpt_bounce *b, uint64_t len)
{
	size_t want = len < BOUNCE_MAX ? (size_t)(len + A - 1) / A * A : BOUNCE_MAX;
	void *p;

	if (want < A)
		want = A;
	if (b->buf && b->size >= want)
		return 0;
	if (posix_memalign(&p, A, want)) {
		errno = ENOMEM;
		return -1;
	}
	free(b->buf);
	b->buf = p;
	b->size = want;
	return 0;
}

/* Feeds len bytes at p, the file's next ones, to w. */
static int feed(struct direct_writer *w, const char *p, size_t len)
{
	while (len) {
		size_t n;

		if (w->pos % A == 0 && (uintptr_t)p % A == 0 && len >= A) {
			/* whole blocks, lined up: from the caller's memory */
			n = len / A * A;
			if (n > DIRECT_MAX)
				n = DIRECT_MAX;
			if (flush_bounce(w) || pwrite_all(w->fd, p, n, w->pos))
				return -1;
		} else {
			n = w->b->size - w->fill;
			if (n > len)
				n = len;
			memcpy(w->b->buf + w->fill, p, n);
			w->fill += n;
		}
		w->pos += n;
		p += n;
		len -= n;
		if (w->fill == w->b->size && flush_bounce(w))
			return -1;
	}
	return 0;
}

/* Writes w's range of its iov; sets w->rc (and w->err). */
static void *write_range(void *arg)
{
	struct direct_writer *w = arg;
	uint64_t at = 0; /* file offset of iov[i] */

	w->pos = w->lo;
	w->rc = size_bounce(w->b, w->hi - w->lo);
	for (int i = 0; !w->rc && i < w->iovcnt && at < w->hi; i++) {
		uint64_t len = w->iov[i].iov_len, from = w->lo > at ? w->lo - at : 0;
		uint64_t to = w->hi - at < len ? w->hi - at : len;

		if (from < to)
			w->rc = feed(w, (const char *)w->iov[i].iov_base + from, (size_t)(to - from));
		at += len;
	}
	if (!w->rc)
		w->rc = flush_bounce(w);
	w->err = errno;
	return NULL;
}

int lt_ckpt_direct_write(int fd, struct lt_ckpt_bounce b[LT_CKPT_DIRECT_WRITERS],
			 const struct iovec *iov, int iovcnt)
{
	struct direct_writer w[LT_CKPT_DIRECT_WRITERS];
	pthread_t t[LT_CKPT_DIRECT_WRITERS];
	bool started[LT_CKPT_DIRECT_WRITERS] = { false };
	uint64_t total = 0, part;
	int n;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	n = (int)(total / WRITER_MIN);
	n = n < 1 ? 1 : n > LT_CKPT_DIRECT_WRITERS ? LT_CKPT_DIRECT_WRITERS : n;
	part = total / (uint64_t)n / BOUNCE_MAX * BOUNCE_MAX;
	if (n > 1)
		/* best effort: the blocks at once, and the length that lets the
		 * writers share the file */
		(void)fallocate(fd, 0, 0, (off_t)total);
	for (int k = 0; k < n; k++) {
		w[k] = (struct direct_writer){ .fd = fd, .b = &b[k], .iov = iov, .iovcnt = iovcnt,
					       .lo = part * (uint64_t)k,
					       .hi = k == n - 1 ? total : part * (uint64_t)(k + 1) };
		if (k)
			started[k] = !lt_thread_start(&t[k], write_range, &w[k]);
		if (k && !started[k])
			write_range(&w[k]); /* no thread: this one writes it */
	}
	write_range(&w[0]);
	for (int k = 1; k < n; k++)
		if (started[k])
			pthread_join(t[k], NULL);
	for (int k = 0; k < n; k++)
		if (w[k].rc) {
			errno = w[k].err;
			return -1;
		}
	return 0;
}

void lt_ckpt_bounce_free(struct lt_ckpt_bounce *b)
{
	free(b->buf);
	b->buf = NULL;
	b->size = 0;
}
