/*
 * guards.c - the checks of guards.h against a model's silent gradient
 * mistakes: checksums of marked gradients, the first step's read of
 * lt_loss_scale(), and --debug's probe for gradients overwritten under
 * accumulation.
 */
#include "runtime/guards.h"
#include "ckpt/crc32c.h"
#include "core/dtype.h"
#include "core/error.h"
#include "runtime/views.h"

#include <math.h>
#include <string.h>

uint32_t lt_guard_checksum(const struct lt_ctx *ctx, const struct lt_tensor *t, int64_t first,
			   int64_t count)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	uint32_t crc = lt_crc32c(0, (const char *)t->grad + (size_t)first * esz,
				 (size_t)count * esz);

	if (t->grad_f32)
		crc = lt_crc32c(crc, t->grad_f32 + first, (size_t)count * sizeof(float));
	return crc;
}

void lt_guard_changed(struct lt_ctx *ctx, const struct lt_tensor *t, int64_t first, int64_t count)
{
	lt_fatal(ctx, "--debug: the gradient of '%s' (elements [%lld, %lld)) changed after it was marked ready, at step %lld: the strategy may have sent it already, so the ranks' parameters diverge; mark a tensor ready after its last gradient is added (a tied weight, such as an embedding reused as the output head, gets one from each use)",
		 t->name, (long long)first, (long long)(first + count), (long long)ctx->step);
}

void lt_guard_loss_scale(struct lt_ctx *ctx, const char *model)
{
	if (ctx->loss_scale_checked)
		return;
	ctx->loss_scale_checked = true;
	if (__atomic_load_n(&ctx->loss_scale_reads, __ATOMIC_RELAXED) || ctx->info.rank != 0)
		return;
	lt_warn("%s%s%s never read lt_loss_scale() in its first training step: its gradients are then summed over the ranks and micro-batches of a step instead of averaged (and not loss-scaled under 16-mixed), so every update is off; multiply the gradient of the loss by lt_loss_scale(ctx) before backward",
		model ? "model '" : "the model", model ? model : "", model ? "'" : "");
}

/* --- the probe for gradients overwritten under accumulation --- */

/* Whether any of n elements of dt at p is finite. */
static bool any_finite(const void *p, enum lt_dtype dt, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isfinite(lt_dtype_load(p, dt, i)))
			return true;
	return false;
}

/* The first parameter whose gradient (or f32 gradient) holds a finite
 * element, or NULL. */
static const struct lt_tensor *overwritten(const struct lt_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nparams; i++) {
		const struct lt_tensor *t = ctx->params[i];

		if (any_finite(t->grad, ctx->dtype, (size_t)t->numel) ||
		    (t->grad_f32 && any_finite(t->grad_f32, LT_F32, (size_t)t->numel)))
			return t;
	}
	return NULL;
}

/* Runs train_step on gradients of NaN, as a probe that changes nothing
 * ltrun keeps: no marks, no metrics, the step's flags as they were. */
static void run_probe(struct lt_ctx *ctx, const struct lt_module *m, void *self,
		      const struct lt_batch *b)
{
	struct lt_metric_acc metrics[LT_MAX_METRICS];
	int nmetrics = ctx->ntrain_metrics;
	bool syncing = ctx->syncing;
	double loss = 0.0;

	memcpy(metrics, ctx->train_metrics, sizeof(metrics));
	ctx->accel->fill(ctx->grad_arena.base, 0xff, ctx->grad_arena.used);
	lt_views_fill_grads(ctx, 0xff);
	ctx->probing = true;
	ctx->syncing = false;
	if (m->train_step(ctx, self, b, &loss))
		lt_fatal(ctx, "train_step of model '%s' failed at step %lld (in --debug's probe for overwritten gradients)",
			 m->name ? m->name : "?", (long long)ctx->step);
	ctx->probing = false;
	ctx->syncing = syncing;
	memcpy(ctx->train_metrics, metrics, sizeof(metrics));
	ctx->ntrain_metrics = nmetrics;
}

void lt_guard_probe(struct lt_ctx *ctx, const struct lt_module *m, void *self,
		    const struct lt_batch *b)
{
	struct lt_err err = { 0 };
	struct lt_arena stash = { 0 };
	const struct lt_tensor *t;
	size_t bytes = ctx->grad_arena.used;
	void *saved;

	if (!ctx->cfg->debug || ctx->probe_done || b->micro != 1 || !bytes)
		return;
	ctx->probe_done = true;
	if (ctx->accel->reserve(&stash, bytes, &err) ||
	    !(saved = ctx->accel->alloc(&stash, bytes, &err)))
		lt_fatal(ctx, "--debug: no memory to keep the gradients during the probe for overwritten gradients: %s",
			 err.msg);
	ctx->accel->copy(saved, ctx->grad_arena.base, bytes);
	run_probe(ctx, m, self, b);
	if (ctx->accel->sync(&err))
		lt_fatal(ctx, "--debug: %s", err.msg);
	t = overwritten(ctx);
	if (t)
		lt_fatal(ctx, "--debug: model '%s' overwrote the gradient of '%s' instead of adding to it (found by running micro-batch 1 of step %lld on gradients of NaN): with --accumulate-grad-batches %d the earlier micro-batches' gradients are lost; add to lt_grad() (and lt_grad_f32()) and never zero them: ltrun zeroes them after each optimizer step",
			 m->name ? m->name : "?", t->name, (long long)ctx->step,
			 ctx->cfg->accumulate);
	ctx->accel->copy(ctx->grad_arena.base, saved, bytes);
	lt_views_fill_grads(ctx, 0);
	ctx->accel->release(&stash);
}
