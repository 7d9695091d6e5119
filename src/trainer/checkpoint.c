/*
 * checkpoint.c - a Trainer run's whole state in a checkpoint (ckpt.h),
 * and back: parameters under their registered names (the f32 master
 * weights under mixed precision), optimizer state as
 * "optimizer.<param>.<slot>" (torch's slot names), and in __metadata__
 * the step, the epoch and the position in it (the sampler is a pure
 * function of seed and epoch, so that is its whole state), the loss
 * scaler, the seed, world size, strategy, precision and ABI version.
 * Beside them (below, "buffers and the model's blobs"): every buffer as
 * "buffer/<name>" in its own dtype, and each of the model's blobs as
 * "state/<key>", an I64 tensor whose element 0 is the blob's size in
 * bytes and the rest its bytes, so that checksums and `ltrun ckpt verify`
 * cover them too.
 *
 * The strategy says which rank saves and reads what (its ckpt_shard op,
 * every rank's answer gathered).  Rank 0, everything (the replicated
 * default): one model.safetensors, and on a resume the strategy's
 * ckpt_loaded shares what rank 0 read (the default broadcasts it), so
 * only rank 0 needs to reach the checkpoint.  Anything else: a sharded
 * checkpoint (ckpt/shards.h), one shard per rank written in parallel and
 * published by rank 0's index.json once every rank's is written and
 * checked; every rank must reach --ckpt-dir.  A resume reads each
 * reading rank's range from a whole or a sharded checkpoint (lt_ckpt_set),
 * so the world size may change (resharding a sharded side; the sampler's
 * position is rescaled to the same sample, lt_sampler_rescale_step), but
 * never the precision.  Rank 0 also holds
 * --ckpt-dir's lock for the whole run (it alone saves and prunes there)
 * and, holding it, clears what interrupted saves left before its first
 * save.
 */
#include "core/url.h"
#include "trainer/checkpoint.h"
#include "ckpt/ckpt.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/lock.h"
#include "ckpt/shards.h"
#include "comm/comm.h"
#include "core/error.h"
#include "precision/precision.h"
#include "runtime/buffers.h"
#include "runtime/optim.h"
#include "trainer/ckpt_stage.h"
#include "trainer/sampler.h"
#include "trainer/state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


/* The IO plugin for base: the run's --ckpt-io, as the registry resolved
 * it (async wraps http for a URL, file otherwise). */
static int open_io(struct lt_ctx *ctx, const char *base, struct lt_err *err)
{
	const struct lt_choice *c = &ctx->choice[LT_KIND_CKPT_IO];

	ctx->ckpt_io = lt_ckpt_io_of(c);
	return lt_ckpt_io_open(ctx->reg, c, base, &ctx->ckpt_state, err);
}

/* --- the directory --- */

/* Whether this rank saves into a local --ckpt-dir (the lock's business). */
static bool saves_locally(const struct lt_ctx *ctx)
{
	return ctx->info.rank == 0 && lt_ckpt_dir_is_local(ctx->cfg->ckpt_dir, ctx->cfg->ckpt_io);
}

int lt_trainer_ckpt_lock(struct lt_ctx *ctx, struct lt_err *err)
{
	if (!saves_locally(ctx) || ctx->ckpt_lock)
		return 0;
	return lt_ckpt_lock_take(ctx->cfg->ckpt_dir, ctx->host, ctx->info.run_id, &ctx->ckpt_lock,
				 err);
}

void lt_trainer_ckpt_clean(struct lt_ctx *ctx)
{
	struct lt_ckpt_cleaned c;
	struct lt_err err = { 0 };
	char q[LT_QUOTE_MAX];

	/* unlocked (no flock there): another run may be writing */
	if (!saves_locally(ctx) || !lt_ckpt_lock_held(ctx->ckpt_lock))
		return;
	if (lt_ckpt_io_file_clean(ctx->cfg->ckpt_dir, &c, &err)) {
		lt_warn("%s", err.msg);
		return;
	}
	if (c.files || c.dirs)
		fprintf(stderr,
			"ltrun: removed what interrupted saves left in '%s': %u file%s (%.1f MB), %u incomplete checkpoint%s\n",
			lt_quote(q, sizeof(q), ctx->cfg->ckpt_dir), c.files, c.files == 1 ? "" : "s",
			(double)c.bytes / 1e6, c.dirs, c.dirs == 1 ? "" : "s");
}

/* --- what is saved --- */

/* Where the optimizer's weights of t live, and their dtype. */
static void *state_values(const struct lt_tensor *t)
{
	return t->master ? (void *)t->master : t->data;
}

static enum lt_dtype state_dtype(const struct lt_ctx *ctx)
{
	return ctx->precision->mixed ? LT_F32 : ctx->dtype;
}

static void describe(struct lt_ckpt_tensor *d, const char *name, const struct lt_tensor *t,
		     enum lt_dtype dt, const void *data)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->dtype = dt;
	d->ndim = t->shape.ndim;
	memcpy(d->shape, t->shape.dim, sizeof(d->shape[0]) * (size_t)t->shape.ndim);
	d->data = data;
	d->bytes = (size_t)t->numel * lt_dtype_size(dt);
}

/* Metadata values are strings (safetensors' rule): integers exactly,
 * doubles so that they read back bit for bit. */
static void meta_int(cJSON *meta, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	cJSON_AddStringToObject(meta, key, buf);
}

static void meta_double(cJSON *meta, const char *key, double v)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%.17g", v);
	cJSON_AddStringToObject(meta, key, buf);
}

/* --- the optimizer's settings (a resume with others warns) --- */

/* The options a checkpoint records the optimizer's settings by, each
 * under its name with '_' for '-' ("adam_betas"), as lt_config_value()
 * writes it; --optimizer is "optimizer". */
static const enum lt_opt_id optim_opts[] = {
	LT_OPT_OPTIMIZER, LT_OPT_LR, LT_OPT_MOMENTUM, LT_OPT_ADAM_BETAS, LT_OPT_ADAM_EPS,
	LT_OPT_WEIGHT_DECAY, LT_OPT_WEIGHT_DECAY_ON, LT_OPT_LR_SCHEDULE, LT_OPT_MIN_LR,
	LT_OPT_WARMUP_STEPS,
};
#define N_OPTIM_OPTS (sizeof(optim_opts) / sizeof(optim_opts[0]))

static void meta_key(char *key, size_t len, enum lt_opt_id id)
{
	snprintf(key, len, "%s", lt_options[id].name);
	for (char *c = key; *c; c++)
		if (*c == '-')
			*c = '_';
}

/* The groups of the parameters, as JSON text: the names of those not
 * decayed ("no_weight_decay", an array) or the lr scales other than 1
 * ("lr_scales", an object of name: scale), in registration order. */
static char *groups_json(const struct lt_ctx *ctx, bool scales)
{
	cJSON *j = scales ? cJSON_CreateObject() : cJSON_CreateArray();
	char *text;

	for (size_t i = 0; j && i < ctx->nparams; i++) {
		struct lt_optim_group g = lt_runtime_group(ctx, ctx->params[i]);
		if (scales && g.lr_scale != 1.0)
			cJSON_AddNumberToObject(j, ctx->params[i]->name, g.lr_scale);
		else if (!scales && !g.decay)
			cJSON_AddItemToArray(j, cJSON_CreateString(ctx->params[i]->name));
	}
	text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return text;
}

/* Adds the optimizer's settings and groups to meta.  Returns 0, or -1
 * when out of memory. */
static int meta_optimizer(const struct lt_ctx *ctx, cJSON *meta)
{
	char key[64], value[256], *no_decay = groups_json(ctx, false);
	char *scales = groups_json(ctx, true);
	int rc = no_decay && scales ? 0 : -1;

	for (size_t i = 0; i < N_OPTIM_OPTS; i++) {
		meta_key(key, sizeof(key), optim_opts[i]);
		cJSON_AddStringToObject(meta, key, lt_config_value(ctx->cfg, &lt_options[optim_opts[i]],
								  value, sizeof(value)));
	}
	if (!rc) {
		cJSON_AddStringToObject(meta, "no_weight_decay", no_decay);
		cJSON_AddStringToObject(meta, "lr_scales", scales);
	}
	free(no_decay);
	free(scales);
	return rc;
}

static cJSON *make_meta(const struct lt_ctx *ctx, const struct lt_ckpt_pos *pos)
{
	cJSON *meta = cJSON_CreateObject();

	if (!meta)
		return NULL;
	meta_int(meta, "step", ctx->step);
	meta_int(meta, "optimizer_steps", ctx->optim_steps);
	meta_int(meta, "epoch", pos->epoch);
	meta_int(meta, "step_in_epoch", pos->step_in_epoch);
	meta_int(meta, "seed", ctx->cfg->seed);
	meta_int(meta, "world_size", ctx->info.world_size);
	meta_int(meta, "abi_version", LT_ABI_VERSION);
	meta_double(meta, "loss_scale", ctx->scaler.st.scale);
	meta_int(meta, "loss_scale_good_steps", ctx->scaler.st.good_steps);
	meta_int(meta, "loss_scale_skipped", ctx->scaler.st.skipped);
	cJSON_AddStringToObject(meta, "strategy", ctx->strategy_name);
	cJSON_AddStringToObject(meta, "precision", ctx->choice[LT_KIND_PRECISION].base->name);
	cJSON_AddStringToObject(meta, "ltrun", LT_VERSION);
	if (meta_optimizer(ctx, meta)) {
		cJSON_Delete(meta);
		return NULL;
	}
	return meta;
}

/* The tensors of the state: every parameter, then its optimizer slots.
 * names holds the slot names ("optimizer.fc1.weight.exp_avg"). */
static struct lt_ckpt_tensor *state_tensors(struct lt_ctx *ctx, size_t *n, char ***names)
{
	const char *slot[2];
	void *buf[2];
	int nslots = lt_optim_buffers_typed(ctx->optim, slot, buf);
	size_t total = ctx->nparams * (size_t)(1 + nslots), k = 0;
	struct lt_ckpt_tensor *t = calloc(total ? total : 1, sizeof(*t));
	char **owned = calloc(total ? total : 1, sizeof(*owned));
	enum lt_dtype sdt = lt_optim_state_dtype(ctx->optim);

	if (!t || !owned)
		goto fail;
	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *p = ctx->params[i];
		describe(&t[k++], p->name, p, state_dtype(ctx), state_values(p));
		for (int s = 0; s < nslots; s++) {
			size_t len = strlen(p->name) + strlen(slot[s]) + 16;
			char *name = malloc(len);
			if (!name)
				goto fail;
			snprintf(name, len, "optimizer.%s.%s", p->name, slot[s]);
			owned[k] = name;
			describe(&t[k++], name, p, sdt,
				 (char *)buf[s] + p->offset * lt_dtype_size(sdt));
		}
	}
	*n = k;
	*names = owned;
	return t;
fail:
	for (size_t i = 0; owned && i < total; i++)
		free(owned[i]);
	free(owned);
	free(t);
	return NULL;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* --- what each rank saves: the strategy's say --- */

/* Every rank's answer to ckpt_shard, gathered: sharded unless only rank 0
 * saves, and the whole space. */
struct plan {
	struct lt_ckpt_shard mine;
	bool sharded;
	int64_t *ranges; /* world x (active, offset, numel) */
};

static int strategy_failed(struct lt_ctx *ctx, const char *op, struct lt_err *err)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	return lt_err_set(err, LT_EXIT_FAILURE, "strategy '%s' (%s): %s", ctx->strategy_name, op,
			  msg);
}

/* This rank's range must lie in the space, and in its optimizer state's
 * range (which it saves and reads). */
static int check_range(const struct lt_ctx *ctx, const struct lt_ckpt_shard *sh,
		       struct lt_err *err)
{
	const struct lt_strategy_layout *l = &ctx->layout;

	if (!sh->active)
		return 0;
	if (sh->offset > ctx->numel || sh->numel > ctx->numel - sh->offset)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "strategy '%s' asks rank %d to save elements [%zu, +%zu) of %zu: its ckpt_shard must name a range of the flat space",
				  ctx->strategy_name, ctx->info.rank, sh->offset, sh->numel, ctx->numel);
	if (sh->offset < l->state_offset || sh->offset + sh->numel > l->state_offset + l->state_numel)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "strategy '%s' asks rank %d to save elements [%zu, +%zu), but it keeps optimizer state for [%zu, +%zu): its ckpt_shard must lie in its layout",
				  ctx->strategy_name, ctx->info.rank, sh->offset, sh->numel,
				  l->state_offset, l->state_numel);
	return 0;
}

/* Asks the strategy (every rank, collectively) who saves and reads what. */
static int plan_make(struct lt_ctx *ctx, struct plan *pl, struct lt_err *err)
{
	int w = ctx->info.world_size;
	int64_t mine[3];
	int rc;

	memset(pl, 0, sizeof(*pl));
	memset(err, 0, sizeof(*err));
	if (ctx->strategy.ckpt_shard(ctx, ctx->strategy_state, ctx->strategy_params, &pl->mine, err))
		return strategy_failed(ctx, "ckpt_shard", err);
	if (check_range(ctx, &pl->mine, err))
		return -1;
	mine[0] = pl->mine.active;
	mine[1] = (int64_t)pl->mine.offset;
	mine[2] = (int64_t)pl->mine.numel;
	if (!(pl->ranges = calloc((size_t)w * 3, sizeof(int64_t))))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory planning the checkpoint");
	rc = w == 1 ? (memcpy(pl->ranges, mine, sizeof(mine)), 0)
		    : lt_comm_all_gather(ctx->comm, mine, pl->ranges, 3, LT_I64, err);
	if (rc)
		return -1;
	pl->sharded = !(pl->ranges[0] && pl->ranges[1] == 0 && pl->ranges[2] == (int64_t)ctx->numel);
	for (int r = 1; r < w; r++)
		pl->sharded |= pl->ranges[3 * r] != 0;
	return 0;
}

static void plan_free(struct plan *pl)
{
	free(pl->ranges);
	pl->ranges = NULL;
}

/* --- buffers and the model's blobs --- */

#define BUFFER_PREFIX "buffer/"
#define STATE_PREFIX "state/"

/* What a save writes of the buffers and blobs: copies, since the model
 * changes its buffers in the next step while an async save may still be
 * copying (kept in ctx->ckpt_snapshot until the next save or the end). */
struct snapshot {
	struct lt_ckpt_tensor *t;
	size_t n;
	char **names;
	void **data;
};

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->names[i]);
		free(s->data[i]);
	}
	if (s) {
		free(s->t);
		free(s->names);
		free(s->data);
	}
	free(s);
}

/* Entry k of s: name prefix + name, bytes copied from src (after a head
 * of hbytes bytes, the blob's size). */
static int snapshot_add(struct snapshot *s, const char *prefix, const char *name,
			const void *src, size_t bytes, const int64_t *head)
{
	size_t k = s->n, hbytes = head ? 8 : 0, len = strlen(prefix) + strlen(name) + 1;
	struct lt_ckpt_tensor *d = &s->t[k];

	s->names[k] = malloc(len);
	s->data[k] = calloc(1, hbytes + bytes + 8);
	if (!s->names[k] || !s->data[k]) {
		free(s->names[k]);
		free(s->data[k]);
		return -1;
	}
	s->n++;
	snprintf(s->names[k], len, "%s%s", prefix, name);
	if (head)
		memcpy(s->data[k], head, 8);
	if (bytes)
		memcpy((char *)s->data[k] + hbytes, src, bytes);
	d->name = s->names[k];
	d->data = s->data[k];
	return 0;
}

static struct snapshot *snapshot_take(const struct lt_ctx *ctx)
{
	size_t nblobs = ctx->save_state ? lt_state_count(ctx->save_state) : 0;
	size_t total = ctx->nbuffers + nblobs + 1;
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s || !(s->t = calloc(total, sizeof(*s->t))) ||
	    !(s->names = calloc(total, sizeof(char *))) || !(s->data = calloc(total, sizeof(void *))))
		goto fail;
	for (size_t i = 0; i < ctx->nbuffers; i++) {
		const struct lt_tensor *b = ctx->buffers[i];

		if (snapshot_add(s, BUFFER_PREFIX, b->name, b->data, lt_tensor_bytes(b), NULL))
			goto fail;
		describe(&s->t[s->n - 1], s->names[s->n - 1], b, b->dtype, s->data[s->n - 1]);
	}
	for (size_t i = 0; i < nblobs; i++) {
		const void *bytes;
		size_t size;
		const char *key = lt_state_key_at(ctx->save_state, i, &bytes, &size);
		int64_t head = (int64_t)size;
		struct lt_ckpt_tensor *d = &s->t[s->n];

		if (snapshot_add(s, STATE_PREFIX, key, bytes, size, &head))
			goto fail;
		d->dtype = LT_I64;
		d->ndim = 1;
		d->shape[0] = 1 + (int64_t)((size + 7) / 8);
		d->bytes = (size_t)d->shape[0] * 8;
	}
	return s;
fail:
	snapshot_free(s);
	return NULL;
}

/* t (n tensors) followed by the snapshot's, in *t (*total of them); the
 * snapshot replaces the previous save's in ctx once no save copies that
 * one.  Returns 0 or -1 (memory). */
static int add_extras(struct lt_ctx *ctx, struct lt_ckpt_tensor **t, size_t n, size_t *total)
{
	struct snapshot *s = snapshot_take(ctx);
	struct lt_ckpt_tensor *all = s ? realloc(*t, (n + s->n + 1) * sizeof(**t)) : NULL;

	if (!all) {
		snapshot_free(s);
		return -1;
	}
	memcpy(all + n, s->t, s->n * sizeof(*all));
	*t = all;
	*total = n + s->n;
	if (ctx->ckpt_io && ctx->ckpt_io->release)
		ctx->ckpt_io->release(ctx->ckpt_state, SIZE_MAX);
	snapshot_free(ctx->ckpt_snapshot);
	ctx->ckpt_snapshot = s;
	return 0;
}

/* Whole tensor name of s: its description, or NULL. */
static const struct lt_ckpt_tensor *set_tensor(const struct lt_ckpt_set *s, const char *name)
{
	size_t n;
	const struct lt_ckpt_tensor *t = lt_ckpt_set_tensors(s, &n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

/* Rank 0: buffer t from the checkpoint, which must have it. */
static int read_buffer(struct lt_ckpt_set *s, struct lt_tensor *t, struct lt_err *err)
{
	size_t len = strlen(BUFFER_PREFIX) + strlen(t->name) + 1;
	char name[sizeof(BUFFER_PREFIX) + sizeof(t->name)], s1[LT_CKPT_SHAPE_MAX], s2[LT_CKPT_SHAPE_MAX];
	const struct lt_ckpt_tensor *in;

	snprintf(name, len, "%s%s", BUFFER_PREFIX, t->name);
	if (!(in = set_tensor(s, name)))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "checkpoint '%s' has no buffer '%s': it was saved by a model without that lt_buffer() (resume with the model that saved it)",
				  lt_ckpt_set_label(s), t->name);
	if (in->ndim != t->shape.ndim || memcmp(in->shape, t->shape.dim, sizeof(in->shape[0]) * (size_t)in->ndim))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "checkpoint '%s': buffer '%s' is %s, but the model's is %s: load a checkpoint of this model",
				  lt_ckpt_set_label(s), t->name,
				  lt_ckpt_shape_str(s1, sizeof(s1), in->ndim, in->shape),
				  lt_ckpt_shape_str(s2, sizeof(s2), t->shape.ndim, t->shape.dim));
	return lt_ckpt_set_read(s, name, t->dtype, 0, (uint64_t)t->numel, t->data, err);
}

/* Rank 0: the blob of tensor d ("state/<key>") into ctx->loaded_state. */
static int read_blob(struct lt_ctx *ctx, struct lt_ckpt_set *s, const struct lt_ckpt_tensor *d,
		     struct lt_err *err)
{
	const char *key = d->name + strlen(STATE_PREFIX);
	int64_t *v;
	int rc;

	if (d->dtype != LT_I64 || d->ndim != 1 || d->shape[0] < 1)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "checkpoint '%s': state '%s' is not a blob ltrun wrote (an I64 vector of its size and bytes)",
				  lt_ckpt_set_label(s), key);
	v = malloc((size_t)d->shape[0] * 8);
	if (!v)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading state '%s'", key);
	rc = lt_ckpt_set_read(s, d->name, LT_I64, 0, (uint64_t)d->shape[0], v, err);
	if (!rc && (v[0] < 0 || v[0] > (d->shape[0] - 1) * 8))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"checkpoint '%s': state '%s' claims %lld bytes in a tensor of %lld",
				lt_ckpt_set_label(s), key, (long long)v[0],
				(long long)(d->shape[0] - 1) * 8);
	if (!rc)
		rc = lt_state_set(ctx->loaded_state, key, v + 1, (size_t)v[0], err);
	free(v);
	return rc;
}

/* Rank 0: every buffer and every blob of the checkpoint. */
static int read_extras(struct lt_ctx *ctx, struct lt_ckpt_set *s, struct lt_err *err)
{
	size_t n;
	const struct lt_ckpt_tensor *in = lt_ckpt_set_tensors(s, &n);

	for (size_t i = 0; i < ctx->nbuffers; i++)
		if (read_buffer(s, ctx->buffers[i], err))
			return -1;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(in[i].name, STATE_PREFIX, strlen(STATE_PREFIX)) &&
		    read_blob(ctx, s, &in[i], err))
			return -1;
	return 0;
}

/* Every rank gets rank 0's buffers and blobs. */
static int share_extras(struct lt_ctx *ctx, struct lt_err *err)
{
	if (ctx->info.world_size == 1)
		return 0;
	if (lt_buffers_broadcast(ctx, err))
		return -1;
	return lt_state_share(ctx->comm, ctx->info.rank, ctx->loaded_state, err);
}

/* --- saving --- */

/* The arenas are a device's: the host reads them through a stage. */
static bool on_device(const struct lt_ctx *ctx)
{
	return ctx->accel && !ctx->accel->host_access;
}

static struct lt_ckpt_stage *stage_of(struct lt_ctx *ctx, struct lt_err *err)
{
	if (!ctx->ckpt_stage && !(ctx->ckpt_stage = lt_ckpt_stage_new(ctx->accel)))
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory staging the checkpoint");
	return ctx->ckpt_stage;
}

/* A device's state (the first n of t) into host memory: the copies are
 * queued behind the step that made the values, and the writer waits for
 * them (ready: the async IO, on its thread; otherwise here). */
static int stage_state(struct lt_ctx *ctx, struct lt_ckpt_tensor *t, size_t n, bool deferred,
		       struct lt_err *err)
{
	struct lt_ckpt_stage *s = stage_of(ctx, err);

	/* the previous async save may still be writing from the stage */
	if (ctx->ckpt_io->release)
		ctx->ckpt_io->release(ctx->ckpt_state, SIZE_MAX);
	if (!s || lt_ckpt_stage_out(s, t, n, err))
		return -1;
	return deferred ? 0 : lt_ckpt_stage_ready(s, err);
}

/* Rank 0, the replicated default: one model.safetensors of whole tensors. */
static int save_whole(struct lt_ctx *ctx, const struct lt_ckpt_pos *pos, struct lt_err *err)
{
	struct lt_ckpt_tensor *t;
	char **names = NULL;
	size_t n = 0, all = 0;
	bool deferred = ctx->ckpt_io->save_deferred != NULL;
	cJSON *meta;
	int rc;

	t = state_tensors(ctx, &n, &names);
	meta = make_meta(ctx, pos);
	if (!t || !meta || add_extras(ctx, &t, n, &all)) {
		free(t);
		free_names(names, n);
		cJSON_Delete(meta);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory describing the checkpoint");
	}
	/* async: the copy, checksums and writes all leave this thread, and
	 * the optimizer step waits for each parameter's copy before it
	 * updates it (lt_trainer_ckpt_release, the runtime's hook); on a
	 * device, the copy out runs beside the next step and the optimizer's
	 * kernels wait for it on the device */
	ctx->before_update = lt_trainer_ckpt_release;
	rc = on_device(ctx) ? stage_state(ctx, t, n, deferred, err) : 0;
	if (!rc && deferred)
		rc = ctx->ckpt_io->save_deferred(ctx->ckpt_state, ctx->step, t, all, meta,
						 ctx->cfg->ckpt_keep,
						 on_device(ctx) ? lt_ckpt_stage_ready : NULL,
						 ctx->ckpt_stage, err);
	else if (!rc)
		rc = lt_ckpt_save(ctx->ckpt_io, ctx->ckpt_state, ctx->step, t, all, meta,
				  ctx->cfg->ckpt_keep, err);
	free(t);
	free_names(names, n);
	cJSON_Delete(meta);
	return rc ? lt_ckpt_io_blame(&ctx->choice[LT_KIND_CKPT_IO], err) : 0;
}

/* --- sharded saving --- */

/* Slices of the state, as a shard's tensors (t: data to write) and as
 * the index's pieces (p), with the names they own. */
struct slices {
	struct lt_ckpt_tensor *t;
	struct lt_ckpt_piece *p;
	char **names;
	size_t n, cap;
};

static void slices_free(struct slices *sl)
{
	free_names(sl->names, sl->n);
	free(sl->t);
	free(sl->p);
	memset(sl, 0, sizeof(*sl));
}

/* Adds elements [a, b) of whole tensor w (named name) in file `file`:
 * data holds them (NULL: another rank's). */
static int slices_add(struct slices *sl, const char *name, const struct lt_ckpt_tensor *w,
		      int file, size_t a, size_t b, const void *data)
{
	size_t k = sl->n;

	if (k == sl->cap) {
		size_t cap = sl->cap ? 2 * sl->cap : 16;
		void *t = realloc(sl->t, cap * sizeof(*sl->t));

		if (t)
			sl->t = t;
		if (!t || !(t = realloc(sl->p, cap * sizeof(*sl->p))))
			return -1;
		sl->p = t;
		if (!(t = realloc(sl->names, cap * sizeof(*sl->names))))
			return -1;
		sl->names = t;
		sl->cap = cap;
	}
	if (!(sl->names[k] = strdup(name)))
		return -1;
	sl->n++;
	sl->t[k] = (struct lt_ckpt_tensor){ .name = sl->names[k], .dtype = w->dtype, .ndim = 1,
					    .shape = { (int64_t)(b - a) }, .data = data,
					    .bytes = (b - a) * lt_dtype_size(w->dtype) };
	sl->p[k] = (struct lt_ckpt_piece){ .name = sl->names[k], .dtype = w->dtype, .ndim = w->ndim,
					   .file = file, .begin = a, .end = b };
	memcpy(sl->p[k].shape, w->shape, sizeof(w->shape));
	return 0;
}

/* The slices of flat range [off, off + numel) (rank `file`'s): each
 * parameter's values, then its optimizer slots; data from this rank's
 * storage when local. */
static int slices_of(struct lt_ctx *ctx, struct slices *sl, int file, size_t off, size_t numel,
		     bool local)
{
	const char *slot[2];
	void *buf[2];
	int nslots = lt_optim_buffers_typed(ctx->optim, slot, buf);
	enum lt_dtype sdt = lt_optim_state_dtype(ctx->optim);
	size_t vsz = lt_dtype_size(state_dtype(ctx)), ssz = lt_dtype_size(sdt);

	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *p = ctx->params[i];
		size_t lo = p->offset, hi = p->offset + (size_t)p->numel;
		size_t a = off > lo ? off : lo, b = off + numel < hi ? off + numel : hi;
		struct lt_ckpt_tensor w;
		char name[sizeof(p->name) + 64];

		if (a >= b)
			continue;
		describe(&w, p->name, p, state_dtype(ctx), NULL);
		if (slices_add(sl, p->name, &w, file, a - lo, b - lo,
			       local ? (char *)state_values(p) + (a - lo) * vsz : NULL))
			return -1;
		w.dtype = sdt;
		for (int s = 0; s < nslots; s++) {
			snprintf(name, sizeof(name), "optimizer.%s.%s", p->name, slot[s]);
			if (slices_add(sl, name, &w, file, a - lo, b - lo,
				       local ? (char *)buf[s] + (a - ctx->layout.state_offset) * ssz
					     : NULL))
				return -1;
		}
	}
	return 0;
}

/* Rank 0's buffers and blobs, whole, in its shard (file 0). */
static int slices_extras(struct lt_ctx *ctx, struct slices *sl)
{
	struct lt_ckpt_tensor *t = NULL;
	size_t all = 0;

	if (add_extras(ctx, &t, 0, &all))
		return -1;
	for (size_t i = 0; i < all; i++) {
		uint64_t n = t[i].bytes / lt_dtype_size(t[i].dtype);

		if (slices_add(sl, t[i].name, &t[i], 0, 0, n, t[i].data)) {
			free(t);
			return -1;
		}
	}
	free(t);
	return 0;
}

static const char *shard_name(char *buf, size_t len, const struct lt_ctx *ctx, int rank)
{
	return lt_ckpt_shard_file(buf, len, rank, ctx->info.world_size);
}

/* A rank that did not fail waits up to 3 s before it reports that
 * another did, so that the failed rank exits first: the launcher's
 * report (the first rank to fail) then carries that rank's own message,
 * which names the file, and the launcher stops this one meanwhile.
 * Without it, on a loaded machine, this rank's exit could come first
 * and the failed one be stopped before it said why. */
static void let_the_failed_rank_exit_first(void)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < 30; i++)
		nanosleep(&tick, NULL);
}

/* The first failed rank of all (status: 0, or this rank's failure),
 * every rank agreeing; -1 when none.  A rank that failed keeps its err;
 * the others' names the failed rank's shard with what. */
static int first_failure(struct lt_ctx *ctx, bool failed, const char *what, bool saving,
			 struct lt_err *err)
{
	int64_t v = failed ? ctx->info.world_size - ctx->info.rank : 0;
	char file[48];
	struct lt_err e2;

	if (ctx->info.world_size > 1 && lt_comm_all_reduce(ctx->comm, &v, 1, LT_I64, LT_MAX, &e2)) {
		*err = e2;
		return ctx->info.rank;
	}
	if (!v)
		return -1;
	v = ctx->info.world_size - v;
	if (!failed)
		let_the_failed_rank_exit_first();
	if (!failed && saving)
		lt_err_set(err, LT_EXIT_FAILURE, "%s: shard '%s' of rank %d failed (rank %d's message says why)",
			   what, shard_name(file, sizeof(file), ctx, (int)v), (int)v, (int)v);
	else if (!failed)
		lt_err_set(err, LT_EXIT_FAILURE, "%s: rank %d could not read its part (its message says why)",
			   what, (int)v);
	return (int)v;
}

/* Every rank: rank 0 makes step-<N>, the others must see it there. */
static int make_step_dir(struct lt_ctx *ctx, const char *what, struct lt_err *err)
{
	char *dir;
	struct stat st;
	int rc = 0, bad;

	if (asprintf(&dir, "%s/step-%lld", ctx->cfg->ckpt_dir, (long long)ctx->step) < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory saving a checkpoint");
	if (ctx->info.rank == 0)
		rc = lt_ckpt_make_dirs(dir, err);
	bad = first_failure(ctx, rc != 0, what, true, err);
	if (bad < 0 && stat(dir, &st))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"rank %d cannot see '%s' that rank 0 made: strategy '%s' writes a shard per rank, so --ckpt-dir must be one directory every rank reaches (a shared filesystem)",
				ctx->info.rank, dir, ctx->strategy_name);
	free(dir);
	if (bad >= 0)
		return -1;
	return first_failure(ctx, rc != 0, what, true, err) >= 0 ? -1 : 0;
}

/* Every rank writes its shard; rank 0 then publishes the index. */
static int save_sharded(struct lt_ctx *ctx, const struct plan *pl, const struct lt_ckpt_pos *pos,
			struct lt_err *err)
{
	struct slices mine = { 0 }, all = { 0 };
	char what[64];
	cJSON *meta = NULL;
	int rc = 0, r;

	snprintf(what, sizeof(what), "checkpoint step-%lld", (long long)ctx->step);
	if (ctx->ckpt_io != &lt_ckpt_io_file)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "strategy '%s' saves sharded checkpoints, which this version writes with --ckpt-io file only: use a --ckpt-dir on a shared filesystem",
				  ctx->strategy_name);
	if (make_step_dir(ctx, what, err))
		return -1;
	if ((pl->mine.active &&
	     slices_of(ctx, &mine, ctx->info.rank, pl->mine.offset, pl->mine.numel, true)) ||
	    (ctx->info.rank == 0 && slices_extras(ctx, &mine)))
		rc = lt_err_set(err, LT_EXIT_FAILURE, "out of memory describing the checkpoint");
	if (!rc)
		rc = lt_ckpt_shard_save(ctx->ckpt_io, ctx->ckpt_state, ctx->step, ctx->info.rank,
					ctx->info.world_size, mine.t, mine.n, err);
	if (first_failure(ctx, rc != 0, what, true, err) >= 0) {
		if (ctx->info.rank == 0)
			lt_ckpt_step_discard(ctx->ckpt_io, ctx->ckpt_state, ctx->step);
		slices_free(&mine);
		return -1;
	}
	if (ctx->info.rank == 0) {
		for (r = 0; r < ctx->info.world_size && !rc; r++)
			if (pl->ranges[3 * r])
				rc = slices_of(ctx, &all, r, (size_t)pl->ranges[3 * r + 1],
					       (size_t)pl->ranges[3 * r + 2], false);
		for (size_t i = 0; i < mine.n && !rc; i++) /* the extras */
			if (!strncmp(mine.names[i], BUFFER_PREFIX, strlen(BUFFER_PREFIX)) ||
			    !strncmp(mine.names[i], STATE_PREFIX, strlen(STATE_PREFIX))) {
				struct lt_ckpt_tensor w = { .dtype = mine.p[i].dtype,
							    .ndim = mine.p[i].ndim };

				memcpy(w.shape, mine.p[i].shape, sizeof(w.shape));
				rc = slices_add(&all, mine.names[i], &w, 0, 0, mine.p[i].end, NULL);
			}
		if (rc)
			lt_err_set(err, LT_EXIT_FAILURE, "out of memory describing the checkpoint");
		meta = rc ? NULL : make_meta(ctx, pos);
		rc = rc ? -1 : !meta ? lt_err_set(err, LT_EXIT_FAILURE, "out of memory describing the checkpoint")
			   : lt_ckpt_shards_publish(ctx->ckpt_io, ctx->ckpt_state, ctx->step,
						    ctx->info.world_size, all.p, all.n, meta,
						    ctx->cfg->ckpt_keep, err);
		if (rc)
			lt_ckpt_step_discard(ctx->ckpt_io, ctx->ckpt_state, ctx->step);
		cJSON_Delete(meta);
	}
	slices_free(&mine);
	slices_free(&all);
	return first_failure(ctx, rc != 0, what, true, err) >= 0 ? -1 : 0;
}

int lt_trainer_ckpt_save(struct lt_ctx *ctx, const struct lt_ckpt_pos *pos, struct lt_err *err)
{
	struct plan pl;
	int rc;

	if (!ctx->cfg->ckpt_dir)
		return 0;
	if (plan_make(ctx, &pl, err)) {
		plan_free(&pl);
		return -1;
	}
	if (!ctx->ckpt_io && (pl.sharded || pl.mine.active) && open_io(ctx, ctx->cfg->ckpt_dir, err))
		rc = -1;
	else if (pl.sharded && on_device(ctx))
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"sharded checkpoints out of --accelerator %s are not built in this version",
				ctx->choice[LT_KIND_ACCELERATOR].named->name);
	else if (pl.sharded)
		rc = save_sharded(ctx, &pl, pos, err);
	else
		rc = pl.mine.active ? save_whole(ctx, pos, err) : 0;
	plan_free(&pl);
	return rc;
}

void lt_trainer_ckpt_release(struct lt_ctx *ctx, size_t nparams)
{
	const char *slot[2];
	void *buf[2];
	size_t per_param;

	if (on_device(ctx)) {
		struct lt_err err = { 0 };

		/* the copy reads the device, not what the optimizer changes next */
		if (lt_ckpt_stage_fence(ctx->ckpt_stage, &err))
			lt_fatal(ctx, "checkpoint: %s", err.msg);
		return;
	}
	if (!ctx->ckpt_io || !ctx->ckpt_io->release)
		return;
	/* state_tensors' order: each parameter, then its optimizer slots */
	per_param = 1 + (size_t)lt_optim_buffers_typed(ctx->optim, slot, buf);
	ctx->ckpt_io->release(ctx->ckpt_state,
			      nparams >= ctx->nparams ? SIZE_MAX : nparams * per_param);
}

int lt_trainer_ckpt_finish(struct lt_ctx *ctx, struct lt_err *err)
{
	int rc = 0;

	if (ctx->ckpt_io) {
		rc = lt_ckpt_io_flush(ctx->ckpt_io, ctx->ckpt_state, err);
		if (rc)
			lt_ckpt_io_blame(&ctx->choice[LT_KIND_CKPT_IO], err);
		ctx->ckpt_io->close(ctx->ckpt_state);
		ctx->ckpt_io = NULL;
		ctx->ckpt_state = NULL;
	}
	snapshot_free(ctx->ckpt_snapshot);
	ctx->ckpt_snapshot = NULL;
	lt_ckpt_stage_free(ctx->ckpt_stage);
	ctx->ckpt_stage = NULL;
	lt_state_destroy(ctx->loaded_state);
	ctx->loaded_state = NULL;
	lt_ckpt_lock_release(ctx->ckpt_lock);
	ctx->ckpt_lock = NULL;
	return rc;
}

/* --- resuming --- */

/* Splits resume r (--resume, or "auto" on a restart) into the IO's base
 * and what lt_ckpt_open reads under it. */
static int locate(const struct lt_config *c, const char *r, char *base, size_t blen,
		  const char **where, struct lt_err *err)
{
	const char *slash;
	struct stat st;
	char probe[4200];

	/* with --ckpt-dir: lt_config_check; auto found one (auto_found) */
	if (!strcmp(r, "last") || !strcmp(r, "auto")) {
		snprintf(base, blen, "%s", c->ckpt_dir);
		*where = "last";
		return 0;
	}
	snprintf(base, blen, "%s", r);
	while (strlen(base) > 1 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	snprintf(probe, sizeof(probe), "%s/last", base);
	if (!lt_is_url(base) && !stat(probe, &st)) {
		*where = "last";
		return 0;
	}
	slash = strrchr(base, '/');
	if (!slash || (lt_is_url(base) && slash < strstr(base, "//") + 2))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--resume '%s': give 'last', a checkpoint directory, a step-N directory or a model.safetensors",
				  r);
	*where = r + (slash - base) + 1;
	base[slash - base] = '\0';
	if (!base[0])
		snprintf(base, blen, "/");
	return 0;
}

static const char *meta_str(const cJSON *meta, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int meta_num(const cJSON *meta, const char *path, const char *key, double *out,
		    struct lt_err *err)
{
	const char *s = meta_str(meta, key);
	char *end;

	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "checkpoint '%s' has no '%s' in its metadata: it was not written by ltrun's trainer",
				  path, key);
	*out = strtod(s, &end);
	if (end == s || *end)
		return lt_err_set(err, LT_EXIT_FAILURE, "checkpoint '%s': metadata '%s' is '%s', not a number",
				  path, key, s);
	return 0;
}

/* Refuses a checkpoint of another run's shape.  Another world size is
 * safe where the state is read by ranges (resharding): when the
 * checkpoint or this run is sharded. */
static int check_compatible(const struct lt_ctx *ctx, const cJSON *meta, const char *path,
			    bool reshard, struct lt_err *err)
{
	const char *prec = meta_str(meta, "precision");
	const struct lt_plugin *saved = prec ? lt_registry_find(ctx->reg, LT_KIND_PRECISION, prec) : NULL;
	const struct lt_plugin *ours = ctx->choice[LT_KIND_PRECISION].base;
	double world;

	if (meta_num(meta, path, "world_size", &world, err))
		return -1;
	/* A replicated state is whole on rank 0 whatever the world size; the
	 * sampler's position is rescaled (read_scalars). */
	(void)reshard;
	if ((int)world != ctx->info.world_size && ctx->info.rank == 0)
		lt_warn("resuming checkpoint '%s' of %d ranks on %d: the epoch goes on from the same sample, step %s of it becoming step %lld",
			path, (int)world, ctx->info.world_size,
			meta_str(meta, "step_in_epoch") ? meta_str(meta, "step_in_epoch") : "?",
			meta_str(meta, "step_in_epoch")
				? (long long)lt_sampler_rescale_step(atoll(meta_str(meta, "step_in_epoch")),
								     (int)world, ctx->info.world_size)
				: -1LL);
	if (prec && (!saved || lt_registry_base(ctx->reg, saved) != ours))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "checkpoint '%s' was saved in precision %s, this run uses %s: resume with --precision %s%s",
				  path, prec, ours->name, prec,
				  saved ? "" : " (and the --plugin that registers it)");
	return 0;
}

/* Whether two values of an option are the same: numbers, or ','-separated
 * numbers, by value ("0.90,0.95" is "0.9,0.95"), anything else as text. */
static bool same_setting(const char *a, const char *b)
{
	char *ea, *eb;

	if (!strcmp(a, b))
		return true;
	for (;;) {
		double x = strtod(a, &ea), y = strtod(b, &eb);
		if (ea == a || eb == b || x != y || *ea != *eb || (*ea && *ea != ','))
			return false;
		if (!*ea)
			return true;
		a = ea + 1;
		b = eb + 1;
	}
}

/* Rank 0, resuming: one warning for each optimizer setting (and each of
 * the two kinds of parameter groups) this run changes from the
 * checkpoint's.  This run's values apply; the optimizer's state (Adam's
 * moments, the momentum buffer) is the checkpoint's.  A checkpoint from
 * before these keys says nothing. */
static void warn_changed_optimizer(const struct lt_ctx *ctx, const cJSON *meta)
{
	char key[64], value[256], *groups;
	const char *old;

	for (size_t i = 0; i < N_OPTIM_OPTS; i++) {
		const struct lt_option *o = &lt_options[optim_opts[i]];
		meta_key(key, sizeof(key), o->id);
		lt_config_value(ctx->cfg, o, value, sizeof(value));
		if ((old = meta_str(meta, key)) && !same_setting(old, value))
			lt_warn("resuming with --%s %s, the checkpoint used %s", o->name, value, old);
	}
	for (int scales = 0; scales < 2; scales++) {
		old = meta_str(meta, scales ? "lr_scales" : "no_weight_decay");
		groups = groups_json(ctx, scales);
		if (old && groups && strcmp(old, groups))
			lt_warn("resuming with %s %.200s, the checkpoint had %.200s",
				scales ? "the lr scales" : "weight decay off for", groups, old);
		free(groups);
	}
}

/* The compute values of flat range [off, off + numel) from the master
 * weights just read (mixed precision). */
static int compute_range(struct lt_ctx *ctx, size_t off, size_t numel, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype);

	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];
		size_t lo = t->offset, hi = lo + (size_t)t->numel;
		size_t a = off > lo ? off : lo, b = off + numel < hi ? off + numel : hi;
		struct lt_precision_view pv = { .param = t->name, .index = i,
						.step = ctx->optim_steps, .first = a - lo,
						.params = ctx->choice[LT_KIND_PRECISION].params };

		if (t->master && a < b &&
		    lt_precision_to_compute(&ctx->choice[LT_KIND_PRECISION], &pv,
					    (char *)t->data + (a - lo) * esz, t->master + (a - lo),
					    b - a, err))
			return -1;
	}
	return 0;
}

/* This rank's range of every parameter and optimizer slot, from s. */
static int read_range(struct lt_ctx *ctx, struct lt_ckpt_set *s, size_t off, size_t numel,
		      struct lt_err *err)
{
	struct slices sl = { 0 };
	const void **dev = NULL;
	struct lt_ckpt_stage *st = NULL;
	int rc = 0;

	if (slices_of(ctx, &sl, 0, off, numel, true) ||
	    (on_device(ctx) && !(dev = calloc(sl.n ? sl.n : 1, sizeof(*dev)))))
		rc = lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading checkpoint '%s'",
				lt_ckpt_set_label(s));
	/* a device's state: read into the stage, then copied in */
	if (!rc && dev && (!(st = stage_of(ctx, err)) || lt_ckpt_stage_map(st, sl.t, sl.n, dev, err)))
		rc = -1;
	for (size_t k = 0; k < sl.n && !rc; k++)
		rc = lt_ckpt_set_read(s, sl.names[k], sl.t[k].dtype, sl.p[k].begin,
				      sl.p[k].end - sl.p[k].begin, (void *)sl.t[k].data, err);
	if (!rc && dev)
		rc = lt_ckpt_stage_copy_in(st, sl.t, sl.n, dev, err);
	slices_free(&sl);
	free(dev);
	/* a device's compute values: lt_runtime_refresh_views, on every rank */
	return rc || dev ? rc : compute_range(ctx, off, numel, err);
}

/* Rank 0: the scalars of the checkpoint's metadata into v. */
static int read_scalars(struct lt_ctx *ctx, const struct lt_ckpt_set *s, double *v,
			struct lt_err *err)
{
	static const char *const keys[] = { "step", "optimizer_steps", "epoch", "step_in_epoch",
					    "loss_scale", "loss_scale_good_steps",
					    "loss_scale_skipped" };
	double world;

	warn_changed_optimizer(ctx, lt_ckpt_set_meta(s));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (meta_num(lt_ckpt_set_meta(s), lt_ckpt_set_label(s), keys[k], &v[k], err))
			return -1;
	/* Saved by another world size: the same sample, at this one's step. */
	if (meta_num(lt_ckpt_set_meta(s), lt_ckpt_set_label(s), "world_size", &world, err))
		return -1;
	v[3] = (double)lt_sampler_rescale_step((int64_t)v[3], (int)world, ctx->info.world_size);
	return 0;
}

/* A rank that reads: opens --resume (whole or sharded), and reads its
 * range (rank 0 also the scalars, buffers and blobs). */
static int read_part(struct lt_ctx *ctx, const struct plan *pl, double *v, struct lt_err *err)
{
	char base[4096];
	const char *where = NULL;
	struct lt_ckpt_set *s = NULL;
	int rc;

	rc = locate(ctx->cfg, lt_trainer_resume_mode(ctx), base, sizeof(base), &where, err);
	if (!rc)
		rc = open_io(ctx, base, err);
	if (!rc && !(s = lt_ckpt_set_open(ctx->ckpt_io, ctx->ckpt_state, NULL, where, err)))
		rc = -1;
	if (!rc)
		rc = check_compatible(ctx, lt_ckpt_set_meta(s), lt_ckpt_set_label(s),
				      pl->sharded || lt_ckpt_set_sharded(s), err);
	if (!rc && ctx->info.rank == 0)
		rc = read_scalars(ctx, s, v, err);
	if (!rc && pl->mine.active)
		rc = read_range(ctx, s, pl->mine.offset, pl->mine.numel, err);
	if (!rc && ctx->info.rank == 0)
		rc = read_extras(ctx, s, err);
	lt_ckpt_set_close(s);
	/* Saves go to --ckpt-dir, which may be elsewhere. */
	if (ctx->ckpt_io) {
		ctx->ckpt_io->close(ctx->ckpt_state);
		ctx->ckpt_io = NULL;
		ctx->ckpt_state = NULL;
	}
	return rc;
}

/* Every rank gets rank 0's scalars, and the state as the strategy's
 * ckpt_loaded shares it (the default: rank 0's values and optimizer
 * state to every rank). */
static int share_state(struct lt_ctx *ctx, double *v, size_t nv, struct lt_err *err)
{
	if (lt_comm_broadcast(ctx->comm, v, nv, LT_F64, 0, err))
		return -1;
	memset(err, 0, sizeof(*err));
	if (ctx->strategy.ckpt_loaded(ctx, ctx->strategy_state, ctx->strategy_params, err)) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return lt_err_set(err, LT_EXIT_FAILURE, "strategy '%s' (ckpt_loaded): %s",
				  ctx->strategy_name, msg);
	}
	return 0;
}

const char *lt_trainer_resume_mode(const struct lt_ctx *ctx)
{
	const struct lt_config *c = ctx->cfg;

	if (c->resume)
		return c->resume;
	/* a restart (--max-restarts, a requeued Slurm job) goes on from
	 * where the last attempt saved */
	return ctx->info.restart_count > 0 && c->ckpt_dir ? "auto" : NULL;
}

/* Rank 0, resuming "auto" from a local --ckpt-dir: 1 when it holds a
 * checkpoint (`last`), 0 when it holds none at all, -1 with err when it
 * cannot tell, or when it holds complete checkpoints (checkpoints.json)
 * but no `last`: that is damage, not a first start. */
static int local_last(const char *dir, struct lt_err *err)
{
	static const char *const names[] = { "last", "checkpoints.json" };
	char path[4200], q[LT_QUOTE_MAX];
	struct stat st;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!stat(path, &st))
			return i == 0 ? 1
				      : lt_err_set(err, LT_EXIT_FAILURE,
						   "--resume auto: '%s' lists checkpoints but '%s/last' is missing: resume one of them with --resume DIR/step-N",
						   lt_quote(q, sizeof(q), path), dir);
		if (errno != ENOENT)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "--resume auto: cannot tell whether '%s' exists: %s",
					  lt_quote(q, sizeof(q), path), strerror(errno));
	}
	return 0;
}

/* Rank 0, resuming "auto": whether --ckpt-dir holds a checkpoint.  Through
 * another IO (a URL, a plugin's) a missing `last` cannot be told from an
 * unreachable one, so only one that is there counts: else an error under
 * --resume auto, and on a restart without --resume a warning and a fresh
 * start, as restarts went before they resumed. */
static int has_last(struct lt_ctx *ctx, struct lt_err *err)
{
	const char *dir = ctx->cfg->ckpt_dir;
	char q[LT_QUOTE_MAX];
	struct lt_err e2 = { 0 };
	uint64_t size;
	int rc;

	if (lt_ckpt_dir_is_local(dir, ctx->cfg->ckpt_io))
		return local_last(dir, err);
	if (open_io(ctx, dir, err))
		return -1;
	rc = ctx->ckpt_io->size(ctx->ckpt_state, "last", &size, &e2);
	ctx->ckpt_io->close(ctx->ckpt_state);
	ctx->ckpt_io = NULL;
	ctx->ckpt_state = NULL;
	if (!rc)
		return 1;
	if (!ctx->cfg->resume) {
		lt_warn("a restart: no checkpoint to resume from: %s", e2.msg);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "--resume auto: %s (auto starts fresh only in a local --ckpt-dir with none: '%s' is not; start the first run without --resume)",
			  e2.msg, lt_quote(q, sizeof(q), dir));
}

/* Why the run resumes "auto", for rank 0's line. */
static const char *auto_why(const struct lt_ctx *ctx)
{
	return ctx->cfg->resume ? "--resume auto" : "a restart";
}

/* Every rank, resuming "auto": 1 when rank 0 found a checkpoint, 0 when
 * it found none (the run starts fresh, rank 0 says so), -1 with err. */
static int auto_found(struct lt_ctx *ctx, struct lt_err *err)
{
	int32_t v = ctx->info.rank == 0 ? has_last(ctx, err) : 0;
	struct lt_err e2;
	char q[LT_QUOTE_MAX];

	if (ctx->info.world_size > 1 && lt_comm_broadcast(ctx->comm, &v, 1, LT_I32, 0, &e2)) {
		*err = e2;
		return -1;
	}
	if (v < 0 && ctx->info.rank != 0)
		lt_err_set(err, LT_EXIT_FAILURE,
			   "--resume auto: rank 0 could not look for a checkpoint (its message says why)");
	if (v == 0 && ctx->info.rank == 0)
		fprintf(stderr, "ltrun: %s: no checkpoint in '%s' yet, starting fresh\n",
			auto_why(ctx), lt_quote(q, sizeof(q), ctx->cfg->ckpt_dir));
	return v;
}

int lt_trainer_ckpt_resume(struct lt_ctx *ctx, struct lt_ckpt_pos *pos, struct lt_err *err)
{
	const char *mode = lt_trainer_resume_mode(ctx);
	double v[7] = { 0 };
	struct plan pl;
	int rc = 0;

	ctx->resumed = false;
	if (!mode)
		return 0;
	lt_state_destroy(ctx->loaded_state);
	if (!(ctx->loaded_state = lt_state_create()))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the model's state");
	if (!strcmp(mode, "auto") && (rc = auto_found(ctx, err)) <= 0)
		return rc;
	rc = 0;
	if (plan_make(ctx, &pl, err)) {
		plan_free(&pl);
		return -1;
	}
	if (pl.mine.active || ctx->info.rank == 0)
		rc = read_part(ctx, &pl, v, err);
	plan_free(&pl);
	if (first_failure(ctx, rc != 0, "--resume", false, err) >= 0)
		return -1;
	if (share_state(ctx, v, sizeof(v) / sizeof(v[0]), err) || share_extras(ctx, err))
		return -1;
	lt_runtime_refresh_views(ctx);
	ctx->step = (int64_t)v[0];
	ctx->optim_steps = (int64_t)v[1];
	pos->epoch = (int)v[2];
	pos->step_in_epoch = (int64_t)v[3];
	ctx->scaler.st = (struct lt_scaler_state){ .scale = v[4], .good_steps = (int64_t)v[5],
						   .skipped = (int64_t)v[6] };
	lt_runtime_update_loss_scale(ctx);
	ctx->resumed = true;
	if (!strcmp(mode, "auto") && ctx->info.rank == 0) {
		char q[LT_QUOTE_MAX];
		fprintf(stderr, "ltrun: %s: resumed at step %lld from the last checkpoint in '%s'\n",
			auto_why(ctx), (long long)ctx->step, lt_quote(q, sizeof(q), ctx->cfg->ckpt_dir));
	}
	return 0;
}

/* --- checking --resume before any rank starts --- */

int lt_trainer_ckpt_check_resume(const struct lt_config *c, bool reach, struct lt_err *err)
{
	struct lt_registry *reg;
	struct lt_choice choice;
	struct lt_ckpt_set *s;
	char base[4096], q[LT_QUOTE_MAX];
	const char *where = NULL;
	struct stat st;
	void *state;

	if (!c->resume || !strcmp(c->resume, "last") || !strcmp(c->resume, "auto"))
		return 0;
	lt_quote(q, sizeof(q), c->resume);
	if (locate(c, c->resume, base, sizeof(base), &where, err))
		return -1;
	if (lt_is_url(base) || !reach) /* a URL's IO: lt_config_check */
		return 0;
	/* before io->open(), which would create a missing base directory */
	if (stat(c->resume, &st))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--resume '%s': %s: give 'last', a checkpoint directory, a step-N directory or a model.safetensors",
				  q, strerror(errno));
	/* through the run's --ckpt-io (a --plugin's included) */
	reg = lt_registry_load(c, err);
	if (!reg)
		return -1;
	if (lt_ckpt_io_open_spec(reg, c->ckpt_io, base, &choice, &state, err)) {
		lt_registry_free(reg);
		return -1;
	}
	s = lt_ckpt_set_open(lt_ckpt_io_of(&choice), state, NULL, where, err);
	lt_ckpt_set_close(s);
	lt_ckpt_io_of(&choice)->close(state);
	lt_choice_free(&choice);
	lt_registry_free(reg);
	return s ? 0 : -1;
}
