/*
 * init_weights.c - given weights: storing a parameter's values from a
 * buffer of any float dtype where they survive every precision (the f32
 * master copy under mixed precision, from which the compute view is made
 * as after an optimizer step; the compute view otherwise), and
 * `--init-weights FILE|DIR`, which does it for every parameter from a
 * safetensors file by tensor name.
 *
 * The file is read by rank 0 alone, between the model's init and the
 * strategy's setup, whose first act is to give every rank rank 0's values
 * (the master weights under mixed precision): the file need only be
 * reachable from rank 0, and every rank count and precision works the
 * same.  The file is opened as `ltrun ckpt inspect` opens a path
 * (ckpt/inspect.h): a .safetensors file (Python's, `ltrun ckpt export`'s),
 * a directory holding model.safetensors, or an ltrun checkpoint (its base
 * directory's `last`, a step-<N> directory), whose parameters carry their
 * registered names (the f32 master weights under mixed precision) and
 * whose optimizer.* state and state/ blobs are skipped.  The model's
 * buffers are taken too where the file has them (under their own names,
 * as an export writes them, or a checkpoint's buffer/<name>); a buffer the
 * file lacks keeps its first values.
 */
#include "trainer/init_weights.h"
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/inspect.h"
#include "core/dtype.h"
#include "precision/precision.h"
#include "runtime/buffers.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names listed in one message before "and N more". */
#define LIST_MAX 4

/* --- storing values --- */

int lt_weights_store(struct lt_ctx *ctx, struct lt_tensor *t, const void *values,
		     enum lt_dtype dt, struct lt_err *err)
{
	const struct lt_choice *prec = &ctx->choice[LT_KIND_PRECISION];
	size_t n = (size_t)t->numel;
	float *v = t->master;
	int rc = 0;

	/* the values are the view's own: no rounding through f32 */
	if (!v && dt == ctx->dtype) {
		memcpy(t->data, values, n * lt_dtype_size(dt));
		return 0;
	}
	if (!v && ctx->dtype == LT_F32)
		v = t->data;
	if (!v && !(v = malloc(n * sizeof(float))))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the values of '%s'",
				  t->name);
	lt_precision_to_f32(v, values, dt, n);
	if (v != t->data) {
		struct lt_precision_view pv = { .param = t->name, .index = t->index,
						.step = ctx->optim_steps, .params = prec->params };

		rc = lt_precision_to_compute(prec, &pv, t->data, v, n, err);
	}
	if (v != t->data && v != t->master)
		free(v);
	return rc;
}

/* --- the file's tensors against the parameters --- */

static const struct lt_ckpt_tensor *find(const struct lt_ckpt_tensor *ft, size_t nf,
					 const char *name)
{
	for (size_t i = 0; i < nf; i++)
		if (!strcmp(ft[i].name, name))
			return &ft[i];
	return NULL;
}

/* Whether the file is an ltrun checkpoint, whose optimizer state is no
 * parameter of any model. */
static bool is_checkpoint(const struct lt_ckpt_reader *r)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(lt_ckpt_meta(r), "format");

	return cJSON_IsString(f) && !strcmp(f->valuestring, LT_CKPT_FORMAT);
}

/* Appends "'name'" to a list of at most LIST_MAX names in buf. */
static void list_add(char *buf, size_t len, size_t count, const char *name)
{
	char q[LT_QUOTE_MAX];
	size_t k = strlen(buf);

	if (count < LIST_MAX && k < len)
		snprintf(buf + k, len - k, "%s'%s'", count ? ", " : "", lt_quote(q, sizeof(q), name));
}

static void list_end(char *buf, size_t len, size_t count)
{
	size_t k = strlen(buf);

	if (count > LIST_MAX && k < len)
		snprintf(buf + k, len - k, " and %zu more", count - LIST_MAX);
}

/* Every parameter is in the file, of its shape and a float dtype.
 * Returns 0, or -1 with err naming the first fault. */
static int check_params(const struct lt_ctx *ctx, const struct lt_ckpt_reader *r,
			const char *path, struct lt_err *err)
{
	size_t nf, missing = 0;
	const struct lt_ckpt_tensor *ft = lt_ckpt_tensors(r, &nf);
	char names[512] = "", s1[LT_CKPT_SHAPE_MAX], s2[LT_CKPT_SHAPE_MAX];

	for (size_t i = 0; i < ctx->nparams; i++) {
		const struct lt_tensor *p = ctx->params[i];
		const struct lt_ckpt_tensor *f = find(ft, nf, p->name);
		bool same;

		if (!f) {
			list_add(names, sizeof(names), missing++, p->name);
			continue;
		}
		same = f->ndim == p->shape.ndim;
		for (int d = 0; same && d < f->ndim; d++)
			same = f->shape[d] == p->shape.dim[d];
		if (!same)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--init-weights '%s': tensor '%s' is %s in the file, the model's parameter is %s: give weights of this model",
					  path, p->name, lt_ckpt_shape_str(s1, sizeof(s1), f->ndim, f->shape),
					  lt_ckpt_shape_str(s2, sizeof(s2), p->shape.ndim, p->shape.dim));
		if (!lt_dtype_is_float(f->dtype))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--init-weights '%s': tensor '%s' is %s: give F32, F64, F16 or BF16 values",
					  path, p->name, lt_dtype_st_name(f->dtype));
	}
	if (!missing)
		return 0;
	list_end(names, sizeof(names), missing);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "--init-weights '%s' has no tensor for %zu of the model's %zu parameters: %s: give a file holding every parameter under its registered name",
			  path, missing, ctx->nparams, names);
}

/* Whether the file's tensor `name` is one of the model's: a parameter or
 * buffer by its own name, or a buffer as a checkpoint names it. */
static bool is_models(const struct lt_ctx *ctx, const char *name)
{
	const struct lt_tensor *t = lt_tensor_named(ctx, name);

	if (!t && !strncmp(name, "buffer/", 7))
		t = lt_tensor_named(ctx, name + 7);
	return t && (!strncmp(name, "buffer/", 7) ? t->is_buffer : true);
}

/* The file's tensor for buffer b: its own name (an export's), or
 * "buffer/<name>" (a checkpoint's); NULL when the file has none. */
static const struct lt_ckpt_tensor *find_buffer(const struct lt_ckpt_tensor *ft, size_t nf,
						const struct lt_tensor *b)
{
	char key[sizeof(b->name) + 8];

	snprintf(key, sizeof(key), "buffer/%s", b->name);
	return find(ft, nf, b->name) ? find(ft, nf, b->name) : find(ft, nf, key);
}

/* Tensors of the file the model has not: listed on stderr and skipped,
 * or refused under --init-weights-strict.  Returns 0, or -1 with err. */
static int check_extra(const struct lt_ctx *ctx, const struct lt_ckpt_reader *r,
		       const char *path, struct lt_err *err)
{
	size_t nf, extra = 0;
	const struct lt_ckpt_tensor *ft = lt_ckpt_tensors(r, &nf);
	bool ckpt = is_checkpoint(r);
	char names[512] = "";

	for (size_t i = 0; i < nf; i++) {
		if (is_models(ctx, ft[i].name) ||
		    (ckpt && (!strncmp(ft[i].name, "optimizer.", 10) ||
			      !strncmp(ft[i].name, "state/", 6))))
			continue;
		list_add(names, sizeof(names), extra++, ft[i].name);
	}
	if (!extra)
		return 0;
	list_end(names, sizeof(names), extra);
	if (ctx->cfg->init_weights_strict)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--init-weights '%s' holds %zu tensor%s the model has not: %s: give weights of this model, or drop --init-weights-strict to skip them",
				  path, extra, extra == 1 ? "" : "s", names);
	fprintf(stderr, "ltrun: --init-weights '%s': skipped %zu tensor%s the model has not: %s\n",
		path, extra, extra == 1 ? "" : "s", names);
	return 0;
}

/* Reads every parameter from r and stores it.  Returns 0, or -1 with err. */
static int load_params(struct lt_ctx *ctx, struct lt_ckpt_reader *r, struct lt_err *err)
{
	size_t nf;
	const struct lt_ckpt_tensor *ft = lt_ckpt_tensors(r, &nf);
	void *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	for (size_t i = 0; i < ctx->nparams && !rc; i++) {
		struct lt_tensor *p = ctx->params[i];
		const struct lt_ckpt_tensor *f = find(ft, nf, p->name);

		if (f->bytes > cap) {
			free(buf);
			cap = f->bytes;
			if (!(buf = malloc(cap)))
				return lt_err_set(err, LT_EXIT_FAILURE,
						  "out of memory reading '%s' from --init-weights", p->name);
		}
		rc = lt_ckpt_read(r, f->name, f->dtype, f->ndim, f->shape, buf, err);
		if (!rc)
			rc = lt_weights_store(ctx, p, buf, f->dtype, err);
	}
	free(buf);
	return rc;
}

/* Reads the buffers the file holds, converted to each buffer's dtype;
 * a buffer the file lacks keeps its first values.  Returns 0, or -1 with
 * err. */
static int load_buffers(struct lt_ctx *ctx, struct lt_ckpt_reader *r, const char *path,
			struct lt_err *err)
{
	size_t nf;
	const struct lt_ckpt_tensor *ft = lt_ckpt_tensors(r, &nf);
	int rc = 0;

	for (size_t i = 0; i < ctx->nbuffers && !rc; i++) {
		struct lt_tensor *b = ctx->buffers[i];
		const struct lt_ckpt_tensor *f = find_buffer(ft, nf, b);
		bool same;
		void *raw;

		if (!f)
			continue;
		same = f->ndim == b->shape.ndim;
		for (int d = 0; same && d < f->ndim; d++)
			same = f->shape[d] == b->shape.dim[d];
		if (!same)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--init-weights '%s': buffer '%s' has another shape in the file: give weights of this model",
					  path, b->name);
		if (!(raw = malloc(f->bytes ? f->bytes : 1)))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "out of memory reading buffer '%s' from --init-weights", b->name);
		rc = lt_ckpt_read(r, f->name, f->dtype, f->ndim, f->shape, raw, err);
		for (int64_t k = 0; !rc && k < b->numel; k++)
			lt_dtype_store(b->data, b->dtype, (size_t)k,
				       lt_dtype_load(raw, f->dtype, (size_t)k));
		free(raw);
	}
	return rc;
}

/* Opens the file, checks it against the parameters and loads it.
 * Returns 0, or -1 with err. */
static int load(struct lt_ctx *ctx, struct lt_err *err)
{
	char path[LT_QUOTE_MAX];
	struct lt_ckpt_path *f;
	struct lt_ckpt_reader *r;
	int rc;

	lt_quote(path, sizeof(path), ctx->cfg->init_weights);
	f = lt_ckpt_path_open(ctx->reg, NULL, ctx->cfg->init_weights, err);
	if (!f) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return lt_err_set(err, LT_EXIT_FAILURE, "--init-weights: %s", msg);
	}
	r = lt_ckpt_path_reader(f);
	rc = check_params(ctx, r, path, err);
	if (!rc)
		rc = check_extra(ctx, r, path, err);
	if (!rc)
		rc = load_params(ctx, r, err);
	if (!rc)
		rc = load_buffers(ctx, r, path, err);
	if (!rc && ctx->cfg->verbose)
		fprintf(stderr, "ltrun: --init-weights: %zu parameters from '%s'\n", ctx->nparams,
			lt_ckpt_label(r));
	lt_ckpt_path_close(f);
	return rc;
}

/* Whether any gradient is nonzero: a backward ran before the weights
 * came (Fabric mode places the parameters at the first lt_sync_grads()). */
static bool grads_touched(const struct lt_ctx *ctx)
{
	const unsigned char *g = (const unsigned char *)ctx->grad_arena.base;

	for (size_t i = 0; i < ctx->grad_arena.used; i++)
		if (g[i])
			return true;
	return false;
}

void lt_init_weights_apply(struct lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	if (!ctx->cfg->init_weights || ctx->info.rank != 0)
		return;
	if (grads_touched(ctx))
		lt_fatal(ctx, "--init-weights: the model ran a backward pass before its parameters took the given weights, which arrive when they are placed (Fabric mode: the first lt_sync_grads()): call lt_resume() (or lt_sync_grads()) once after registering the parameters, before the first forward");
	if (load(ctx, &err))
		lt_fatal(ctx, "%s", err.msg);
}

/* --- before the ranks start --- */

int lt_init_weights_check(const struct lt_config *c, const struct lt_registry *reg, bool reach,
			  struct lt_err *err)
{
	struct lt_ckpt_path *f;

	if (!c->init_weights || !reach)
		return 0;
	f = lt_ckpt_path_open(reg, NULL, c->init_weights, err);
	if (!f) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return lt_err_set(err, LT_EXIT_USAGE, "--init-weights: %s", msg);
	}
	lt_ckpt_path_close(f);
	return 0;
}
