/*
 * replicated.c - the default strategy ops (lt_strategy_default()): every
 * rank holds and steps every parameter, gradient and optimizer slot, in
 * the storage lt_param() gave them.  single_device is this alone; ddp
 * (ddp.c) replaces how gradients travel; a plugin's NULL ops are these.
 *
 *   setup        every rank takes rank 0's values (master weights under
 *                mixed precision, from which the views are made again)
 *   sync         one all-reduce (a sum: every rank pre-divided its
 *                gradient by the world size through the loss scale) of
 *                the whole gradient arena, with one rank: nothing
 *   grad_norm_sq this rank's sum: the gradients are the same everywhere
 *   step         lt_update() of every parameter, whole
 *   checkpoints  rank 0 writes and reads everything; on --resume it
 *                broadcasts values and optimizer state
 */
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/optim.h"
#include "runtime/runtime.h"

static int rep_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	(void)ctx, (void)p, (void)err;
	*state = NULL;
	return 0;
}

static int rep_place(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
		     struct lt_err *err)
{
	(void)ctx, (void)state, (void)p, (void)t, (void)err;
	return 0;
}

/* Broadcasts rank 0's values of every parameter (its master weights
 * under mixed precision, then the views made again). */
static int broadcast_values(struct lt_ctx *ctx, struct lt_err *err)
{
	if (ctx->info.world_size == 1)
		return 0;
	if (ctx->master_arena.used) {
		if (lt_comm_broadcast(ctx->comm, ctx->master_arena.base,
				      ctx->master_arena.used / sizeof(float), LT_F32, 0, err))
			return -1;
		lt_runtime_refresh_views(ctx);
		return 0;
	}
	if (ctx->data_arena.used &&
	    lt_comm_broadcast(ctx->comm, ctx->data_arena.base,
			      ctx->data_arena.used / lt_dtype_size(ctx->dtype), ctx->dtype, 0, err))
		return -1;
	return 0;
}

static int rep_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		     struct lt_strategy_layout *layout, struct lt_err *err)
{
	(void)state, (void)p, (void)layout;
	return broadcast_values(ctx, err);
}

static int rep_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			  struct lt_err *err)
{
	(void)ctx, (void)state, (void)p, (void)t, (void)err;
	return 0;
}

static int rep_sync(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	(void)state, (void)p;
	if (ctx->info.world_size == 1 || !ctx->grad_arena.used)
		return 0;
	if (ctx->accel->sync(err))
		return -1;
	return lt_comm_all_reduce(ctx->comm, ctx->grad_arena.base,
				  ctx->grad_arena.used / lt_dtype_size(ctx->dtype), ctx->dtype, LT_SUM,
				  err);
}

static int rep_grad_norm_sq(lt_ctx *ctx, void *state, const struct lt_params *p, double *sumsq,
			    struct lt_err *err)
{
	double s = 0.0;

	(void)state, (void)p, (void)err;
	for (size_t i = 0; i < ctx->nparams; i++)
		s += lt_grad_sumsq(ctx, ctx->params[i], 0, (size_t)ctx->params[i]->numel);
	*sumsq = s;
	return 0;
}

static int rep_step(lt_ctx *ctx, void *state, const struct lt_params *p,
		    const struct lt_update *u, struct lt_err *err)
{
	(void)state, (void)p, (void)err;
	for (size_t i = 0; i < ctx->nparams; i++)
		lt_update(ctx, ctx->params[i], 0, (size_t)ctx->params[i]->numel, u);
	return 0;
}

static int rep_ckpt_shard(lt_ctx *ctx, void *state, const struct lt_params *p,
			  struct lt_ckpt_shard *out, struct lt_err *err)
{
	(void)state, (void)p, (void)err;
	*out = (struct lt_ckpt_shard){ .active = ctx->info.rank == 0, .offset = 0,
				       .numel = ctx->numel };
	return 0;
}

/* Rank 0 read the checkpoint: every rank gets its values and optimizer
 * state. */
static int rep_ckpt_loaded(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_err *err)
{
	const char *slot[2];
	void *buf[2];
	int nslots = lt_optim_buffers_typed(ctx->optim, slot, buf);
	enum lt_dtype sdt = lt_optim_state_dtype(ctx->optim);

	(void)state, (void)p;
	if (ctx->info.world_size == 1)
		return 0;
	if (broadcast_values(ctx, err))
		return -1;
	for (int s = 0; s < nslots; s++)
		if (ctx->numel && lt_comm_broadcast(ctx->comm, buf[s], ctx->numel, sdt, 0, err))
			return -1;
	return 0;
}

static int rep_micro_done(lt_ctx *ctx, void *state, const struct lt_params *p,
			  struct lt_err *err)
{
	(void)ctx, (void)state, (void)p, (void)err;
	return 0;
}

/* Every rank holds every value: a unit's brackets cost nothing. */
static int rep_unit(lt_ctx *ctx, void *state, const struct lt_params *p,
		    const struct lt_unit_event *ev, struct lt_err *err)
{
	(void)ctx, (void)state, (void)p, (void)ev, (void)err;
	return 0;
}

static void rep_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	(void)ctx, (void)state, (void)p;
}

static const struct lt_strategy_ops replicated = {
	.launcher = "exec",
	.multi_rank = true,
	.init = rep_init,
	.place = rep_place,
	.setup = rep_setup,
	.grad_ready = rep_grad_ready,
	.sync = rep_sync,
	.grad_norm_sq = rep_grad_norm_sq,
	.step = rep_step,
	.ckpt_shard = rep_ckpt_shard,
	.ckpt_loaded = rep_ckpt_loaded,
	.micro_done = rep_micro_done,
	.unit = rep_unit,
	.teardown = rep_teardown,
};

LT_API const struct lt_strategy_ops *lt_strategy_default(void)
{
	return &replicated;
}
