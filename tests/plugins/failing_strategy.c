/* failing_strategy.c - a strategy plugin, "failing_sync", whose sync op
 * fails at the fail_at-th step (default 3; the replicated default does
 * the rest), with a one-line message: ltrun must end the run naming it.
 * Also two presets of the built-in ddp, as a user's plugin may add them:
 * ddp_bigbucket (bucket_mb=100) and ddp_tinybucket (bucket_mb=0.001);
 * and "sharded_ckpt", whose ranks each ask to save half the state. */
#include <ltrun/strategy.h>

#include <stdlib.h>

struct state {
	long long syncs;
};

static int init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	(void)ctx, (void)p;
	*state = calloc(1, sizeof(struct state));
	return *state ? 0 : lt_err_set(err, 1, "out of memory");
}

static int sync_grads(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	struct state *s = state;

	if (++s->syncs == lt_params_int(p, "fail_at"))
		return lt_err_set(err, 1, "link down at sync %lld (a test plugin)", s->syncs);
	return lt_strategy_default()->sync(ctx, NULL, p, err);
}

static void teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	(void)ctx, (void)p;
	free(state);
}

static const struct lt_strategy_ops ops = {
	.launcher = "exec",
	.multi_rank = true,
	.init = init,
	.sync = sync_grads,
	.teardown = teardown,
};

static const struct lt_param_spec params[] = {
	{ .name = "fail_at", .type = LT_PARAM_INT, .default_value = "3", .min = 1, .max = 1000000,
	  .help = "the sync that fails" },
	{ .name = NULL },
};

static const struct lt_plugin failing = {
	.kind = LT_KIND_STRATEGY,
	.name = "failing_sync",
	.description = "A strategy whose gradient sync fails.",
	.recommended_when = "never",
	.params = params,
	.ops = &ops,
};

/* "sharded_ckpt": asks every rank to save its own half of the state
 * (a sharded checkpoint of replicated state). */
static int half_each(lt_ctx *ctx, void *state, const struct lt_params *p,
		     struct lt_ckpt_shard *out, struct lt_err *err)
{
	size_t n = lt_total_numel(ctx), half = n / 2;

	(void)state, (void)p, (void)err;
	out->active = true;
	out->offset = lt_rank(ctx) ? half : 0;
	out->numel = lt_rank(ctx) ? n - half : half;
	return 0;
}

static const struct lt_strategy_ops sharded_ops = {
	.launcher = "exec",
	.multi_rank = true,
	.ckpt_shard = half_each,
};

static const struct lt_plugin sharded = {
	.kind = LT_KIND_STRATEGY,
	.name = "sharded_ckpt",
	.description = "A strategy that saves a shard per rank.",
	.recommended_when = "never",
	.ops = &sharded_ops,
};

static const struct lt_plugin presets[] = {
	{ .kind = LT_KIND_STRATEGY, .name = "ddp_bigbucket", .description = "ddp, 100 MiB buckets.",
	  .recommended_when = "tests", .alias_of = "ddp", .preset = "bucket_mb=100" },
	{ .kind = LT_KIND_STRATEGY, .name = "ddp_tinybucket", .description = "ddp, 1 KB buckets.",
	  .recommended_when = "tests", .alias_of = "ddp", .preset = "bucket_mb=0.001" },
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	if (lt_registry_add(reg, &failing, err) || lt_registry_add(reg, &sharded, err))
		return -1;
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (lt_registry_add(reg, &presets[i], err))
			return -1;
	return 0;
}
