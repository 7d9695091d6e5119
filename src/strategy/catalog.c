/*
 * catalog.c - the registry entries of the built-in strategies, and the
 * ones ltrun knows of but does not build.  Their ops: single_device is
 * the replicated default alone (replicated.c: every NULL op is the
 * default's), ddp is ddp.c's, zero (and its presets) zero.c's.
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

static const struct lt_param_spec zero_params[] = {
	{ .name = "stage", .type = LT_PARAM_INT, .default_value = "2", .min = 1, .max = 3,
	  .help = "1: optimizer state sharded; 2: gradients too; 3: parameters too (gathered a unit at a time, the next prefetch units ahead)" },
	{ .name = "offload_optimizer", .type = LT_PARAM_CHOICE, .default_value = "none",
	  .choices = "none|cpu|nvme",
	  .help = "where the optimizer state lives: device memory, host memory (on the cpu accelerator the same memory as none), or files under offload_dir" },
	{ .name = "offload_params", .type = LT_PARAM_CHOICE, .default_value = "none",
	  .choices = "none|cpu|nvme",
	  .help = "stage 3: where the parameter shards live: device memory, host memory (on the cpu accelerator the same memory as none), or the values of the units (and their master weights) in files under offload_dir, read while in use" },
	{ .name = "offload_dir", .type = LT_PARAM_STRING,
	  .help = "the directory of the nvme offloads (default: <--log-dir or $TMPDIR or /tmp>/ltrun-optim-rank<R> for the optimizer state, ltrun-params-rank<R> for the parameters)" },
	{ .name = "bucket_mb", .type = LT_PARAM_FLOAT, .min = 0.001, .max = 65536,
	  .help = "stage 2's gradient bucket size in MiB (default: --bucket-mb)" },
	{ .name = "overlap_comm", .type = LT_PARAM_CHOICE, .default_value = "auto",
	  .choices = "auto|true|false",
	  .help = "stages 2 and 3: reduce-scatter a gradient bucket on the communicator's thread while backward goes on (true), or at once on the rank's thread (false); auto: false at stage 2 when the node has exactly one CPU per rank, else true" },
	{ .name = "shard_scope", .type = LT_PARAM_CHOICE, .default_value = "world",
	  .choices = "world|node",
	  .help = "the ranks a shard is split over: all of them, or those of one node (hybrid: each node holds a whole replica, sharded over its ranks)" },
	{ .name = "prefetch", .type = LT_PARAM_INT, .default_value = "1", .min = 0, .max = 4,
	  .help = "stage 3: units gathered ahead of use, in the order of the first step's lt_unit_begin calls (each holds one more unit's values)" },
	{ .name = "deferred_init", .type = LT_PARAM_BOOL, .default_value = "true",
	  .help = "stage 3 on several ranks: a rank draws the first values of its own shard only, at setup (a parameter the model touches in its init is drawn whole then, and rank 0's is broadcast); false draws every value on every rank as lt_param() registers it" },
	{ .name = "reshard_after_forward", .type = LT_PARAM_BOOL, .default_value = "true",
	  .help = "stage 3: release a unit's values at the end of its forward (FSDP's FULL_SHARD); false keeps them until the end of its backward (SHARD_GRAD_OP: one gather less a step, every unit's values held between forward and backward)" },
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
	{
		.kind = LT_KIND_STRATEGY,
		.name = "zero",
		.description = "ZeRO data parallel: the optimizer state (stage=1), the gradients too (stage=2) and the values too (stage=3: a unit of lt_unit_new() is gathered while the model uses it) sharded over the W ranks.  32-true AdamW, bytes per rank for N parameters: ddp 16N, stage 1 8N + 8N/W, stage 2 4N + 12N/W, stage 3 16N/W + the gathered units' values (1 + prefetch times the largest unit's; mixed precision: 2 + 2 + 12 bytes a parameter split the same way, plus ltrun's f32 master gradients 4N/W).  Stages 2 and 3 reduce-scatter each gradient bucket into its owners as soon as it is complete: half the bytes of ddp's all-reduce.",
		.recommended_when = "the optimizer state (8N bytes under AdamW) or the gradients do not fit beside the model on one device",
		.params = zero_params,
		.ops = &lt_strategy_zero_ops,
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "ddp_sharded",
		.description = "zero stage 1 (Lightning's ddp_sharded, FairScale's OSS): the optimizer state sharded; 32-true AdamW: 8N + 8N/W bytes per rank for N parameters on W ranks.",
		.recommended_when = "ddp's 16N bytes per rank do not fit, 8N + 8N/W do",
		.alias_of = "zero",
		.preset = "stage=1",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_1",
		.description = "zero stage 1 (DeepSpeed's ZeRO-1): the optimizer state sharded; 32-true AdamW: 8N + 8N/W bytes per rank for N parameters on W ranks.",
		.recommended_when = "ddp's 16N bytes per rank do not fit, 8N + 8N/W do",
		.alias_of = "zero",
		.preset = "stage=1",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed",
		.description = "zero stage 2 (DeepSpeed's default stage): optimizer state and gradients sharded; 32-true AdamW: 4N + 12N/W bytes per rank for N parameters on W ranks.",
		.recommended_when = "porting a Lightning configuration that names deepspeed",
		.alias_of = "zero",
		.preset = "stage=2",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_2",
		.description = "zero stage 2 (DeepSpeed's ZeRO-2): optimizer state and gradients sharded; 32-true AdamW: 4N + 12N/W bytes per rank for N parameters on W ranks.",
		.recommended_when = "stage 1's 8N + 8N/W bytes per rank do not fit, 4N + 12N/W do",
		.alias_of = "zero",
		.preset = "stage=2",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_2_offload",
		.description = "zero stage 2 with the optimizer state in host memory (offload_optimizer=cpu); on the cpu accelerator host memory is the device's, so this is deepspeed_stage_2 with the same memory.",
		.recommended_when = "an accelerator's memory cannot hold the 12N/W bytes of optimizer state and master weights",
		.alias_of = "zero",
		.preset = "stage=2,offload_optimizer=cpu",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_3",
		.description = "zero stage 3 (DeepSpeed's ZeRO-3): optimizer state, gradients and values sharded, a unit of parameters gathered while the model uses it; 32-true AdamW: 16N/W bytes per rank for N parameters on W ranks, plus the gathered units' values (1 + prefetch times the largest unit's).",
		.recommended_when = "stage 2's 4N + 12N/W bytes per rank do not fit and the model brackets its layers with lt_unit_begin/lt_unit_end",
		.alias_of = "zero",
		.preset = "stage=3",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "fsdp",
		.description = "zero stage 3 (PyTorch's FullyShardedDataParallel, FULL_SHARD): values, gradients and optimizer state sharded; 32-true AdamW: 16N/W bytes per rank plus the gathered units' values (1 + prefetch times the largest unit's); reshard_after_forward=false is SHARD_GRAD_OP.",
		.recommended_when = "porting a Lightning configuration that names fsdp; the model brackets its layers with lt_unit_begin/lt_unit_end",
		.alias_of = "zero",
		.preset = "stage=3",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "ddp_fully_sharded",
		.description = "zero stage 3 (Lightning's older name for fully sharded training): 16N/W bytes per rank under 32-true AdamW plus the gathered units' values (1 + prefetch times the largest unit's).",
		.recommended_when = "porting a Lightning configuration that names ddp_fully_sharded",
		.alias_of = "zero",
		.preset = "stage=3",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_3_offload",
		.description = "zero stage 3 with the optimizer state and the parameter shards in host memory; on the cpu accelerator host memory is the device's, so this is deepspeed_stage_3 with the same memory.",
		.recommended_when = "an accelerator's memory cannot hold even stage 3's 16N/W bytes",
		.alias_of = "zero",
		.preset = "stage=3,offload_optimizer=cpu,offload_params=cpu",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "fsdp_cpu_offload",
		.description = "zero stage 3 with the optimizer state and parameter shards in host memory (FSDP's CPUOffload); on the cpu accelerator the same memory as fsdp.",
		.recommended_when = "porting a Lightning configuration that names fsdp_cpu_offload",
		.alias_of = "zero",
		.preset = "stage=3,offload_optimizer=cpu,offload_params=cpu",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "deepspeed_stage_3_offload_nvme",
		.description = "zero stage 3 with the optimizer state and the parameter shards in files under offload_dir (offload_optimizer=nvme, offload_params=nvme): a rank's shard of each unit's values (and master weights) is read from its file while the unit is in use and while it is stepped.",
		.recommended_when = "the optimizer state and parameter shards (16N/W bytes under mixed-precision AdamW) fit on no device nor in host memory",
		.alias_of = "zero",
		.preset = "stage=3,offload_optimizer=nvme,offload_params=nvme",
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = "hybrid_shard",
		.description = "zero stage 3 inside each node (over shared memory) and replicas across nodes (FSDP's HYBRID_SHARD): 16N/L bytes per rank under 32-true AdamW for L ranks a node; the owned gradient shards are summed over every rank, the values gathered inside the node only.",
		.recommended_when = "the model fits in one node's memory sharded over its ranks, and the network between nodes is slower than shared memory",
		.alias_of = "zero",
		.preset = "stage=3,shard_scope=node",
	},
};

static const struct lt_absent absent[] = {
	{ .name = "dp" }, { .name = "horovod" }, { .name = NULL },
};

int lt_strategy_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, strategies, absent, err);
}
