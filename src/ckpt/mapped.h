/*
 * mapped.h - reading a checkpoint file's bytes through a memory mapping,
 * copied into place and checksummed in one pass (lt_crc32c_copy): a load
 * then reads each byte once, where pread would copy it out of the page
 * cache and the checksum read it again.
 *
 * A mapping raises SIGBUS when the file shrinks (or the disk fails) under
 * it: while a copy runs, a handler installed at the first call turns that
 * into an error return for the thread that was copying.  A SIGBUS that is
 * not such a fault goes to what handled SIGBUS before.
 */
#ifndef LT_CKPT_MAPPED_H
#define LT_CKPT_MAPPED_H

#include <stddef.h>
#include <stdint.h>

enum lt_mapped_result {
	LT_MAPPED_OK = 0,
	LT_MAPPED_NO_MAP = -1, /* no mapping (errno says why): read another way */
	LT_MAPPED_FAULT = 1,   /* the file ended, or its disk failed, during the copy */
};

/* Copies len bytes of the file open as fd, from offset off (which the
 * caller has checked is within the file), into dst, and sets *crc to
 * their CRC-32C.  On LT_MAPPED_FAULT dst holds part of the bytes. */
enum lt_mapped_result lt_ckpt_mapped_read(int fd, uint64_t off, void *dst, size_t len,
					  uint32_t *crc);

#endif
