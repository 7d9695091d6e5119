/*
 * optim.c - SGD and AdamW on flat float arrays, following the arithmetic
 * of torch.optim.SGD and torch.optim.AdamW (float32 elementwise, scalars
 * such as the bias corrections worked out in double once per call) so that
 * a run matches PyTorch's to float rounding.  The loops have no branches
 * and restrict-qualified pointers so the compiler vectorises them (the
 * Makefile builds this file with -O3).
 */
#include "trainer/optim.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lt_optim {
	struct lt_optim_cfg cfg;
	size_t numel;
	float *buf[2]; /* SGD: momentum buffer (or NULL); AdamW: exp_avg, exp_avg_sq */
	int nbuf;
};

/* Fills zero betas and eps with the defaults and checks every field.
 * Returns 0, or -1 with err naming the field. */
static int resolve_cfg(struct lt_optim_cfg *c, struct lt_err *err)
{
	if (c->beta1 == 0)
		c->beta1 = LT_OPTIM_BETA1;
	if (c->beta2 == 0)
		c->beta2 = LT_OPTIM_BETA2;
	if (c->eps == 0)
		c->eps = LT_OPTIM_EPS;
	if (c->kind != LT_OPTIM_SGD && c->kind != LT_OPTIM_ADAMW)
		return lt_err_set(err, LT_EXIT_USAGE, "unknown optimizer kind %d: use sgd or adamw",
				  (int)c->kind);
	if (!(c->momentum >= 0 && c->momentum < 1))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid momentum %g: give a number >= 0 and < 1",
				  c->momentum);
	if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid weight decay %g: give a number >= 0",
				  c->weight_decay);
	if (!(c->beta1 > 0 && c->beta1 < 1) || !(c->beta2 > 0 && c->beta2 < 1))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid AdamW betas (%g, %g): give numbers > 0 and < 1",
				  c->beta1, c->beta2);
	if (!(c->eps > 0 && isfinite(c->eps)))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid AdamW eps %g: give a number > 0",
				  c->eps);
	if (c->nesterov && (c->kind != LT_OPTIM_SGD || c->momentum == 0))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "Nesterov momentum needs sgd with a momentum > 0");
	return 0;
}

struct lt_optim *lt_optim_new(const struct lt_optim_cfg *cfg, size_t numel,
			      struct lt_err *err)
{
	struct lt_optim *o = calloc(1, sizeof(*o));
	int i;

	if (!o) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the optimizer");
		return NULL;
	}
	o->cfg = *cfg;
	o->numel = numel;
	if (resolve_cfg(&o->cfg, err))
		goto out_free;
	o->nbuf = o->cfg.kind == LT_OPTIM_ADAMW ? 2 : o->cfg.momentum > 0;
	for (i = 0; i < o->nbuf; i++) {
		o->buf[i] = calloc(numel ? numel : 1, sizeof(float));
		if (!o->buf[i]) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "out of memory for the optimizer state of %zu parameters "
				   "(%zu MiB): use a sharded strategy or a smaller model",
				   numel, numel * sizeof(float) * (size_t)o->nbuf >> 20);
			goto out_free;
		}
	}
	return o;
out_free:
	lt_optim_free(o);
	return NULL;
}

void lt_optim_free(struct lt_optim *o)
{
	if (!o)
		return;
	free(o->buf[0]);
	free(o->buf[1]);
	free(o);
}

/* ------------------------------------------------------------ kernels */

static void sgd_plain(float *restrict p, const float *restrict g, size_t n,
		      float lr, float wd)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] -= lr * (g[i] + wd * p[i]);
}

static void sgd_momentum(float *restrict p, const float *restrict g,
			 float *restrict b, size_t n, float lr, float wd,
			 float mu, bool nesterov)
{
	size_t i;

	/* With b zeroed, the first step's mu * b + d is exactly d, as torch's
	 * "buf = clone(d_p)". */
	if (nesterov) {
		for (i = 0; i < n; i++) {
			float d = g[i] + wd * p[i];
			b[i] = mu * b[i] + d;
			p[i] -= lr * (d + mu * b[i]);
		}
	} else {
		for (i = 0; i < n; i++) {
			float d = g[i] + wd * p[i];
			b[i] = mu * b[i] + d;
			p[i] -= lr * b[i];
		}
	}
}

static void adamw(float *restrict p, const float *restrict g, float *restrict m,
		  float *restrict v, size_t n, float decay, float w1, float b2,
		  float w2, float step_size, float bc2_sqrt, float eps)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float gi = g[i];
		float mi = m[i] + w1 * (gi - m[i]); /* torch's exp_avg.lerp_(grad, 1 - beta1) */
		float vi = v[i] * b2 + w2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		/* torch: param.mul_(1 - lr * wd).addcdiv_(exp_avg, denom, value=-step_size) */
		p[i] = p[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
	}
}

void lt_optim_step(struct lt_optim *o, float *param, const float *grad,
		   size_t offset, size_t n, double lr, int64_t step)
{
	const struct lt_optim_cfg *c = &o->cfg;

	if (offset > o->numel || n > o->numel - offset)
		LT_BUG("optimizer step of [%zu, +%zu) past its %zu parameters", offset, n,
		       o->numel);
	if (c->kind == LT_OPTIM_SGD) {
		if (o->nbuf)
			sgd_momentum(param, grad, o->buf[0] + offset, n, (float)lr,
				     (float)c->weight_decay, (float)c->momentum, c->nesterov);
		else
			sgd_plain(param, grad, n, (float)lr, (float)c->weight_decay);
		return;
	}
	{
		double t = step < 1 ? 1 : (double)step;
		double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);

		adamw(param, grad, o->buf[0] + offset, o->buf[1] + offset, n,
		      (float)(1 - lr * c->weight_decay), (float)(1 - c->beta1),
		      (float)c->beta2, (float)(1 - c->beta2), (float)(lr / bc1),
		      (float)sqrt(bc2), (float)c->eps);
	}
}

const struct lt_optim_cfg *lt_optim_config(const struct lt_optim *o)
{
	return &o->cfg;
}

size_t lt_optim_numel(const struct lt_optim *o)
{
	return o->numel;
}

int lt_optim_buffers(struct lt_optim *o, const char *names[2], float *bufs[2])
{
	if (o->cfg.kind == LT_OPTIM_ADAMW) {
		names[0] = "exp_avg";
		names[1] = "exp_avg_sq";
	} else {
		names[0] = "momentum_buffer";
	}
	bufs[0] = o->buf[0];
	bufs[1] = o->buf[1];
	return o->nbuf;
}
