/*
 * store_proto.c - parsing and building the store's frames (store_proto.h).
 */
#include "launch/store_proto.h"

#include <string.h>

int lt_store_frame_parse(const uint8_t *buf, size_t len, struct lt_store_frame *f)
{
	uint32_t payload;
	size_t pos;

	if (len < LT_STORE_HEADER_BYTES)
		return len && buf[0] != LT_STORE_VERSION ? -1 : 0;
	if (buf[0] != LT_STORE_VERSION)
		return -1;
	payload = lt_get_u32(buf + 2);
	if (payload > LT_STORE_MAX_PAYLOAD)
		return -1;
	if (len < LT_STORE_HEADER_BYTES + (size_t)payload)
		return 0;
	f->code = buf[1];
	f->size = LT_STORE_HEADER_BYTES + (size_t)payload;
	f->nfields = 0;
	for (pos = LT_STORE_HEADER_BYTES; pos < f->size;) {
		uint32_t n;
		if (f->size - pos < 4 || f->nfields == LT_STORE_MAX_FIELDS)
			return -1;
		n = lt_get_u32(buf + pos);
		pos += 4;
		if (n > f->size - pos)
			return -1;
		f->field[f->nfields++] = (struct lt_store_field){ buf + pos, n };
		pos += n;
	}
	return 1;
}

static int is_key(const struct lt_store_field *k)
{
	return k->len >= 1 && k->len <= LT_STORE_MAX_KEY;
}

int lt_store_request_check(const struct lt_store_frame *f)
{
	const struct lt_store_field *x = f->field;

	switch (f->code) {
	case LT_STORE_SET:
		return f->nfields == 2 && is_key(&x[0]) && x[1].len <= LT_STORE_MAX_VALUE ? 0 : -1;
	case LT_STORE_GET:
		return f->nfields == 2 && is_key(&x[0]) && x[1].len == 4 ? 0 : -1;
	case LT_STORE_ADD:
		return f->nfields == 2 && is_key(&x[0]) && x[1].len == 8 ? 0 : -1;
	case LT_STORE_WAIT:
		if (f->nfields < 2 || x[0].len != 4)
			return -1;
		for (size_t i = 1; i < f->nfields; i++)
			if (!is_key(&x[i]))
				return -1;
		return 0;
	case LT_STORE_CAS:
		return f->nfields == 3 && is_key(&x[0]) && x[1].len <= LT_STORE_MAX_VALUE &&
		       x[2].len <= LT_STORE_MAX_VALUE ? 0 : -1;
	case LT_STORE_DELETE:
		return f->nfields == 1 && is_key(&x[0]) ? 0 : -1;
	case LT_STORE_NUM_KEYS:
		return f->nfields == 0 ? 0 : -1;
	default:
		return -1;
	}
}

size_t lt_store_frame_size(const struct lt_store_field *fields, size_t n)
{
	size_t size = LT_STORE_HEADER_BYTES;

	for (size_t i = 0; i < n; i++)
		size += 4 + fields[i].len;
	return size;
}

size_t lt_store_frame_build(uint8_t *out, size_t cap, uint8_t code,
			    const struct lt_store_field *fields, size_t n)
{
	size_t size = lt_store_frame_size(fields, n), pos = LT_STORE_HEADER_BYTES;

	if (size > cap || size - LT_STORE_HEADER_BYTES > LT_STORE_MAX_PAYLOAD)
		return 0;
	out[0] = LT_STORE_VERSION;
	out[1] = code;
	lt_put_u32(out + 2, (uint32_t)(size - LT_STORE_HEADER_BYTES));
	for (size_t i = 0; i < n; i++) {
		lt_put_u32(out + pos, fields[i].len);
		if (fields[i].len)
			memcpy(out + pos + 4, fields[i].p, fields[i].len);
		pos += 4 + fields[i].len;
	}
	return size;
}
