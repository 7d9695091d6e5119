/*
 * store_proto.h - the store's wire protocol, shared by server and client.
 *
 * Handshake: the server sends "LTST", the version byte and a 32-byte random
 * challenge; the client answers with the version byte and
 * HMAC-SHA256(token, challenge); the server replies one byte, 0 (welcome)
 * or 1 (wrong token, then closes).
 *
 * Then frames, both ways: a version byte, an opcode (request) or status
 * (response) byte, a little-endian u32 payload length, the payload.  A
 * payload is a sequence of fields, each a u32 length and its bytes.
 *
 *   op        request fields                    response (status OK) fields
 *   SET       key, value                        -
 *   GET       key, timeout_ms (u32)             value      (or TIMEOUT)
 *   ADD       key, delta (i64)                  new value (i64)
 *   WAIT      timeout_ms (u32), key...          -          (or TIMEOUT)
 *   CAS       key, expected, desired            swapped (u8), current value
 *   DELETE    key                               existed (u8)
 *   NUM_KEYS  -                                 count (i64)
 *
 * A status ERROR carries one field, the message.  Integers are little
 * endian.  Anything malformed or over the limits closes the connection.
 */
#ifndef LT_LAUNCH_STORE_PROTO_H
#define LT_LAUNCH_STORE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "launch/store.h"

#define LT_STORE_VERSION 1
#define LT_STORE_MAGIC "LTST"
#define LT_STORE_CHALLENGE_BYTES 32
#define LT_STORE_HELLO_BYTES (4 + 1 + LT_STORE_CHALLENGE_BYTES)
#define LT_STORE_ANSWER_BYTES (1 + 32)
#define LT_STORE_HEADER_BYTES 6
#define LT_STORE_MAX_FIELDS 4096
/* The largest payload: a CAS with a key and two values, or a WAIT on many
 * keys, with their length words. */
#define LT_STORE_MAX_PAYLOAD (2 * LT_STORE_MAX_VALUE + 64 * 1024)

enum lt_store_op {
	LT_STORE_SET = 1,
	LT_STORE_GET,
	LT_STORE_ADD,
	LT_STORE_WAIT,
	LT_STORE_CAS,
	LT_STORE_DELETE,
	LT_STORE_NUM_KEYS,
};

enum lt_store_status { LT_STORE_OK = 0, LT_STORE_TIMEOUT = 1, LT_STORE_ERROR = 2 };

struct lt_store_field {
	const uint8_t *p;
	uint32_t len;
};

struct lt_store_frame {
	uint8_t code;        /* opcode or status */
	size_t size;         /* bytes of the whole frame */
	size_t nfields;
	struct lt_store_field field[LT_STORE_MAX_FIELDS];
};

/* Parses the frame at the start of buf.  Returns 1 when a whole frame is
 * there (f filled, pointing into buf), 0 when more bytes are needed, -1
 * when it is malformed (wrong version, payload over the limit, fields that
 * do not add up to the payload, more than LT_STORE_MAX_FIELDS fields). */
int lt_store_frame_parse(const uint8_t *buf, size_t len, struct lt_store_frame *f);

/* Checks a request's fields against its opcode: the number of fields,
 * key lengths (1..LT_STORE_MAX_KEY), value lengths, integer widths.
 * Returns 0 or -1. */
int lt_store_request_check(const struct lt_store_frame *f);

/* Writes a frame with code and n fields into out (of size cap).  Returns
 * its size, or 0 when it does not fit. */
size_t lt_store_frame_build(uint8_t *out, size_t cap, uint8_t code,
			    const struct lt_store_field *fields, size_t n);
/* The size lt_store_frame_build needs for these fields. */
size_t lt_store_frame_size(const struct lt_store_field *fields, size_t n);

static inline void lt_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t lt_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void lt_put_i64(uint8_t *p, int64_t v)
{
	lt_put_u32(p, (uint32_t)(uint64_t)v);
	lt_put_u32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

static inline int64_t lt_get_i64(const uint8_t *p)
{
	return (int64_t)((uint64_t)lt_get_u32(p) | (uint64_t)lt_get_u32(p + 4) << 32);
}

#endif
