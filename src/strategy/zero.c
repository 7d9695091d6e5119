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
 *            gradients.  A bucket covers flat [lo, hi), which meets the
 *            owners' ranges in uneven pieces: it is reduce-scattered
 *            (lt_comm_start_v, bucket_send.h) in place: each owner
 *            receives the sum of its piece only, where the piece is in
 *            its gradient arena.  The rest of each bucket is discarded as
 *            soon as its collective is done (its pages go back; the next
 *            micro-batch adds into zeros, while the owned part holds the
 *            reduced sum so far, so the sum over ranks stays right under
 *            accumulation).  One bucket is in flight at a time
 *            while backward writes the next (trim_done waits for the
 *            older before another starts), and trimming one takes back
 *            the pages of the one two on (trim), so at most three
 *            buckets of gradients beyond the owned ones are ever
 *            resident.  overlap_comm=false: each bucket is reduced at
 *            once on the rank's thread instead (overlap_comm()).
 *            (W-1)/W of a bucket's bytes per rank, half
 *            of ddp's all-reduce, for 1/W of ddp's gradient memory
 *            between steps.
 *
 *   stage 3  as 2, and the values are sharded too (zero_units.c): after
 *            setup a rank gives back (accel->discard) and guards
 *            (accel->guard: a model touching them faults) the values of
 *            every unit (lt_unit_new) outside its shard; a unit's begin
 *            makes them resident again (on one node from the owners'
 *            shared pages, else each owner broadcasting its part:
 *            zero_units.c), and from the second step on the next
 *            `prefetch` units of the order recorded in the first are
 *            gathered ahead (broadcasts: on the communicator's
 *            worker).  The end of a unit releases it unless it is among those next ones (reshard_after_forward=
 *            false: not before the end of its backward).  A unit's
 *            gradients travel in stage 2's buckets (the end of its
 *            backward marks it ready).  Parameters in no
 *            unit stay resident on every rank: after each step their
 *            owners broadcast the new values.  Discard zeroes exactly the
 *            bytes it is given (only what the rank does not own), guard
 *            acts on the pages wholly inside them, so a page shared with
 *            a neighbour that must stay is never made inaccessible.  A
 *            model touching a released value faults; the handler of
 *            runtime/unit_fault.c names the parameter and its unit.
 *            First values (deferred_init, on by default): init sets
 *            ctx->defer_fill, so lt_param() leaves them to
 *            runtime/lazy_fill.c, and setup draws the owned shard only
 *            (lt_lazy_fill_settle) instead of broadcasting rank 0's
 *            whole arena: no rank ever holds every first value.
 *
 * Every collective is in place (comm.h): rank r's block of S elements
 * [r S, r S + S) of the padded arena is where its reduce-scatters
 * receive and where its all-gathers send from, so there is no staging
 * buffer beside the shard.
 *
 * Hybrid sharding (shard_scope=node, hybrid_shard: FSDP's HYBRID_SHARD).
 * The shards are split over the ranks of one node (runtime/groups.h's
 * node communicator, shared memory) instead of the world: every node
 * holds a whole replica.  Values are gathered and broadcast inside the
 * node only.  Gradients: stage 1 reduce-scatters inside the node, then
 * all-reduces the owned shard over the cross communicator (the ranks of
 * equal local rank); stages 2 and 3 reduce-scatter their buckets inside
 * the node and all-reduce each owned piece over the cross communicator
 * when the buckets are waited (with one rank per node, the buckets are
 * all-reduced over the world), which is the same sum.  Only node 0's
 * ranks write checkpoint shards; on a resume they broadcast what they
 * read over the cross communicator.
 *
 * Parameters in files (offload_params=nvme, stage 3): a rank's owned
 * values of the units (and master weights) live in files and are
 * released like the rest between uses: zero_files.c, called where
 * zero_units.c gathers and releases a unit and from the places marked
 * "files:" here.
 *
 * f32 views.  A rank keeps only its part of the f32 master weights, so
 * init asks the runtime (lt_views_from_values) to make lt_data_f32 a
 * copy of the compute values under mixed precision too; the layout's
 * values_sharded (stage 3) has the runtime copy a unit's when it is
 * begun, and --check-replicas leave the units' values alone.
 */
#include "comm/comm.h"
#include "core/error.h"
#include "runtime/groups.h"
#include "runtime/lazy_fill.h"
#include "runtime/optim.h"
#include "runtime/runtime.h"
#include "runtime/unit_fault.h"
#include "strategy/builtin.h"
#include "strategy/bucket_send.h"
#include "strategy/zero_files.h"
#include "strategy/zero_plan.h"
#include "strategy/zero_units.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zero {
	int stage;
	/* the ranks a shard is split over: the world's communicator, or
	 * (hybrid) the node's, with cross the ranks of equal local rank */
	struct lt_comm *shard, *cross;
	int srank, ssize;
	struct zero_part part;
	struct lt_bucket_queue q; /* stage 2 and 3 */
	size_t trimmed;         /* buckets before it are reduced and trimmed */
	size_t *take_back_at;   /* stage 2: trimming bucket i takes back the
				 * pages of bucket take_back_at[i] (NO_BUCKET:
				 * none; NULL: no bucket does), plan_take_back */
	char optim_dir[4096];   /* offload_optimizer=nvme */
	struct zero_units *units; /* stage 3 on more than one rank */
	struct zero_units_opts unit_opts; /* stage 3's prefetch, reshard_after_forward */
	struct zero_files *files; /* stage 3, offload_params=nvme (zero_files.h) */
};

static int zero_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	struct zero *z;
	int stage = (int)lt_params_int(p, "stage");
	const char *params_to = lt_params_str(p, "offload_params");

	if (stage < 3 && strcmp(params_to, "none"))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "offload_params=%s shards parameters, which stage %d does not: use stage=3",
				  params_to, stage);
	*state = z = calloc(1, sizeof(*z));
	if (!z)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	z->stage = stage;
	z->unit_opts.prefetch = (int)lt_params_int(p, "prefetch");
	z->unit_opts.keep_forward = !lt_params_bool(p, "reshard_after_forward");
	/* every rank keeps part of the f32 masters (or has them in files):
	 * the f32 views copy the compute values (which are whole, or
	 * gathered with their unit) */
	if (ctx->info.world_size > 1 || zero_files_wanted(p))
		lt_views_from_values(ctx);
	/* a rank draws the first values of its own shard only (setup) */
	ctx->defer_fill = stage >= 3 && ctx->info.world_size > 1 &&
			  lt_params_bool(p, "deferred_init") && lt_lazy_fill_possible(ctx);
	return 0;
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

/* overlap_comm (DeepSpeed's name): whether a bucket's reduce-scatter runs
 * on the communicator's worker while backward goes on.  auto: not at
 * stage 2 when the node has exactly one CPU for each of its ranks: the
 * worker then takes a rank's CPU for every bucket, and the hand-offs
 * cost more than the overlap gives (wide, 100M parameters, 2 ranks on 2
 * CPUs: 0.94x ddp's step at once, 0.96-1.0x on the worker, with
 * slower outliers); with more ranks than CPUs, or CPUs to spare, or a
 * device communicator, the worker is as fast or faster. */
static bool overlap_comm(const struct lt_ctx *ctx, const struct zero *z,
			 const struct lt_params *p)
{
	const char *v = lt_params_str(p, "overlap_comm");
	cpu_set_t set;
	int cpus = 1;

	if (v && strcmp(v, "auto"))
		return !strcmp(v, "true");
	if (z->stage != 2 || z->shard->ops->device_buffers)
		return true;
	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	/* a rank bound to one CPU has it to itself (--cpu-bind) */
	return !(cpus == 1 || cpus == ctx->info.local_world_size);
}

/* --- stage 2's trimming: what of a bucket goes back, in which units --- */

/* The gradients of bucket b that this rank does not own: the parts before
 * and after its owned range, piece[0..1] of bytes[0..1] (0: none). */
static void unowned_pieces(const struct lt_ctx *ctx, const struct zero *z,
			   const struct lt_bucket *b, char *piece[2], size_t bytes[2])
{
	size_t esz = lt_dtype_size(ctx->dtype);
	size_t lo = (size_t)(b->begin - ctx->grad_arena.base) / esz, hi = lo + b->bytes / esz;
	size_t own_lo = z->part.offset, own_hi = own_lo + z->part.numel;
	size_t cut = own_lo < hi ? own_lo : hi;

	piece[0] = ctx->grad_arena.base + lo * esz;
	bytes[0] = cut > lo ? (cut - lo) * esz : 0;
	cut = own_hi > lo ? own_hi : lo;
	piece[1] = ctx->grad_arena.base + cut * esz;
	bytes[1] = hi > cut ? (hi - cut) * esz : 0;
}

/* Calls fn on each piece of bucket b that this rank does not own. */
static void each_unowned(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b,
			 void (*fn)(struct lt_ctx *ctx, char *p, size_t bytes))
{
	char *piece[2];
	size_t bytes[2];

	unowned_pieces(ctx, z, b, piece, bytes);
	for (int i = 0; i < 2; i++)
		if (bytes[i])
			fn(ctx, piece[i], bytes[i]);
}

/* [*a, *b): the accelerator's whole discard grains inside [p, p + bytes)
 * (the whole range when it has none; empty: *a == *b). */
static void whole_grains(const struct lt_ctx *ctx, char *p, size_t bytes, char **a, char **b)
{
	uintptr_t g = ctx->accel->discard_grain, lo = (uintptr_t)p, hi = lo + bytes;
	uintptr_t ga = g ? (lo + g - 1) / g * g : lo, gb = g ? hi / g * g : hi;

	*a = (char *)ga;
	*b = (char *)(gb > ga ? gb : ga);
}

/* p rounded up to the accelerator's discard grain (p when it has none). */
static char *grain_up(const struct lt_ctx *ctx, char *p)
{
	uintptr_t g = ctx->accel->discard_grain;

	return g ? (char *)(((uintptr_t)p + g - 1) / g * g) : p;
}

/* Gives back the whole grains of [p, p + bytes) and zeroes the rest in
 * place: a bucket's edges share their grain with a neighbour, and giving
 * back part of a grain would split it.  The grain at its top end is
 * given back whole when what lies above it there is dead (top_dead):
 * gradients of the buckets trimmed before this one (backward completes
 * the buckets from the top of the arena down) and not this rank's.  So
 * the grain a bucket shares with the one below goes back at the next
 * trim, and only the grains at the owned range's ends stay. */
static void give_back_piece(struct lt_ctx *ctx, char *p, size_t bytes, bool top_dead)
{
	size_t g = ctx->accel->discard_grain;
	char *a, *b;

	whole_grains(ctx, p, bytes, &a, &b);
	if (top_dead && g && (uintptr_t)(p + bytes) % g) {
		char *top = grain_up(ctx, p + bytes);

		if (top - g >= p) { /* the top grain starts inside the piece */
			b = top;
			a = a < b - g ? a : b - g;
		}
	}
	if (a == b) {
		ctx->accel->fill(p, 0, bytes);
		return;
	}
	ctx->accel->fill(p, 0, (size_t)(a - p));
	if (b < p + bytes)
		ctx->accel->fill(b, 0, (size_t)(p + bytes - b));
	ctx->accel->discard(a, (size_t)(b - a));
}

/* give_back_piece on each piece of bucket b this rank does not own. */
static void give_back(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	char *own_lo = ctx->grad_arena.base + z->part.offset * esz;
	char *own_hi = own_lo + z->part.numel * esz;
	char *arena_end = ctx->grad_arena.base + ctx->grad_arena.used;
	char *piece[2];
	size_t bytes[2];

	unowned_pieces(ctx, z, b, piece, bytes);
	for (int i = 0; i < 2; i++) {
		char *end = piece[i] + bytes[i], *top = grain_up(ctx, end);

		if (bytes[i])
			give_back_piece(ctx, piece[i], bytes[i],
					top <= arena_end && (top <= own_lo || end >= own_hi));
	}
}

/* Makes what give_back gave back of [p, p + bytes) resident again. */
static void take_back(struct lt_ctx *ctx, char *p, size_t bytes)
{
	char *a, *b;

	whole_grains(ctx, p, bytes, &a, &b);
	if (b > a)
		ctx->accel->populate(a, (size_t)(b - a));
}

/* Whether bucket b has pages this rank gives back. */
static bool gives_back(const struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b)
{
	char *piece[2], *a, *e;
	size_t bytes[2];

	unowned_pieces(ctx, z, b, piece, bytes);
	for (int i = 0; i < 2; i++) {
		whole_grains(ctx, piece[i], bytes[i], &a, &e);
		if (e > a)
			return true;
	}
	return false;
}

#define NO_BUCKET ((size_t)-1)

/* Stage 2: the bucket whose pages trimming each bucket takes back
 * (trim()): among the buckets that give pages back, in backward's order
 * and round to the next micro-batch's first ones, the one two further
 * on.  Not at stage 3, whose peak is in forward: the next micro-batch's
 * first buckets would be resident then. */
static int plan_take_back(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	size_t *order, n = 0;

	if (!ctx->accel->populate)
		return 0;
	z->take_back_at = malloc(z->q.nbuckets * sizeof(size_t));
	order = malloc(z->q.nbuckets * sizeof(size_t));
	if (!z->take_back_at || !order) {
		free(order);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu gradient buckets",
				  z->q.nbuckets);
	}
	for (size_t i = 0; i < z->q.nbuckets; i++) {
		z->take_back_at[i] = NO_BUCKET;
		if (gives_back(ctx, z, &z->q.buckets[i]))
			order[n++] = i;
	}
	for (size_t k = 0; n > 2 && k < n; k++)
		z->take_back_at[order[k]] = order[(k + 2) % n];
	free(order);
	return 0;
}

/* Stage 2 and 3's buckets; over several ranks each is reduce-scattered
 * into its owners, in place. */
static int cut_buckets(struct lt_ctx *ctx, struct zero *z, const struct lt_params *p,
		       struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype);
	size_t most = lt_ddp_max_buckets(ctx->params, ctx->nparams, esz, lt_buckets_cap(ctx, p));

	z->q.buckets = calloc(most ? most : 1, sizeof(*z->q.buckets));
	if (!z->q.buckets)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu gradient buckets", most);
	z->q.nbuckets = lt_ddp_cut_buckets(ctx->params, ctx->nparams, esz, lt_buckets_cap(ctx, p),
					   z->q.buckets);
	if (z->ssize == 1)
		return 0;
	z->q.on_caller = !overlap_comm(ctx, z, p);
	z->q.rs = (struct lt_bucket_rs){ .comm = z->shard, .shard = z->part.shard,
					 .own_lo = z->part.offset,
					 .counts = calloc((size_t)z->ssize, sizeof(size_t)) };
	if (!z->q.rs.counts)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	return z->stage == 2 ? plan_take_back(ctx, z, err) : 0;
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
		.n = ctx->numel, .ranks = z->ssize, .stage = z->stage,
		.elem = lt_dtype_size(ctx->dtype), .master = ctx->precision->mixed,
		.slots = !strcmp(opt, "sgd") ? (ctx->cfg->momentum != 0.0) : 2,
		.largest_unit = z->stage >= 3 ? zero_units_largest(ctx) : 0,
		.units_total = z->stage >= 3 ? zero_units_total(ctx) : 0,
		.prefetch = z->unit_opts.prefetch, .keep_forward = z->unit_opts.keep_forward,
	};
	struct zero_bytes b = zero_plan_bytes(&m);

	fprintf(stderr,
		"ltrun: zero: stage %d on %d ranks: parameters %zu, gradients %zu, optimizer %zu, gathered %zu bytes per rank (%zu gradient bucket%s)\n",
		z->stage, z->ssize, b.params, b.grads, b.optim, b.gathered, z->q.nbuckets,
		z->q.nbuckets == 1 ? "" : "s");
}

/* Stage 3 under --verbose, at the end: how the units were gathered. */
static void print_gathers(const struct zero_units *zu)
{
	size_t gathers, ahead;

	zero_units_counts(zu, &gathers, &ahead);
	fprintf(stderr, "ltrun: zero: stage 3 gathered units %zu times, %zu of them ahead of use, by %s\n",
		gathers, ahead, zero_units_gather_way(zu));
}

/* Stage 3: a unit begun or ended (zero_units.c). */
static int zero_unit(lt_ctx *ctx, void *state, const struct lt_params *p,
		     const struct lt_unit_event *ev, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	return z->units ? zero_units_event(ctx, z->units, ev, err) : 0;
}

/* The world, or under shard_scope=node the node's ranks (and the cross
 * group beside them: groups.h). */
static int open_shard_group(struct lt_ctx *ctx, struct zero *z, const struct lt_params *p,
			    struct lt_err *err)
{
	z->shard = ctx->comm;
	z->cross = NULL;
	if (!strcmp(lt_params_str(p, "shard_scope"), "node") && ctx->info.world_size > 1 &&
	    lt_groups_open(ctx, &z->shard, &z->cross, err))
		return -1;
	z->srank = z->shard ? z->shard->rank : 0;
	z->ssize = z->shard ? z->shard->size : 1;
	return 0;
}

static int zero_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		      struct lt_strategy_layout *layout, struct lt_err *err)
{
	struct zero *z = state;
	size_t esz = lt_dtype_size(ctx->dtype), pad;

	if (open_shard_group(ctx, z, p, err))
		return -1;
	z->part = zero_part_of(ctx->numel, z->ssize, z->srank);
	pad = z->part.padded - ctx->numel;
	if (pad_arena(ctx, &ctx->data_arena, esz, pad, err) ||
	    pad_arena(ctx, &ctx->grad_arena, esz, pad, err) ||
	    pad_arena(ctx, &ctx->master_arena, sizeof(float), pad, err) ||
	    pad_arena(ctx, &ctx->master_grad_arena, sizeof(float), pad, err))
		return -1;
	if (z->stage >= 2 && cut_buckets(ctx, z, p, err))
		return -1;
	if (ctx->defer_fill ? lt_lazy_fill_settle(ctx, z->part.offset,
						  z->part.offset + z->part.numel, err)
			    : broadcast_values(ctx, err))
		return -1;
	discard_masters(ctx, z);
	/* parameters in files: stage 3 on one rank too */
	if (z->stage >= 3 && (z->ssize > 1 || zero_files_wanted(p)) &&
	    (lt_unit_fault_install(ctx, err) ||
	     !(z->units = zero_units_open(ctx, &z->part, z->shard, &z->unit_opts, err))))
		return -1;
	if (z->stage >= 3 && zero_files_wanted(p) && /* files: made, the owned values go */
	    !(z->files = zero_files_open(ctx, p, z->part.offset, z->part.numel, err)))
		return -1;
	if (z->files)
		zero_units_set_files(z->units, z->files);
	if (z->units && zero_units_direct(ctx, z->units, err))
		return -1;
	layout->state_offset = z->part.offset;
	layout->state_numel = z->part.numel;
	layout->grads_sharded = z->stage >= 2;
	layout->values_sharded = z->units != NULL;
	set_optim_dir(ctx, z, p);
	if (ctx->cfg->verbose && ctx->info.rank == 0)
		print_plan(ctx, z);
	return 0;
}

/* --- stage 2: buckets reduce-scattered as they complete, then trimmed --- */

static void trim(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b);

/* At most this many buckets reduce-scatter at once; a rank that gets
 * further ahead in backward waits for the oldest, so that its gradients
 * resident beyond its shard stay a couple of buckets, not the whole
 * model's, when the collectives lag behind backward (more ranks than
 * cores: 4 ranks on 2 CPUs held every gradient without it).  One in
 * flight while the next fills is DeepSpeed's overlap_comm double
 * buffer. */
#define MAX_BUCKETS_IN_FLIGHT 1

/* The buckets whose reduce-scatter has finished, in order, give back what
 * this rank does not own at once; then, while more than
 * MAX_BUCKETS_IN_FLIGHT are still in flight, the oldest is waited for.
 * The gradients resident during backward are the buckets in flight, the
 * one being written, and the owned shard. */
static int trim_done(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	while (z->trimmed < z->q.next_launch) {
		struct lt_bucket *b = &z->q.buckets[z->trimmed];

		if (b->req) {
			if (z->q.next_launch - z->trimmed <= MAX_BUCKETS_IN_FLIGHT &&
			    !lt_comm_test(b->req))
				break;
			if (lt_comm_wait(b->req, err))
				return -1;
			b->req = NULL;
		}
		trim(ctx, z, b);
		z->trimmed++;
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
	lt_ddp_mark_ready(z->q.buckets, t, first, count, lt_dtype_size(ctx->dtype));
	return lt_buckets_launch_ready(ctx, &z->q, err) || trim_done(ctx, z, err) ? -1 : 0;
}

static int zero_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			   struct lt_err *err)
{
	return zero_grad_ready_range(ctx, state, p, t, 0, (size_t)t->numel, err);
}

/* The gradients of bucket b that this rank does not own go back: they
 * read as zeros in the next micro-batch.  Then (stage 2) the bucket that
 * gives pages back two after this one (the next micro-batch's first ones
 * after the last) takes pages back at once, the very ones just given
 * back, while they are still the kernel's: left free for long, a VM's
 * host may reclaim them (this one's does, about every 2 s, and touching
 * them again then took 5-8x as long: a step in four or five 50-200 ms
 * slower). */
static void trim(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b)
{
	size_t next = z->take_back_at ? z->take_back_at[b - z->q.buckets] : NO_BUCKET;

	give_back(ctx, z, b);
	if (next != NO_BUCKET)
		each_unowned(ctx, z, &z->q.buckets[next], take_back);
}

/* Hybrid: bucket b's reduced piece that this rank owns, summed over the
 * nodes where it is. */
static int sum_across_nodes(struct lt_ctx *ctx, const struct zero *z, const struct lt_bucket *b,
			    struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), lo, hi, a, e;

	lt_bucket_span(ctx, &z->q, b, &lo, &hi, &a, &e);
	if (e == a)
		return 0;
	return lt_comm_all_reduce(z->cross, ctx->grad_arena.base + a * esz, e - a, ctx->dtype,
				  LT_SUM, err);
}

/* Starts every bucket not started yet, waits for all, keeps the owned
 * gradients; the buckets are ready for the next micro-batch. */
static int finish_buckets(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	if (lt_buckets_finish(ctx, &z->q, err))
		return -1;
	for (size_t i = 0; z->q.rs.comm && z->cross && z->cross->size > 1 && i < z->q.nbuckets; i++)
		if (sum_across_nodes(ctx, z, &z->q.buckets[i], err))
			return -1;
	for (size_t i = z->trimmed; i < z->q.nbuckets; i++)
		trim(ctx, z, &z->q.buckets[i]);
	z->trimmed = 0;
	return 0;
}

static int zero_micro_done(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	return z->stage >= 2 ? finish_buckets(ctx, z, err) : 0;
}

/* --- stage 1: one reduce-scatter at sync --- */

/* This rank's block [r S, r S + S) of a padded arena of elem-byte
 * elements: where the collectives work in place. */
static char *own_block(const struct zero *z, char *base, size_t elem)
{
	return base + (size_t)z->srank * z->part.shard * elem;
}

static int reduce_scatter(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), s = z->part.shard;
	char *mine = own_block(z, ctx->grad_arena.base, esz);

	if (z->ssize > 1 && lt_comm_reduce_scatter(z->shard, ctx->grad_arena.base, mine, s,
						   ctx->dtype, LT_SUM, err))
		return -1;
	/* hybrid: the same shard of every node's sum */
	return z->cross && z->cross->size > 1
		       ? lt_comm_all_reduce(z->cross, mine, s, ctx->dtype, LT_SUM, err)
		       : 0;
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
	/* every shard once: the node's ranks (hybrid) hold them all */
	return z->ssize > 1 ? lt_comm_all_reduce(z->shard, sumsq, 1, LT_F64, LT_SUM, err) : 0;
}

/* Every rank's arena gets every rank's shard of the compute values. */
static int gather_values(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype);

	if (z->ssize == 1 || !ctx->numel)
		return 0;
	/* the padding of the last shards is zeros in every arena */
	return lt_comm_all_gather(z->shard, own_block(z, ctx->data_arena.base, esz),
				  ctx->data_arena.base, z->part.shard, ctx->dtype, err);
}

static int zero_step(lt_ctx *ctx, void *state, const struct lt_params *p,
		     const struct lt_update *u, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	/* stage 3: no gather ahead may still read the values updated here */
	if (z->units && zero_units_step(ctx, z->units, err))
		return -1;
	/* parameters in files: each unit's owned part read, stepped, written */
	if (z->files && zero_files_step(ctx, z->files, zero_units_held(z->units), u, err))
		return -1;
	for (size_t i = 0; !z->files && i < ctx->nparams; i++) {
		size_t first, n = owned(z, ctx->params[i], &first);

		if (n)
			lt_update(ctx, ctx->params[i], first, n, u);
	}
	/* a resume may have gathered every master weight (zero_ckpt_loaded) */
	discard_masters(ctx, z);
	if (z->stage >= 3)
		return z->units ? zero_units_broadcast_loose(ctx, z->units, err) : 0;
	return gather_values(ctx, z, err);
}

static int zero_ckpt_shard(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_ckpt_shard *out, struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	/* files: the owned values resident until the next unit event or step */
	if (z->files && zero_files_pin(ctx, z->files, zero_units_held(z->units), err))
		return -1;
	/* hybrid: node 0's ranks hold every shard once */
	*out = (struct lt_ckpt_shard){ .active = !z->cross || z->cross->rank == 0,
				       .offset = z->part.offset, .numel = z->part.numel };
	return 0;
}

/* Hybrid after a resume: node 0's ranks read the shards; each sends its
 * owned values (or master weights) and optimizer state to the ranks of
 * its local rank on the other nodes. */
static int share_across_nodes(struct lt_ctx *ctx, struct zero *z, struct lt_err *err)
{
	const char *slot[2];
	void *buf[2];
	int nslots = lt_optim_buffers_typed(ctx->optim, slot, buf);
	size_t n = z->part.numel, esz = lt_dtype_size(ctx->dtype);

	if (!z->cross || z->cross->size == 1 || !n)
		return 0;
	if (ctx->master_arena.base
		    ? lt_comm_broadcast(z->cross, (float *)ctx->master_arena.base + z->part.offset, n,
					LT_F32, 0, err)
		    : lt_comm_broadcast(z->cross, ctx->data_arena.base + z->part.offset * esz, n,
					ctx->dtype, 0, err))
		return -1;
	for (int s = 0; s < nslots; s++)
		if (lt_comm_broadcast(z->cross, buf[s], ctx->layout.state_numel,
				      lt_optim_state_dtype(ctx->optim), 0, err))
			return -1;
	return 0;
}

/* The ranks read their shards: every rank's values are gathered (stage
 * 3 under 32-true: those of the parameters in no unit; the units' are
 * gathered when begun).  Under
 * mixed precision the master weights are gathered (the compute values
 * are made from them, by the runtime too after a resume) and the next
 * step gives back what the rank does not own. */
static int zero_ckpt_loaded(lt_ctx *ctx, void *state, const struct lt_params *p,
			    struct lt_err *err)
{
	struct zero *z = state;

	(void)p;
	zero_units_values_changed(z->units);
	if (share_across_nodes(ctx, z, err))
		return -1;
	if (z->stage >= 3 && (!ctx->master_arena.base || !z->units))
		return z->units ? zero_units_broadcast_loose(ctx, z->units, err) : 0;
	/* stage 3 under mixed precision: the runtime makes every compute
	 * value from the master weights after this, so every value is made
	 * resident until the next unit event or step releases them */
	if (z->stage >= 3 && zero_units_resident_all(ctx, z->units, err))
		return -1;
	if (!ctx->master_arena.base)
		return gather_values(ctx, z, err);
	if (z->ssize > 1 && ctx->numel &&
	    lt_comm_all_gather(z->shard, own_block(z, ctx->master_arena.base, sizeof(float)),
			       ctx->master_arena.base, z->part.shard, LT_F32, err))
		return -1;
	lt_runtime_refresh_views(ctx);
	return 0;
}

static void zero_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	struct zero *z = state;

	(void)p;
	if (!z)
		return;
	lt_buckets_drain(&z->q);
	if (z->units && ctx->cfg->verbose && ctx->info.rank == 0)
		print_gathers(z->units);
	if (z->units)
		lt_unit_fault_remove();
	if (zero_units_reads_direct(z->units)) { /* no peer reads this rank's values any more */
		struct lt_err ignored;
		(void)lt_comm_barrier(z->shard, &ignored);
	}
	zero_units_close(z->units); /* its gathers waited before the files go */
	zero_files_close(z->files);
	free(z->q.buckets);
	free(z->q.rs.counts);
	free(z->take_back_at);
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
	.unit = zero_unit,
	.teardown = zero_teardown,
};
