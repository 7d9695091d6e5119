/*
 * sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the
 * store's challenge-response and for tokens derived from a job's identity.
 */
#ifndef LT_CORE_SHA256_H
#define LT_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define LT_SHA256_BYTES 32

struct lt_sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t block[64];
	size_t used;
};

void lt_sha256_init(struct lt_sha256_ctx *c);
void lt_sha256_update(struct lt_sha256_ctx *c, const void *data, size_t len);
void lt_sha256_final(struct lt_sha256_ctx *c, uint8_t out[LT_SHA256_BYTES]);

/* One-shot digest of data. */
void lt_sha256(const void *data, size_t len, uint8_t out[LT_SHA256_BYTES]);

void lt_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		    uint8_t out[LT_SHA256_BYTES]);

/* Compares n bytes in time independent of where they differ; 0 if equal. */
int lt_memcmp_const(const void *a, const void *b, size_t n);

#endif
