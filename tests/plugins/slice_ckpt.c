/* slice_ckpt.c - a strategy plugin, "slice_ckpt", for the sharded
 * checkpoint tests: ZeRO-1's partitioning without its communication
 * savings.  Every rank owns a contiguous 1/W of the flat space (padded
 * as P = W*ceil(N/W), S = P/W; rank r [r*S, r*S+S) clipped to N), keeps
 * optimizer state for it alone (its layout), steps it, and saves and
 * reads it in checkpoints (ckpt_shard); gradients are all-reduced whole
 * (the replicated default), and after a step or a resume every owner
 * broadcasts its range of the values (and master weights), so every rank
 * holds every value again.  slice_ckpt_overreach asks rank 0 to save
 * everything, which it has no optimizer state for (refused). */
#include <ltrun/strategy.h>

static void owned(lt_ctx *ctx, int r, size_t *off, size_t *n)
{
	size_t total = lt_total_numel(ctx), w = (size_t)lt_world_size(ctx);
	size_t s = (total + w - 1) / w, a = (size_t)r * s;

	*off = a < total ? a : total;
	*n = a + s < total ? s : total - *off;
}

static int setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		 struct lt_strategy_layout *layout, struct lt_err *err)
{
	if (lt_strategy_default()->setup(ctx, state, p, layout, err))
		return -1;
	owned(ctx, lt_rank(ctx), &layout->state_offset, &layout->state_numel);
	return 0;
}

/* Every rank's range of the values, from its owner. */
static void share_values(lt_ctx *ctx)
{
	lt_tensor *first = lt_param_at(ctx, 0);
	size_t esz = lt_dtype_size(lt_dtype(ctx)), off, n;

	for (int r = 0; r < lt_world_size(ctx); r++) {
		owned(ctx, r, &off, &n);
		if (!n)
			continue;
		if (lt_master(first))
			lt_broadcast(ctx, lt_master(first) + off, n, LT_F32, r);
		lt_broadcast(ctx, (char *)lt_data(first) + off * esz, n, lt_dtype(ctx), r);
	}
}

static int step(lt_ctx *ctx, void *state, const struct lt_params *p, const struct lt_update *u,
		struct lt_err *err)
{
	size_t off, n;

	(void)state, (void)p, (void)err;
	owned(ctx, lt_rank(ctx), &off, &n);
	for (size_t i = 0; i < lt_num_params(ctx); i++) {
		lt_tensor *t = lt_param_at(ctx, i);
		size_t lo = lt_offset(t), hi = lo + lt_numel(t);
		size_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;

		if (a < b)
			lt_update(ctx, t, a - lo, b - a, u);
	}
	share_values(ctx);
	return 0;
}

static int ckpt_shard(lt_ctx *ctx, void *state, const struct lt_params *p,
		      struct lt_ckpt_shard *out, struct lt_err *err)
{
	(void)state, (void)p, (void)err;
	out->active = true;
	owned(ctx, lt_rank(ctx), &out->offset, &out->numel);
	return 0;
}

static int ckpt_loaded(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	(void)state, (void)p, (void)err;
	share_values(ctx);
	return 0;
}

static const struct lt_strategy_ops ops = {
	.launcher = "exec",
	.multi_rank = true,
	.setup = setup,
	.step = step,
	.ckpt_shard = ckpt_shard,
	.ckpt_loaded = ckpt_loaded,
};

/* slice_ckpt_overreach: saves everything on rank 0, more than the
 * optimizer state it keeps (refused); the others save their own slice, so
 * that the one refusal is rank 0's whichever rank gets there first. */
static int ckpt_everything(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_ckpt_shard *out, struct lt_err *err)
{
	if (lt_rank(ctx) != 0)
		return ckpt_shard(ctx, state, p, out, err);
	*out = (struct lt_ckpt_shard){ .active = true, .offset = 0, .numel = lt_total_numel(ctx) };
	return 0;
}

static const struct lt_strategy_ops overreach_ops = {
	.launcher = "exec",
	.multi_rank = true,
	.setup = setup,
	.step = step,
	.ckpt_shard = ckpt_everything,
	.ckpt_loaded = ckpt_loaded,
};

static const struct lt_plugin overreach = {
	.kind = LT_KIND_STRATEGY,
	.name = "slice_ckpt_overreach",
	.description = "slice_ckpt, but every rank asks to save everything (a test plugin).",
	.recommended_when = "never",
	.ops = &overreach_ops,
};

static const struct lt_plugin slice = {
	.kind = LT_KIND_STRATEGY,
	.name = "slice_ckpt",
	.description = "Each rank owns, steps and checkpoints 1/W of the parameters (a test plugin).",
	.recommended_when = "never",
	.ops = &ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &slice, err) || lt_registry_add(reg, &overreach, err) ? -1 : 0;
}
