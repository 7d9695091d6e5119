/*
 * direct.h - writing a checkpoint file's bytes with O_DIRECT, past the
 * page cache.  A buffered write of a new file must take a fresh page of
 * the page cache for every 4 KB written; in a virtual machine whose host
 * reclaims the guest's free memory (free page reporting, a balloon), the
 * first touch of each such page is a fault on the host, and a first save
 * of 1 GB ran at 0.3-0.5 GB/s for that alone (bench/README.md).  A direct
 * write takes no page: the bytes go from the caller's buffers, or from a
 * small bounce buffer that stays resident from save to save, to the disk.
 */
#ifndef LT_CKPT_DIRECT_H
#define LT_CKPT_DIRECT_H

#include <stddef.h>
#include <sys/uio.h>

/* Offsets, lengths and buffer addresses of direct writes are multiples of
 * this (what every common block device and filesystem accepts). */
#define LT_CKPT_DIRECT_ALIGN ((size_t)4096)
/* Threads that write one file at most: each has a bounce buffer. */
#define LT_CKPT_DIRECT_WRITERS 4

/* The bounce buffer: unaligned bytes are copied through it.  Zeroed
 * (LT_CKPT_BOUNCE_INIT) before the first use; kept between writes. */
struct lt_ckpt_bounce {
	char *buf;   /* LT_CKPT_DIRECT_ALIGN-aligned, size bytes; NULL until first use */
	size_t size;
};

#define LT_CKPT_BOUNCE_INIT { .buf = NULL, .size = 0 }

/* Turns O_DIRECT on for fd.  Returns 0, or -1 with errno (EINVAL: this
 * filesystem takes no direct IO); fd is unchanged then. */
int lt_ckpt_direct_on(int fd);

/* Writes every byte of iov to fd (O_DIRECT on) from offset 0, with
 * pwrite, a large file by up to LT_CKPT_DIRECT_WRITERS threads (a part
 * each): bytes whose address
 * lines up with their file offset straight from the caller's memory, the
 * others through the bounce buffers b (one a thread).  The last block is
 * padded with zeros, so the file may end up to LT_CKPT_DIRECT_ALIGN - 1
 * bytes longer than iov: the caller truncates it to length.  Returns 0,
 * or -1 with errno; EINVAL means the filesystem refused a direct write
 * (the caller may turn O_DIRECT off and write again from offset 0), ENOMEM
 * that a bounce could not be allocated.  Nothing is durable until fsync. */
int lt_ckpt_direct_write(int fd, struct lt_ckpt_bounce b[LT_CKPT_DIRECT_WRITERS],
			 const struct iovec *iov, int iovcnt);

/* Frees b's buffer; b can be used again. */
void lt_ckpt_bounce_free(struct lt_ckpt_bounce *b);

#endif
