/*
 * store_proto.h - the embedded store's wire protocol, shared by the server
 * (store_server.c), the client (store_client.c) and the fuzzer.
 *
 * Every message, both ways, is
 *
 *	version (u8) | code (u8) | payload length (u32) | payload
 *
 * and a payload is a sequence of fields, each a u32 length and its bytes.
 * Integers are little endian.  A message whose version is not ours, whose
 * payload is over the limit of the connection's state, or whose fields do
 * not add up to its payload is malformed, and the server closes that
 * connection.
 *
 * Handshake, mutual: each side proves it holds the job's token without
 * sending it, over two fresh nonces, so neither a client nor a server
 * without the token gets anywhere:
 *
 *   server  CHALLENGE {server nonce (32 random bytes)}
 *   client  AUTH {client nonce (32 random bytes), client proof}
 *   server  OK {server proof}, or REFUSED {reason} and closes
 *
 * where a proof is HMAC-SHA256(token, label | server nonce | client nonce)
 * and the label says who proves ("ltrun-store-client", "ltrun-store-
 * server"): a proof can neither be replayed (fresh nonces) nor reflected
 * to the other side (the label).  The client drops a server whose proof is
 * wrong.  Then requests, each answered in order:
 *
 *   request   fields                              answer OK fields
 *   SET       key, value                          -
 *   GET       key, timeout_ms (u32)               value          (or TIMEOUT)
 *   ADD       key, delta (i64)                    new value (i64)
 *   WAIT      timeout_ms (u32), key...            -              (or TIMEOUT)
 *   CAS       key, expected, desired              swapped (u8), current value
 *   DELETE    key                                 existed (u8)
 *   NUM_KEYS  -                                   count (i64)
 *   HOLD      key, value                          -
 *
 * HOLD is SET for as long as the connection lives: the server deletes the
 * key when the connection closes, as a dead process's do (an elastic
 * agent's presence; at most LT_STORE_MAX_HELD keys a connection).
 *
 * TIMEOUT answers a GET with {}, a WAIT with {index of the first missing
 * key (u32), number missing (u32)}.  ERROR carries {message}.
 */
#ifndef LT_RDZV_STORE_PROTO_H
#define LT_RDZV_STORE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "rdzv/store.h"

#define LT_STORE_VERSION 2
#define LT_STORE_HEADER_BYTES 6
#define LT_STORE_CHALLENGE_BYTES 32 /* a nonce, either side's */
#define LT_STORE_PROOF_BYTES 32
#define LT_STORE_MAX_WAIT_KEYS 4096
#define LT_STORE_MAX_FIELDS (1 + LT_STORE_MAX_WAIT_KEYS)
/* Before AUTH succeeds, only a payload of two 32-byte fields (AUTH: a
 * nonce and a proof) is allowed. */
#define LT_STORE_AUTH_PAYLOAD (2 * (4 + LT_STORE_CHALLENGE_BYTES))
/* The largest payload: a CAS (a key and two values; a WAIT on the most
 * keys is smaller). */
#define LT_STORE_MAX_PAYLOAD (3 * 4 + LT_STORE_MAX_KEY + 2 * (size_t)LT_STORE_MAX_VALUE)
#define LT_STORE_MAX_MESSAGE (LT_STORE_HEADER_BYTES + LT_STORE_MAX_PAYLOAD)

/* Client to server. */
enum lt_store_op {
	LT_STORE_AUTH = 1,
	LT_STORE_SET,
	LT_STORE_GET,
	LT_STORE_ADD,
	LT_STORE_WAIT,
	LT_STORE_CAS,
	LT_STORE_DELETE,
	LT_STORE_NUM_KEYS,
	LT_STORE_HOLD,
};

#define LT_STORE_MAX_HELD 8

/* Server to client. */
enum lt_store_reply {
	LT_STORE_CHALLENGE = 0x80,
	LT_STORE_OK,
	LT_STORE_TIMEOUT,
	LT_STORE_ERROR,
	LT_STORE_REFUSED,
};

/* Bytes that belong to someone else: a field of a message in its buffer,
 * or the caller's data to be sent. */
struct lt_store_field {
	const uint8_t *p;
	uint32_t len;
};

/* A parsed message.  The caller points `field` at room for `max_fields`
 * fields before parsing; a message with more is malformed. */
struct lt_store_msg {
	uint8_t code;
	size_t size; /* bytes of the whole message, header included */
	size_t nfields;
	struct lt_store_field *field;
	size_t max_fields;
};

enum lt_store_parse {
	LT_STORE_MALFORMED = -1,
	LT_STORE_NEED_MORE = 0,
	LT_STORE_COMPLETE = 1,
};

/* Parses the message at the start of buf[0..len).  Returns COMPLETE (m
 * filled, its fields pointing into buf), NEED_MORE (m->size is then the
 * whole message's size once the header is in, else 0), or MALFORMED (wrong
 * version, payload over max_payload, fields that do not add up). */
enum lt_store_parse lt_store_msg_parse(const uint8_t *buf, size_t len, size_t max_payload,
				       struct lt_store_msg *m);

/* Checks a parsed request against its opcode: number of fields, keys of
 * 1..LT_STORE_MAX_KEY bytes, values up to LT_STORE_MAX_VALUE, integer
 * widths.  AUTH is not a request.  Returns 0, or -1. */
int lt_store_request_check(const struct lt_store_msg *m);

/* Who proves holding the token in the handshake. */
enum lt_store_side { LT_STORE_CLIENT_SIDE, LT_STORE_SERVER_SIDE };

/* Writes side's proof of token over the two nonces (LT_STORE_CHALLENGE_
 * BYTES each) to proof.  Cannot fail. */
void lt_store_proof(const uint8_t token[LT_STORE_TOKEN_BYTES], enum lt_store_side side,
		    const uint8_t *server_nonce, const uint8_t *client_nonce,
		    uint8_t proof[LT_STORE_PROOF_BYTES]);

/* The size of a message with these fields. */
size_t lt_store_msg_size(const struct lt_store_field *fields, size_t n);
/* Writes the message (lt_store_msg_size() bytes) to out.  The caller has
 * kept the payload within LT_STORE_MAX_PAYLOAD. */
void lt_store_msg_write(uint8_t *out, uint8_t code, const struct lt_store_field *fields,
			size_t n);

static inline void lt_store_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t lt_store_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void lt_store_put_i64(uint8_t *p, int64_t v)
{
	lt_store_put_u32(p, (uint32_t)(uint64_t)v);
	lt_store_put_u32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

static inline int64_t lt_store_get_i64(const uint8_t *p)
{
	return (int64_t)((uint64_t)lt_store_get_u32(p) | (uint64_t)lt_store_get_u32(p + 4) << 32);
}

#endif
