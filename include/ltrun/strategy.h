/*
 * ltrun/strategy.h - the strategy plugin kind: where a rank's parameters,
 * gradients and optimizer state live, how gradients travel, who updates
 * what, and what each rank saves.  A strategy plugin is one struct
 * lt_plugin of kind LT_KIND_STRATEGY whose ops point at a struct
 * lt_strategy_ops; it is built with this header alone (`pkg-config
 * --cflags ltrun`) and loaded with --plugin.  examples/plugins/
 * fp16_compress_ddp.c is a complete one.
 *
 * The flat parameter space.  Parameters are numbered in registration
 * order (lt_param_at); parameter i occupies elements [lt_offset(t),
 * lt_offset(t) + lt_numel(t)) of one flat space of lt_total_numel()
 * elements, the space the optimizer state is laid out in.  Storage is
 * the runtime's: every rank reserves the whole space for values (the
 * compute dtype, lt_dtype()), gradients (the same) and, under mixed
 * precision, f32 master weights and f32 master gradients (lt_master,
 * lt_master_grad); the gradients of consecutive parameters are
 * contiguous, values too, so a range of parameters is one buffer to a
 * collective.  Every pointer stays valid for the whole run.
 *
 * The life of a run, and which op the runtime calls when (each op gets
 * the rank's context, the state its init made and its resolved
 * parameters: schema defaults <- presets <- `--strategy name:k=v`):
 *
 *   init        once, before the model registers any parameter
 *   place       at each lt_param(), once the tensor has its storage and
 *               first values (the same on every rank)
 *   setup       after the last lt_param() (the first step): make every
 *               rank's values equal, cut buckets, and say which range of
 *               the flat space this rank keeps optimizer state for
 *   grad_ready  during backward of a micro-batch that ends a step, when
 *               the model marks a gradient complete (lt_grad_ready), or
 *               the last range of it (lt_grad_ready_range)
 *   grad_ready_range  optional, instead of grad_ready: each range the
 *               model marks, as it marks it (a whole tensor is the range
 *               [0, numel)), so that a bucket holding part of a large
 *               tensor (one that stacks every layer) may start before
 *               the rest of it is done; ltrun has checked that each
 *               element is marked once a micro-batch.  NULL: grad_ready
 *               when the tensor is complete
 *   sync        at the end of that micro-batch: when it returns, the
 *               gradients the step reads are the average over the ranks.
 *               Micro-batches that accumulate call neither.
 *   grad_norm_sq  gradient clipping by norm: the squared L2 norm of the
 *               whole gradient, every rank's part together (the same
 *               value on every rank)
 *   step        the optimizer step: the rank updates what it owns with
 *               lt_update() and makes the new values reach every rank
 *               that needs them
 *   micro_done  Trainer mode, only with ready_every_micro: after each
 *               micro-batch that does not end a step (gradient
 *               accumulation), once its backward is done: what the
 *               strategy started must be finished before the next
 *               backward writes the gradients again
 *   unit        the model began or ended using a unit of parameters
 *               (lt_unit_begin/lt_unit_end of <ltrun.h>): ZeRO-3 gathers
 *               the unit's values, releases them, and at the end of the
 *               unit's backward sends its gradients to their owners
 *   ckpt_shard  what this rank saves and reads in a checkpoint;
 *   ckpt_loaded after the ranks read their parts on --resume
 *   teardown    at the end (also after a failed setup)
 *
 * Any op left NULL gets the replicated default (lt_strategy_default()):
 * every rank holds and steps everything, gradients all-reduced at sync,
 * rank 0 saves the whole state and everyone gets it on resume.  A plugin
 * that only changes how gradients travel (DDP with compression) writes
 * init, setup, grad_ready, sync and teardown, and may delegate to the
 * default's ops for the rest.  Ops that fail return -1 after filling err
 * (lt_err_set) with one line; ltrun ends the rank with it, naming the
 * strategy.  The collectives of <ltrun.h> (lt_all_reduce_async, lt_wait,
 * ...) end the rank themselves when they fail.
 *
 * How the sharded strategies (ZeRO, FSDP) fit, without a change here:
 *
 *   ZeRO-1  setup pads the flat space to a multiple of the world size W
 *           and sets layout->state_offset/state_numel to this rank's
 *           partition, so the runtime makes optimizer state for that
 *           range only.  grad_ready does nothing; sync reduce-scatters
 *           the gradients (in the compute dtype) into the owned
 *           partition.  grad_norm_sq sums the owned partition
 *           (lt_grad_sumsq) and all-reduces the sum.  step calls
 *           lt_update() on the owned partition only, then all-gathers
 *           the updated values in the compute dtype (lt_update has
 *           written the owned range of lt_data from the f32 master
 *           under mixed precision; the gather carries the rest).
 *           ckpt_shard names the owned range: each rank writes its
 *           slice, and ckpt_loaded needs no broadcast.
 *   ZeRO-2  as ZeRO-1, with ready_every_micro and layout->grads_sharded:
 *           grad_ready reduce-scatters each bucket as soon as it is
 *           complete, in every micro-batch (micro_done waits for them),
 *           the owned partition accumulating; the gradient pages the
 *           rank does not own are given back while the pointers stay
 *           (the storage is a reserved mapping).
 *   ZeRO-3  place() keeps only the owned slice of each parameter's
 *           values resident; unit(begin) all-gathers a unit of
 *           parameters before forward or backward uses it, unit(end)
 *           gives its pages back and, in backward, reduce-scatters its
 *           gradients.  The unit brackets of <ltrun.h> call unit();
 *           under the default they cost nothing.
 *
 * The parameter storage is packed: element k of the flat space is
 * element k of the values, of the gradients and (mixed precision) of the
 * master weights and master gradients, each one contiguous buffer from
 * lt_param_at(0)'s lt_data/lt_grad/lt_master/lt_master_grad on.
 */
#ifndef LTRUN_STRATEGY_H
#define LTRUN_STRATEGY_H

#include <stdint.h>

#include "ltrun.h"
#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What setup says of this rank's optimizer state: the range of the flat
 * parameter space it covers.  The runtime sets [0, lt_total_numel())
 * before calling setup (the replicated default). */
struct lt_strategy_layout {
	size_t state_offset; /* first element this rank keeps state for */
	size_t state_numel;  /* how many */
	/* The runtime unscales, checks (inf/NaN) and clips the gradients of
	 * the state range only (with the replicated layout: all of them).
	 * grads_sharded: it also zeroes only those after a step, and the
	 * strategy keeps (zeroes or discards) the rest itself; false: the
	 * runtime zeroes every gradient. */
	bool grads_sharded;
	/* values_sharded: the values of the units (lt_unit_new) are held by
	 * their owners only, gathered while a unit is in use (ZeRO-3); the
	 * runtime then compares (--check-replicas) and copies to f32 views
	 * (lt_data_f32 under 16-true/bf16-true) the other values only, and a
	 * unit's views when it is begun. */
	bool values_sharded;
};

/* One lt_unit_begin/lt_unit_end of the model, as unit() gets it. */
struct lt_unit_event {
	size_t unit;         /* 0-based, in lt_unit_new() order */
	const char *name;    /* the model's name for it */
	size_t first, count; /* its parameters: lt_param_at(first) on */
	enum lt_pass pass;   /* LT_FORWARD or LT_BACKWARD */
	bool begin;          /* lt_unit_begin (true) or lt_unit_end */
};

/* One optimizer step, as step() gets it. */
struct lt_update {
	double lr;     /* this step's learning rate (the schedule's) */
	int64_t count; /* optimizer steps applied so far, this one included */
};

/* What this rank writes and reads in a checkpoint: the parameters and
 * optimizer state of a range of the flat space.  The default: rank 0
 * the whole space, the other ranks nothing.  Any other answer makes a
 * sharded checkpoint: every active rank writes its range (which must lie
 * in its layout's state range) as its own shard, and on --resume reads
 * exactly that range of the new run, from whole or sharded checkpoints
 * of any world size, before ckpt_loaded (under mixed precision the
 * compute values of the range are made from the master weights read). */
struct lt_ckpt_shard {
	bool active;          /* this rank writes (and on --resume reads) */
	size_t offset, numel; /* the range of the flat space */
};

struct lt_strategy_ops {
	/* --- what the launch plan needs --- */
	const char *launcher; /* "exec" (fork + exec) or "fork" (fork, no exec);
			       * a `launcher` parameter, where declared, wins */
	bool multi_rank;      /* false: runs one rank only (single_device) */
	/* Trainer mode: grad_ready (and grad_ready_range) are called in every
	 * micro-batch, not only in the one that ends the step, and
	 * micro_done after each of the others (ZeRO-2's reduce-scatter into
	 * the owned partition).  Fabric mode knows no micro-batches: its
	 * gradients travel at lt_sync_grads(). */
	bool ready_every_micro;

	/* --- the rank's runtime; NULL: the replicated default --- */
	int (*init)(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err);
	int (*place)(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
		     struct lt_err *err);
	int (*setup)(lt_ctx *ctx, void *state, const struct lt_params *p,
		     struct lt_strategy_layout *layout, struct lt_err *err);
	int (*grad_ready)(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			  struct lt_err *err);
	int (*grad_ready_range)(lt_ctx *ctx, void *state, const struct lt_params *p,
				lt_tensor *t, size_t first, size_t count, struct lt_err *err);
	int (*sync)(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err);
	int (*grad_norm_sq)(lt_ctx *ctx, void *state, const struct lt_params *p, double *sumsq,
			    struct lt_err *err);
	int (*step)(lt_ctx *ctx, void *state, const struct lt_params *p,
		    const struct lt_update *u, struct lt_err *err);
	int (*ckpt_shard)(lt_ctx *ctx, void *state, const struct lt_params *p,
			  struct lt_ckpt_shard *out, struct lt_err *err);
	int (*ckpt_loaded)(lt_ctx *ctx, void *state, const struct lt_params *p,
			   struct lt_err *err);
	int (*micro_done)(lt_ctx *ctx, void *state, const struct lt_params *p,
			  struct lt_err *err);
	/* A unit of parameters is about to be used (ev->begin) or is done
	 * with; ZeRO-3's gathering and release. */
	int (*unit)(lt_ctx *ctx, void *state, const struct lt_params *p,
		    const struct lt_unit_event *ev, struct lt_err *err);
	void (*teardown)(lt_ctx *ctx, void *state, const struct lt_params *p);
};

/* The replicated default, every op set: a plugin may call its ops to
 * delegate (its state is NULL; it needs no init). */
LT_API const struct lt_strategy_ops *lt_strategy_default(void);

/* --- the parameters, for strategies --- */

/* How many parameters the model registered, and parameter i of them. */
LT_API size_t lt_num_params(const lt_ctx *ctx);
LT_API lt_tensor *lt_param_at(lt_ctx *ctx, size_t i);
/* Elements of every parameter together: the flat space's size. */
LT_API size_t lt_total_numel(const lt_ctx *ctx);
/* How many units the model made (lt_unit_new), and unit i's name and
 * parameters [*first, *first + *count).  Units are made in init, before
 * setup. */
LT_API size_t lt_num_units(const lt_ctx *ctx);
LT_API const char *lt_unit_params(const lt_ctx *ctx, size_t i, size_t *first, size_t *count);
/* t's first element in the flat space. */
LT_API size_t lt_offset(const lt_tensor *t);
/* Mixed precision: t's f32 master weights and its unscaled f32 master
 * gradient (what the optimizer reads); NULL otherwise. */
LT_API float *lt_master(lt_tensor *t);
LT_API float *lt_master_grad(lt_tensor *t);
/* For a strategy that keeps only part of the f32 master weights on each
 * rank (ZeRO), called from init (before the model asks for its views):
 * under mixed precision lt_data_f32() is then an f32 copy of the compute
 * values (refreshed as under 16-true), not the master weights, as
 * DeepSpeed and FSDP hand a model its parameters in the compute dtype. */
LT_API void lt_views_from_values(lt_ctx *ctx);

/* Returns when the device has written everything it was asked to (call
 * it before a collective reads gradients).  0, or -1 with err. */
LT_API int lt_accel_sync(lt_ctx *ctx, struct lt_err *err);

/* --- the optimizer step, for strategies --- */

/* The optimizer step of elements [first, first + n) of t: its master
 * weights under mixed precision (then converted into the same range of
 * its compute values), else its values, from the gradient the
 * optimizer reads (clipped and unscaled already), with the state of the
 * same elements of the flat space, which must lie in the layout's range.
 * t's optimizer group applies (its weight decay on or off, u->lr times its
 * lr scale: lt_param_weight_decay, lt_param_lr_scale). */
LT_API void lt_update(lt_ctx *ctx, lt_tensor *t, size_t first, size_t n,
		      const struct lt_update *u);
/* The sum of squares of elements [first, first + n) of the gradient the
 * optimizer reads for t (in double). */
LT_API double lt_grad_sumsq(lt_ctx *ctx, lt_tensor *t, size_t first, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_STRATEGY_H */
