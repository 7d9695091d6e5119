/*
 * io.h - write(2) that does not stop half way.
 *
 * lt_write_all() is async-signal-safe (it calls only write(2)), so the
 * fatal-signal handler of rank/fatal.c may use it.
 */
#ifndef LT_CORE_IO_H
#define LT_CORE_IO_H

#include <stddef.h>

/* Writes the n bytes at p to fd, resuming short writes and writes
 * interrupted by a signal (EINTR).  Returns 0, or -1 with errno set
 * (EIO for a write that wrote nothing) when a write fails: part of the
 * bytes may then have been written. */
int lt_write_all(int fd, const void *p, size_t n);

#endif
