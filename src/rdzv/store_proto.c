/*
 * store_proto.c - parsing, checking and writing the store's messages
 * (store_proto.h).  Pure functions on byte buffers: no I/O.
 */
#include "rdzv/store_proto.h"
#include "core/sha256.h"

#include <string.h>

_Static_assert(LT_STORE_PROOF_BYTES == LT_SHA256_BYTES, "a proof is one HMAC-SHA256");

void lt_store_proof(const uint8_t token[LT_STORE_TOKEN_BYTES], enum lt_store_side side,
		    const uint8_t *server_nonce, const uint8_t *client_nonce,
		    uint8_t proof[LT_STORE_PROOF_BYTES])
{
	static const char client[] = "ltrun-store-client", server[] = "ltrun-store-server";
	uint8_t msg[sizeof(client) + 2 * LT_STORE_CHALLENGE_BYTES];

	_Static_assert(sizeof(client) == sizeof(server), "labels of one length");
	memcpy(msg, side == LT_STORE_CLIENT_SIDE ? client : server, sizeof(client));
	memcpy(msg + sizeof(client), server_nonce, LT_STORE_CHALLENGE_BYTES);
	memcpy(msg + sizeof(client) + LT_STORE_CHALLENGE_BYTES, client_nonce,
	       LT_STORE_CHALLENGE_BYTES);
	lt_hmac_sha256(token, LT_STORE_TOKEN_BYTES, msg, sizeof(msg), proof);
}

enum lt_store_parse lt_store_msg_parse(const uint8_t *buf, size_t len, size_t max_payload,
				       struct lt_store_msg *m)
{
	size_t payload, pos;

	m->size = 0;
	m->nfields = 0;
	if (len > 0 && buf[0] != LT_STORE_VERSION)
		return LT_STORE_MALFORMED;
	if (len < LT_STORE_HEADER_BYTES)
		return LT_STORE_NEED_MORE;
	payload = lt_store_get_u32(buf + 2);
	if (payload > max_payload)
		return LT_STORE_MALFORMED;
	m->code = buf[1];
	m->size = LT_STORE_HEADER_BYTES + payload;
	if (len < m->size)
		return LT_STORE_NEED_MORE;
	for (pos = LT_STORE_HEADER_BYTES; pos < m->size;) {
		uint32_t n;

		if (m->size - pos < 4 || m->nfields == m->max_fields)
			return LT_STORE_MALFORMED;
		n = lt_store_get_u32(buf + pos);
		pos += 4;
		if (n > m->size - pos)
			return LT_STORE_MALFORMED;
		m->field[m->nfields++] = (struct lt_store_field){ buf + pos, n };
		pos += n;
	}
	return LT_STORE_COMPLETE;
}

static int is_key(const struct lt_store_field *f)
{
	return f->len >= 1 && f->len <= LT_STORE_MAX_KEY;
}

static int is_value(const struct lt_store_field *f)
{
	return f->len <= LT_STORE_MAX_VALUE;
}

static int check_wait(const struct lt_store_msg *m)
{
	if (m->nfields < 2 || m->nfields > LT_STORE_MAX_FIELDS || m->field[0].len != 4)
		return -1;
	for (size_t i = 1; i < m->nfields; i++)
		if (!is_key(&m->field[i]))
			return -1;
	return 0;
}

int lt_store_request_check(const struct lt_store_msg *m)
{
	const struct lt_store_field *f = m->field;
	int ok;

	switch (m->code) {
	case LT_STORE_SET:
	case LT_STORE_HOLD:
		ok = m->nfields == 2 && is_key(&f[0]) && is_value(&f[1]);
		break;
	case LT_STORE_GET:
		ok = m->nfields == 2 && is_key(&f[0]) && f[1].len == 4;
		break;
	case LT_STORE_ADD:
		ok = m->nfields == 2 && is_key(&f[0]) && f[1].len == 8;
		break;
	case LT_STORE_WAIT:
		return check_wait(m);
	case LT_STORE_CAS:
		ok = m->nfields == 3 && is_key(&f[0]) && is_value(&f[1]) && is_value(&f[2]);
		break;
	case LT_STORE_DELETE:
		ok = m->nfields == 1 && is_key(&f[0]);
		break;
	case LT_STORE_NUM_KEYS:
		ok = m->nfields == 0;
		break;
	default:
		ok = 0;
	}
	return ok ? 0 : -1;
}

size_t lt_store_msg_size(const struct lt_store_field *fields, size_t n)
{
	size_t size = LT_STORE_HEADER_BYTES;

	for (size_t i = 0; i < n; i++)
		size += 4 + (size_t)fields[i].len;
	return size;
}

void lt_store_msg_write(uint8_t *out, uint8_t code, const struct lt_store_field *fields,
			size_t n)
{
	size_t pos = LT_STORE_HEADER_BYTES;

	out[0] = LT_STORE_VERSION;
	out[1] = code;
	lt_store_put_u32(out + 2, (uint32_t)(lt_store_msg_size(fields, n) - LT_STORE_HEADER_BYTES));
	for (size_t i = 0; i < n; i++) {
		lt_store_put_u32(out + pos, fields[i].len);
		if (fields[i].len)
			memcpy(out + pos + 4, fields[i].p, fields[i].len);
		pos += 4 + (size_t)fields[i].len;
	}
}
