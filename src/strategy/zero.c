/*
 * zero.c - the `zero` strategy: ZeRO stages 1 and 2 (Rajbhandari et al.
 * 2020), the optimizer state (stage 1) and the gradients (stage 2)
 * sharded over the ranks, behind deepspeed_stage_1/2, ddp_sharded and
 * their kin (catalog.c).  The partition and the memory accounting are
 * zero_plan.c's.
 *
 * Partition.  At setup the flat parameter space of N elements is padded
 * to P = W * ceil(N / W) (the padding allocated at the end of the packed
 * value, gradient and master arenas, so it stays contiguous) and rank r
 * owns [r S, r S + S) clipped to N, S = P / W: the layout's state range.
 * The runtime makes optimizer state, unscales, checks and clips for that
 * range only; lt_update steps it; checkpoints hold it (ckpt_shard).
 * Under mixed precision the f32 master weights and master gradients
 * outside it are discarded (accel->discard: their pages go back).
 *
 *   stage 1  sync reduce-scatters the whole gradient arena (a SUM: every
 *            rank pre-divided through the loss scale) into the owned
 *            range; step updates the owned range and all-gathers the
 *            values (compute dtype) into every rank's arena
 *   stage 2  as 1, but the gradients travel in buckets (ddp_buckets.c)
 *            as soon as one is complete, in every micro-batch of
 *            Trainer mode (micro_done waits for them; Fabric mode sends
 *            everything at sync), and a rank keeps only its owned
 *            gradients: the communicators have no uneven reduce-scatter,
 *            so a bucket is all-reduced and the rank then discards what
 *            it does not own (its pages go back; the next micro-batch adds
 *            into zeros, the owned part accumulates the reduced sums).
 *            An all-reduce moves 2 (W-1)/W of a bucket's bytes per rank,
 *            twice what a reduce-scatter would: the same traffic as ddp,
 *            for 1/W of ddp's gradient memory between steps.
 *
 * The collectives never get overlapping send and receive buffers (a
 * backend such as MPI refuses them): the owned shard goes through a
 * staging buffer of S elements.
 *
 * Stage 3 (parameters sharded) is not built in this version: init
 * refuses stage=3 with a message; nor is hybrid sharding (fsdp,
 * hybrid_shard and the deepspeed_stage_3 names are catalog.c's absent
 * ones).
 */
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/optim.h"
#include "runtime/runtime.h"
#include "strategy/builtin.h"
#include "strategy/ddp_buckets.h"
#include "strategy/zero_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zero {
	int stage;
	struct zero_part part;
	char *staging;          /* part.shard elements of up to 4 bytes */
	struct lt_bucket *buckets; /* stage 2 */
	size_t nbuckets, next_launch;
	char optim_dir[4096];   /* offload_optimizer=nvme */
};

static int zero_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	struct zero *z;
	int stage = (int)lt_params_int(p, "stage");

	(void)ctx;
	if (stage == 3)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "stage 3 (parameters sharded) is not built in this version: use stage=1 or stage=2");
	*state = z = calloc(1, sizeof(*z));
	if (!z)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	z->stage = stage;
	return 0;
}

/* The bucket size: the `bucket_mb` parameter when given, else --bucket-mb. */
static size_t bucket_cap(const struct lt_ctx *ctx, const struct lt_params *p)
{
	double mb = lt_params_given(p, "bucket_mb") ? lt_params_float(p, "bucket_mb")
						    : ctx->cfg->bucket_mb;
	size_t cap = (size_t)(mb * 1048576.0);

	return cap < 4096 ? 4096 : cap;
}

/* Every rank takes rank 0's values (its master weights under mixed
 * precision, from which the compute values are made). */
static int broadcast_values(struct lt_ctx *ctx, struct lt_err *err)
{
	if (ctx->master_arena.used)
		return lt_comm_broadcast(ctx->comm, ctx->master_arena.base, ctx->numel, LT_F32, 0,
					 err) ? -1 : (lt_runtime_refresh_views(ctx), 0);
	return lt_comm_broadcast(ctx->comm, ctx->data_arena.base, ctx->numel, ctx->dtype, 0, err);
}

/* Allocates the padding [N, P) at the end of arena a (elem bytes each). */
static int pad_arena(struct lt_ctx *ctx, struct lt_arena *a, size_t elem, size_t pad,
		     struct lt_err *err)
{
	if (!pad || !a->base)
		return 0;
	if (a->used != ctx->numel * elem)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "the parameter arena holds %zu bytes where %zu parameters of %zu bytes take %zu: zero needs the packed arenas",
				  a->used, ctx->numel, elem, ctx->numel * elem);
	return ctx->accel->alloc(a, pad * elem, err) ? 0 : -1;
}

/* Gives back what this rank does not own of an f32 master arena. */
static void discard_unowned(struct lt_ctx *ctx, const struct zero *z, char *base, size_t elem)
{
	const struct zero_part *q = &z->part;

	if (!base)
		return;
	if (q->offset)
		ctx->accel->discard(base, q->offset * elem);
	if (q->offset + q->numel < q->padded)
		ctx->accel->discard(base + (q->offset + q->numel) * elem,
				    (q->padded - q->offset - q->numel) * elem);
}

static void discard_masters(struct lt_ctx *ctx, const struct zero *z)
{
	discard_unowned(ctx, z, ctx->master_arena.base, sizeof(float));
	discard_unowned(ctx, z, ctx->master_grad_arena.base, sizeof(float));
}

static int cut_buckets(struct lt_ctx *ctx, struct zero *z, const struct lt_params *p,
		       struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	size_t most = lt_ddp_max_buckets(ctx->params, ctx->nparams, esz, bucket_cap(ctx, p));

	z->buckets = calloc(most ? most : 1, sizeof(*z->buckets));
	if (!z->buckets)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu gradient buckets", most);
	z->nbuckets = lt_ddp_cut_buckets(ctx->params, ctx->nparams, esz, bucket_cap(ctx, p),
					 z->buckets);
	return 0;
}

/* offload_optimizer=nvme: the optimizer state goes to files under
 * offload_dir, by default <--log-dir or $TMPDIR>/ltrun-optim-rank<r>. */
static void set_optim_dir(struct lt_ctx *ctx, struct zero *z, const struct lt_params *p)
{
	const char *dir = lt_params_given(p, "offload_dir") ? lt_params_str(p, "offload_dir") : NULL;
	const char *base = ctx->cfg->log_dir ? ctx->cfg->log_dir : getenv("TMPDIR");

	if (strcmp(lt_params_str(p, "offload_optimizer"), "nvme"))
		return;
	if (dir)
		snprintf(z->optim_dir, sizeof(z->optim_dir), "%s", dir);
	else
		snprintf(z->optim_dir, sizeof(z->optim_dir), "%s/ltrun-optim-rank%d",
			 base && *base ? base : "/tmp", ctx->info.rank);
	ctx->optim_dir = z->optim_dir;
}

static void print_plan(const struct lt_ctx *ctx, const struct zero *z)
{
	const char *opt = ctx->cfg->optimizer;
	struct zero_model m = {
		.n = ctx->numel, .ranks = ctx->info.world_size, .stage = z->stage,
		.elem = lt_dtype_size(ctx->dtype), .master = ctx->precision->mixed,
		.slots = !strcmp(opt, "sgd") ? (ctx->cfg->momentum != 0.0) : 2,
	};
	struct zero_bytes b = zero_plan_bytes(&m);

	fprintf(stderr,
		"ltrun: zero: stage %d on %d ranks: parameters %zu, gradients %zu, optimizer %zu, gathered %zu bytes per rank (%zu gradient bucket%s)\n",
		z->stage, ctx->info.world_size, b.params, b.grads, b.optim, b.gathered, z->nbuckets,
		z->nbuckets == 1 ? "" : "s");
}

static int zero_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		      struct lt_strategy_layout *layout, struct lt_err *err)
{
	struct zero *z = state;
	size_t esz = lt_dtype_size(ctx->dtype), pad;

	z->part = zero_part_of(ctx->numel, ctx->info.world_size, ctx->info.rank);
	pad = z->part.padded - ctx->numel;
	if (pad_arena(ctx, &ctx->data_arena, esz, pad, err) ||
	    pad_arena(ctx, &ctx->grad_arena, esz, pad, err) ||
	    pad_arena(ctx, &ctx->master_arena, sizeof(float), pad, err) ||
	    pad_arena(ctx, &ctx->master_grad_arena, sizeof(float), pad, err))
		return -1;
	z->staging = malloc((z->part.shard ? z->part.shard : 1) * (esz > 4 ? esz : 4));
	if (!z->staging)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for a shard of %zu elements",
				  z->part.shard);
	if (z->stage >= 2 && cut_buckets(ctx, z, p, err))
		return -1;
	if (broadcast_values(ctx, err))
		return -1;
	discard_masters(ctx, z);
	layout->state_offset = z->part.offset;
	layout->state_numel = z->part.numel;
	layout->grads_sharded = z->stage >= 2;
	set_optim_dir(ctx, z, p);
	if (ctx->cfg->verbose && ctx->info.rank == 0)
		print_plan(ctx, z);
	return 0;
}

/* --- stage 2: buckets all-reduced as they complete, then trimmed --- */

static int launch(struct lt_ctx *ctx, struct lt_bucket *b, struct lt_err *err)
{
	if (ctx->accel->sync(err))
		return -1;
	b->req = lt_comm_start(ctx->comm, LT_COLL_ALL_REDUCE, b->begin, b->begin,
			       b->bytes / lt_dtype_size(ctx->dtype), ctx->dtype, LT_SUM, 0, err);
	return b->req ? 0 : -1;
}

static int launch_ready(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	while (z->next_launch < z->nbuckets && !z->buckets[z->next_launch].pending) {
		if (launch(ctx, &z->buckets[z->next_launch], err))
			return -1;
		z->next_launch++;
	}
	return 0;
}

static int zero_grad_ready_range(lt_ctx *ctx, void *state, const struct lt_params *p,
				 lt_tensor *t, size_t first, size_t count, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	if (z->stage < 2 || t->bucket < 0)
		return 0;
	lt_ddp_mark_ready(z->buckets, t, first, count, lt_dtype_size(ctx->dtype));
	return launch_ready(ctx, z, err);
}

static int zero_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			   struct lt_err *err)
{
	return zero_grad_ready_range(ctx, state, p, t, 0, (size_t)t->numel, err);
}

/* The gradients of bucket b that this rank does not own go back: they
 * read as zeros in the next micro-batch. */
static void trim(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	size_t lo = (size_t)(b->begin - ctx->grad_arena.base) / esz, hi = lo + b->bytes / esz;
	size_t own_lo = z->part.offset, own_hi = own_lo + z->part.numel;
	size_t cut = own_lo < hi ? own_lo : hi;

	if (cut > lo)
		ctx->accel->discard(ctx->grad_arena.base + lo * esz, (cut - lo) * esz);
	cut = own_hi > lo ? own_hi : lo;
	if (hi > cut)
		ctx->accel->discard(ctx->grad_arena.base + cut * esz, (hi - cut) * esz);
}

/* Starts every bucket not started yet, waits for all, keeps the owned
 * gradients; the buckets are ready for the next micro-batch. */
static int finish_buckets(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < z->nbuckets; i++)
		z->buckets[i].pending = 0;
	if (launch_ready(ctx, z, err))
		rc = -1;
	for (i = 0; i < z->nbuckets; i++) {
		struct lt_bucket *b = &z->buckets[i];
		struct lt_err e2;

		if (b->req && lt_comm_wait(b->req, rc ? &e2 : err))
			rc = -1;
		b->req = NULL;
		b->pending = b->elems;
		if (!rc)
			trim(ctx, z, b);
	}
	for (i = 0; i < ctx->nparams; i++)
		ctx->params[i]->ready = false;
	z->next_launch = 0;
	return rc;
}

static int zero_micro_done(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	return z->stage >= 2 ? finish_buckets(ctx, z, err) : 0;
}

/* --- stage 1: one reduce-scatter at sync --- */

static int reduce_scatter(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), s = z->part.shard;

	if (lt_comm_reduce_scatter(ctx->comm, ctx->grad_arena.base, z->staging, s, ctx->dtype,
				   LT_SUM, err))
		return -1;
	if (z->part.numel)
		ctx->accel->copy(ctx->grad_arena.base + z->part.offset * esz, z->staging,
				 z->part.numel * esz);
	return 0;
}

static int zero_sync(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	if (z->stage >= 2)
		return finish_buckets(ctx, z, err);
	if (ctx->info.world_size == 1 || !ctx->numel)
		return 0;
	if (ctx->accel->sync(err))
		return -1;
	return reduce_scatter(ctx, z, err);
}

/* The part of t inside this rank's shard: t's elements [*first, +return). */
static size_t owned(const struct zero *z, const struct lt_tensor *t, size_t *first)
{
	size_t lo = t->offset > z->part.offset ? t->offset : z->part.offset;
	size_t end = t->offset + (size_t)t->numel, own_end = z->part.offset + z->part.numel;
	size_t hi = end < own_end ? end : own_end;

	*first = lo - t->offset;
	return hi > lo ? hi - lo : 0;
}

static int zero_grad_norm_sq(lt_ctx *ctx, void *state, const struct lt_params *p, double *sumsq,
			     struct lt_err *err)
{
	struct zero *z = state;
	double s = 0.0;

	(void)p;
	for (size_t i = 0; i < ctx->nparams; i++) {
		size_t first, n = owned(z, ctx->params[i], &first);

		if (n)
			s += lt_grad_sumsq(ctx, ctx->params[i], first, n);
	}
	*sumsq = s;
	return ctx->info.world_size > 1 ? lt_comm_all_reduce(ctx->comm, sumsq, 1, LT_F64, LT_SUM, err)
					: 0;
}

/* Every rank's arena gets every rank's shard of the compute values. */
static int gather_values(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype);

	if (ctx->info.world_size == 1 || !ctx->numel)
		return 0;
	/* the padding of the last shards is zeros in every arena */
	ctx->accel->fill(z->staging, 0, z->part.shard * esz);
	if (z->part.numel)
		ctx->accel->copy(z->staging, ctx->data_arena.base + z->part.offset * esz,
				 z->part.numel * esz);
	return lt_comm_all_gather(ctx->comm, z->staging, ctx->data_arena.base, z->part.shard,
				  ctx->dtype, err);
}

static int zero_step(lt_ctx *ctx, void *state, const struct lt_params *p,
		     const struct lt_update *u, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	for (size_t i = 0; i < ctx->nparams; i++) {
		size_t first, n = owned(z, ctx->params[i], &first);

		if (n)
			lt_update(ctx, ctx->params[i], first, n, u);
	}
	/* a resume may have gathered every master weight (zero_ckpt_loaded) */
	discard_masters(ctx, z);
	return gather_values(ctx, z, err);
}

static int zero_ckpt_shard(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_ckpt_shard *out, struct lt_err *err)
{
	struct zero *z = state;

	(void)ctx, (void)p, (void)err;
	*out = (struct lt_ckpt_shard){ .active = true, .offset = z->part.offset,
				       .numel = z->part.numel };
	return 0;
}

/* The ranks read their shards: every rank's values are gathered.  Under
 * mixed precision the master weights are gathered (the compute values
 * are made from them, by the runtime too after a resume) and the next
 * step gives back what the rank does not own. */
static int zero_ckpt_loaded(lt_ctx *ctx, void *state, const struct lt_params *p,
			    struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	if (!ctx->master_arena.base)
		return gather_values(ctx, z, err);
	if (ctx->info.world_size > 1 && ctx->numel) {
		memset(z->staging, 0, z->part.shard * sizeof(float));
		if (z->part.numel)
			memcpy(z->staging, (float *)ctx->master_arena.base + z->part.offset,
			       z->part.numel * sizeof(float));
		if (lt_comm_all_gather(ctx->comm, z->staging, ctx->master_arena.base,
				       z->part.shard, LT_F32, err))
			return -1;
	}
	lt_runtime_refresh_views(ctx);
	return 0;
}

static void zero_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	struct zero *z = state;

	(void)ctx, (void)p;
	if (!z)
		return;
	for (size_t i = 0; i < z->nbuckets; i++)
		if (z->buckets[i].req) {
			struct lt_err ignored;
			lt_comm_wait(z->buckets[i].req, &ignored);
		}
	free(z->buckets);
	free(z->staging);
	free(z);
}

/* The ops zero's catalog entry points at (catalog.c). */
const struct lt_strategy_ops lt_strategy_zero_ops = {
	.launcher = "exec",
	.multi_rank = true,
	.ready_every_micro = true,
	.init = zero_init,
	.setup = zero_setup,
	.grad_ready = zero_grad_ready,
	.grad_ready_range = zero_grad_ready_range,
	.sync = zero_sync,
	.grad_norm_sq = zero_grad_norm_sq,
	.step = zero_step,
	.ckpt_shard = zero_ckpt_shard,
	.ckpt_loaded = zero_ckpt_loaded,
	.micro_done = zero_micro_done,
	.teardown = zero_teardown,
};
