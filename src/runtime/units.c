/*
 * units.c - the units of parameters a model made (units.h): which
 * parameter an arena address belongs to, and their freeing.
 */
#include "core/dtype.h"
#include "runtime/units.h"

#include <stdlib.h>

/* The arenas are packed in registration order (ctx.h): each parameter's
 * pointers grow with its index, so a binary search finds the one whose
 * [base, base + numel * esz) holds addr.  master: search the f32 master
 * weights instead of the values. */
static const struct lt_tensor *search(const struct lt_ctx *ctx, uintptr_t addr, bool master)
{
	size_t lo = 0, hi = ctx->nparams;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lt_tensor *t = ctx->params[mid];
		uintptr_t base = (uintptr_t)(master ? (void *)t->master : t->data);
		size_t esz = master ? sizeof(float) : lt_dtype_size(ctx->dtype);

		if (!base)
			return NULL;
		if (addr < base)
			hi = mid;
		else if (addr >= base + (size_t)t->numel * esz)
			lo = mid + 1;
		else
			return t;
	}
	return NULL;
}

const struct lt_tensor *lt_units_param_at_address(const struct lt_ctx *ctx, const void *addr)
{
	const struct lt_tensor *t;

	if (!ctx || !ctx->nparams)
		return NULL;
	t = search(ctx, (uintptr_t)addr, false);
	if (!t && ctx->params[0]->master)
		t = search(ctx, (uintptr_t)addr, true);
	return t;
}

void lt_units_free(struct lt_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nunits; i++)
		free(ctx->units[i]);
	free(ctx->units);
	ctx->units = NULL;
	ctx->nunits = ctx->units_cap = 0;
	for (size_t i = 0; i < ctx->nparams; i++)
		ctx->params[i]->unit = -1;
}
