/*
 * catalog.c - the registry entries of the built-in strategies, and the
 * ones ltrun knows of but does not build.  Their ops: single_device is
 * the replicated default alone (replicated.c: every NULL op is the
 * default's), ddp is ddp.c's.
 *
 * `auto` (the default --strategy) is not a plugin: the plan resolves it to
 * single_device for one rank and ddp otherwise.
 */
#include "core/registry.h"
#include "strategy/builtin.h"

static const struct lt_strategy_ops single_device_ops = {
	.launcher = "exec",
	.multi_rank = false,
};

static const struct lt_param_spec ddp_params[] = {
	{ .name = "launcher", .type = LT_PARAM_CHOICE, .default_value = "exec",
	  .choices = "exec|fork", .help = "how ltrun starts the ranks it creates: fork + exec, or fork alone" },
	{ .name = "bucket_mb", .type = LT_PARAM_FLOAT, .min = 0.001, .max = 65536,
	  .help = "gradient bucket size in MiB (default: --bucket-mb)" },
	{ .name = NULL },
};

static const struct lt_plugin strategies[] = {
	{
		.kind = LT_KIND_STRATEGY,
		.name = "single_device",
		.description = "One rank on one device, no communication.",
		.recommended_when = "one process is enough: debugging, small models",
		.ops = &single_device_ops,
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "ddp",
		.description = "Distributed data parallel: a full replica per rank, gradients averaged in buckets during backward; ltrun starts the ranks with fork + exec unless a launcher made them.",
		.recommended_when = "the model and its optimizer state fit on one device (the default for more than one rank)",
		.params = ddp_params,
		.ops = &lt_strategy_ddp_ops,
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "ddp_spawn",
		.description = "ddp with ranks forked without exec, exactly as ddp_fork: Lightning's ddp_spawn starts fresh interpreters (spawn), ltrun's forks the agent, which holds no training state.",
		.recommended_when = "porting a Lightning configuration that names ddp_spawn",
		.alias_of = "ddp",
		.preset = "launcher=fork",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "ddp_fork",
		.description = "ddp with ranks forked without exec (Lightning's ddp_fork).",
		.recommended_when = "ranks should start without re-executing ltrun",
		.alias_of = "ddp",
		.preset = "launcher=fork",
	},
};

static const char *const absent[] = {
	"dp", "ddp_sharded", "fsdp", "hybrid_shard", "deepspeed",
	"deepspeed_stage_1", "deepspeed_stage_2", "deepspeed_stage_2_offload",
	"deepspeed_stage_3", "deepspeed_stage_3_offload", "horovod", NULL,
};

int lt_strategy_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, strategies, absent, err);
}
