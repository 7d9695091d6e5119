/*
 * optim.h - the optimizers of Trainer mode (and lt_optimizer_step() in
 * Fabric mode) on flat arrays: SGD with momentum and Nesterov, and AdamW,
 * each exactly as torch.optim computes them.  The strategy sees the
 * parameters as one flat space 0..numel-1 (buckets, shards) and steps any
 * range of it; the optimizer state is laid out the same way.
 *
 * With lt_optim_new_files the state lives in files (offload.h); each step
 * then ends with lt_optim_finish, which reports a failed read or write.
 *
 * lt_optim_new/lt_optim_step work on f32 parameters and f32 state (32-true,
 * and the f32 master weights of 16-mixed and bf16-mixed).  The _typed
 * variants let the precision plugins keep parameters, gradients and state
 * in f64, f16 or bf16 (64-true, 16-true, bf16-true).
 */
#ifndef LT_RUNTIME_OPTIM_H
#define LT_RUNTIME_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "ltrun.h"
#include "ltrun/plugin.h"

enum lt_optim_kind { LT_OPTIM_SGD, LT_OPTIM_ADAMW };

#define LT_OPTIM_BETA1 0.9
#define LT_OPTIM_BETA2 0.999
#define LT_OPTIM_EPS 1e-8

struct lt_optim_cfg {
	enum lt_optim_kind kind;
	double momentum;     /* SGD, [0, 1); 0: plain SGD, no buffer */
	double weight_decay; /* >= 0; SGD: L2 added to the gradient, AdamW: decoupled */
	double beta1, beta2; /* AdamW, [0, 1); 0 selects LT_OPTIM_BETA1 / _BETA2 */
	double eps;          /* AdamW, > 0; 0 selects LT_OPTIM_EPS */
	bool nesterov;       /* SGD, needs momentum > 0 */
	bool as_given;       /* AdamW: beta1 and beta2 as they are, 0 included
			      * (--adam-betas 0,0.95): no defaults filled */
};

/* One parameter's group, as torch's param_groups hold them: the group's
 * lr is the schedule's times lr_scale (AdamW's decoupled decay uses that
 * lr too, as torch's does), and weight_decay applies only when decay. */
struct lt_optim_group {
	double lr_scale; /* >= 0 */
	bool decay;
};
#define LT_OPTIM_GROUP_DEFAULT ((struct lt_optim_group){ .lr_scale = 1.0, .decay = true })

struct lt_optim; /* opaque */
struct lt_accelerator_ops;
/* struct lt_optim_scalars, the scalars of one step: accel/accel.h, whose
 * device kernels take them too. */

/* State for `numel` parameters in total (SGD momentum buffer, Adam first
 * and second moments), zeroed.  Returns NULL with err set (usage status for
 * a setting out of range, naming it; failure status when out of memory). */
struct lt_optim *lt_optim_new(const struct lt_optim_cfg *cfg, size_t numel,
			      struct lt_err *err);
/* Like lt_optim_new, with the state (momentum buffer, Adam moments) kept
 * in state_dt: LT_F32, LT_F64, LT_F16 or LT_BF16.  Any other dtype is
 * refused with a usage status.  lt_optim_new(cfg, numel, err) is
 * lt_optim_new_typed(cfg, numel, LT_F32, err). */
struct lt_optim *lt_optim_new_typed(const struct lt_optim_cfg *cfg, size_t numel,
				    enum lt_dtype state_dt, struct lt_err *err);
/* Like lt_optim_new_typed, with the state in files under dir instead of
 * memory (offload_optimizer=nvme, runtime/offload.h): one file a slot,
 * preallocated, streamed through a few chunks in memory during a step.
 * rank goes into the files' names.  The directory is checked (and made)
 * even when there is no state to keep.  Returns NULL with err naming the
 * directory and the fix (not a writable directory of this user's, no
 * room for the state: the bytes needed and those free). */
struct lt_optim *lt_optim_new_files(const struct lt_optim_cfg *cfg, size_t numel,
				    enum lt_dtype state_dt, const char *dir, int rank,
				    struct lt_err *err);
/* Like lt_optim_new, with the state (f32) in a device accelerator's
 * memory, stepped by its kernels (accel.h): the parameters and gradients
 * given to lt_optim_step_group are then device memory of f32.  Returns
 * NULL with err when the accelerator has no kernels or memory. */
struct lt_optim *lt_optim_new_device(const struct lt_optim_cfg *cfg, size_t numel,
				     const struct lt_accelerator_ops *accel, struct lt_err *err);
/* Ends an optimizer step (every lt_optim_step* call of it made): state in
 * files is written back; on a device, a kernel that failed is reported.  Returns 0, or -1 with err naming the file and
 * the errno of a read or write that failed during the step, after which
 * the step is incomplete and o cannot step again.  State in memory: 0. */
int lt_optim_finish(struct lt_optim *o, struct lt_err *err);
/* Bytes of memory o's state takes: all of it in memory, the chunks of
 * the window with files. */
size_t lt_optim_resident_bytes(const struct lt_optim *o);
/* Frees o and its state (files: closed, their space given back); NULL is
 * ignored. */
void lt_optim_free(struct lt_optim *o);

/* One step of elements [offset, offset + n) of the flat parameter space:
 * param and grad point at element `offset` (n elements each); the state
 * used is the same range of o's.  `step` is the 1-based count of optimizer
 * steps, this one included (Adam's bias correction).  grad is not changed.
 *
 *   SGD:   g = grad + wd * param;  b = mu * b + g  (b = g at the first step);
 *          g = nesterov ? g + mu * b : b;  param -= lr * g
 *   AdamW: param *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *          param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * A range past numel is a programmer's mistake (LT_BUG). */
void lt_optim_step(struct lt_optim *o, float *param, const float *grad,
		   size_t offset, size_t n, double lr, int64_t step);

/* One step of elements [offset, offset+n) where param and grad are arrays
 * of dt (LT_F64: double; LT_F16/LT_BF16: uint16_t; LT_F32: float).  The
 * math runs in double for LT_F64, in f32 otherwise (each element loaded,
 * updated, stored back rounded to nearest even), the state in the
 * optimizer's state dtype.  dt must equal the state dtype except that f32
 * state may serve any dt.
 *
 * The formulas are lt_optim_step's.  Values carried between them (the new
 * momentum buffer, exp_avg, exp_avg_sq) stay in the compute type: the
 * parameter update uses them before they are rounded to the state dtype,
 * as torch's fused kernels (fused=True) do.  With f32 parameters and state
 * this is exactly lt_optim_step, which calls it.  Note that f16 state
 * holds exp_avg_sq only above 2^-24 (about 6e-8): gradients under about
 * 2.4e-4 square to 0 there; and bf16 state keeps 8 bits, so beta2 * v
 * rounds back to v for beta2 = 0.999 and exp_avg_sq barely decays.  Both
 * are what torch's AdamW does on f16/bf16 tensors; f32 state avoids them.
 *
 * A range past numel, or a dt that the state dtype cannot serve (f16
 * parameters on f64 state, say), is a programmer's mistake (LT_BUG). */
void lt_optim_step_typed(struct lt_optim *o, enum lt_dtype dt, void *param, const void *grad,
			 size_t offset, size_t n, double lr, int64_t step);
/* lt_optim_step_typed for elements of one group g: the formulas above
 * with lr = lr x g->lr_scale and wd = g->decay ? weight_decay : 0.
 * lt_optim_step_typed is this with LT_OPTIM_GROUP_DEFAULT. */
void lt_optim_step_group(struct lt_optim *o, const struct lt_optim_group *g, enum lt_dtype dt,
			 void *param, const void *grad, size_t offset, size_t n, double lr,
			 int64_t step);
/* The dtype o keeps its state in (LT_F32 for lt_optim_new). */
enum lt_dtype lt_optim_state_dtype(const struct lt_optim *o);

/* The resolved settings (defaults filled in). */
const struct lt_optim_cfg *lt_optim_config(const struct lt_optim *o);
/* The state buffers, for checkpoints: "momentum_buffer" (SGD with
 * momentum), "exp_avg" and "exp_avg_sq" (AdamW), each numel floats, named
 * as torch names them.  Returns the count and fills names/bufs (room for
 * 2); buffers stay owned by o.  Only for f32 state: calling it on state of
 * another dtype is a programmer's mistake (LT_BUG). */
int lt_optim_buffers(struct lt_optim *o, const char *names[2], float *bufs[2]);
/* The same for state of any dtype: each buffer is numel elements of
 * lt_optim_state_dtype(o) (double, or uint16_t for f16/bf16), zeroed at
 * creation.  Returns the count (0, 1 or 2) and fills names/bufs (room for
 * 2); buffers stay owned by o.  Cannot fail.  State in files: the files
 * mapped (shared), which hold the state as of the last lt_optim_finish
 * (between steps: all of it, to read for a save or write on a resume);
 * during a step, elements not yet stepped read as before it. */
int lt_optim_buffers_typed(struct lt_optim *o, const char *names[2], void *bufs[2]);
/* Total parameters o was made for. */
size_t lt_optim_numel(const struct lt_optim *o);

#endif
