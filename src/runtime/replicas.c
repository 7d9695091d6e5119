/*
 * replicas.c - --check-replicas (replicas.h): each rank hashes every
 * parameter (its f32 master weights under mixed precision when it keeps
 * them all, else its values: a sharded strategy keeps its own part of
 * the masters; the values of units a ZeRO-3 layout shards are skipped)
 * and every buffer with CRC-32C, one all-reduce of (MIN, and MIN
 * of the complement: the MAX) per tensor tells whether every rank holds
 * the same bytes, and an all-gather of the first differing tensor's hash
 * tells which ranks disagree with rank 0.  Every rank sees the same
 * reductions, so they all take the same decision: a failed check stops
 * them all at the same step, never a hang.
 */
#include "runtime/replicas.h"
#include "ckpt/crc32c.h"
#include "comm/comm.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int interval(const struct lt_config *c)
{
	return c->check_replicas > 0 ? c->check_replicas : c->debug ? 1 : 0;
}

/* The tensor of index i: parameters, then buffers. */
static const struct lt_tensor *tensor_at(const struct lt_ctx *ctx, size_t i)
{
	return i < ctx->nparams ? ctx->params[i] : ctx->buffers[i - ctx->nparams];
}

/* True when every rank keeps the whole of the optimizer state (and so
 * the whole f32 master copy): the replicated layout. */
static bool masters_whole(const struct lt_ctx *ctx)
{
	return ctx->layout.state_offset == 0 && ctx->layout.state_numel == ctx->numel;
}

static int64_t hash(const struct lt_ctx *ctx, const struct lt_tensor *t)
{
	bool master = t->master && masters_whole(ctx);
	size_t esz = t->is_buffer ? lt_dtype_size(t->dtype)
		     : master       ? sizeof(float)
				    : lt_dtype_size(ctx->dtype);
	const void *v = master ? (const void *)t->master : t->data;

	/* a sharded unit's values are not here between uses (ZeRO-3) */
	if (!t->is_buffer && t->unit >= 0 && ctx->layout.values_sharded)
		return 0;
	return (int64_t)lt_crc32c(0, v, (size_t)t->numel * esz);
}

/* Which ranks hold another hash of tensor i than rank 0 ("1, 3"). */
static int who_differs(struct lt_ctx *ctx, size_t i, char *out, size_t len, struct lt_err *err)
{
	int world = ctx->info.world_size, n = 0;
	int64_t mine = hash(ctx, tensor_at(ctx, i));
	int64_t *all = calloc((size_t)world, sizeof(*all));

	out[0] = '\0';
	if (!all)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory comparing replicas");
	if (lt_comm_all_gather(ctx->comm, &mine, all, 1, LT_I64, err)) {
		free(all);
		return -1;
	}
	for (int r = 1; r < world && (size_t)n + 16 < len; r++)
		if (all[r] != all[0])
			n += snprintf(out + n, len - (size_t)n, "%s%d", n ? ", " : "", r);
	free(all);
	return 0;
}

int lt_replicas_check(struct lt_ctx *ctx, struct lt_err *err)
{
	size_t count = ctx->nparams + ctx->nbuffers, i;
	int every = interval(ctx->cfg);
	int64_t *h;
	char ranks[256];
	const struct lt_tensor *t;

	if (every <= 0 || ctx->info.world_size == 1 || !count || ctx->step % every)
		return 0;
	h = malloc(2 * count * sizeof(*h));
	if (!h)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory comparing replicas");
	for (i = 0; i < count; i++) {
		h[i] = hash(ctx, tensor_at(ctx, i));
		h[count + i] = ~h[i];
	}
	if (lt_comm_all_reduce(ctx->comm, h, 2 * count, LT_I64, LT_MIN, err)) {
		free(h);
		return -1;
	}
	for (i = 0; i < count && h[i] == ~h[count + i]; i++)
		;
	free(h);
	if (i == count)
		return 0;
	if (who_differs(ctx, i, ranks, sizeof(ranks), err))
		return -1;
	t = tensor_at(ctx, i);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "replicas differ after step %lld: %s '%s' is not the same on every rank (rank%s %s differ%s from rank 0; --check-replicas): something changed it on some ranks only (a write outside lt_grad(), a gradient marked ready too early)",
			  (long long)ctx->step, t->is_buffer ? "buffer" : "parameter", t->name,
			  strchr(ranks, ',') ? "s" : "", ranks, strchr(ranks, ',') ? "" : "s");
}
