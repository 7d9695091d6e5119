/*
 * crc32c.h - CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41),
 * the checksum ltrun keeps per tensor in a checkpoint's header, with the
 * fastest kernel the CPU runs (checked once, at run time): AVX-512
 * carry-less multiplication ("vpclmul"), SSE carry-less multiplication
 * for copies with the crc32 instruction for checksums ("pclmul"), the
 * SSE4.2 crc32 instruction ("sse42"), or slicing-by-8 tables ("table").
 */
#ifndef LT_CKPT_CRC32C_H
#define LT_CKPT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of len bytes at buf continuing crc (0 to start):
 * lt_crc32c(lt_crc32c(0, a, n), b, m) is the CRC of a followed by b.
 * "123456789" gives 0xe3069283.  Cannot fail. */
uint32_t lt_crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC of a followed by b from crc_a = CRC of a, crc_b = CRC of b
 * and b's length: what lets pieces of a buffer be checksummed on
 * several threads.  Cannot fail. */
uint32_t lt_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
/* Copies len bytes from src to dst (which must not overlap) and returns
 * their CRC continuing crc, reading src once: what a load does with the
 * bytes of a mapped checkpoint.  Copies of 1 MiB and more bypass the
 * caches (streaming stores).  Cannot fail. */
uint32_t lt_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len);
/* The kernel in use: "vpclmul", "pclmul", "sse42" or "table". */
const char *lt_crc32c_kernel(void);
/* Makes every later call use kernel name (NULL: the best this CPU runs;
 * for the tests and the benchmark).  Returns 0, or -1 when the name is
 * unknown or the CPU lacks what that kernel needs (nothing changes). */
int lt_crc32c_use_kernel(const char *name);

#endif
