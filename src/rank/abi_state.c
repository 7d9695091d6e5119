/*
 * abi_state.c - the calls of ltrun.h for buffers and the model's state:
 * lt_buffer(), lt_tensor_dtype()/lt_tensor_shape(), lt_state_*, and
 * Fabric mode's checkpoints lt_save()/lt_resume() on top of the
 * Trainer's (trainer/checkpoint.h), with --ckpt-dir's lock held around
 * lt_main() (lt_fabric_ckpt_begin/end, from rank.c).
 */
#include "core/error.h"
#include "rank/abi.h"
#include "runtime/buffers.h"
#include "trainer/checkpoint.h"
#include "trainer/state.h"

#include <stdio.h>
#include <string.h>

/* --- buffers --- */

LT_API lt_tensor *lt_buffer(lt_ctx *ctx, const char *name, struct lt_shape shape,
			    enum lt_dtype dt, struct lt_init init, enum lt_buffer_sync sync)
{
	struct lt_err err = { 0 };
	struct lt_tensor *t;
	int64_t numel;

	lt_abi_need_host(ctx, "lt_buffer");
	if (!lt_abi_valid_name(name))
		lt_fatal(ctx, "lt_buffer(): bad buffer name '%s': give 1 to 127 printable characters without spaces or quotes",
			 name ? name : "(null)");
	if (ctx->params_frozen)
		lt_fatal(ctx, "lt_buffer('%s') after training started: register every buffer in init (or before the first lt_sync_grads)",
			 name);
	numel = lt_abi_shape_numel(ctx, "lt_buffer", name, shape);
	t = lt_buffers_add(ctx, name, shape, numel, dt, init, sync, &err);
	if (!t)
		lt_fatal(ctx, "lt_buffer('%s'): %s", name, err.msg);
	return t;
}

LT_API enum lt_dtype lt_tensor_dtype(const lt_tensor *t)
{
	if (!t)
		lt_fatal(NULL, "lt_tensor_dtype(NULL): pass a tensor lt_param() or lt_buffer() returned");
	return t->dtype;
}

LT_API struct lt_shape lt_tensor_shape(const lt_tensor *t)
{
	if (!t)
		lt_fatal(NULL, "lt_tensor_shape(NULL): pass a tensor lt_param() or lt_buffer() returned");
	return t->shape;
}

/* --- the model's state --- */

LT_API lt_state *lt_state_new(lt_ctx *ctx)
{
	lt_state *st = lt_state_create();

	if (!st)
		lt_fatal(ctx, "lt_state_new(): out of memory");
	return st;
}

LT_API void lt_state_free(lt_state *state)
{
	lt_state_destroy(state);
}

LT_API void lt_state_put(lt_state *st, const char *key, const void *bytes, size_t size)
{
	struct lt_err err = { 0 };

	if (!st)
		lt_fatal(NULL, "lt_state_put(NULL, '%.80s'): pass the state on_save was given (or lt_state_new()'s)",
			 key ? key : "(null)");
	if (size && !bytes)
		lt_fatal(NULL, "lt_state_put('%.80s'): %zu bytes at NULL", key ? key : "(null)", size);
	if (lt_state_set(st, key, bytes, size, &err))
		lt_fatal(NULL, "lt_state_put(): %s", err.msg);
}

LT_API const void *lt_state_get(lt_state *st, const char *key, size_t *size)
{
	if (!st)
		lt_fatal(NULL, "lt_state_get(NULL, '%.80s'): pass the state on_load was given (or lt_state_new()'s)",
			 key ? key : "(null)");
	return lt_state_find(st, key, size);
}

/* --- Fabric mode's checkpoints --- */

LT_API void lt_save(lt_ctx *ctx, lt_state *state)
{
	struct lt_ckpt_pos pos = { .epoch = 0, .step_in_epoch = ctx->step };
	struct lt_err err = { 0 };

	if (!ctx->cfg->ckpt_dir)
		lt_fatal(ctx, "lt_save() without --ckpt-dir: give ltrun --ckpt-dir DIR (where checkpoints go)");
	lt_abi_ensure_setup(ctx, "lt_save");
	if (!ctx->fabric_saved)
		lt_trainer_ckpt_clean(ctx);
	ctx->fabric_saved = true;
	ctx->save_state = state;
	if (lt_trainer_ckpt_save(ctx, &pos, &err))
		lt_fatal(ctx, "lt_save() at step %lld: %s", (long long)ctx->step, err.msg);
	ctx->save_state = NULL;
}

LT_API int64_t lt_resume(lt_ctx *ctx, lt_state *state)
{
	struct lt_ckpt_pos pos = { 0 };
	struct lt_err err = { 0 };

	/* places the parameters even without --resume: --init-weights lands
	 * here, before the model's first forward */
	lt_abi_ensure_setup(ctx, "lt_resume");
	if (!lt_trainer_resume_mode(ctx))
		return 0;
	if (lt_trainer_ckpt_resume(ctx, &pos, &err))
		lt_fatal(ctx, "lt_resume(): %s", err.msg);
	for (size_t i = 0; state && i < lt_state_count(ctx->loaded_state); i++) {
		const void *bytes;
		size_t size;
		const char *key = lt_state_key_at(ctx->loaded_state, i, &bytes, &size);

		if (lt_state_set(state, key, bytes, size, &err))
			lt_fatal(ctx, "lt_resume(): %s", err.msg);
	}
	return ctx->step;
}

void lt_fabric_ckpt_begin(lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	if (lt_trainer_ckpt_lock(ctx, &err))
		lt_fatal(ctx, "%s", err.msg);
}

void lt_fabric_ckpt_end(lt_ctx *ctx)
{
	struct lt_err err = { 0 };
	bool resumed = ctx->loaded_state != NULL; /* freed by the finish */

	if (ctx->cfg->resume && !resumed && ctx->info.rank == 0)
		lt_warn("--resume is set but the model never called lt_resume(): in Fabric mode the model loads its checkpoint (see ltrun(3))");
	if (lt_trainer_ckpt_finish(ctx, &err))
		lt_fatal(ctx, "checkpoint: %s", err.msg);
	if (ctx->cfg->ckpt_dir && !ctx->fabric_saved && ctx->info.rank == 0)
		lt_warn("--ckpt-dir is set but the model never called lt_save(): in Fabric mode the model saves its checkpoints (see ltrun(3))");
}
