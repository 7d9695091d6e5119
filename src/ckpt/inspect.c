/*
 * inspect.c - `ltrun ckpt inspect PATH [--json]` and `ltrun ckpt verify
 * PATH`: works out from a path a user types which base and checkpoint it
 * names (read through the IO plugin --ckpt-io names: by default http for
 * a URL, else file), then lists the tensors and metadata, or reads
 * every tensor against its checksum (and a step directory's file against
 * the step its metadata names).  lt_ckpt_path_open() is the same opening
 * for `--init-weights` and `ltrun ckpt export`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/inspect.h"
#include "ckpt/shards.h"
#include "core/dtype.h"
#include "core/url.h"

/* Where a path points: a base, opened with io, and what under it. */
struct target {
	struct lt_choice choice; /* the IO plugin */
	const struct lt_ckpt_io_ops *io;
	void *state;
	char *base;
	char *where;
};

static bool has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && !memcmp(s + len - n, suf, n);
}

/* The last component of s[0, len): its start. */
static size_t last_part(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && s[i - 1] != '/')
		i--;
	return i;
}

/* Splits s[0, len) into base and where by the names alone. */
static int split(const char *s, size_t len, size_t min_base, struct target *tg)
{
	size_t f = last_part(s, len), d;
	int64_t step;

	if (has_suffix(s, len, ".safetensors") && f > 0) {
		d = last_part(s, f - 1);
		if (lt_ckpt_parse_step(s + d, f - 1 - d, &step) && d > min_base) {
			tg->base = strndup(s, d - 1);
			tg->where = strndup(s + d, len - d);
		} else {
			tg->base = strndup(s, f > 1 ? f - 1 : 1);
			tg->where = strndup(s + f, len - f);
		}
	} else if (has_suffix(s, len, ".safetensors")) {
		tg->base = strdup(".");
		tg->where = strndup(s, len);
	} else if (lt_ckpt_parse_step(s + f, len - f, &step) && (f > min_base || !f)) {
		tg->base = f ? strndup(s, f > 1 ? f - 1 : 1) : strdup(".");
		tg->where = strndup(s + f, len - f);
	} else {
		tg->base = strndup(s, len);
		tg->where = strdup("last");
	}
	return tg->base && tg->where ? 0 : -1;
}

static void target_free(struct target *tg)
{
	if (tg->io && tg->state)
		tg->io->close(tg->state);
	lt_choice_free(&tg->choice);
	free(tg->base);
	free(tg->where);
}

static int locate(const struct lt_registry *reg, const char *io, const char *path,
		  struct target *tg, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	size_t len = strlen(path);
	struct stat st;
	char *last;

	memset(tg, 0, sizeof(*tg));
	lt_quote(q, sizeof(q), path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (lt_is_url(path)) {
		size_t host = strchr(path, ':') - path + 3;

		host += strcspn(path + host, "/");
		if (!io)
			io = "http";
		if (split(path, len, host, tg))
			goto out_nomem;
	} else {
		if (!io)
			io = "file";
		if (stat(path, &st))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "cannot open checkpoint '%s': %s: give a checkpoint directory, a step-<N> directory or a .safetensors file",
					  q, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			size_t f = last_part(path, len);
			int64_t step;
			bool has_last, has_model;

			if (asprintf(&last, "%.*s/last", (int)len, path) < 0)
				goto out_nomem;
			has_last = !stat(last, &st);
			free(last);
			if (asprintf(&last, "%.*s/" LT_CKPT_MODEL_FILE, (int)len, path) < 0)
				goto out_nomem;
			has_model = !stat(last, &st);
			free(last);
			if (has_last) {
				tg->base = strndup(path, len);
				tg->where = strdup("last");
			} else if (lt_ckpt_parse_step(path + f, len - f, &step)) {
				if (split(path, len, 0, tg))
					goto out_nomem;
			} else if (has_model) {
				tg->base = strndup(path, len);
				tg->where = strdup(LT_CKPT_MODEL_FILE);
			} else {
				return lt_err_set(err, LT_EXIT_FAILURE,
						  "'%s' is not a checkpoint: it holds neither a file 'last' nor " LT_CKPT_MODEL_FILE " and is not a step-<N> directory",
						  q);
			}
		} else if (!has_suffix(path, len, ".safetensors")) {
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "'%s' is not a checkpoint: give a checkpoint directory, a step-<N> directory or a .safetensors file",
					  q);
		} else if (split(path, len, 0, tg)) {
			goto out_nomem;
		}
	}
	if (!tg->base || !tg->where)
		goto out_nomem;
	if (lt_ckpt_io_open_spec(reg, io, tg->base, &tg->choice, &tg->state, err)) {
		tg->state = NULL;
		target_free(tg);
		return -1;
	}
	tg->io = lt_ckpt_io_of(&tg->choice);
	return 0;
out_nomem:
	target_free(tg);
	tg->io = NULL;
	return lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening checkpoint '%s'", q);
}

struct lt_ckpt_path {
	struct target tg;
	struct lt_ckpt_reader *r;
	struct lt_ckpt_set *s;
};

/* The checkpoint at path, whole or sharded; NULL with err. */
static struct lt_ckpt_set *open_set(const struct lt_registry *reg, const char *io,
				    const char *path, struct target *tg, struct lt_err *err)
{
	struct lt_ckpt_set *s;

	if (locate(reg, io, path, tg, err))
		return NULL;
	s = lt_ckpt_set_open(tg->io, tg->state, tg->base, tg->where, err);
	if (!s)
		target_free(tg);
	return s;
}

/* path opened as one file (p->r), or whole or sharded (set: p->s). */
static struct lt_ckpt_path *path_open(const struct lt_registry *reg, const char *io,
				      const char *path, bool set, struct lt_err *err)
{
	struct lt_ckpt_path *p = calloc(1, sizeof(*p));

	if (!p) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening checkpoint '%s'", path);
		return NULL;
	}
	if (set)
		p->s = open_set(reg, io, path, &p->tg, err);
	else if (!locate(reg, io, path, &p->tg, err) &&
		 !(p->r = lt_ckpt_open_at(p->tg.io, p->tg.state, p->tg.base, p->tg.where, err)))
		target_free(&p->tg);
	if (!p->s && !p->r) {
		free(p);
		return NULL;
	}
	return p;
}

struct lt_ckpt_path *lt_ckpt_path_open(const struct lt_registry *reg, const char *io,
				       const char *path, struct lt_err *err)
{
	return path_open(reg, io, path, false, err);
}

struct lt_ckpt_path *lt_ckpt_path_open_set(const struct lt_registry *reg, const char *io,
					   const char *path, struct lt_err *err)
{
	return path_open(reg, io, path, true, err);
}

struct lt_ckpt_set *lt_ckpt_path_set(const struct lt_ckpt_path *p)
{
	return p->s;
}

struct lt_ckpt_reader *lt_ckpt_path_reader(const struct lt_ckpt_path *p)
{
	return p->r;
}

void lt_ckpt_path_close(struct lt_ckpt_path *p)
{
	if (!p)
		return;
	lt_ckpt_close(p->r);
	lt_ckpt_set_close(p->s);
	target_free(&p->tg);
	free(p);
}

/* A name from a file, printable: control characters as '?'. */
static char *printable(const char *s)
{
	char *p = strdup(s);

	for (char *c = p; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return p;
}

static void print_text(const struct lt_ckpt_reader *r, FILE *out)
{
	size_t n, i, wn = 4, ws = 5, wb = 5;
	const struct lt_ckpt_tensor *t = lt_ckpt_tensors(r, &n);
	char shape[LT_MAX_DIMS * 22 + 4], bytes[24], crc[24];
	uint64_t total = 0;
	const cJSON *m;
	size_t wk = 0;

	for (i = 0; i < n; i++) {
		size_t s = 2;

		for (int k = 0; k < t[i].ndim; k++)
			s += (size_t)snprintf(bytes, sizeof(bytes), "%" PRId64, t[i].shape[k]) + (k ? 2 : 0);
		wn = strlen(t[i].name) > wn ? strlen(t[i].name) : wn;
		ws = s > ws ? s : ws;
		wb = (size_t)snprintf(bytes, sizeof(bytes), "%zu", t[i].bytes) > wb ? strlen(bytes) : wb;
		total += t[i].bytes;
	}
	fprintf(out, "checkpoint %s: %zu tensors, %" PRIu64 " bytes\n", lt_ckpt_label(r), n, total);
	fprintf(out, "  %-*s  %-5s  %-*s  %*s  %s\n", (int)wn, "name", "dtype", (int)ws, "shape",
		(int)wb, "bytes", "checksum");
	for (i = 0; i < n; i++) {
		char *name = printable(t[i].name);
		size_t k = (size_t)snprintf(shape, sizeof(shape), "[");
		uint32_t c;

		for (int d = 0; d < t[i].ndim; d++)
			k += (size_t)snprintf(shape + k, sizeof(shape) - k, "%s%" PRId64, d ? ", " : "",
					      t[i].shape[d]);
		snprintf(shape + k, sizeof(shape) - k, "]");
		if (lt_ckpt_checksum(r, i, &c))
			snprintf(crc, sizeof(crc), "crc32c:%08x", c);
		else
			snprintf(crc, sizeof(crc), "none");
		fprintf(out, "  %-*s  %-5s  %-*s  %*zu  %s\n", (int)wn, name ? name : "?",
			lt_dtype_st_name(t[i].dtype), (int)ws, shape, (int)wb, t[i].bytes, crc);
		free(name);
	}
	cJSON_ArrayForEach(m, lt_ckpt_meta(r))
		if (strncmp(m->string, "checksum/", 9) && strlen(m->string) > wk)
			wk = strlen(m->string);
	if (!wk)
		return;
	fprintf(out, "metadata:\n");
	cJSON_ArrayForEach(m, lt_ckpt_meta(r)) {
		char *k, *v;

		if (!strncmp(m->string, "checksum/", 9))
			continue;
		k = printable(m->string);
		v = printable(m->valuestring);
		fprintf(out, "  %-*s  %s\n", (int)wk, k ? k : "?", v ? v : "?");
		free(k);
		free(v);
	}
}

static int print_json(const struct lt_ckpt_reader *r, FILE *out, struct lt_err *err)
{
	cJSON *root = cJSON_CreateObject(), *ts, *md;
	const struct lt_ckpt_tensor *t;
	const cJSON *m;
	char crc[24], *text;
	size_t n;
	bool ok = root != NULL;

	t = lt_ckpt_tensors(r, &n);
	ok = ok && cJSON_AddStringToObject(root, "path", lt_ckpt_label(r));
	ok = ok && (ts = cJSON_AddArrayToObject(root, "tensors"));
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *sh;
		uint32_t c;

		ok = o && cJSON_AddItemToArray(ts, o);
		ok = ok && cJSON_AddStringToObject(o, "name", t[i].name);
		ok = ok && cJSON_AddStringToObject(o, "dtype", lt_dtype_st_name(t[i].dtype));
		ok = ok && (sh = cJSON_AddArrayToObject(o, "shape"));
		for (int d = 0; ok && d < t[i].ndim; d++)
			ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
		ok = ok && cJSON_AddNumberToObject(o, "bytes", (double)t[i].bytes);
		if (ok && lt_ckpt_checksum(r, i, &c)) {
			snprintf(crc, sizeof(crc), "crc32c:%08x", c);
			ok = cJSON_AddStringToObject(o, "checksum", crc) != NULL;
		} else if (ok) {
			ok = cJSON_AddNullToObject(o, "checksum") != NULL;
		}
	}
	ok = ok && (md = cJSON_AddObjectToObject(root, "metadata"));
	cJSON_ArrayForEach(m, lt_ckpt_meta(r))
		if (ok && strncmp(m->string, "checksum/", 9))
			ok = cJSON_AddStringToObject(md, m->string, m->valuestring) != NULL;
	text = ok ? cJSON_Print(root) : NULL;
	cJSON_Delete(root);
	if (!text)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory printing checkpoint '%s'",
				  lt_ckpt_label(r));
	fprintf(out, "%s\n", text);
	free(text);
	return 0;
}

/* A sharded checkpoint: its whole tensors, its files, its metadata (as
 * text, or as JSON with "sharded": true and "files"). */
static int print_sharded(struct lt_ckpt_set *s, bool json, FILE *out, struct lt_err *err)
{
	cJSON *root = cJSON_CreateObject(), *ts = NULL, *fs = NULL, *md = NULL;
	size_t n, nf = lt_ckpt_set_files(s);
	const struct lt_ckpt_tensor *t = lt_ckpt_set_tensors(s, &n);
	const cJSON *m;
	char shape[LT_CKPT_SHAPE_MAX], *text;
	uint64_t total = 0;
	bool ok = root && cJSON_AddStringToObject(root, "path", lt_ckpt_set_label(s)) &&
		  cJSON_AddTrueToObject(root, "sharded") &&
		  (fs = cJSON_AddArrayToObject(root, "files")) &&
		  (ts = cJSON_AddArrayToObject(root, "tensors"));

	for (size_t i = 0; i < n; i++)
		total += t[i].bytes;
	if (!json)
		fprintf(out, "checkpoint %s: sharded in %zu files, %zu tensors, %" PRIu64 " bytes\n",
			lt_ckpt_set_label(s), nf, n, total);
	for (size_t i = 0; ok && i < nf; i++) {
		const char *f = lt_ckpt_label(lt_ckpt_set_reader(s, i));

		if (!json)
			fprintf(out, "  file %s\n", f);
		ok = cJSON_AddItemToArray(fs, cJSON_CreateString(f));
	}
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *sh;
		char *name = printable(t[i].name);

		lt_ckpt_shape_str(shape, sizeof(shape), t[i].ndim, t[i].shape);
		if (!json)
			fprintf(out, "  %s  %s  %s  %zu\n", name ? name : "?",
				lt_dtype_st_name(t[i].dtype), shape, t[i].bytes);
		free(name);
		ok = o && cJSON_AddItemToArray(ts, o) && cJSON_AddStringToObject(o, "name", t[i].name) &&
		     cJSON_AddStringToObject(o, "dtype", lt_dtype_st_name(t[i].dtype)) &&
		     (sh = cJSON_AddArrayToObject(o, "shape")) &&
		     cJSON_AddNumberToObject(o, "bytes", (double)t[i].bytes);
		for (int d = 0; ok && d < t[i].ndim; d++)
			ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
	}
	ok = ok && (md = cJSON_AddObjectToObject(root, "metadata"));
	if (!json)
		fprintf(out, "metadata:\n");
	cJSON_ArrayForEach(m, lt_ckpt_set_meta(s)) {
		if (!cJSON_IsString(m))
			continue;
		if (!json) {
			char *k = printable(m->string), *v = printable(m->valuestring);

			fprintf(out, "  %s  %s\n", k ? k : "?", v ? v : "?");
			free(k);
			free(v);
		}
		ok = ok && cJSON_AddStringToObject(md, m->string, m->valuestring);
	}
	text = ok && json ? cJSON_Print(root) : NULL;
	cJSON_Delete(root);
	if (!ok || (json && !text))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory printing checkpoint '%s'",
				  lt_ckpt_set_label(s));
	if (json)
		fprintf(out, "%s\n", text);
	free(text);
	return 0;
}

int lt_ckpt_inspect(const struct lt_registry *reg, const char *io, const char *path, bool json,
		    FILE *out, struct lt_err *err)
{
	struct target tg;
	struct lt_ckpt_set *s = open_set(reg, io, path, &tg, err);
	struct lt_ckpt_reader *r;
	int rc = 0;

	if (!s)
		return -1;
	r = lt_ckpt_set_reader(s, 0);
	if (lt_ckpt_set_sharded(s))
		rc = print_sharded(s, json, out, err);
	else if (json)
		rc = print_json(r, out, err);
	else
		print_text(r, out);
	lt_ckpt_set_close(s);
	target_free(&tg);
	return rc;
}

/* A file in step-<N>/ whose metadata names another step: written over
 * after it was saved (a file a backup shared through a hard link, with a
 * version of ltrun that reused such files), its checksums all matching. */
static int check_step(const struct lt_ckpt_reader *r, struct lt_err *err)
{
	const char *rel = lt_ckpt_path(r), *slash = strchr(rel, '/');
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(lt_ckpt_meta(r), "step");
	char q[LT_QUOTE_MAX], dir[32];
	int64_t step;

	if (!slash || !lt_ckpt_parse_step(rel, (size_t)(slash - rel), &step) || !cJSON_IsString(v))
		return 0;
	snprintf(dir, sizeof(dir), "%" PRId64, step);
	if (!strcmp(v->valuestring, dir))
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "checkpoint '%s' holds step %s, not %s: it was written over after it was saved (did it share its file with another checkpoint through a hard link?)",
			  rel, lt_quote(q, sizeof(q), v->valuestring), dir);
}

int lt_ckpt_verify_path(const struct lt_registry *reg, const char *io, const char *path,
			FILE *out, struct lt_err *err)
{
	struct target tg;
	struct lt_ckpt_set *s = open_set(reg, io, path, &tg, err);
	const struct lt_ckpt_tensor *t;
	uint64_t total = 0;
	size_t n, nf;
	int rc;

	if (!s)
		return -1;
	nf = lt_ckpt_set_files(s);
	rc = lt_ckpt_set_verify(s, err);
	for (size_t i = 0; i < nf && !rc; i++)
		rc = check_step(lt_ckpt_set_reader(s, i), err);
	t = lt_ckpt_set_tensors(s, &n);
	for (size_t i = 0; i < n; i++)
		total += t[i].bytes;
	if (!rc && lt_ckpt_set_sharded(s))
		fprintf(out, "ok: %zu tensors in %zu shards, %" PRIu64 " bytes, every checksum matches\n",
			n, nf, total);
	else if (!rc)
		fprintf(out, "ok: %zu tensors, %" PRIu64 " bytes, every checksum matches\n", n, total);
	lt_ckpt_set_close(s);
	target_free(&tg);
	return rc;
}
