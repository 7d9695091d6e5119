/*
 * export.c - `ltrun ckpt export CKPT OUT.safetensors [--dtype
 * f32|compute|bf16|f16] [--force]`: the parameters of a checkpoint
 * alone (no optimizer state, no ltrun state), under the names the model
 * registered, in f32 or the checkpoint's compute dtype, as a plain
 * safetensors file that Python's safetensors and `ltrun --init-weights`
 * read.  The checkpoint holds the f32 master weights under mixed
 * precision, so f32 loses nothing and "compute" rounds them as the run's
 * view did.  The file is written through the file IO plugin: a temporary
 * file, fsynced and renamed over OUT.  A sharded checkpoint (shards.h)
 * is assembled from its shards: `ltrun ckpt consolidate` is this with
 * f32, DeepSpeed's zero_to_fp32.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt/ckpt.h"
#include "ckpt/export.h"
#include "ckpt/format.h"
#include "ckpt/inspect.h"
#include "ckpt/safetensors.h"
#include "ckpt/shards.h"
#include "core/dtype.h"
#include "precision/precision.h"

#define EXPORT_FORMAT "ltrun-export"

bool lt_export_dtype_parse(const char *s, enum lt_export_dtype *out)
{
	static const char *const names[] = { "f32", "compute", "bf16", "f16" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum lt_export_dtype)i;
			return true;
		}
	return false;
}

static const char *meta_str(const struct lt_ckpt_set *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(lt_ckpt_set_meta(r), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The dtype the float tensors get.  Returns 0, or -1 with err. */
static int target_dtype(const struct lt_registry *reg, const struct lt_ckpt_set *r,
			enum lt_export_dtype how, enum lt_dtype *dt, struct lt_err *err)
{
	const char *prec = meta_str(r, "precision");
	const struct lt_plugin *p;

	switch (how) {
	case LT_EXPORT_F32: *dt = LT_F32; return 0;
	case LT_EXPORT_BF16: *dt = LT_BF16; return 0;
	case LT_EXPORT_F16: *dt = LT_F16; return 0;
	case LT_EXPORT_COMPUTE: break;
	}
	if (!prec)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "checkpoint '%s' names no precision (it was not saved by an ltrun run): give --dtype f32, bf16 or f16",
				  lt_ckpt_set_label(r));
	p = lt_registry_find(reg, LT_KIND_PRECISION, prec);
	if (!p)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "checkpoint '%s' was saved in precision '%s', which this ltrun does not know: give the --plugin that registers it, or --dtype f32",
				  lt_ckpt_set_label(r), prec);
	*dt = ((const struct lt_precision_ops *)lt_registry_base(reg, p)->ops)->compute;
	return 0;
}

/* The exported tensors: descriptions and their own buffers. */
struct exported {
	struct lt_ckpt_tensor *t;
	void **data;
	size_t n;
};

static void exported_free(struct exported *e)
{
	for (size_t i = 0; e->data && i < e->n; i++)
		free(e->data[i]);
	free(e->data);
	free(e->t);
}

/* Reads tensor f into a buffer of dt (float tensors; others as they are). */
static void *read_as(struct lt_ckpt_set *r, const struct lt_ckpt_tensor *f, enum lt_dtype dt,
		     struct lt_ckpt_tensor *d, struct lt_err *err)
{
	size_t n = f->bytes / lt_dtype_size(f->dtype);
	void *raw = malloc(f->bytes ? f->bytes : 1), *out = NULL;
	float *f32 = NULL;

	*d = *f;
	if (!lt_dtype_is_float(f->dtype))
		dt = f->dtype;
	d->dtype = dt;
	d->bytes = n * lt_dtype_size(dt);
	if (!raw)
		goto out_nomem;
	if (lt_ckpt_set_read(r, f->name, f->dtype, 0, n, raw, err))
		goto out_free;
	if (dt == f->dtype)
		return raw;
	if (!(out = malloc(d->bytes ? d->bytes : 1)) ||
	    (dt != LT_F32 && !(f32 = malloc(n ? n * sizeof(float) : 1))))
		goto out_nomem;
	lt_precision_to_f32(dt == LT_F32 ? out : f32, raw, f->dtype, n);
	if (dt != LT_F32)
		lt_precision_from_f32(out, dt, f32, n);
	free(f32);
	free(raw);
	return out;
out_nomem:
	lt_err_set(err, LT_EXIT_FAILURE, "out of memory exporting tensor '%s'", f->name);
out_free:
	free(f32);
	free(out);
	free(raw);
	return NULL;
}

/* Every parameter and buffer of r (not the optimizer state, not the
 * model's state/ blobs), in dt.  Returns 0, or -1 with err. */
static int collect(struct lt_ckpt_set *r, enum lt_dtype dt, struct exported *e,
		   struct lt_err *err)
{
	size_t nf;
	const struct lt_ckpt_tensor *ft = lt_ckpt_set_tensors(r, &nf);

	e->t = calloc(nf ? nf : 1, sizeof(*e->t));
	e->data = calloc(nf ? nf : 1, sizeof(*e->data));
	if (!e->t || !e->data)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory exporting '%s'",
				  lt_ckpt_set_label(r));
	for (size_t i = 0; i < nf; i++) {
		if (!strncmp(ft[i].name, "optimizer.", 10) || !strncmp(ft[i].name, "state/", 6))
			continue;
		e->data[e->n] = read_as(r, &ft[i], dt, &e->t[e->n], err);
		if (!e->data[e->n])
			return -1;
		e->t[e->n].data = e->data[e->n];
		/* a buffer under its own name, as the model registered it */
		if (!strncmp(ft[i].name, "buffer/", 7))
			e->t[e->n].name = ft[i].name + 7;
		e->n++;
	}
	if (!e->n)
		return lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s' holds no parameters to export",
				  lt_ckpt_set_label(r));
	return 0;
}

/* out's directory (made) and file name (malloc'd), after the checks:
 * a .safetensors name, the directory there, out absent unless force. */
static int split_out(const char *out, bool force, char **dir, char **name, struct lt_err *err)
{
	const char *slash = strrchr(out, '/');
	size_t len = strlen(out);
	struct stat st;

	*dir = *name = NULL;
	if (len < 13 || strcmp(out + len - 12, ".safetensors") || (slash && !slash[1]))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "ltrun ckpt export: '%s' is not a file name ending in .safetensors: name the file to write",
				  out);
	*dir = slash ? (slash == out ? strdup("/") : strndup(out, (size_t)(slash - out))) : strdup(".");
	*name = strdup(slash ? slash + 1 : out);
	if (!*dir || !*name)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory exporting to '%s'", out);
	if (stat(*dir, &st) || !S_ISDIR(st.st_mode))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot export to '%s': its directory '%s' does not exist: make it first",
				  out, *dir);
	if (!force && !stat(out, &st))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "'%s' exists: give another path, or --force to replace it", out);
	return 0;
}

/* Writes e to out through the file IO.  Returns 0, or -1 with err. */
static int write_out(const struct lt_registry *reg, const char *dir, const char *name,
		     int64_t step, const struct exported *e, const cJSON *meta, struct lt_err *err)
{
	struct lt_choice choice;
	void *state;
	int rc;

	if (lt_safetensors_check(step, e->t, e->n, meta, err))
		return -1;
	if (lt_ckpt_io_open_spec(reg, "file", dir, &choice, &state, err))
		return -1;
	rc = lt_safetensors_write(lt_ckpt_io_of(&choice), state, name, step, e->t, e->n, meta, err);
	lt_ckpt_io_of(&choice)->close(state);
	lt_choice_free(&choice);
	return rc;
}

/* {"format": "ltrun-export", "step": the checkpoint's}. */
static cJSON *export_meta(const struct lt_ckpt_set *r)
{
	cJSON *meta = cJSON_CreateObject();
	const char *step = meta_str(r, "step");

	if (meta && (!cJSON_AddStringToObject(meta, "format", EXPORT_FORMAT) ||
		     (step && !cJSON_AddStringToObject(meta, "step", step)))) {
		cJSON_Delete(meta);
		return NULL;
	}
	return meta;
}

int lt_ckpt_export(const struct lt_registry *reg, const char *io, const char *path,
		   const char *out, enum lt_export_dtype how, bool force, FILE *msg,
		   struct lt_err *err)
{
	struct exported e = { 0 };
	struct lt_ckpt_path *p = NULL;
	struct lt_ckpt_set *r;
	char *dir = NULL, *name = NULL;
	const char *step;
	cJSON *meta = NULL;
	enum lt_dtype dt = LT_F32;
	uint64_t bytes = 0;
	int rc = -1;

	if (split_out(out, force, &dir, &name, err))
		goto out_free;
	if (!(p = lt_ckpt_path_open_set(reg, io, path, err)))
		goto out_free;
	r = lt_ckpt_path_set(p);
	step = meta_str(r, "step");
	if (target_dtype(reg, r, how, &dt, err) || collect(r, dt, &e, err))
		goto out_free;
	if (!(meta = export_meta(r))) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory exporting '%s'", lt_ckpt_set_label(r));
		goto out_free;
	}
	if (write_out(reg, dir, name, step ? strtoll(step, NULL, 10) : 0, &e, meta, err))
		goto out_free;
	for (size_t i = 0; i < e.n; i++)
		bytes += e.t[i].bytes;
	fprintf(msg, "exported %zu tensors (%" PRIu64 " bytes, %s) of '%s' to '%s'\n", e.n, bytes,
		lt_dtype_name(dt), lt_ckpt_set_label(r), out);
	rc = 0;
out_free:
	cJSON_Delete(meta);
	exported_free(&e);
	lt_ckpt_path_close(p);
	free(dir);
	free(name);
	return rc;
}
