/*
 * abi_optim.c - ltrun.h's per-parameter optimizer options:
 * lt_param_weight_decay() and lt_param_lr_scale().  They mark the tensor
 * (its "optimizer groups" fields, ctx.h); lt_update() (runtime.c) steps
 * each tensor with its group, lt_runtime_group() resolving what the model
 * left to --weight-decay-on.  They are refused once the groups are fixed:
 * after init in Trainer mode, after the first lt_optimizer_step() in
 * Fabric mode, so that every step of a run (and its checkpoint) has one
 * set of groups.
 */
#include "runtime/runtime.h"

#include <math.h>

/* Ends the rank unless t may get an option now; fn names the call. */
static void check_group_call(lt_ctx *ctx, const lt_tensor *t, const char *fn)
{
	if (!t)
		lt_fatal(ctx, "%s(NULL): pass a tensor lt_param() returned", fn);
	if (t->is_buffer)
		lt_fatal(ctx, "%s('%s'): '%s' is a buffer, which the optimizer never touches: pass a tensor lt_param() returned",
			 fn, t->name, t->name);
	if (ctx->groups_fixed)
		lt_fatal(ctx, "%s('%s') after training started: set optimizer options in init (or before the first lt_optimizer_step)",
			 fn, t->name);
}

LT_API void lt_param_weight_decay(lt_ctx *ctx, lt_tensor *t, int on)
{
	check_group_call(ctx, t, "lt_param_weight_decay");
	t->decay = on ? 1 : -1;
}

LT_API void lt_param_lr_scale(lt_ctx *ctx, lt_tensor *t, double scale)
{
	check_group_call(ctx, t, "lt_param_lr_scale");
	if (!(scale >= 0 && isfinite(scale)))
		lt_fatal(ctx, "lt_param_lr_scale('%s', %g): give a finite scale >= 0 (1: --lr's schedule as it is)",
			 t->name, scale);
	t->lr_scale = scale;
	t->lr_scaled = true;
}
