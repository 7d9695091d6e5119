/*
 * ctx.h - what a rank process holds while it runs a model: its place in
 * the job, its rendezvous and communicator, the plugins of the run, the
 * parameters and their storage, the strategy's state, the optimizer and
 * the metrics of the current interval.  This is the definition of
 * ltrun.h's opaque lt_ctx and lt_tensor, below everything that uses them:
 * runtime/ (storage, the optimizer step), strategy/, trainer/ and rank/
 * (rank.c builds it, abi.c implements ltrun.h on top of it).
 *
 * Parameter storage: two arenas of the accelerator (values and
 * gradients, accel.h), each carved in registration order, so that every
 * pointer lt_data()/lt_grad() returns stays valid for the whole run and
 * the gradients of consecutive parameters are contiguous: a DDP bucket is
 * one range of the gradient arena, all-reduced in place.
 */
#ifndef LT_RUNTIME_CTX_H
#define LT_RUNTIME_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "core/config.h"
#include "core/contract.h"
#include "core/registry.h"
#include "precision/precision.h"
#include "precision/scaler.h"
#include "rdzv/rdzv.h"
#include "ltrun.h"
#include "ltrun/strategy.h"

struct lt_comm;
struct lt_comm_req;
struct lt_ckpt_io_ops;
struct lt_ckpt_lock;
struct lt_optim;
struct lt_progress;
struct lt_metrics;
struct lt_ready_mark;

struct lt_tensor {
	char name[128];
	struct lt_shape shape;
	int64_t numel;
	size_t index;    /* registration order: ctx->params[index] */
	size_t offset;   /* first element in the flat parameter space */
	void *data;      /* numel elements of the compute dtype */
	void *grad;
	float *master;   /* mixed precision: f32 master weights, else NULL */
	float *master_grad; /* mixed precision: unscaled f32 gradients */
	int bucket;      /* the strategy's own index (a DDP bucket), -1: none */
	bool ready;      /* lt_grad_ready() seen in this micro-batch */

	/* --- f32 views and gradient guards (runtime/views.c, guards.c) --- */
	float *data_f32; /* lt_data_f32's copy (no master, compute dtype not f32), or NULL */
	float *grad_f32; /* lt_grad_f32's gradient (compute dtype not f32), or NULL */
	struct lt_ready_mark *marks; /* ranges marked ready in this micro-batch */
	size_t nmarks, marks_cap;
	int64_t marked;  /* elements those ranges cover */
	int nbuckets;    /* ddp: the buckets holding parts of it, from `bucket` on */

	/* --- buffers (runtime/buffers.c) --- */
	bool is_buffer;  /* lt_buffer(): not a parameter (index: ctx->buffers[index]) */
	enum lt_dtype dtype; /* lt_data()'s dtype: the compute dtype, or the buffer's own */
	enum lt_buffer_sync sync; /* a buffer's */

	/* --- optimizer groups (runtime/optim.c) --- */
	int decay;       /* lt_param_weight_decay(): 1 on, -1 off; 0: --weight-decay-on decides */
	bool lr_scaled;  /* lt_param_lr_scale() set lr_scale (else the scale is 1) */
	double lr_scale;

	/* --- units (rank/abi_units.c) --- */
	int unit;        /* ctx->units[unit] holds it, -1: none */

	/* --- deferred first values (runtime/lazy_fill.c) --- */
	struct lt_init init; /* lt_param()'s rule */
	bool lazy;       /* its guarded pages hold no values yet */
	bool touched;    /* drawn whole in init because the model touched it */
};

/* A unit of consecutive parameters (lt_unit_new): what ZeRO-3 gathers and
 * releases as one. */
struct lt_unit {
	char name[128];
	size_t index;        /* ctx->units[index] */
	size_t first, count; /* parameters ctx->params[first .. first + count) */
	bool active[2];      /* begun and not yet ended, per enum lt_pass */
};

/* Metrics logged with lt_log() during one interval. */
#define LT_MAX_METRICS 32
struct lt_metric_acc {
	char name[48];
	double sum;    /* value x weight */
	double weight; /* batch sizes */
};

struct lt_ctx {
	struct lt_rank_info info;
	struct lt_rdzv rz;
	unsigned barriers; /* barriers passed, the join included */
	char host[256];
	char addr[256];     /* this node's address towards the store: the node identity of
			     * the communicators (lt_comm_args.host, comm/nodes.h) */
	const struct lt_config *cfg;

	/* The plugins of this run, resolved through the registry (the
	 * built-ins and the --plugin files, as the launcher had them). */
	struct lt_registry *reg;
	struct lt_choice choice[LT_KIND_COUNT];

	struct lt_comm *comm;
	const struct lt_accelerator_ops *accel; /* choice[LT_KIND_ACCELERATOR]'s ops */
	/* The strategy: its ops (NULL ones filled with the replicated
	 * default's), its name, its parameters and the state its init made. */
	struct lt_strategy_ops strategy;
	const char *strategy_name;
	const struct lt_params *strategy_params;
	void *strategy_state;
	bool strategy_ready; /* init done: teardown owed */
	struct lt_strategy_layout layout; /* this rank's optimizer state */
	const struct lt_precision_ops *precision; /* choice[LT_KIND_PRECISION]'s ops */
	enum lt_dtype dtype; /* compute dtype (the precision's) */
	struct lt_scaler scaler; /* when precision->scaler */

	/* parameters */
	struct lt_tensor **params;
	size_t nparams, params_cap;
	size_t numel;        /* elements of every parameter together */
	struct lt_arena data_arena, grad_arena;
	struct lt_arena master_arena, master_grad_arena; /* mixed precision only */
	bool params_frozen;  /* the strategy has placed them: no more lt_param() */
	bool defer_fill;     /* lt_param() leaves first values to lazy_fill.c
			      * (a strategy sharding values asked, in its init) */

	/* the step in progress */
	bool syncing;        /* this micro-batch ends the step: buckets may start */
	double sample_weight; /* this micro-batch's share of the step's samples on every rank */
	float loss_scale;    /* what lt_loss_scale() returns: sample_weight x the scaler's scale */
	int cur_batch_size;  /* weight of lt_log() values */
	bool in_val;
	bool val_padding;    /* this val_step only takes part in the units' gathers:
			      * its metrics are left out (trainer/loop.c) */
	struct lt_metric_acc train_metrics[LT_MAX_METRICS], val_metrics[LT_MAX_METRICS];
	int ntrain_metrics, nval_metrics;
	unsigned bad_metric_warned; /* lt_log() names refused so far */

	/* the optimizer */
	struct lt_optim *optim;
	/* checkpoints (rank 0) */
	const struct lt_ckpt_io_ops *ckpt_io;
	void *ckpt_state;
	struct lt_ckpt_lock *ckpt_lock; /* --ckpt-dir's, held for the run */
	/* Called before the optimizer changes parameters 0 .. nparams - 1
	 * and their state (an async save may still be copying them), or
	 * NULL: the checkpoint code's hook, so that the runtime needs none of
	 * it. */
	void (*before_update)(struct lt_ctx *ctx, size_t nparams);
	int64_t step;        /* training steps done (skipped ones included) */
	int64_t optim_steps; /* steps the optimizer applied (Adam's bias correction) */
	double comm_wait_s;  /* time spent waiting for gradient all-reduces */

	/* --- f32 views and gradient guards (runtime/views.c, guards.c) --- */
	struct lt_arena view_arena, view_grad_arena; /* f32 copies and gradients (views.c) */
	bool marks_seen;       /* some tensor has marks to clear (ready.c) */
	int loss_scale_reads;  /* lt_loss_scale() calls, atomically (guards.c) */
	bool loss_scale_checked; /* the first step's check of them is done */
	bool probing;          /* --debug's probe runs train_step: no marks, no folds */
	bool views_from_values; /* lt_data_f32 copies the values, not the masters
				 * (lt_views_from_values: a sharded strategy) */
	bool probe_done;       /* the probe ran (once a run) */

	/* --- buffers, model state, replica checks (runtime/buffers.c, trainer/state.c) --- */
	struct lt_tensor **buffers; /* lt_buffer()'s, in registration order (no gradient, */
	size_t nbuffers, buffers_cap; /* outside the parameters' arenas and flat space) */
	struct lt_arena buffer_arena;
	lt_state *save_state;   /* the model's blobs the next save writes, or NULL */
	lt_state *loaded_state; /* the blobs the last resume read (every rank), or NULL */
	bool resumed;           /* the run went on from a checkpoint (--resume, a restart) */
	void *ckpt_snapshot;    /* buffers and blobs a save (async) may still copy */
	struct lt_ckpt_stage *ckpt_stage; /* host room for the state of a device's arenas */
	bool fabric_saved;      /* Fabric mode: lt_save() was called */

	/* --- optimizer groups and the run's facts (runtime/optim.c, trainer/loop.c) --- */
	/* lt_param_weight_decay() and lt_param_lr_scale() are refused from
	 * now on: init returned (Trainer mode) or an optimizer step ran. */
	bool groups_fixed;
	/* Trainer mode (NULL in Fabric mode): the model, where its init
	 * stores self, and its num_samples() of each split once asked: the
	 * run's facts (lt_total_steps...) ask them from init on. */
	const struct lt_module *module;
	void **self;
	bool counted;
	int64_t n_samples[2]; /* LT_TRAIN, LT_VAL */
	int64_t planned_steps; /* the plan's total once made (lt_lr()'s schedule end); else 0 */

	/* --- units (rank/abi_units.c) --- */
	struct lt_unit **units;
	size_t nunits, units_cap;

	/* --- sharding (strategy/zero*.c, runtime/groups.c, runtime/offload*.c) --- */
	/* hybrid sharding's communicators (groups.h), NULL until opened */
	struct lt_comm *node_comm, *cross_comm;
	/* set by the strategy's setup: the optimizer state lives in files
	 * under this directory (offload_optimizer=nvme), else NULL */
	const char *optim_dir;
};

#endif
