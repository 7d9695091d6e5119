/*
 * abi_views.c - the calls of ltrun.h on f32 views and ranges of ready
 * gradients: lt_data_f32, lt_grad_f32 (runtime/views.h) and
 * lt_grad_ready_range (runtime/ready.h).  Misuse ends the rank naming the
 * call and the fix, as everywhere in the ABI.
 */
#include "core/error.h"
#include "rank/abi.h"
#include "runtime/ready.h"
#include "runtime/runtime.h"
#include "runtime/views.h"

/* t, when it is one of this run's parameters; otherwise ends the rank. */
static struct lt_tensor *param_of(lt_ctx *ctx, lt_tensor *t, const char *fn)
{
	if (!t)
		lt_fatal(ctx, "%s(NULL): pass a tensor lt_param() returned", fn);
	if (t->index >= ctx->nparams || ctx->params[t->index] != t)
		lt_fatal(ctx, "%s('%s'): not a parameter: f32 views and ready marks are for tensors lt_param() returned",
			 fn, t->name);
	return t;
}

LT_API const float *lt_data_f32(lt_ctx *ctx, lt_tensor *t)
{
	struct lt_err err = { 0 };
	const float *v;

	lt_abi_need_host(ctx, "lt_data_f32");
	v = lt_views_data(ctx, param_of(ctx, t, "lt_data_f32"), &err);

	if (!v)
		lt_fatal(ctx, "lt_data_f32('%s'): %s", t->name, err.msg);
	return v;
}

LT_API float *lt_grad_f32(lt_ctx *ctx, lt_tensor *t)
{
	struct lt_err err = { 0 };
	float *g;

	lt_abi_need_host(ctx, "lt_grad_f32");
	g = lt_views_grad(ctx, param_of(ctx, t, "lt_grad_f32"), &err);

	if (!g)
		lt_fatal(ctx, "lt_grad_f32('%s'): %s", t->name, err.msg);
	return g;
}

LT_API void lt_grad_ready_range(lt_ctx *ctx, lt_tensor *t, int64_t first, int64_t count)
{
	struct lt_err err = { 0 };
	int rc = lt_ready_mark(ctx, param_of(ctx, t, "lt_grad_ready_range"), first, count, &err);

	if (rc > 0)
		rc = lt_runtime_grad_ready_range(ctx, t, first, count, &err);
	if (rc < 0)
		lt_fatal(ctx, "lt_grad_ready_range('%s', %lld, %lld): %s", t->name, (long long)first,
			 (long long)count, err.msg);
}
