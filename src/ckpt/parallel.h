/*
 * parallel.h - the checkpoint work that runs on several threads: the
 * CRC-32C of the tensors a save writes, and a load's reads with their
 * checksums.  Both cut the bytes into pieces of a few MB, hand them to up
 * to one thread a CPU, and join the pieces' CRCs (lt_crc32c_combine), so
 * a single large tensor is spread as well as many small ones.
 */
#ifndef LT_CKPT_PARALLEL_H
#define LT_CKPT_PARALLEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"
#include "ckpt/io.h"

/* crc[i] = CRC-32C of t[i].data (t[i].bytes of it).  Cannot fail: a
 * thread that cannot start has its share done by the caller. */
void lt_ckpt_checksum_tensors(const struct lt_ckpt_tensor *t, size_t n, uint32_t *crc);

/* Reads len bytes of file rel from offset off into dst through io, and
 * sets *crc to their CRC-32C.  Reads of many MB go on several threads
 * when io->parallel_reads says the IO allows it, each piece checksummed
 * while it is still in cache.  Returns 0, or -1 with err from the first
 * read that failed (dst then holds part of the bytes). */
int lt_ckpt_read_checked(const struct lt_ckpt_io_ops *io, void *state, const char *rel,
			 uint64_t off, void *dst, size_t len, uint32_t *crc, struct lt_err *err);

#endif
