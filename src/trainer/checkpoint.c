/*
 * checkpoint.c - a Trainer run's whole state in a checkpoint (ckpt.h),
 * and back: parameters under their registered names (the f32 master
 * weights under mixed precision), optimizer state as
 * "optimizer.<param>.<slot>" (torch's slot names), and in __metadata__
 * the step, the epoch and the position in it (the sampler is a pure
 * function of seed and epoch, so that is its whole state), the loss
 * scaler, the seed, world size, strategy, precision and ABI version.
 *
 * The strategy says which rank saves and reads what (its ckpt_shard op):
 * this version holds whole tensors, so that is rank 0, everything (the
 * replicated default's answer; another is refused with a message).  On a
 * resume the strategy's ckpt_loaded shares what rank 0 read (the
 * default broadcasts it), so only rank 0 needs to reach the checkpoint.  A resume under another world
 * size or precision is refused, naming both.  Rank 0 also holds
 * --ckpt-dir's lock for the whole run (it alone saves and prunes there)
 * and, holding it, clears what interrupted saves left before its first
 * save.
 */
#include "core/url.h"
#include "trainer/checkpoint.h"
#include "ckpt/ckpt.h"
#include "ckpt/file.h"
#include "ckpt/lock.h"
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/optim.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


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

/* Whether this rank writes and reads the state, as the strategy's
 * ckpt_shard says; this version holds only whole tensors, written and
 * read by rank 0 (the replicated default's answer). */
static int shard_role(struct lt_ctx *ctx, bool *active, struct lt_err *err)
{
	struct lt_ckpt_shard sh = { 0 };
	bool whole;

	memset(err, 0, sizeof(*err));
	if (ctx->strategy.ckpt_shard(ctx, ctx->strategy_state, ctx->strategy_params, &sh, err)) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return lt_err_set(err, LT_EXIT_FAILURE, "strategy '%s' (ckpt_shard): %s",
				  ctx->strategy_name, msg);
	}
	whole = sh.offset == 0 && sh.numel == ctx->numel;
	if (sh.active && (ctx->info.rank != 0 || !whole))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "strategy '%s' asks rank %d to save elements [%zu, +%zu) of %zu: this version's checkpoints hold whole tensors written by rank 0 only (use --ckpt-dir with ddp, or no --ckpt-dir)",
				  ctx->strategy_name, ctx->info.rank, sh.offset, sh.numel, ctx->numel);
	*active = sh.active;
	return 0;
}

/* --- saving --- */

int lt_trainer_ckpt_save(struct lt_ctx *ctx, const struct lt_ckpt_pos *pos, struct lt_err *err)
{
	struct lt_ckpt_tensor *t;
	char **names = NULL;
	size_t n = 0;
	cJSON *meta;
	bool active;
	int rc;

	if (!ctx->cfg->ckpt_dir)
		return 0;
	if (shard_role(ctx, &active, err))
		return -1;
	if (!active)
		return 0;
	if (!ctx->ckpt_io && open_io(ctx, ctx->cfg->ckpt_dir, err))
		return -1;
	t = state_tensors(ctx, &n, &names);
	meta = make_meta(ctx, pos);
	if (!t || !meta) {
		free(t);
		free_names(names, n);
		cJSON_Delete(meta);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory describing the checkpoint");
	}
	/* async: the copy, checksums and writes all leave this thread, and
	 * the optimizer step waits for each parameter's copy before it
	 * updates it (lt_trainer_ckpt_release, the runtime's hook) */
	ctx->before_update = lt_trainer_ckpt_release;
	if (ctx->ckpt_io->save_deferred)
		rc = ctx->ckpt_io->save_deferred(ctx->ckpt_state, ctx->step, t, n, meta,
						 ctx->cfg->ckpt_keep, err);
	else
		rc = lt_ckpt_save(ctx->ckpt_io, ctx->ckpt_state, ctx->step, t, n, meta,
				  ctx->cfg->ckpt_keep, err);
	free(t);
	free_names(names, n);
	cJSON_Delete(meta);
	return rc ? lt_ckpt_io_blame(&ctx->choice[LT_KIND_CKPT_IO], err) : 0;
}

void lt_trainer_ckpt_release(struct lt_ctx *ctx, size_t nparams)
{
	const char *slot[2];
	void *buf[2];
	size_t per_param;

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
	lt_ckpt_lock_release(ctx->ckpt_lock);
	ctx->ckpt_lock = NULL;
	return rc;
}

/* --- resuming --- */

/* Splits --resume into the IO's base and what lt_ckpt_open reads under it. */
static int locate(const struct lt_config *c, char *base, size_t blen, const char **where,
		  struct lt_err *err)
{
	const char *r = c->resume, *slash;
	struct stat st;
	char probe[4200];

	if (!strcmp(r, "last")) { /* with --ckpt-dir: lt_config_check */
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

/* Refuses a checkpoint of another run's shape. */
static int check_compatible(const struct lt_ctx *ctx, const cJSON *meta, const char *path,
			    struct lt_err *err)
{
	const char *prec = meta_str(meta, "precision");
	const struct lt_plugin *saved = prec ? lt_registry_find(ctx->reg, LT_KIND_PRECISION, prec) : NULL;
	const struct lt_plugin *ours = ctx->choice[LT_KIND_PRECISION].base;
	double world;

	if (meta_num(meta, path, "world_size", &world, err))
		return -1;
	if ((int)world != ctx->info.world_size)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "checkpoint '%s' was saved by %d ranks, this run has %d: resume with the same world size (its sampler position depends on it)",
				  path, (int)world, ctx->info.world_size);
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

/* Rank 0: reads every tensor of the state into place, and the scalars. */
static int read_state(struct lt_ctx *ctx, struct lt_ckpt_reader *r, double *v, struct lt_err *err)
{
	const cJSON *meta = lt_ckpt_meta(r);
	const char *path = lt_ckpt_path(r);
	struct lt_ckpt_tensor *t;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	static const char *const keys[] = { "step", "optimizer_steps", "epoch", "step_in_epoch",
					    "loss_scale", "loss_scale_good_steps",
					    "loss_scale_skipped" };

	if (check_compatible(ctx, meta, path, err))
		return -1;
	warn_changed_optimizer(ctx, meta);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (meta_num(meta, path, keys[k], &v[k], err))
			return -1;
	t = state_tensors(ctx, &n, &names);
	if (!t)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading checkpoint '%s'", path);
	for (size_t i = 0; i < n && !rc; i++)
		rc = lt_ckpt_read(r, t[i].name, t[i].dtype, t[i].ndim, t[i].shape, (void *)t[i].data,
				  err);
	free(t);
	free_names(names, n);
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

int lt_trainer_ckpt_resume(struct lt_ctx *ctx, struct lt_ckpt_pos *pos, struct lt_err *err)
{
	double v[7] = { 0 };
	bool active;
	int rc = 0;

	if (!ctx->cfg->resume)
		return 0;
	if (shard_role(ctx, &active, err))
		return -1;
	if (active) {
		char base[4096];
		const char *where = NULL;
		struct lt_ckpt_reader *r = NULL;

		rc = locate(ctx->cfg, base, sizeof(base), &where, err);
		if (!rc)
			rc = open_io(ctx, base, err);
		if (!rc && !(r = lt_ckpt_open(ctx->ckpt_io, ctx->ckpt_state, where, err)))
			rc = -1;
		if (!rc)
			rc = read_state(ctx, r, v, err);
		if (r)
			lt_ckpt_close(r);
		/* Saves go to --ckpt-dir, which may be elsewhere. */
		if (ctx->ckpt_io) {
			ctx->ckpt_io->close(ctx->ckpt_state);
			ctx->ckpt_io = NULL;
			ctx->ckpt_state = NULL;
		}
		if (rc)
			return -1;
	}
	if (share_state(ctx, v, sizeof(v) / sizeof(v[0]), err))
		return -1;
	lt_runtime_refresh_views(ctx);
	ctx->step = (int64_t)v[0];
	ctx->optim_steps = (int64_t)v[1];
	pos->epoch = (int)v[2];
	pos->step_in_epoch = (int64_t)v[3];
	ctx->scaler.st = (struct lt_scaler_state){ .scale = v[4], .good_steps = (int64_t)v[5],
						   .skipped = (int64_t)v[6] };
	lt_runtime_update_loss_scale(ctx);
	return 0;
}

/* --- checking --resume before any rank starts --- */

int lt_trainer_ckpt_check_resume(const struct lt_config *c, bool reach, struct lt_err *err)
{
	struct lt_registry *reg;
	struct lt_choice choice;
	struct lt_ckpt_reader *r;
	char base[4096], q[LT_QUOTE_MAX];
	const char *where = NULL;
	struct stat st;
	void *state;

	if (!c->resume || !strcmp(c->resume, "last"))
		return 0;
	lt_quote(q, sizeof(q), c->resume);
	if (locate(c, base, sizeof(base), &where, err))
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
	r = lt_ckpt_open(lt_ckpt_io_of(&choice), state, where, err);
	if (r)
		lt_ckpt_close(r);
	lt_ckpt_io_of(&choice)->close(state);
	lt_choice_free(&choice);
	lt_registry_free(reg);
	return r ? 0 : -1;
}
