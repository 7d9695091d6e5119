/*
 * abi_facts.c - ltrun.h's facts of the run, which a model sizes its
 * buffers by: lt_micro_batch_size, lt_accumulate, lt_total_steps and
 * lt_samples_per_rank.  In Trainer mode the last two come from the loop's
 * plan (trainer/loop.c), which asks the model's num_samples() from init
 * on.  In Fabric mode the model owns its loop and its data: the total is
 * --max-steps (or -1), and the samples per rank are refused, since only
 * the model knows its data set's size (lt_shard() returns its share).
 */
#include "trainer/loop.h"

LT_API int lt_micro_batch_size(const lt_ctx *ctx) { return ctx->cfg->batch_size; }
LT_API int lt_accumulate(const lt_ctx *ctx) { return ctx->cfg->accumulate; }

LT_API int64_t lt_total_steps(lt_ctx *ctx)
{
	if (!ctx->module)
		return ctx->cfg->max_steps > 0 ? ctx->cfg->max_steps : -1;
	return lt_trainer_total_steps(ctx);
}

LT_API int64_t lt_samples_per_rank(lt_ctx *ctx, enum lt_split split)
{
	if (split != LT_TRAIN && split != LT_VAL)
		lt_fatal(ctx, "lt_samples_per_rank(): unknown split %d: use LT_TRAIN or LT_VAL",
			 (int)split);
	if (!ctx->module)
		lt_fatal(ctx, "lt_samples_per_rank() in Fabric mode: ltrun does not know the size of the model's data; use the count lt_shard() returns");
	return lt_trainer_samples_per_rank(ctx, split);
}
