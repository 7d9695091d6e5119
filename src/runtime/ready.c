/*
 * ready.c - gradients marked complete (ready.h): the ranges of each
 * tensor marked in this micro-batch, their f32 gradients folded as they
 * are marked, the strategy told when a tensor completes, and the end of
 * the micro-batch.
 */
#include "runtime/ready.h"
#include "runtime/guards.h"
#include "runtime/views.h"

#include <stdlib.h>

/* Checks [first, first + count) against t's size and its earlier marks. */
static int check_range(const struct lt_tensor *t, int64_t first, int64_t count,
		       struct lt_err *err)
{
	if (first < 0 || count < 1 || first > t->numel || count > t->numel - first)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "not a range of the %lld elements of '%s': give 0 <= first, 1 <= count and first + count <= %lld",
				  (long long)t->numel, t->name, (long long)t->numel);
	for (size_t i = 0; i < t->nmarks; i++) {
		const struct lt_ready_mark *m = &t->marks[i];

		if (first < m->first + m->count && m->first < first + count)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "elements [%lld, %lld) of '%s' overlap [%lld, %lld), marked ready before in this micro-batch: mark each element once, after its last gradient is added",
					  (long long)first, (long long)(first + count), t->name,
					  (long long)m->first, (long long)(m->first + m->count));
	}
	return 0;
}

static int add_mark(struct lt_tensor *t, int64_t first, int64_t count, struct lt_err *err)
{
	if (t->nmarks == t->marks_cap) {
		size_t cap = t->marks_cap ? 2 * t->marks_cap : 4;
		struct lt_ready_mark *m = realloc(t->marks, cap * sizeof(*m));

		if (!m)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory marking '%s' ready",
					  t->name);
		t->marks = m;
		t->marks_cap = cap;
	}
	t->marks[t->nmarks++] = (struct lt_ready_mark){ .first = first, .count = count };
	return 0;
}

int lt_ready_mark(struct lt_ctx *ctx, struct lt_tensor *t, int64_t first, int64_t count,
		  struct lt_err *err)
{
	if (ctx->probing)
		return 0;
	if (check_range(t, first, count, err) || add_mark(t, first, count, err))
		return -1;
	ctx->marks_seen = true;
	lt_views_fold(ctx, t, (size_t)first, (size_t)count);
	if (ctx->cfg->debug)
		t->marks[t->nmarks - 1].crc = lt_guard_checksum(ctx, t, first, count);
	t->marked += count;
	/* Under --debug the gradients stay where they are until they are
	 * checked: sync sends them all.  A strategy that reduces every
	 * micro-batch (ZeRO-2) hears of them in Trainer mode's others too. */
	return !ctx->cfg->debug && ctx->params_frozen &&
	       (ctx->syncing || (ctx->strategy.ready_every_micro && ctx->module));
}

/* --debug: every marked range's gradient is what it was when marked. */
static void check_marks(struct lt_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nparams; i++) {
		const struct lt_tensor *t = ctx->params[i];

		for (size_t k = 0; k < t->nmarks; k++) {
			const struct lt_ready_mark *m = &t->marks[k];

			if (lt_guard_checksum(ctx, t, m->first, m->count) != m->crc)
				lt_guard_changed(ctx, t, m->first, m->count);
		}
	}
}

void lt_ready_micro_done(struct lt_ctx *ctx, const char *model)
{
	if (ctx->marks_seen && ctx->cfg->debug)
		check_marks(ctx);
	for (size_t i = 0; i < ctx->nparams; i++) {
		struct lt_tensor *t = ctx->params[i];

		if (t->grad_f32 && t->marked < t->numel)
			lt_views_fold(ctx, t, 0, (size_t)t->numel);
		t->nmarks = 0;
		t->marked = 0;
	}
	ctx->marks_seen = false;
	lt_guard_loss_scale(ctx, model);
}

void lt_ready_free(struct lt_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nparams; i++) {
		free(ctx->params[i]->marks);
		ctx->params[i]->marks = NULL;
		ctx->params[i]->nmarks = ctx->params[i]->marks_cap = 0;
	}
}
