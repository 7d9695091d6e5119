/*
 * optim.c - SGD and AdamW on flat arrays, following the arithmetic of
 * torch.optim.SGD and torch.optim.AdamW (elementwise in float32, or in
 * double for f64 parameters; scalars such as the bias corrections worked
 * out in double once per call) so that a run matches PyTorch's to float
 * rounding.  f16 and bf16 parameters and state are computed in f32 and
 * rounded back to nearest even on store.  One macro-generated kernel
 * family serves every (parameter, state) dtype pair; the loops have no
 * branches and restrict-qualified pointers so the compiler vectorises them
 * (the Makefile builds this file with -O3).
 */
#include "runtime/optim.h"
#include "accel/accel.h"
#include "comm/reduce.h"
#include "core/error.h"
#include "runtime/offload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lt_optim {
	struct lt_optim_cfg cfg;
	size_t numel;
	enum lt_dtype state_dt; /* LT_F32, LT_F64, LT_F16 or LT_BF16 */
	void *buf[2]; /* SGD: momentum buffer (or NULL); AdamW: exp_avg, exp_avg_sq */
	int nbuf;
	/* lt_optim_new_files: the state's files (buf[] map them), else NULL */
	struct lt_offload *files;
	/* lt_optim_new_device: the state's arena, stepped by the kernels;
	 * a failed launch waits in device_err for lt_optim_finish */
	const struct lt_accelerator_ops *accel;
	const struct lt_accel_kernels *kernels;
	struct lt_arena arena;
	struct lt_err device_err;
};

/* Fills zero betas and eps with the defaults and checks every field.
 * Returns 0, or -1 with err naming the field. */
static int resolve_cfg(struct lt_optim_cfg *c, struct lt_err *err)
{
	if (c->beta1 == 0 && !c->as_given)
		c->beta1 = LT_OPTIM_BETA1;
	if (c->beta2 == 0 && !c->as_given)
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
	if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid AdamW betas (%g, %g): give numbers >= 0 and < 1",
				  c->beta1, c->beta2);
	if (!(c->eps > 0 && isfinite(c->eps)))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid AdamW eps %g: give a number > 0",
				  c->eps);
	if (c->nesterov && (c->kind != LT_OPTIM_SGD || c->momentum == 0))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "Nesterov momentum needs sgd with a momentum > 0");
	return 0;
}

/* o with its settings checked and no state yet, or NULL with err. */
static struct lt_optim *optim_alloc(const struct lt_optim_cfg *cfg, size_t numel,
				    enum lt_dtype state_dt, struct lt_err *err)
{
	struct lt_optim *o;

	if (state_dt != LT_F32 && state_dt != LT_F64 && state_dt != LT_F16 && state_dt != LT_BF16) {
		lt_err_set(err, LT_EXIT_USAGE,
			   "invalid optimizer state dtype %s: use f32, f64, f16 or bf16",
			   lt_dtype_name(state_dt));
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the optimizer");
		return NULL;
	}
	o->cfg = *cfg;
	o->numel = numel;
	o->state_dt = state_dt;
	if (resolve_cfg(&o->cfg, err)) {
		free(o);
		return NULL;
	}
	o->nbuf = o->cfg.kind == LT_OPTIM_ADAMW ? 2 : o->cfg.momentum > 0;
	return o;
}

/* Zeroed state of o in memory.  Returns 0, or -1 with err. */
static int alloc_state(struct lt_optim *o, struct lt_err *err)
{
	size_t es = lt_dtype_size(o->state_dt);

	for (int i = 0; i < o->nbuf; i++) {
		o->buf[i] = calloc(o->numel ? o->numel : 1, es); /* zero bits: 0.0 in every dtype */
		if (!o->buf[i])
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "out of memory for the optimizer state of %zu parameters "
					  "(%zu MiB): use a sharded strategy or a smaller model",
					  o->numel, o->numel * es * (size_t)o->nbuf >> 20);
	}
	return 0;
}

struct lt_optim *lt_optim_new_typed(const struct lt_optim_cfg *cfg, size_t numel,
				    enum lt_dtype state_dt, struct lt_err *err)
{
	struct lt_optim *o = optim_alloc(cfg, numel, state_dt, err);

	if (o && alloc_state(o, err)) {
		lt_optim_free(o);
		return NULL;
	}
	return o;
}

struct lt_optim *lt_optim_new_files(const struct lt_optim_cfg *cfg, size_t numel,
				    enum lt_dtype state_dt, const char *dir, int rank,
				    struct lt_err *err)
{
	struct lt_optim *o = optim_alloc(cfg, numel, state_dt, err);
	const char *names[2];
	void *unused[2];

	if (!o)
		return NULL;
	if (!o->nbuf || !numel) { /* no state to keep: the directory is still checked */
		if (lt_offload_check_dir(dir, err) || alloc_state(o, err))
			goto out_free;
		return o;
	}
	lt_optim_buffers_typed(o, names, unused);
	o->files = lt_offload_open(dir, rank, names, o->nbuf, numel, state_dt, err);
	if (!o->files)
		goto out_free;
	lt_offload_map(o->files, o->buf);
	return o;
out_free:
	lt_optim_free(o);
	return NULL;
}

struct lt_optim *lt_optim_new_device(const struct lt_optim_cfg *cfg, size_t numel,
				     const struct lt_accelerator_ops *accel, struct lt_err *err)
{
	struct lt_optim *o = optim_alloc(cfg, numel, LT_F32, err);
	size_t bytes = numel * sizeof(float);

	if (!o)
		return NULL;
	o->accel = accel;
	if (!accel->kernels || !(o->kernels = accel->kernels(err)))
		goto out_free;
	if (o->nbuf && numel) {
		if (accel->reserve(&o->arena, (size_t)o->nbuf * bytes + 4096, err))
			goto out_free;
		for (int k = 0; k < o->nbuf; k++)
			if (!(o->buf[k] = accel->alloc(&o->arena, bytes, err)))
				goto out_free;
	}
	return o;
out_free:
	lt_optim_free(o);
	return NULL;
}

struct lt_optim *lt_optim_new(const struct lt_optim_cfg *cfg, size_t numel,
			      struct lt_err *err)
{
	return lt_optim_new_typed(cfg, numel, LT_F32, err);
}

void lt_optim_free(struct lt_optim *o)
{
	if (!o)
		return;
	if (o->files) {
		lt_offload_close(o->files); /* buf[] are its mappings */
	} else if (o->accel) {
		if (o->arena.base)
			o->accel->release(&o->arena);
	} else {
		free(o->buf[0]);
		free(o->buf[1]);
	}
	free(o);
}

int lt_optim_finish(struct lt_optim *o, struct lt_err *err)
{
	if (o && o->accel && o->device_err.msg[0]) {
		*err = o->device_err;
		return -1;
	}
	return o && o->files ? lt_offload_flush(o->files, err) : 0;
}

size_t lt_optim_resident_bytes(const struct lt_optim *o)
{
	if (o->files)
		return lt_offload_resident_bytes(o->files);
	return (size_t)o->nbuf * o->numel * lt_dtype_size(o->state_dt);
}

/* ------------------------------------------------------------ kernels */

/* The scalars of one step (struct lt_optim_scalars, optim.h) are worked
 * out in double once per call; each kernel converts them to its compute
 * type (f32 kernels round them to float exactly as torch passes Python
 * floats to a float32 kernel). */

/* One step of n elements: p and g are arrays of the parameter dtype,
 * b0 and b1 the state (already offset) in the state dtype. */
typedef void step_fn(const struct lt_optim *o, const struct lt_optim_scalars *s, void *p,
		     const void *g, void *b0, void *b1, size_t n);

/* Element conversions between storage and compute types. */
#define CVT_SAME(x) (x)
#define CVT_F32(x) ((float)(x))
#define CVT_F64(x) ((double)(x))

/*
 * OPTIM_KERNELS(NAME, PT, ST, CT, LDP, STP, LDS, STS, SQRT) defines
 * NAME_step (a step_fn) for parameters and gradients stored as PT and
 * state stored as ST, computed in CT: LDP/LDS convert a stored element to
 * CT, STP/STS a CT value back (rounding to nearest even), SQRT is CT's
 * square root.  Every element is loaded, updated in CT and stored once;
 * the values carried from one formula to the next stay in CT (as torch's
 * fused kernels keep them in their "opmath" type), so for f32 storage
 * this is exactly the arithmetic of torch's float32 loops.  The loops have
 * no branches (the Nesterov test is loop-invariant and unswitched) and
 * restrict-qualified pointers so the compiler vectorises them.
 *
 * SGD: with b zeroed, the first step's mu * b + d is exactly d, as torch's
 * "buf = clone(d_p)".  AdamW: m + w1 (g - m) is torch's
 * exp_avg.lerp_(grad, 1 - beta1), and the update is
 * param.mul_(1 - lr * wd).addcdiv_(exp_avg, denom, value=-step_size).
 */
#define OPTIM_KERNELS(NAME, PT, ST, CT, LDP, STP, LDS, STS, SQRT)                        \
	static void NAME##_sgd_plain(PT *restrict p, const PT *restrict g, size_t n,      \
				     CT lr, CT wd)                                        \
	{                                                                                 \
		size_t i;                                                                 \
		for (i = 0; i < n; i++) {                                                 \
			CT pi = LDP(p[i]);                                                \
			p[i] = STP(pi - lr * (LDP(g[i]) + wd * pi));                      \
		}                                                                         \
	}                                                                                 \
	static void NAME##_sgd_momentum(PT *restrict p, const PT *restrict g,             \
					ST *restrict b, size_t n, CT lr, CT wd, CT mu,    \
					bool nesterov)                                    \
	{                                                                                 \
		size_t i;                                                                 \
		for (i = 0; i < n; i++) {                                                 \
			CT pi = LDP(p[i]);                                                \
			CT d = LDP(g[i]) + wd * pi;                                       \
			CT bi = mu * LDS(b[i]) + d;                                       \
			b[i] = STS(bi);                                                   \
			p[i] = STP(pi - lr * (nesterov ? d + mu * bi : bi));              \
		}                                                                         \
	}                                                                                 \
	static void NAME##_adamw(PT *restrict p, const PT *restrict g, ST *restrict m,    \
				 ST *restrict v, size_t n, CT decay, CT w1, CT b2, CT w2, \
				 CT step_size, CT bc2_sqrt, CT eps)                       \
	{                                                                                 \
		size_t i;                                                                 \
		for (i = 0; i < n; i++) {                                                 \
			CT gi = LDP(g[i]), m0 = LDS(m[i]);                                \
			CT mi = m0 + w1 * (gi - m0);                                      \
			CT vi = LDS(v[i]) * b2 + w2 * gi * gi;                            \
			m[i] = STS(mi);                                                   \
			v[i] = STS(vi);                                                   \
			p[i] = STP(LDP(p[i]) * decay -                                    \
				   step_size * (mi / (SQRT(vi) / bc2_sqrt + eps)));       \
		}                                                                         \
	}                                                                                 \
	static void NAME##_step(const struct lt_optim *o, const struct lt_optim_scalars *s,   \
				void *p, const void *g, void *b0, void *b1, size_t n)     \
	{                                                                                 \
		if (o->cfg.kind == LT_OPTIM_ADAMW)                                        \
			NAME##_adamw(p, g, b0, b1, n, (CT)s->decay, (CT)s->w1, (CT)s->b2, \
				     (CT)s->w2, (CT)s->step_size, (CT)s->bc2_sqrt,        \
				     (CT)s->eps);                                         \
		else if (o->nbuf)                                                         \
			NAME##_sgd_momentum(p, g, b0, n, (CT)s->lr, (CT)s->wd, (CT)s->mu, \
					    o->cfg.nesterov);                             \
		else                                                                      \
			NAME##_sgd_plain(p, g, n, (CT)s->lr, (CT)s->wd);                  \
	}

/* Parameters of any dtype on f32 state; each dtype on state of its own. */
OPTIM_KERNELS(f32, float, float, float, CVT_SAME, CVT_SAME, CVT_SAME, CVT_SAME, sqrtf)
OPTIM_KERNELS(f64_f32, double, float, double, CVT_SAME, CVT_SAME, CVT_F64, CVT_F32, sqrt)
OPTIM_KERNELS(f16_f32, uint16_t, float, float, lt_f16_to_f32, lt_f32_to_f16, CVT_SAME, CVT_SAME,
	      sqrtf)
OPTIM_KERNELS(bf16_f32, uint16_t, float, float, lt_bf16_to_f32, lt_f32_to_bf16, CVT_SAME,
	      CVT_SAME, sqrtf)
OPTIM_KERNELS(f64, double, double, double, CVT_SAME, CVT_SAME, CVT_SAME, CVT_SAME, sqrt)
OPTIM_KERNELS(f16, uint16_t, uint16_t, float, lt_f16_to_f32, lt_f32_to_f16, lt_f16_to_f32,
	      lt_f32_to_f16, sqrtf)
OPTIM_KERNELS(bf16, uint16_t, uint16_t, float, lt_bf16_to_f32, lt_f32_to_bf16, lt_bf16_to_f32,
	      lt_f32_to_bf16, sqrtf)

#define N_FLOAT_DTYPES 4 /* LT_F32, LT_F64, LT_F16, LT_BF16 */

/* kernels[state dtype][parameter dtype]; NULL: not a pair that steps. */
static step_fn *const kernels[N_FLOAT_DTYPES][N_FLOAT_DTYPES] = {
	[LT_F32] = { [LT_F32] = f32_step, [LT_F64] = f64_f32_step, [LT_F16] = f16_f32_step,
		     [LT_BF16] = bf16_f32_step },
	[LT_F64] = { [LT_F64] = f64_step },
	[LT_F16] = { [LT_F16] = f16_step },
	[LT_BF16] = { [LT_BF16] = bf16_step },
};

/* fn over [offset, offset + n) of state in files, one chunk's span at a
 * time (the kernels are elementwise: the same bits as one call).  An I/O
 * failure stops it; lt_optim_finish reports it. */
static void step_files(struct lt_optim *o, step_fn *fn, const struct lt_optim_scalars *s,
		       enum lt_dtype dt, void *param, const void *grad, size_t offset, size_t n)
{
	size_t pes = lt_dtype_size(dt), got;
	void *b[2];

	while (n && !lt_offload_span(o->files, offset, n, b, &got)) {
		fn(o, s, param, grad, b[0], b[1], got);
		param = (char *)param + got * pes;
		grad = (const char *)grad + got * pes;
		offset += got;
		n -= got;
	}
}

void lt_optim_step_group(struct lt_optim *o, const struct lt_optim_group *g, enum lt_dtype dt,
			 void *param, const void *grad, size_t offset, size_t n, double lr,
			 int64_t step)
{
	const struct lt_optim_cfg *c = &o->cfg;
	size_t es = lt_dtype_size(o->state_dt);
	double wd = g->decay ? c->weight_decay : 0.0;
	struct lt_optim_scalars s;
	step_fn *fn = (unsigned)dt < N_FLOAT_DTYPES ? kernels[o->state_dt][dt] : NULL;

	lr *= g->lr_scale;
	s = (struct lt_optim_scalars){ .lr = lr, .wd = wd, .mu = c->momentum };
	if (offset > o->numel || n > o->numel - offset)
		LT_BUG("optimizer step of [%zu, +%zu) past its %zu parameters", offset, n,
		       o->numel);
	if (!fn)
		LT_BUG("optimizer step of %s parameters on %s state: the state must be f32 "
		       "or the parameters' dtype", lt_dtype_name(dt), lt_dtype_name(o->state_dt));
	if (c->kind == LT_OPTIM_ADAMW) {
		double t = step < 1 ? 1 : (double)step;
		double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);

		s.decay = 1 - lr * wd;
		s.w1 = 1 - c->beta1;
		s.b2 = c->beta2;
		s.w2 = 1 - c->beta2;
		s.step_size = lr / bc1;
		s.bc2_sqrt = sqrt(bc2);
		s.eps = c->eps;
	}
	if (o->files) {
		step_files(o, fn, &s, dt, param, grad, offset, n);
		return;
	}
	if (o->kernels) {
		float *b0 = o->buf[0] ? (float *)o->buf[0] + offset : NULL;
		float *b1 = o->buf[1] ? (float *)o->buf[1] + offset : NULL;

		if (dt != LT_F32 && !o->device_err.msg[0])
			lt_err_set(&o->device_err, LT_EXIT_FAILURE,
				   "the device optimizer steps f32 parameters, not %s", lt_dtype_name(dt));
		if (o->device_err.msg[0])
			return;
		if (c->kind == LT_OPTIM_ADAMW)
			o->kernels->adamw(param, grad, b0, b1, n, &s, &o->device_err);
		else
			o->kernels->sgd(param, grad, b0, n, &s, c->nesterov, &o->device_err);
		return;
	}
	fn(o, &s, param, grad, o->buf[0] ? (char *)o->buf[0] + offset * es : NULL,
	   o->buf[1] ? (char *)o->buf[1] + offset * es : NULL, n);
}

void lt_optim_step_typed(struct lt_optim *o, enum lt_dtype dt, void *param, const void *grad,
			 size_t offset, size_t n, double lr, int64_t step)
{
	lt_optim_step_group(o, &LT_OPTIM_GROUP_DEFAULT, dt, param, grad, offset, n, lr, step);
}

void lt_optim_step(struct lt_optim *o, float *param, const float *grad,
		   size_t offset, size_t n, double lr, int64_t step)
{
	lt_optim_step_typed(o, LT_F32, param, grad, offset, n, lr, step);
}

const struct lt_optim_cfg *lt_optim_config(const struct lt_optim *o)
{
	return &o->cfg;
}

size_t lt_optim_numel(const struct lt_optim *o)
{
	return o->numel;
}

enum lt_dtype lt_optim_state_dtype(const struct lt_optim *o)
{
	return o->state_dt;
}

int lt_optim_buffers_typed(struct lt_optim *o, const char *names[2], void *bufs[2])
{
	if (o->cfg.kind == LT_OPTIM_ADAMW) {
		names[0] = "exp_avg";
		names[1] = "exp_avg_sq";
	} else {
		names[0] = "momentum_buffer";
	}
	bufs[0] = o->buf[0]; /* files: their mappings (lt_offload_map) */
	bufs[1] = o->buf[1];
	return o->nbuf;
}

int lt_optim_buffers(struct lt_optim *o, const char *names[2], float *bufs[2])
{
	void *b[2];
	int nbuf;

	if (o->state_dt != LT_F32)
		LT_BUG("lt_optim_buffers() on %s optimizer state: use lt_optim_buffers_typed()",
		       lt_dtype_name(o->state_dt));
	nbuf = lt_optim_buffers_typed(o, names, b);
	bufs[0] = b[0];
	bufs[1] = b[1];
	return nbuf;
}
