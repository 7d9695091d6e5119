/*
 * fuzz_store_proto.c - libFuzzer target for the store's message parser and
 * request check (store_proto.c), which the server runs on every byte a
 * client sends.  The input is read as the server reads a connection: one
 * message after another until one is incomplete or malformed.  Each whole
 * message must have fields inside it that add up to its size, must write
 * back to the same bytes, and every shorter prefix of it must be "need
 * more", never "malformed".  The first message is also read as the server
 * reads one before login.  Seed corpus: corpus/store_proto/ (protocol
 * version 2; "bad-version" is version 1's).
 */
#include "rdzv/store_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lt_store_field fields[LT_STORE_MAX_FIELDS];

static void check_complete(const uint8_t *msg, const struct lt_store_msg *m)
{
	struct lt_store_msg again = { .field = fields, .max_fields = LT_STORE_MAX_FIELDS };
	size_t total = LT_STORE_HEADER_BYTES;
	uint8_t *copy;

	for (size_t i = 0; i < m->nfields; i++) {
		if (m->field[i].p < msg + total + 4 || m->field[i].p + m->field[i].len > msg + m->size)
			abort();
		total += 4 + (size_t)m->field[i].len;
	}
	if (total != m->size || lt_store_msg_size(m->field, m->nfields) != m->size)
		abort();
	copy = malloc(m->size);
	if (!copy)
		return;
	lt_store_msg_write(copy, m->code, m->field, m->nfields);
	if (memcmp(copy, msg, m->size))
		abort();
	free(copy);
	for (size_t k = 0; k < m->size; k += k < 64 ? 1 : 61)
		if (lt_store_msg_parse(msg, k, LT_STORE_MAX_PAYLOAD, &again) != LT_STORE_NEED_MORE)
			abort();
}

/* What the request check accepts is what the server relies on. */
static void check_request(const struct lt_store_msg *m)
{
	size_t first_key = m->code == LT_STORE_WAIT ? 1 : 0;

	if (lt_store_request_check(m))
		return;
	if (m->code == LT_STORE_NUM_KEYS)
		return;
	for (size_t i = first_key; i < (m->code == LT_STORE_WAIT ? m->nfields : 1); i++)
		if (m->field[i].len < 1 || m->field[i].len > LT_STORE_MAX_KEY)
			abort();
	if ((m->code == LT_STORE_GET && m->field[1].len != 4) ||
	    (m->code == LT_STORE_ADD && m->field[1].len != 8) ||
	    (m->code == LT_STORE_WAIT && m->field[0].len != 4))
		abort();
}

/* Before login the server reads with the AUTH limit: nothing bigger than
 * an AUTH (a nonce and a proof) is ever complete. */
static void check_login(const uint8_t *data, size_t size)
{
	struct lt_store_msg m = { .field = fields, .max_fields = LT_STORE_MAX_FIELDS };

	if (lt_store_msg_parse(data, size, LT_STORE_AUTH_PAYLOAD, &m) == LT_STORE_COMPLETE &&
	    m.size > LT_STORE_HEADER_BYTES + LT_STORE_AUTH_PAYLOAD)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	check_login(data, size);

	while (off < size) {
		struct lt_store_msg m = { .field = fields, .max_fields = LT_STORE_MAX_FIELDS };
		enum lt_store_parse rc = lt_store_msg_parse(data + off, size - off,
							    LT_STORE_MAX_PAYLOAD, &m);

		if (rc == LT_STORE_NEED_MORE && m.size && m.size <= size - off)
			abort();
		if (rc != LT_STORE_COMPLETE)
			break;
		if (m.size > size - off)
			abort();
		check_complete(data + off, &m);
		check_request(&m);
		off += m.size;
	}
	return 0;
}
