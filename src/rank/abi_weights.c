/*
 * abi_weights.c - lt_param_set() of ltrun.h: a model's own given values
 * for a parameter, from init (or before the first lt_sync_grads() in
 * Fabric mode), stored where they survive every precision by
 * trainer/init_weights.c (the f32 master copy under mixed precision, the
 * compute view made from it).  The strategy's setup then gives every
 * rank rank 0's values, as it does the first values.
 */
#include "core/dtype.h"
#include "rank/abi.h"
#include "runtime/runtime.h"
#include "trainer/init_weights.h"

LT_API void lt_param_set(lt_ctx *ctx, lt_tensor *t, const void *values, enum lt_dtype dt)
{
	struct lt_err err = { 0 };

	if (!t)
		lt_fatal(ctx, "lt_param_set(NULL): pass a tensor lt_param() returned");
	lt_abi_need_host(ctx, "lt_param_set");
	if (t->index >= ctx->nparams || ctx->params[t->index] != t)
		lt_fatal(ctx, "lt_param_set('%s'): not a parameter of this run: pass a tensor lt_param() returned (a buffer's values are written through lt_data())",
			 t->name);
	if (!values)
		lt_fatal(ctx, "lt_param_set('%s', NULL): pass %lld values", t->name,
			 (long long)t->numel);
	if (!lt_dtype_is_float(dt))
		lt_fatal(ctx, "lt_param_set('%s'): values of dtype %s: give LT_F32, LT_F64, LT_F16 or LT_BF16",
			 t->name, lt_dtype_name(dt));
	if (ctx->params_frozen)
		lt_fatal(ctx, "lt_param_set('%s') after the parameters were placed: set given values in init (Trainer mode) or before the first lt_sync_grads() (Fabric mode)",
			 t->name);
	if (lt_weights_store(ctx, t, values, dt, &err))
		lt_fatal(ctx, "lt_param_set('%s'): %s", t->name, err.msg);
}
