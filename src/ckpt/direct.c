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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/direct.h"

#define BOUNCE_MAX ((size_t)8 << 20) /* the bounce buffer's size at most */
#define DIRECT_MAX ((size_t)64 << 20) /* one write from the caller's memory at most */

#define A LT_CKPT_DIRECT_ALIGN

struct direct_writer {
	int fd;
	struct lt_ckpt_bounce *b;
	size_t fill;  /* bytes in the bounce: the file's [pos - fill, pos) */
	uint64_t pos; /* file offset of the next byte */
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

/* Sizes the bounce for a file of total bytes: BOUNCE_MAX, or less for a
 * smaller file; a buffer large enough already is kept. */
static int size_bounce(struct lt_ckpt_bounce *b, uint64_t total)
{
	size_t want = total < BOUNCE_MAX ? (size_t)(total + A - 1) / A * A : BOUNCE_MAX;
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

int lt_ckpt_direct_write(int fd, struct lt_ckpt_bounce *b, const struct iovec *iov, int iovcnt)
{
	struct direct_writer w = { .fd = fd, .b = b };
	uint64_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (size_bounce(b, total))
		return -1;
	for (int i = 0; i < iovcnt; i++)
		if (feed(&w, iov[i].iov_base, iov[i].iov_len))
			return -1;
	return flush_bounce(&w);
}

void lt_ckpt_bounce_free(struct lt_ckpt_bounce *b)
{
	free(b->buf);
	b->buf = NULL;
	b->size = 0;
}
