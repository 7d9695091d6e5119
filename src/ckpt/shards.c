/*
 * shards.c - sharded checkpoints (shards.h): a rank's shard written and
 * read back, the index that completes the step, and struct lt_ckpt_set,
 * which reads element ranges of whole tensors from a whole checkpoint or
 * from any number of shards.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/safetensors.h"
#include "ckpt/shards.h"
#include "core/dtype.h"

#define BAD(...) lt_err_set(err, LT_EXIT_FAILURE, __VA_ARGS__)
#define INDEX_MAX (256u << 20)

const char *lt_ckpt_shard_file(char *buf, size_t len, int rank, int world)
{
	snprintf(buf, len, "shard-%05d-of-%05d.safetensors", rank, world);
	return buf;
}

static uint64_t numel_of(int ndim, const int64_t *shape)
{
	uint64_t n = 1;

	for (int i = 0; i < ndim; i++)
		n *= (uint64_t)shape[i];
	return n;
}

/* --- saving --- */

int lt_ckpt_shard_save(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step, int rank,
		       int world, const struct lt_ckpt_tensor *t, size_t n, struct lt_err *err)
{
	char file[48], rel[96], num[24];
	struct lt_ckpt_reader *r;
	cJSON *meta = cJSON_CreateObject();
	int rc;

	lt_ckpt_shard_file(file, sizeof(file), rank, world);
	snprintf(rel, sizeof(rel), "step-%" PRId64 "/%s", step, file);
	if (!meta)
		return BAD("out of memory writing shard '%s'", file);
	cJSON_AddStringToObject(meta, "format", LT_CKPT_SHARDS_FORMAT);
	snprintf(num, sizeof(num), "%" PRId64, step);
	cJSON_AddStringToObject(meta, "step", num);
	rc = lt_safetensors_check(step, t, n, meta, err);
	if (!rc)
		rc = lt_safetensors_write(io, io_state, rel, step, t, n, meta, err);
	cJSON_Delete(meta);
	if (rc)
		return -1;
	/* read back: the shard is on the disk every rank reads, and whole */
	r = lt_ckpt_open_at(io, io_state, NULL, rel, err);
	rc = r ? lt_ckpt_verify(r, err) : -1;
	lt_ckpt_close(r);
	return rc;
}

static cJSON *piece_json(const struct lt_ckpt_piece *p)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "file", p->file);
	cJSON_AddNumberToObject(o, "begin", (double)p->begin);
	cJSON_AddNumberToObject(o, "end", (double)p->end);
	return o;
}

/* The tensor entry of p in tensors, made at its first piece. */
static cJSON *tensor_json(cJSON *tensors, const struct lt_ckpt_piece *p)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(tensors, p->name), *shape;

	if (o)
		return o;
	if (!(o = cJSON_AddObjectToObject(tensors, p->name)))
		return NULL;
	cJSON_AddStringToObject(o, "dtype", lt_dtype_st_name(p->dtype));
	shape = cJSON_AddArrayToObject(o, "shape");
	for (int i = 0; shape && i < p->ndim; i++)
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)p->shape[i]));
	cJSON_AddArrayToObject(o, "pieces");
	return o;
}

static char *index_text(int64_t step, int world, const struct lt_ckpt_piece *p, size_t n,
			const cJSON *meta)
{
	cJSON *root = cJSON_CreateObject(), *files, *tensors;
	char file[48], *text = NULL;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "format", LT_CKPT_SHARDS_FORMAT);
	cJSON_AddNumberToObject(root, "step", (double)step);
	cJSON_AddNumberToObject(root, "world_size", world);
	files = cJSON_AddArrayToObject(root, "files");
	for (int r = 0; files && r < world; r++)
		cJSON_AddItemToArray(files, cJSON_CreateString(lt_ckpt_shard_file(file, sizeof(file),
										   r, world)));
	cJSON_AddItemToObject(root, "metadata", cJSON_Duplicate(meta, true));
	tensors = cJSON_AddObjectToObject(root, "tensors");
	for (size_t i = 0; tensors && i < n; i++) {
		cJSON *t = tensor_json(tensors, &p[i]), *pc = piece_json(&p[i]);

		if (!t || !pc) {
			cJSON_Delete(pc);
			goto out;
		}
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(t, "pieces"), pc);
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

int lt_ckpt_shards_publish(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step,
			   int world, const struct lt_ckpt_piece *p, size_t n,
			   const struct cJSON *meta, int keep, struct lt_err *err)
{
	char rel[64], *text = index_text(step, world, p, n, meta);
	struct iovec iov;
	int rc;

	if (!text)
		return BAD("out of memory writing the index of checkpoint step-%" PRId64, step);
	iov.iov_base = text;
	iov.iov_len = strlen(text);
	snprintf(rel, sizeof(rel), "step-%" PRId64 "/index.json", step);
	rc = io->write(io_state, rel, &iov, 1, err);
	free(text);
	if (rc)
		return -1;
	return lt_ckpt_finish_save(io, io_state, step, keep, err);
}

/* --- reading --- */

struct piece {
	int file;
	uint64_t begin, end;
};

struct lt_ckpt_set {
	char *label;
	cJSON *index; /* sharded: index.json */
	const cJSON *meta;
	struct lt_ckpt_tensor *t;
	char **names;
	struct piece **pieces;
	size_t *npieces;
	size_t n;
	struct lt_ckpt_reader **r;
	size_t nfiles;
};

void lt_ckpt_set_close(struct lt_ckpt_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->pieces[i]);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		lt_ckpt_close(s->r[i]);
	free(s->names);
	free(s->pieces);
	free(s->npieces);
	free(s->t);
	free(s->r);
	cJSON_Delete(s->index);
	free(s->label);
	free(s);
}

static int alloc_tensors(struct lt_ckpt_set *s, size_t n)
{
	s->t = calloc(n + 1, sizeof(*s->t));
	s->names = calloc(n + 1, sizeof(*s->names));
	s->pieces = calloc(n + 1, sizeof(*s->pieces));
	s->npieces = calloc(n + 1, sizeof(*s->npieces));
	return s->t && s->names && s->pieces && s->npieces ? 0 : -1;
}

/* A whole checkpoint: one file, each tensor one piece. */
static int open_whole(struct lt_ckpt_set *s, struct lt_ckpt_reader *r, struct lt_err *err)
{
	size_t n;
	const struct lt_ckpt_tensor *t = lt_ckpt_tensors(r, &n);

	s->r = calloc(1, sizeof(*s->r));
	if (!s->r || alloc_tensors(s, n) || !(s->label = strdup(lt_ckpt_label(r)))) {
		lt_ckpt_close(r);
		return BAD("out of memory opening checkpoint '%s'", lt_ckpt_label(r));
	}
	s->r[0] = r;
	s->nfiles = 1;
	s->meta = lt_ckpt_meta(r);
	for (size_t i = 0; i < n; i++, s->n++) {
		s->t[i] = t[i];
		s->names[i] = strdup(t[i].name);
		s->pieces[i] = calloc(1, sizeof(struct piece));
		if (!s->names[i] || !s->pieces[i]) {
			s->n++;
			return BAD("out of memory opening checkpoint '%s'", s->label);
		}
		s->t[i].name = s->names[i];
		s->pieces[i][0] = (struct piece){ 0, 0, numel_of(t[i].ndim, t[i].shape) };
		s->npieces[i] = 1;
	}
	return 0;
}

/* Whether the pieces of tensor i (sorted here) cover it once, each one
 * stored in its file as a slice of its dtype and size. */
static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static const struct lt_ckpt_tensor *stored(const struct lt_ckpt_set *s, int file, const char *name)
{
	size_t n;
	const struct lt_ckpt_tensor *t = lt_ckpt_tensors(s->r[file], &n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

static int check_pieces(struct lt_ckpt_set *s, size_t i, struct lt_err *err)
{
	uint64_t at = 0, numel = numel_of(s->t[i].ndim, s->t[i].shape);

	qsort(s->pieces[i], s->npieces[i], sizeof(struct piece), cmp_piece);
	for (size_t k = 0; k < s->npieces[i]; k++) {
		const struct piece *p = &s->pieces[i][k];
		const struct lt_ckpt_tensor *st = stored(s, p->file, s->t[i].name);

		if (p->begin != at || p->end <= p->begin)
			break;
		if (!st || st->dtype != s->t[i].dtype ||
		    numel_of(st->ndim, st->shape) != p->end - p->begin)
			return BAD("checkpoint '%s': shard '%s' does not hold elements [%" PRIu64 ", %" PRIu64 ") of tensor '%s' as its index says: the shard is not this checkpoint's",
				   s->label, lt_ckpt_label(s->r[p->file]), p->begin, p->end,
				   s->t[i].name);
		at = p->end;
	}
	if (at != numel)
		return BAD("checkpoint '%s': the pieces of tensor '%s' in index.json do not cover its %" PRIu64 " elements once: the index is corrupt",
			   s->label, s->t[i].name, numel);
	return 0;
}

/* Tensor entry item of index.json into s->t[s->n]. */
static int parse_tensor(struct lt_ckpt_set *s, const cJSON *item, struct lt_err *err)
{
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
	const cJSON *pieces = cJSON_GetObjectItemCaseSensitive(item, "pieces"), *v;
	size_t i = s->n, k = 0;
	struct lt_ckpt_tensor *t = &s->t[i];
	uint64_t u, f, b, e;

	s->names[i] = strdup(item->string);
	s->pieces[i] = calloc((size_t)cJSON_GetArraySize(pieces) + 1, sizeof(struct piece));
	s->n++;
	if (!s->names[i] || !s->pieces[i])
		return BAD("out of memory opening checkpoint '%s'", s->label);
	t->name = s->names[i];
	if (!cJSON_IsString(dt) || !lt_dtype_from_st_name(dt->valuestring, &t->dtype) ||
	    !cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > LT_MAX_DIMS || !cJSON_IsArray(pieces))
		goto out_bad;
	cJSON_ArrayForEach(v, shape) {
		if (!lt_ckpt_json_uint(v, &u))
			goto out_bad;
		t->shape[t->ndim++] = (int64_t)u;
	}
	t->bytes = numel_of(t->ndim, t->shape) * lt_dtype_size(t->dtype);
	cJSON_ArrayForEach(v, pieces) {
		if (!lt_ckpt_json_uint(cJSON_GetObjectItemCaseSensitive(v, "file"), &f) ||
		    f >= s->nfiles ||
		    !lt_ckpt_json_uint(cJSON_GetObjectItemCaseSensitive(v, "begin"), &b) ||
		    !lt_ckpt_json_uint(cJSON_GetObjectItemCaseSensitive(v, "end"), &e))
			goto out_bad;
		s->pieces[i][k++] = (struct piece){ (int)f, b, e };
	}
	s->npieces[i] = k;
	return check_pieces(s, i, err);
out_bad:
	return BAD("checkpoint '%s': index.json describes tensor '%s' badly: the index is corrupt",
		   s->label, item->string);
}

/* Shard file i named by v (a string of index.json), opened. */
static int open_shard(struct lt_ckpt_set *s, const struct lt_ckpt_io_ops *io, void *st,
		      const char *base, const char *dir, const cJSON *v, struct lt_err *err)
{
	char *rel;
	size_t len;
	struct lt_err e2 = { 0, "" };

	if (!cJSON_IsString(v) || (len = strlen(v->valuestring)) < 13 || strchr(v->valuestring, '/') ||
	    strcmp(v->valuestring + len - 12, ".safetensors"))
		return BAD("checkpoint '%s': index.json names a shard file that is not a plain .safetensors name: the index is corrupt",
			   s->label);
	if (asprintf(&rel, "%s/%s", dir, v->valuestring) < 0)
		return BAD("out of memory opening checkpoint '%s'", s->label);
	s->r[s->nfiles] = lt_ckpt_open_at(io, st, base, rel, &e2);
	free(rel);
	if (!s->r[s->nfiles])
		return BAD("checkpoint '%s': shard '%s' cannot be read (%s): the checkpoint is incomplete or damaged, resume from another",
			   s->label, v->valuestring, e2.msg);
	s->nfiles++;
	return 0;
}

static int open_sharded(struct lt_ckpt_set *s, const struct lt_ckpt_io_ops *io, void *st,
			const char *base, const char *dir, struct lt_err *err)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(s->index, "files");
	const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(s->index, "tensors"), *v;

	s->meta = cJSON_GetObjectItemCaseSensitive(s->index, "metadata");
	if (!cJSON_IsArray(files) || !cJSON_IsObject(tensors) || !cJSON_IsObject(s->meta))
		return BAD("checkpoint '%s': index.json lacks files, tensors or metadata: the index is corrupt",
			   s->label);
	s->r = calloc((size_t)cJSON_GetArraySize(files) + 1, sizeof(*s->r));
	if (!s->r || alloc_tensors(s, (size_t)cJSON_GetArraySize(tensors)))
		return BAD("out of memory opening checkpoint '%s'", s->label);
	cJSON_ArrayForEach(v, files)
		if (open_shard(s, io, st, base, dir, v, err))
			return -1;
	cJSON_ArrayForEach(v, tensors)
		if (parse_tensor(s, v, err))
			return -1;
	return 0;
}

/* step-<N>/index.json when it says the step is sharded; NULL otherwise. */
static cJSON *read_index(const struct lt_ckpt_io_ops *io, void *st, const char *dir)
{
	const cJSON *format;
	struct lt_err ignored;
	char rel[4200], *buf;
	uint64_t size;
	cJSON *j;

	snprintf(rel, sizeof(rel), "%s/index.json", dir);
	if (io->size(st, rel, &size, &ignored) || size > INDEX_MAX || !(buf = malloc(size + 1)))
		return NULL;
	j = io->read(st, rel, 0, buf, (size_t)size, &ignored) ? NULL
							       : cJSON_ParseWithLength(buf, (size_t)size);
	free(buf);
	format = cJSON_GetObjectItemCaseSensitive(j, "format");
	if (!cJSON_IsString(format) || strcmp(format->valuestring, LT_CKPT_SHARDS_FORMAT)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

struct lt_ckpt_set *lt_ckpt_set_open(const struct lt_ckpt_io_ops *io, void *io_state,
				     const char *base, const char *where, struct lt_err *err)
{
	struct lt_ckpt_set *s = calloc(1, sizeof(*s));
	char *rel = NULL, *slash;
	struct lt_ckpt_reader *r;
	struct lt_err probe;
	uint64_t size;
	int rc = -1;

	if (!s) {
		BAD("out of memory opening checkpoint '%s'", where);
		return NULL;
	}
	if (!base && io == &lt_ckpt_io_file)
		base = lt_ckpt_io_file_base(io_state);
	rel = lt_ckpt_resolve(io, io_state, base, where, err);
	/* step-<N>/model.safetensors that is not there: a sharded step? */
	if (rel && (slash = strrchr(rel, '/')) && !strcmp(slash + 1, LT_CKPT_MODEL_FILE) &&
	    io->size(io_state, rel, &size, &probe)) {
		*slash = '\0';
		if ((s->index = read_index(io, io_state, rel))) {
			if (asprintf(&s->label, "%s/%s", base ? base : ".", rel) < 0)
				s->label = NULL;
			rc = s->label ? open_sharded(s, io, io_state, base, rel, err)
				      : BAD("out of memory opening checkpoint '%s'", where);
			goto out;
		}
		*slash = '/';
	}
	if (rel && (r = lt_ckpt_open_at(io, io_state, base, rel, err)))
		rc = open_whole(s, r, err);
out:
	free(rel);
	if (rc) {
		lt_ckpt_set_close(s);
		return NULL;
	}
	return s;
}

bool lt_ckpt_set_sharded(const struct lt_ckpt_set *s)
{
	return s->index != NULL;
}

const cJSON *lt_ckpt_set_meta(const struct lt_ckpt_set *s)
{
	return s->meta;
}

const struct lt_ckpt_tensor *lt_ckpt_set_tensors(const struct lt_ckpt_set *s, size_t *n)
{
	*n = s->n;
	return s->t;
}

size_t lt_ckpt_set_files(const struct lt_ckpt_set *s)
{
	return s->nfiles;
}

struct lt_ckpt_reader *lt_ckpt_set_reader(const struct lt_ckpt_set *s, size_t i)
{
	return s->r[i];
}

const char *lt_ckpt_set_label(const struct lt_ckpt_set *s)
{
	return s->label;
}

/* Piece p of tensor t into dst, elements [first, first + count) of t
 * wanted: the part of p among them. */
static int read_piece(struct lt_ckpt_set *s, const struct lt_ckpt_tensor *t,
		      const struct piece *p, uint64_t first, uint64_t count, char *dst,
		      struct lt_err *err)
{
	const struct lt_ckpt_tensor *st = stored(s, p->file, t->name);
	size_t esz = lt_dtype_size(t->dtype);
	uint64_t a = p->begin > first ? p->begin : first;
	uint64_t b = p->end < first + count ? p->end : first + count;
	char *tmp;
	int rc;

	if (a == p->begin && b == p->end) /* the whole piece: straight in */
		return lt_ckpt_read(s->r[p->file], t->name, t->dtype, st->ndim, st->shape,
				    dst + (a - first) * esz, err);
	if (!(tmp = malloc(st->bytes ? st->bytes : 1)))
		return BAD("out of memory reading tensor '%s' of '%s'", t->name, s->label);
	rc = lt_ckpt_read(s->r[p->file], t->name, t->dtype, st->ndim, st->shape, tmp, err);
	if (!rc)
		memcpy(dst + (a - first) * esz, tmp + (a - p->begin) * esz, (size_t)(b - a) * esz);
	free(tmp);
	return rc;
}

int lt_ckpt_set_read(struct lt_ckpt_set *s, const char *name, enum lt_dtype dt, uint64_t first,
		     uint64_t count, void *dst, struct lt_err *err)
{
	size_t i;
	const struct lt_ckpt_tensor *t;
	uint64_t numel;

	for (i = 0; i < s->n && strcmp(s->t[i].name, name); i++)
		;
	if (i == s->n)
		return BAD("checkpoint '%s' has no tensor '%s' (it holds %zu): load a checkpoint of this model",
			   s->label, name, s->n);
	t = &s->t[i];
	numel = numel_of(t->ndim, t->shape);
	if (t->dtype != dt || first > numel || count > numel - first)
		return BAD("checkpoint '%s': tensor '%s' is %s of %" PRIu64 " elements, but the model expects %s with elements [%" PRIu64 ", +%" PRIu64 "): load a checkpoint of this model and precision",
			   s->label, name, lt_dtype_st_name(t->dtype), numel,
			   lt_dtype_valid(dt) ? lt_dtype_st_name(dt) : "?", first, count);
	for (size_t k = 0; k < s->npieces[i]; k++) {
		const struct piece *p = &s->pieces[i][k];

		if (p->end > first && p->begin < first + count &&
		    read_piece(s, t, p, first, count, dst, err))
			return -1;
	}
	return 0;
}

int lt_ckpt_set_verify(struct lt_ckpt_set *s, struct lt_err *err)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (lt_ckpt_verify(s->r[i], err))
			return -1;
	return 0;
}
