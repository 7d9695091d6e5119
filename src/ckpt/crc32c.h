/*
 * crc32c.h - CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41),
 * the checksum ltrun keeps per tensor in a checkpoint's header.  Uses the
 * SSE4.2 crc32 instruction, three streams at a time, when the CPU has it
 * (checked once, at run time), else slicing-by-8 tables.
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
/* The same, always with the tables (for the tests: both paths agree). */
uint32_t lt_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 when lt_crc32c uses the crc32 instruction. */
int lt_crc32c_hw_available(void);

#endif
