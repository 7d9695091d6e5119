/*
 * safetensors.c - the checkpoint file codec, safetensors-compatible: an
 * 8-byte little-endian header length N, N bytes of JSON ({"name":
 * {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {string: string}}, padded with spaces so the data starts 8-byte
 * aligned), then the tensors' little-endian bytes, contiguous and each
 * aligned to its element size (8-byte dtypes first, then 4, then 2, as the
 * safetensors library itself lays them out and requires).  ltrun adds
 * "format": "ltrun-ckpt-1" (unless the metadata names another) and
 * "checksum/<name>": "crc32c:<8 hex>" to the metadata.
 *
 * lt_safetensors_write() writes one file (one writev straight from the
 * caller's buffers); history.c names it step-<N>/model.safetensors and
 * keeps the list of checkpoints.  The reader (lt_ckpt_open...) validates
 * the whole header before anything is read and checks each tensor's
 * checksum as it reads it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "ckpt/crc32c.h"
#include "ckpt/safetensors.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/parallel.h"
#include "core/buf.h"
#include "core/dtype.h"

#define HEADER_MAX (100u << 20) /* what a reader accepts, as safetensors */
#define NAME_MAX_BYTES 255
#define EXACT_MAX 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */
#define VERIFY_CHUNK (4u << 20)

/* ------------------------------------------------------------ shapes */

/* Bytes of a tensor of dt and shape, false on overflow. */
static bool shape_bytes(enum lt_dtype dt, int ndim, const int64_t *shape, uint64_t *bytes)
{
	uint64_t b = lt_dtype_size(dt);

	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0 || __builtin_mul_overflow(b, (uint64_t)shape[i], &b))
			return false;
	*bytes = b;
	return true;
}

const char *lt_ckpt_shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t n = (size_t)snprintf(buf, size, "[");

	for (int i = 0; i < ndim && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, i ? ", " : "", shape[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
	return buf;
}

#define SHAPE_MAX LT_CKPT_SHAPE_MAX

/* ------------------------------------------------------------ strings */

/* Text built on an lt_buf that remembers running out of memory, so that a
 * header is built without a check after each piece. */
struct sbuf {
	struct lt_buf b;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!b->oom && lt_buf_append(&b->b, s, n))
		b->oom = true;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* s escaped for a JSON string, without the quotes. */
static void sb_json_chars(struct sbuf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			sb_add(b, e, 2);
		} else if (c < 0x20) {
			sb_printf(b, "\\u%04x", c);
		} else {
			sb_add(b, p, 1);
		}
	}
}

/* s as a JSON string, quotes included. */
static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	sb_json_chars(b, s);
	sb_add(b, "\"", 1);
}

/* A file's name as messages quote it: at most 256 bytes, no control characters. */
static char *label_dup(const char *base, const char *rel)
{
	char *s;
	size_t i;

	if (base) {
		size_t bl = strlen(base);

		while (bl > 1 && base[bl - 1] == '/')
			bl--;
		if (asprintf(&s, "%.*s/%s", (int)bl, base, rel) < 0)
			return NULL;
	} else if (!(s = strdup(rel))) {
		return NULL;
	}
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	if (i > 256)
		memcpy(s + 253, "...", 4);
	return s;
}

/* ------------------------------------------------------------ the reader */

struct entry {
	uint64_t begin; /* in the data, which starts at data_start */
	uint32_t crc;
	bool has_crc;
};

struct lt_ckpt_reader {
	const struct lt_ckpt_io_ops *io; /* NULL: parsed without IO */
	void *io_state;
	char *label; /* the file, as messages name it */
	char *rel;   /* the file, relative to the base */
	cJSON *root;
	cJSON *empty_meta; /* when the file has no __metadata__ */
	const cJSON *meta;
	struct lt_ckpt_tensor *t; /* names point into root */
	struct entry *e;
	size_t *by_name; /* indexes of t, sorted by name */
	size_t n;
	uint64_t data_start, file_size;
};

static const struct lt_ckpt_reader *sort_reader; /* qsort has no context argument */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(sort_reader->t[*(const size_t *)a].name, sort_reader->t[*(const size_t *)b].name);
}

static int cmp_begin(const void *a, const void *b)
{
	const struct lt_ckpt_reader *r = sort_reader;
	uint64_t x = r->e[*(const size_t *)a].begin, y = r->e[*(const size_t *)b].begin;

	return x < y ? -1 : x > y;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static void sort_by(struct lt_ckpt_reader *r, size_t *idx, int (*cmp)(const void *, const void *))
{
	pthread_mutex_lock(&sort_lock);
	sort_reader = r;
	qsort(idx, r->n, sizeof(*idx), cmp);
	sort_reader = NULL;
	pthread_mutex_unlock(&sort_lock);
}

/* The index in t of tensor name, or -1. */
static ssize_t find_tensor(const struct lt_ckpt_reader *r, const char *name)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, r->t[r->by_name[mid]].name);

		if (!c)
			return (ssize_t)r->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void lt_ckpt_close(struct lt_ckpt_reader *r)
{
	if (!r)
		return;
	cJSON_Delete(r->root);
	cJSON_Delete(r->empty_meta);
	free(r->t);
	free(r->e);
	free(r->by_name);
	free(r->label);
	free(r->rel);
	free(r);
}

const cJSON *lt_ckpt_meta(const struct lt_ckpt_reader *r)
{
	return r->meta;
}

const struct lt_ckpt_tensor *lt_ckpt_tensors(const struct lt_ckpt_reader *r, size_t *n)
{
	*n = r->n;
	return r->t;
}

const char *lt_ckpt_path(const struct lt_ckpt_reader *r)
{
	return r->rel;
}

const char *lt_ckpt_label(const struct lt_ckpt_reader *r)
{
	return r->label;
}

bool lt_ckpt_checksum(const struct lt_ckpt_reader *r, size_t i, uint32_t *crc)
{
	if (i >= r->n || !r->e[i].has_crc)
		return false;
	*crc = r->e[i].crc;
	return true;
}

/* A JSON number that is a non-negative integer a double holds exactly. */
bool lt_ckpt_json_uint(const cJSON *v, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= 0 && d <= EXACT_MAX) || (double)(uint64_t)d != d)
		return false;
	*out = (uint64_t)d;
	return true;
}

#define BAD(...) (lt_err_set(err, LT_EXIT_FAILURE, __VA_ARGS__), -1)

/* Fills r->t[i], r->e[i] from the header entry item. */
static int parse_entry(struct lt_ckpt_reader *r, size_t i, const cJSON *item, uint64_t data_size,
		       struct lt_err *err)
{
	struct lt_ckpt_tensor *t = &r->t[i];
	const cJSON *dt, *shape, *offs, *d;
	char q[LT_QUOTE_MAX], sh[SHAPE_MAX];
	uint64_t b, e, need, v;
	int k = 0;

	lt_quote(q, sizeof(q), item->string);
	t->name = item->string;
	if (!*t->name)
		return BAD("checkpoint '%s': a tensor has an empty name: the header is corrupt", r->label);
	if (strlen(t->name) > NAME_MAX_BYTES)
		return BAD("checkpoint '%s': tensor '%s': its name is longer than %d bytes",
			   r->label, q, NAME_MAX_BYTES);
	if (!cJSON_IsObject(item))
		return BAD("checkpoint '%s': tensor '%s': its entry is not a JSON object with dtype, shape and data_offsets",
			   r->label, q);
	dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
	offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
	if (!cJSON_IsString(dt))
		return BAD("checkpoint '%s': tensor '%s': no \"dtype\" string", r->label, q);
	if (!lt_dtype_from_st_name(dt->valuestring, &t->dtype)) {
		char qd[LT_QUOTE_MAX];
		return BAD("checkpoint '%s': tensor '%s': unknown dtype '%s' (ltrun reads F32, F64, F16, BF16, I32 and I64)",
			   r->label, q, lt_quote(qd, sizeof(qd), dt->valuestring));
	}
	if (!cJSON_IsArray(shape))
		return BAD("checkpoint '%s': tensor '%s': no \"shape\" array", r->label, q);
	cJSON_ArrayForEach(d, shape) {
		if (k == LT_MAX_DIMS)
			return BAD("checkpoint '%s': tensor '%s': its shape has more than %d dimensions",
				   r->label, q, LT_MAX_DIMS);
		if (!lt_ckpt_json_uint(d, &v))
			return BAD("checkpoint '%s': tensor '%s': shape entry %d is not a non-negative integer below 2^53",
				   r->label, q, k);
		t->shape[k++] = (int64_t)v;
	}
	t->ndim = k;
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
	    !lt_ckpt_json_uint(cJSON_GetArrayItem(offs, 0), &b) || !lt_ckpt_json_uint(cJSON_GetArrayItem(offs, 1), &e))
		return BAD("checkpoint '%s': tensor '%s': \"data_offsets\" is not [begin, end] of non-negative integers",
			   r->label, q);
	if (b > e)
		return BAD("checkpoint '%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
			   r->label, q, b, e);
	if (e > data_size)
		return BAD("checkpoint '%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the data's %" PRIu64 " bytes: the file is truncated",
			   r->label, q, b, e, data_size);
	lt_ckpt_shape_str(sh, sizeof(sh), t->ndim, t->shape);
	if (!shape_bytes(t->dtype, t->ndim, t->shape, &need))
		return BAD("checkpoint '%s': tensor '%s': shape %s of %s overflows 64 bits",
			   r->label, q, sh, lt_dtype_st_name(t->dtype));
	if (e - b != need)
		return BAD("checkpoint '%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes, but shape %s of %s needs %" PRIu64,
			   r->label, q, b, e, e - b, sh, lt_dtype_st_name(t->dtype), need);
	t->bytes = (size_t)need;
	t->data = NULL;
	r->e[i].begin = b;
	return 0;
}

/* Names unique, data ranges disjoint. */
static int check_layout(struct lt_ckpt_reader *r, struct lt_err *err)
{
	char q1[LT_QUOTE_MAX], q2[LT_QUOTE_MAX];
	size_t *idx, i, prev = SIZE_MAX;
	uint64_t prev_end = 0;
	int rc = 0;

	for (i = 0; i < r->n; i++)
		r->by_name[i] = i;
	sort_by(r, r->by_name, cmp_name);
	for (i = 1; i < r->n; i++)
		if (!strcmp(r->t[r->by_name[i - 1]].name, r->t[r->by_name[i]].name))
			return BAD("checkpoint '%s': tensor '%s' appears twice in the header",
				   r->label, lt_quote(q1, sizeof(q1), r->t[r->by_name[i]].name));
	idx = malloc((r->n ? r->n : 1) * sizeof(*idx));
	if (!idx)
		return BAD("checkpoint '%s': out of memory", r->label);
	for (i = 0; i < r->n; i++)
		idx[i] = i;
	sort_by(r, idx, cmp_begin);
	for (i = 0; i < r->n; i++) {
		size_t k = idx[i];

		if (!r->t[k].bytes)
			continue;
		if (prev != SIZE_MAX && r->e[k].begin < prev_end) {
			rc = BAD("checkpoint '%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s''s [%" PRIu64 ", %" PRIu64 "]",
				 r->label, lt_quote(q1, sizeof(q1), r->t[k].name), r->e[k].begin,
				 r->e[k].begin + r->t[k].bytes, lt_quote(q2, sizeof(q2), r->t[prev].name),
				 r->e[prev].begin, prev_end);
			break;
		}
		prev = k;
		prev_end = r->e[k].begin + r->t[k].bytes;
	}
	free(idx);
	return rc;
}

/* __metadata__: strings only; "checksum/<name>" must name a tensor and be crc32c:<8 hex>. */
static int parse_meta(struct lt_ckpt_reader *r, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], qv[LT_QUOTE_MAX];
	const cJSON *m;

	cJSON_ArrayForEach(m, r->meta) {
		const char *v = m->valuestring;
		unsigned int crc;
		ssize_t k;
		int used = 0;

		lt_quote(q, sizeof(q), m->string);
		if (!cJSON_IsString(m))
			return BAD("checkpoint '%s': __metadata__ '%s' is not a string (safetensors metadata holds strings only)",
				   r->label, q);
		if (strncmp(m->string, "checksum/", 9))
			continue;
		k = find_tensor(r, m->string + 9);
		if (k < 0)
			return BAD("checkpoint '%s': __metadata__ '%s' names no tensor of the file",
				   r->label, q);
		lt_quote(q, sizeof(q), m->string + 9);
		if (strlen(v) != 15 || strncmp(v, "crc32c:", 7) || strspn(v + 7, "0123456789abcdefABCDEF") != 8 ||
		    sscanf(v + 7, "%8x%n", &crc, &used) != 1 || used != 8)
			return BAD("checkpoint '%s': tensor '%s': checksum '%s' is not crc32c:<8 hex digits>",
				   r->label, q, lt_quote(qv, sizeof(qv), v));
		r->e[k].crc = crc;
		r->e[k].has_crc = true;
	}
	return 0;
}

static struct lt_ckpt_reader *parse_header(const char *label, const char *rel, const void *header,
					   size_t len, uint64_t file_size, struct lt_err *err)
{
	struct lt_ckpt_reader *r;
	const char *end = NULL;
	const cJSON *item;
	uint64_t data_size;
	size_t i, count = 0;

	r = calloc(1, sizeof(*r));
	if (!r || !(r->label = strdup(label)) || !(r->rel = strdup(rel))) {
		lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s': out of memory", label);
		goto out_free;
	}
	if (file_size < 8 || len > file_size - 8) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s': header length %zu runs past the end of the file (%" PRIu64 " bytes): the file is truncated or not safetensors",
			   label, len, file_size);
		goto out_free;
	}
	data_size = file_size - 8 - len;
	r->data_start = 8 + len;
	r->file_size = file_size;
	r->root = len ? cJSON_ParseWithLengthOpts(header, len, &end, 0) : NULL;
	if (!r->root) {
		size_t at = end && end >= (const char *)header ? (size_t)(end - (const char *)header) : 0;

		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s': its header is not valid JSON (near byte %zu of %zu): the file is corrupt or not safetensors",
			   label, at, len);
		goto out_free;
	}
	for (; end < (const char *)header + len; end++)
		if (!strchr(" \t\r\n", *end) || !*end) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "checkpoint '%s': its header has bytes after the JSON (at byte %zu): the file is corrupt",
				   label, (size_t)(end - (const char *)header));
			goto out_free;
		}
	if (!cJSON_IsObject(r->root)) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s': its header is not a JSON object: the file is corrupt or not safetensors",
			   label);
		goto out_free;
	}
	cJSON_ArrayForEach(item, r->root) {
		if (!strcmp(item->string, "__metadata__")) {
			if (r->meta || !cJSON_IsObject(item)) {
				lt_err_set(err, LT_EXIT_FAILURE,
					   "checkpoint '%s': __metadata__ is %s: it must be one object of strings",
					   label, r->meta ? "given twice" : "not an object");
				goto out_free;
			}
			r->meta = item;
		} else {
			count++;
		}
	}
	r->n = count;
	r->t = calloc(count ? count : 1, sizeof(*r->t));
	r->e = calloc(count ? count : 1, sizeof(*r->e));
	r->by_name = calloc(count ? count : 1, sizeof(*r->by_name));
	if (!r->t || !r->e || !r->by_name) {
		lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s': out of memory for %zu tensors", label, count);
		goto out_free;
	}
	i = 0;
	cJSON_ArrayForEach(item, r->root)
		if (item != r->meta && parse_entry(r, i++, item, data_size, err))
			goto out_free;
	if (check_layout(r, err))
		goto out_free;
	if (!r->meta) {
		if (!(r->empty_meta = cJSON_CreateObject())) {
			lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s': out of memory", label);
			goto out_free;
		}
		r->meta = r->empty_meta;
	}
	if (parse_meta(r, err))
		goto out_free;
	return r;
out_free:
	lt_ckpt_close(r);
	return NULL;
}

struct lt_ckpt_reader *lt_ckpt_parse_header(const char *name, const void *header, size_t len,
					    uint64_t file_size, struct lt_err *err)
{
	return parse_header(name ? name : "(header)", name ? name : "(header)", header, len,
			    file_size, err);
}

char *lt_ckpt_resolve(const struct lt_ckpt_io_ops *io, void *st, const char *base, const char *where,
		     struct lt_err *err)
{
	char buf[64], *label, *rel = NULL;
	size_t wl = strlen(where), n;
	uint64_t size;
	int64_t step;

	if (wl > 12 && !strcmp(where + wl - 12, ".safetensors"))
		return strdup(where);
	if (lt_ckpt_parse_step(where, wl, &step)) {
		if (asprintf(&rel, "%s/" LT_CKPT_MODEL_FILE, where) < 0)
			return NULL;
		return rel;
	}
	label = label_dup(base, where);
	if (!label)
		return NULL;
	if (strcmp(where, "last")) {
		lt_err_set(err, LT_EXIT_USAGE,
			   "checkpoint '%s': give last, step-<N> or the path of a .safetensors file",
			   label);
		goto out_free;
	}
	if (io->size(st, "last", &size, err))
		goto out_free;
	if (size >= sizeof(buf)) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s' holds %" PRIu64 " bytes, not step-<N>: write the newest step-<N> into it",
			   label, size);
		goto out_free;
	}
	if (io->read(st, "last", 0, buf, (size_t)size, err))
		goto out_free;
	buf[size] = '\0';
	n = strcspn(buf, "\r\n");
	if (!lt_ckpt_parse_step(buf, n, &step) || strspn(buf + n, "\r\n") != (size_t)size - n) {
		char q[LT_QUOTE_MAX];
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s' holds '%s', not step-<N>: write the newest step-<N> into it",
			   label, lt_quote(q, sizeof(q), buf));
		goto out_free;
	}
	if (asprintf(&rel, "%.*s/" LT_CKPT_MODEL_FILE, (int)n, buf) < 0)
		rel = NULL;
out_free:
	free(label);
	return rel;
}

struct lt_ckpt_reader *lt_ckpt_open_at(const struct lt_ckpt_io_ops *io, void *io_state,
				       const char *base, const char *where, struct lt_err *err)
{
	struct lt_ckpt_reader *r = NULL;
	char *rel, *label = NULL, *hdr = NULL;
	unsigned char len8[8];
	uint64_t size, hlen = 0;
	struct lt_err e2 = { 0, "" };

	if (!base && io == &lt_ckpt_io_file)
		base = lt_ckpt_io_file_base(io_state);
	e2.msg[0] = '\0';
	rel = lt_ckpt_resolve(io, io_state, base, where, &e2);
	if (!rel) {
		if (!e2.msg[0])
			lt_err_set(&e2, LT_EXIT_FAILURE, "out of memory opening checkpoint '%s'", where);
		*err = e2;
		return NULL;
	}
	if (!(label = label_dup(base, rel))) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening checkpoint '%s'", where);
		goto out_free;
	}
	if (io->size(io_state, rel, &size, err))
		goto out_free;
	if (size < 8) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s' is %" PRIu64 " bytes, too short for a safetensors header: the file is truncated",
			   label, size);
		goto out_free;
	}
	if (io->read(io_state, rel, 0, len8, 8, err))
		goto out_free;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | len8[i];
	if (hlen > HEADER_MAX) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s': header length %" PRIu64 " is over the limit of %u bytes: the file is corrupt or not safetensors",
			   label, hlen, HEADER_MAX);
		goto out_free;
	}
	if (hlen > size - 8) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "checkpoint '%s': header length %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes): the file is truncated or not safetensors",
			   label, hlen, size);
		goto out_free;
	}
	if (!(hdr = malloc(hlen ? hlen : 1))) {
		lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s': out of memory for its %" PRIu64 "-byte header",
			   label, hlen);
		goto out_free;
	}
	if (io->read(io_state, rel, 8, hdr, hlen, err))
		goto out_free;
	r = parse_header(label, rel, hdr, hlen, size, err);
	if (r) {
		r->io = io;
		r->io_state = io_state;
	}
out_free:
	free(hdr);
	free(label);
	free(rel);
	return r;
}

struct lt_ckpt_reader *lt_ckpt_open(const struct lt_ckpt_io_ops *io, void *io_state,
				    const char *where, struct lt_err *err)
{
	return lt_ckpt_open_at(io, io_state, NULL, where, err);
}

static int crc_mismatch(const struct lt_ckpt_reader *r, size_t k, uint32_t got, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];

	return BAD("checkpoint '%s': tensor '%s': its data's crc32c:%08x does not match the header's crc32c:%08x: the file is corrupt, load another checkpoint",
		   r->label, lt_quote(q, sizeof(q), r->t[k].name), got, r->e[k].crc);
}

int lt_ckpt_read(struct lt_ckpt_reader *r, const char *name, enum lt_dtype dt, int ndim,
		 const int64_t *shape, void *dst, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], s1[SHAPE_MAX], s2[SHAPE_MAX];
	const struct lt_ckpt_tensor *t;
	ssize_t k = find_tensor(r, name);
	bool same;

	lt_quote(q, sizeof(q), name);
	if (k < 0)
		return BAD("checkpoint '%s' has no tensor '%s' (it holds %zu): load a checkpoint of this model",
			   r->label, q, r->n);
	t = &r->t[k];
	same = lt_dtype_valid(dt) && t->dtype == dt && ndim == t->ndim;
	for (int i = 0; same && i < ndim; i++)
		same = shape[i] == t->shape[i];
	if (!same)
		return BAD("checkpoint '%s': tensor '%s' is %s %s, but the model expects %s %s: load a checkpoint of this model and precision",
			   r->label, q, lt_dtype_st_name(t->dtype), lt_ckpt_shape_str(s1, sizeof(s1), t->ndim, t->shape),
			   lt_dtype_valid(dt) ? lt_dtype_st_name(dt) : "?",
			   lt_ckpt_shape_str(s2, sizeof(s2), ndim < 0 ? 0 : ndim > LT_MAX_DIMS ? LT_MAX_DIMS : ndim, shape));
	if (!r->io)
		return BAD("checkpoint '%s': it was parsed without IO, nothing can be read from it", r->label);
	if (r->e[k].has_crc) {
		uint32_t got;

		if (lt_ckpt_read_checked(r->io, r->io_state, r->rel, r->data_start + r->e[k].begin, dst,
					 t->bytes, &got, err))
			return -1;
		if (got != r->e[k].crc)
			return crc_mismatch(r, (size_t)k, got, err);
		return 0;
	}
	if (t->bytes && r->io->read(r->io_state, r->rel, r->data_start + r->e[k].begin, dst, t->bytes, err))
		return -1;
	return 0;
}

int lt_ckpt_verify(struct lt_ckpt_reader *r, struct lt_err *err)
{
	size_t i, missing = 0, first_missing = 0, chunk = 0;
	char q[LT_QUOTE_MAX];
	unsigned char *buf;
	int rc = 0;

	if (!r->io)
		return BAD("checkpoint '%s': it was parsed without IO, nothing can be read from it", r->label);
	for (i = 0; i < r->n; i++)
		if (r->t[i].bytes > chunk)
			chunk = r->t[i].bytes;
	chunk = chunk < VERIFY_CHUNK ? chunk : VERIFY_CHUNK;
	buf = malloc(chunk ? chunk : 1);
	if (!buf)
		return BAD("checkpoint '%s': out of memory for a %zu-byte buffer", r->label, chunk);
	for (i = 0; i < r->n && !rc; i++) {
		uint32_t crc = 0;

		if (!r->e[i].has_crc) {
			if (!missing++)
				first_missing = i;
			continue;
		}
		for (size_t off = 0; off < r->t[i].bytes; off += chunk) {
			size_t n = r->t[i].bytes - off < chunk ? r->t[i].bytes - off : chunk;
			uint32_t piece;

			rc = lt_ckpt_io_read_crc(r->io, r->io_state, r->rel,
						 r->data_start + r->e[i].begin + off, buf, n, &piece, err);
			if (rc)
				break;
			crc = off ? lt_crc32c_combine(crc, piece, n) : piece;
		}
		if (!rc && crc != r->e[i].crc)
			rc = crc_mismatch(r, i, crc, err);
	}
	free(buf);
	if (!rc && missing)
		rc = BAD("checkpoint '%s': %zu of %zu tensors have no checksum (the first: '%s'): it was not written by ltrun, so it cannot be verified",
			 r->label, missing, r->n, lt_quote(q, sizeof(q), r->t[first_missing].name));
	return rc;
}

/* ------------------------------------------------------------ saving */

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int lt_safetensors_check(int64_t step, const struct lt_ckpt_tensor *t, size_t n, const cJSON *meta,
			 struct lt_err *err)
{
	char q[LT_QUOTE_MAX], sh[SHAPE_MAX];
	const char **names;
	const cJSON *m;
	uint64_t need;
	size_t i;
	int rc = 0;

	if (step < 0)
		return BAD("cannot save checkpoint step-%" PRId64 ": steps are counted from 0", step);
	if (meta && !cJSON_IsObject(meta))
		return BAD("cannot save checkpoint step-%" PRId64 ": its metadata is not a JSON object", step);
	cJSON_ArrayForEach(m, meta)
		if (!cJSON_IsString(m))
			return BAD("cannot save checkpoint step-%" PRId64 ": metadata '%s' is not a string (safetensors metadata holds strings only)",
				   step, lt_quote(q, sizeof(q), m->string));
	for (i = 0; i < n; i++) {
		size_t len = t[i].name ? strlen(t[i].name) : 0;

		lt_quote(q, sizeof(q), t[i].name);
		if (!len || len > NAME_MAX_BYTES || !strcmp(t[i].name, "__metadata__"))
			return BAD("cannot save checkpoint step-%" PRId64 ": tensor %zu's name '%s' is empty, longer than %d bytes or __metadata__",
				   step, i, q, NAME_MAX_BYTES);
		for (size_t c = 0; c < len; c++)
			if ((unsigned char)t[i].name[c] < 0x20 || t[i].name[c] == 0x7f)
				return BAD("cannot save checkpoint step-%" PRId64 ": tensor '%s': its name holds a control character",
					   step, q);
		if (!lt_dtype_valid(t[i].dtype) || t[i].ndim < 0 || t[i].ndim > LT_MAX_DIMS)
			return BAD("cannot save checkpoint step-%" PRId64 ": tensor '%s': dtype %d or ndim %d is invalid",
				   step, q, (int)t[i].dtype, t[i].ndim);
		lt_ckpt_shape_str(sh, sizeof(sh), t[i].ndim, t[i].shape);
		if (!shape_bytes(t[i].dtype, t[i].ndim, t[i].shape, &need) || need != t[i].bytes ||
		    need > (uint64_t)EXACT_MAX)
			return BAD("cannot save checkpoint step-%" PRId64 ": tensor '%s': %zu bytes, but shape %s of %s needs %s",
				   step, q, t[i].bytes, sh, lt_dtype_st_name(t[i].dtype),
				   "its elements times the dtype's size");
		if (need && !t[i].data)
			return BAD("cannot save checkpoint step-%" PRId64 ": tensor '%s' has no data", step, q);
	}
	if (!(names = malloc((n ? n : 1) * sizeof(*names))))
		return BAD("cannot save checkpoint step-%" PRId64 ": out of memory", step);
	for (i = 0; i < n; i++)
		names[i] = t[i].name;
	qsort(names, n, sizeof(*names), cmp_str_ptr);
	for (i = 1; i < n && !rc; i++)
		if (!strcmp(names[i - 1], names[i]))
			rc = BAD("cannot save checkpoint step-%" PRId64 ": tensor '%s' is given twice",
				 step, lt_quote(q, sizeof(q), names[i]));
	free(names);
	if (!rc && n > (size_t)INT32_MAX - 1)
		rc = BAD("cannot save checkpoint step-%" PRId64 ": %zu tensors are too many for one file", step, n);
	return rc;
}

/* The file's first 8 + N bytes: length, JSON, spaces up to a multiple of 8.
 * begin[i] is where tensor i's data goes (8-byte dtypes first). */
static int build_header(int64_t step, const struct lt_ckpt_tensor *t, size_t n, const cJSON *meta,
			const uint32_t *crc, const uint64_t *begin, struct sbuf *b, struct lt_err *err)
{
	const cJSON *m, *format = cJSON_GetObjectItemCaseSensitive(meta, "format");
	uint64_t len;

	sb_add(b, "\0\0\0\0\0\0\0\0", 8);
	/* meta's own "format" (an export's "ltrun-export"), else a checkpoint's */
	sb_puts(b, "{\"__metadata__\":{\"format\":");
	sb_json_str(b, cJSON_IsString(format) ? format->valuestring : LT_CKPT_FORMAT);
	cJSON_ArrayForEach(m, meta) {
		if (!strcmp(m->string, "format") || !strncmp(m->string, "checksum/", 9))
			continue; /* ltrun's own, rewritten below */
		sb_puts(b, ",");
		sb_json_str(b, m->string);
		sb_puts(b, ":");
		sb_json_str(b, m->valuestring);
	}
	for (size_t i = 0; i < n; i++) {
		sb_puts(b, ",\"checksum/");
		sb_json_chars(b, t[i].name);
		sb_printf(b, "\":\"crc32c:%08x\"", crc[i]);
	}
	sb_puts(b, "}");
	for (size_t i = 0; i < n; i++) {
		sb_puts(b, ",");
		sb_json_str(b, t[i].name);
		sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", lt_dtype_st_name(t[i].dtype));
		for (int k = 0; k < t[i].ndim; k++)
			sb_printf(b, "%s%" PRId64, k ? "," : "", t[i].shape[k]);
		sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", begin[i], begin[i] + t[i].bytes);
	}
	sb_puts(b, "}");
	while (!b->oom && b->b.len % 8)
		sb_add(b, " ", 1);
	if (b->oom)
		return BAD("cannot save checkpoint step-%" PRId64 ": out of memory for its header", step);
	len = b->b.len - 8;
	for (int i = 0; i < 8; i++)
		b->b.data[i] = (char)(len >> (8 * i));
	return 0;
}

int lt_safetensors_write(const struct lt_ckpt_io_ops *io, void *io_state, const char *rel,
			 int64_t step, const struct lt_ckpt_tensor *t, size_t n,
			 const struct cJSON *meta, struct lt_err *err)
{
	struct sbuf hdr = { LT_BUF_INIT, false };
	struct iovec *iov = NULL;
	uint32_t *crc = NULL;
	uint64_t *begin = NULL, off = 0;
	int iovcnt = 0, rc = -1;

	crc = malloc((n ? n : 1) * sizeof(*crc));
	begin = malloc((n ? n : 1) * sizeof(*begin));
	iov = malloc((n + 1) * sizeof(*iov));
	if (!crc || !begin || !iov) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot save checkpoint step-%" PRId64 ": out of memory", step);
		goto out_free;
	}
	/* the data: 8-byte dtypes, then 4, then 2, each in the caller's order */
	iovcnt = 1;
	for (size_t size = 8; size >= 2; size /= 2)
		for (size_t i = 0; i < n; i++) {
			if (lt_dtype_size(t[i].dtype) != size)
				continue;
			begin[i] = off;
			off += t[i].bytes;
			if (t[i].bytes) {
				iov[iovcnt].iov_base = (void *)t[i].data;
				iov[iovcnt++].iov_len = t[i].bytes;
			}
		}
	lt_ckpt_checksum_tensors(t, n, crc);
	if (build_header(step, t, n, meta, crc, begin, &hdr, err))
		goto out_free;
	iov[0].iov_base = hdr.b.data;
	iov[0].iov_len = hdr.b.len;
	rc = io->write(io_state, rel, iov, iovcnt, err);
out_free:
	lt_buf_free(&hdr.b);
	free(iov);
	free(begin);
	free(crc);
	return rc;
}
