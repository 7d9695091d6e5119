/*
 * optim.h - the optimizers of Trainer mode (and lt_optimizer_step() in
 * Fabric mode) on flat f32 arrays: SGD with momentum and Nesterov, and
 * AdamW, each exactly as torch.optim computes them.  The strategy sees the
 * parameters as one flat space 0..numel-1 (buckets, shards) and steps any
 * range of it; the optimizer state is laid out the same way.
 */
#ifndef LT_TRAINER_OPTIM_H
#define LT_TRAINER_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
};

struct lt_optim; /* opaque */

/* State for `numel` parameters in total (SGD momentum buffer, Adam first
 * and second moments), zeroed.  Returns NULL with err set (usage status for
 * a setting out of range, naming it; failure status when out of memory). */
struct lt_optim *lt_optim_new(const struct lt_optim_cfg *cfg, size_t numel,
			      struct lt_err *err);
/* Frees o and its state; NULL is ignored. */
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

/* The resolved settings (defaults filled in). */
const struct lt_optim_cfg *lt_optim_config(const struct lt_optim *o);
/* The state buffers, for checkpoints: "momentum_buffer" (SGD with
 * momentum), "exp_avg" and "exp_avg_sq" (AdamW), each numel floats, named
 * as torch names them.  Returns the count and fills names/bufs (room for
 * 2); buffers stay owned by o. */
int lt_optim_buffers(struct lt_optim *o, const char *names[2], float *bufs[2]);
/* Total parameters o was made for. */
size_t lt_optim_numel(const struct lt_optim *o);

#endif
