/*
 * runtime.h - what a rank process holds while it runs a model: its place
 * in the job, its rendezvous and communicator, the parameters and their
 * storage, the strategy, the optimizer and the metrics of the current
 * interval.  This is the definition of ltrun.h's opaque lt_ctx; rank.c
 * builds it, api.c implements ltrun.h on top of it, the strategies
 * (src/strategy/) and the trainer loop (loop.c) drive it.
 *
 * Parameter storage: two arenas of the accelerator (values and
 * gradients, accel.h), each carved in registration order, so that every
 * pointer lt_data()/lt_grad() returns stays valid for the whole run and
 * the gradients of consecutive parameters are contiguous: a DDP bucket is
 * one range of the gradient arena, all-reduced in place.
 */
#ifndef LT_TRAINER_RUNTIME_H
#define LT_TRAINER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "core/config.h"
#include "core/registry.h"
#include "precision/precision.h"
#include "precision/scaler.h"
#include "core/contract.h"
#include "rdzv/rdzv.h"
#include "ltrun.h"

struct lt_comm;
struct lt_comm_req;
struct lt_ckpt_io_ops;
struct lt_ckpt_lock;
struct lt_optim;
struct lt_strategy_rt;
struct lt_progress;
struct lt_metrics;

struct lt_tensor {
	char name[128];
	struct lt_shape shape;
	int64_t numel;
	size_t offset;   /* first element in the flat parameter space */
	void *data;      /* numel elements of the compute dtype */
	void *grad;
	float *master;   /* mixed precision: f32 master weights, else NULL */
	float *master_grad; /* mixed precision: unscaled f32 gradients */
	int bucket;      /* the strategy's bucket, -1 when it has none */
	bool ready;      /* lt_grad_ready() seen in this micro-batch */
};

/* One DDP bucket: consecutive parameters (in reverse registration order,
 * the order backward completes them), one range of the gradient arena. */
struct lt_bucket {
	size_t first, last;      /* parameter indices, first <= last */
	char *begin;             /* gradient bytes [begin, begin + bytes) */
	size_t bytes;
	size_t pending;          /* parameters not ready yet */
	struct lt_comm_req *req; /* in flight, or NULL */
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
	const struct lt_config *cfg;

	/* The plugins of this run, resolved through the registry (the
	 * built-ins and the --plugin files, as the launcher had them). */
	struct lt_registry *reg;
	struct lt_choice choice[LT_KIND_COUNT];

	struct lt_comm *comm;
	const struct lt_accelerator_ops *accel; /* choice[LT_KIND_ACCELERATOR]'s ops */
	const struct lt_strategy_rt *strategy;
	void *strategy_state;
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

	/* the step in progress */
	bool syncing;        /* this micro-batch ends the step: buckets may start */
	double sample_weight; /* this micro-batch's share of the step's samples on every rank */
	float loss_scale;    /* what lt_loss_scale() returns: sample_weight x the scaler's scale */
	int cur_batch_size;  /* weight of lt_log() values */
	bool in_val;
	struct lt_metric_acc train_metrics[LT_MAX_METRICS], val_metrics[LT_MAX_METRICS];
	int ntrain_metrics, nval_metrics;

	/* the optimizer */
	struct lt_optim *optim;
	/* checkpoints (rank 0) */
	const struct lt_ckpt_io_ops *ckpt_io;
	void *ckpt_state;
	struct lt_ckpt_lock *ckpt_lock; /* --ckpt-dir's, held for the run */
	int64_t step;        /* training steps done (skipped ones included) */
	int64_t optim_steps; /* steps the optimizer applied (Adam's bias correction) */
	double comm_wait_s;  /* time spent waiting for gradient all-reduces */
};

/* The runtime of a strategy: where parameters live and when gradients
 * travel.  Every function that can fail returns 0 or -1 with err set. */
struct lt_strategy_rt {
	const char *name;
	/* After the last lt_param(): place gradients, make every rank's
	 * parameters equal (rank 0's). */
	int (*setup)(struct lt_ctx *ctx, struct lt_err *err);
	/* t's gradient is complete in this micro-batch (only called while
	 * ctx->syncing). */
	int (*grad_ready)(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err);
	/* End of the step's last micro-batch: every gradient averaged over
	 * the ranks when this returns. */
	int (*sync)(struct lt_ctx *ctx, struct lt_err *err);
	void (*teardown)(struct lt_ctx *ctx);
};

extern const struct lt_strategy_rt lt_strategy_single_device;
extern const struct lt_strategy_rt lt_strategy_ddp;

/* The runtime of strategy `name` (an alias resolved to its base, "auto"
 * resolved for world_size), or NULL when this version has none. */
const struct lt_strategy_rt *lt_strategy_runtime(const char *name, int world_size);

/* ------------------------------------------------- runtime.c */

/* Fills t's values (and master weights) from its init rule with the
 * run's seed (the same on every rank).  Returns 0, or -1 with err when
 * memory for the conversion is short. */
int lt_param_fill(const struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		  size_t index, struct lt_err *err);
/* Sets ctx->loss_scale from the sample weight and the scaler. */
void lt_runtime_update_loss_scale(struct lt_ctx *ctx);
/* Copies every master weight into its compute view (mixed precision). */
void lt_runtime_refresh_views(struct lt_ctx *ctx);

/* Marks the parameters placed; the strategy's setup and, when given, the
 * optimizer are made.  Returns 0 or -1 with err. */
int lt_runtime_setup(struct lt_ctx *ctx, struct lt_err *err);
/* Zeroes every gradient. */
void lt_runtime_zero_grads(struct lt_ctx *ctx);
/* The end of a step once gradients are synchronised: unscaling and the
 * inf/NaN check (a step skipped on every rank when any has one, under
 * loss scaling), clipping, the optimizer step at lr on the master weights,
 * the compute views refreshed, the gradients zeroed, the step counted.
 * Returns 0 or -1 with err. */
int lt_runtime_optimizer_step(struct lt_ctx *ctx, double lr, struct lt_err *err);
/* The learning rate of optimizer step ctx->step, from the schedule;
 * total_steps is the run's length (or -1 when unknown). */
double lt_runtime_lr(const struct lt_ctx *ctx, int64_t total_steps);
void lt_runtime_free(struct lt_ctx *ctx);

/* Records value (weighted by the current batch size) under name in the
 * train or validation accumulators. */
void lt_metric_add(struct lt_ctx *ctx, const char *name, double value, double weight);

/* -------------------------------------------------- loop.c: Trainer mode */

/* Runs the Trainer loop of module m.  Returns the rank's exit status. */
int lt_trainer_run(struct lt_ctx *ctx, const struct lt_module *m, int argc, char **argv);

#endif
