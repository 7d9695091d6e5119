/*
 * test_trainer_optim.c - the optimizers against values PyTorch 1.13 gives
 * for the same parameters and gradients (torch.optim.SGD and AdamW, three
 * steps of four parameters; the numbers are pinned here, no Python needed),
 * stepping in pieces (as buckets do) equal to stepping at once, bad
 * settings; the typed steps (f64 against torch and against the formulas in
 * double, f16/bf16 against f32 arithmetic rounded per step, a quadratic
 * minimised, mismatched dtypes refused); the LR schedules (warmup, cosine
 * endpoints); gradient clipping.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "runtime/clip.h"
#include "runtime/optim.h"
#include "runtime/schedule.h"

#define NP 4
#define NSTEPS 3

static const float p0[NP] = { 1.0f, -2.0f, 0.5f, 3.0f };
static const float grads[NSTEPS][NP] = {
	{ 0.1f, -0.2f, 0.3f, -0.4f },
	{ 0.5f, 0.0f, -0.25f, 1.0f },
	{ -0.3f, 0.7f, 0.2f, 0.1f },
};

struct optim_case {
	const char *name;
	struct lt_optim_cfg cfg;
	double lr;
	float want[NSTEPS][NP]; /* parameters after each step, from torch */
};

static const struct optim_case cases[] = {
	{ "sgd lr 0.1", { .kind = LT_OPTIM_SGD }, 0.1,
	  { { 0.99000001f, -1.98000002f, 0.469999999f, 3.03999996f },
	    { 0.939999998f, -1.98000002f, 0.495000005f, 2.94000006f },
	    { 0.970000029f, -2.04999995f, 0.474999994f, 2.93000007f } } },
	{ "sgd weight_decay 0.01", { .kind = LT_OPTIM_SGD, .weight_decay = 0.01 }, 0.1,
	  { { 0.989000022f, -1.97800004f, 0.469500005f, 3.03699994f },
	    { 0.938010991f, -1.97602201f, 0.494030505f, 2.93396282f },
	    { 0.967072964f, -2.04404593f, 0.473536462f, 2.92102885f } } },
	{ "sgd momentum 0.9", { .kind = LT_OPTIM_SGD, .momentum = 0.9 }, 0.1,
	  { { 0.99000001f, -1.98000002f, 0.469999999f, 3.03999996f },
	    { 0.930999994f, -1.96200001f, 0.467999995f, 2.97600007f },
	    { 0.907899976f, -2.0158f, 0.446199983f, 2.90840006f } } },
	{ "sgd momentum 0.9 weight_decay 0.01",
	  { .kind = LT_OPTIM_SGD, .momentum = 0.9, .weight_decay = 0.01 }, 0.1,
	  { { 0.989000022f, -1.97800004f, 0.469500005f, 3.03699994f },
	    { 0.928111017f, -1.95622206f, 0.46658051f, 2.96726298f },
	    { 0.902382791f, -2.00466561f, 0.443486363f, 2.89153242f } } },
	{ "sgd nesterov momentum 0.9 weight_decay 0.01",
	  { .kind = LT_OPTIM_SGD, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true }, 0.1,
	  { { 0.979099989f, -1.95819998f, 0.44205001f, 3.0703001f },
	    { 0.873329699f, -1.93665946f, 0.464005113f, 2.90443659f },
	    { 0.879358292f, -2.04835558f, 0.422780931f, 2.82340431f } } },
	{ "adamw lr 0.01 weight_decay 0.1 (default betas, eps)",
	  { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.1 }, 0.01,
	  { { 0.989000022f, -1.98800004f, 0.489500016f, 3.00699997f },
	    { 0.979400575f, -1.97931147f, 0.488629282f, 2.99957085f },
	    { 0.975925922f, -1.9820534f, 0.484964609f, 2.9925766f } } },
	{ "adamw betas (0.8, 0.99) eps 1e-6, no weight decay",
	  { .kind = LT_OPTIM_ADAMW, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6 }, 0.01,
	  { { 0.990000129f, -1.99000001f, 0.490000039f, 3.00999999f },
	    { 0.981083989f, -1.98369884f, 0.490201324f, 3.00504851f },
	    { 0.979118407f, -1.98925245f, 0.487090886f, 3.00081944f } } },
};

static void expect_close(const float *got, const float *want, const char *what, int step)
{
	int i;

	for (i = 0; i < NP; i++)
		cr_expect(fabsf(got[i] - want[i]) <= 2e-7f * fmaxf(1, fabsf(want[i])),
			  "%s, step %d, param %d: %.9g, torch %.9g", what, step, i, got[i], want[i]);
}

Test(trainer_optim, matches_torch)
{
	size_t c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct lt_err err = { 0 };
		struct lt_optim *o = lt_optim_new(&cases[c].cfg, NP, &err);
		float p[NP];
		int s;

		cr_assert(o, "%s: %s", cases[c].name, err.msg);
		memcpy(p, p0, sizeof(p));
		for (s = 0; s < NSTEPS; s++) {
			lt_optim_step(o, p, grads[s], 0, NP, cases[c].lr, s + 1);
			expect_close(p, cases[c].want[s], cases[c].name, s + 1);
		}
		lt_optim_free(o);
	}
}

/* Buckets and shards step ranges of the flat space: the state of each
 * range must be its own. */
Test(trainer_optim, ranges_step_like_the_whole)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.1 };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new(&cfg, NP, &err);
	float p[NP];
	int s;

	cr_assert(o);
	memcpy(p, p0, sizeof(p));
	for (s = 0; s < NSTEPS; s++) {
		lt_optim_step(o, p + 3, grads[s] + 3, 3, 1, 0.01, s + 1);
		lt_optim_step(o, p, grads[s], 0, 3, 0.01, s + 1);
	}
	expect_close(p, cases[5].want[NSTEPS - 1], "adamw in two ranges", NSTEPS);
	lt_optim_free(o);
}

Test(trainer_optim, state_buffers_and_defaults)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new(&cfg, 10, &err);
	const char *names[2];
	float *bufs[2];

	cr_assert(o);
	cr_expect_eq(lt_optim_config(o)->beta1, 0.9);
	cr_expect_eq(lt_optim_config(o)->beta2, 0.999);
	cr_expect_eq(lt_optim_config(o)->eps, 1e-8);
	cr_expect_eq(lt_optim_numel(o), 10);
	cr_assert_eq(lt_optim_buffers(o, names, bufs), 2);
	cr_expect_str_eq(names[1], "exp_avg_sq");
	cr_expect_eq(bufs[1][9], 0.0f, "state starts zeroed");
	lt_optim_free(o);
	cfg = (struct lt_optim_cfg){ .kind = LT_OPTIM_SGD };
	o = lt_optim_new(&cfg, 10, &err);
	cr_assert(o);
	cr_expect_eq(lt_optim_buffers(o, names, bufs), 0, "plain SGD keeps no state");
	lt_optim_free(o);
	lt_optim_free(NULL);
}

Test(trainer_optim, bad_settings_are_refused)
{
	static const struct {
		struct lt_optim_cfg cfg;
		const char *want;
	} bad[] = {
		{ { .kind = LT_OPTIM_SGD, .momentum = 1 }, "invalid momentum 1" },
		{ { .kind = LT_OPTIM_SGD, .momentum = -0.1 }, "invalid momentum" },
		{ { .kind = LT_OPTIM_SGD, .weight_decay = -1 }, "invalid weight decay" },
		{ { .kind = LT_OPTIM_SGD, .nesterov = true }, "Nesterov momentum needs" },
		{ { .kind = LT_OPTIM_ADAMW, .beta2 = 1 }, "invalid AdamW betas" },
		{ { .kind = LT_OPTIM_ADAMW, .eps = -1 }, "invalid AdamW eps" },
		{ { .kind = (enum lt_optim_kind)7 }, "unknown optimizer kind 7" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lt_err err = { 0 };
		cr_expect_null(lt_optim_new(&bad[i].cfg, 4, &err), "case %zu accepted", i);
		cr_expect_eq(err.status, LT_EXIT_USAGE);
		cr_expect(strstr(err.msg, bad[i].want) != NULL, "case %zu: %s", i, err.msg);
	}
}

/* ------------------------------------------------------------ typed steps */

/* The formulas of optim.h in double, written out independently of the
 * kernels, one element at a time: p, b0 (momentum / exp_avg), b1. */
static void ref_step_f64(const struct lt_optim_cfg *c, double lr, int step, double *p,
			 const double *g, double *b0, double *b1, size_t n)
{
	double beta1 = c->beta1 ? c->beta1 : LT_OPTIM_BETA1;
	double beta2 = c->beta2 ? c->beta2 : LT_OPTIM_BETA2;
	double eps = c->eps ? c->eps : LT_OPTIM_EPS;
	double bc1 = 1 - pow(beta1, step), bc2 = 1 - pow(beta2, step);
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->kind == LT_OPTIM_ADAMW) {
			p[i] *= 1 - lr * c->weight_decay;
			b0[i] = beta1 * b0[i] + (1 - beta1) * g[i];
			b1[i] = beta2 * b1[i] + (1 - beta2) * g[i] * g[i];
			p[i] -= lr / bc1 * b0[i] / (sqrt(b1[i]) / sqrt(bc2) + eps);
		} else {
			double d = g[i] + c->weight_decay * p[i];
			if (c->momentum > 0) {
				b0[i] = step == 1 ? d : c->momentum * b0[i] + d;
				d = c->nesterov ? d + c->momentum * b0[i] : b0[i];
			}
			p[i] -= lr * d;
		}
	}
}

/* f64 parameters on f64 state and on f32 state: torch's f32 values within
 * f32 rounding; on f64 state, the formulas in double within 1e-12. */
Test(trainer_optim, f64_matches_torch_and_double_formulas)
{
	static const enum lt_dtype states[] = { LT_F64, LT_F32 };
	size_t c, k;

	for (k = 0; k < 2; k++)
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			const struct optim_case *oc = &cases[c];
			struct lt_err err = { 0 };
			struct lt_optim *o = lt_optim_new_typed(&oc->cfg, NP, states[k], &err);
			double p[NP], g[NP], rp[NP], rb0[NP] = { 0 }, rb1[NP] = { 0 };
			int s, i;

			cr_assert(o, "%s: %s", oc->name, err.msg);
			cr_expect_eq(lt_optim_state_dtype(o), states[k]);
			for (i = 0; i < NP; i++)
				p[i] = rp[i] = p0[i];
			for (s = 0; s < NSTEPS; s++) {
				for (i = 0; i < NP; i++)
					g[i] = grads[s][i];
				lt_optim_step_typed(o, LT_F64, p, g, 0, NP, oc->lr, s + 1);
				ref_step_f64(&oc->cfg, oc->lr, s + 1, rp, g, rb0, rb1, NP);
				for (i = 0; i < NP; i++) {
					double w = oc->want[s][i];
					cr_expect(fabs(p[i] - w) <= 1e-6 * fmax(1, fabs(w)),
						  "%s, %s state, step %d, param %d: %.17g, torch %.9g",
						  oc->name, states[k] == LT_F64 ? "f64" : "f32",
						  s + 1, i, p[i], w);
					if (states[k] == LT_F64)
						cr_expect(fabs(p[i] - rp[i]) <= 1e-12 * fmax(1, fabs(rp[i])),
							  "%s, step %d, param %d: %.17g, in double %.17g",
							  oc->name, s + 1, i, p[i], rp[i]);
				}
			}
			lt_optim_free(o);
		}
}

/* f16/bf16 storage: a value of the dtype, as f32, and an f32 rounded to
 * it. */
static float load16(enum lt_dtype dt, uint16_t h)
{
	return dt == LT_F16 ? lt_f16_to_f32(h) : lt_bf16_to_f32(h);
}

static uint16_t store16(enum lt_dtype dt, float f)
{
	return dt == LT_F16 ? lt_f32_to_f16(f) : lt_f32_to_bf16(f);
}

/* The f32 arithmetic of lt_optim_step (same operations, same order, the
 * scalars rounded to float), written for one element, with every stored
 * value (parameter, and state unless f32) rounded to dt at the end of the
 * step. */
static void ref_step_16(const struct lt_optim_cfg *c, double lr, int step, enum lt_dtype dt,
			bool state16, uint16_t *p, const uint16_t *g, float *b0, float *b1,
			size_t n)
{
	double beta1 = c->beta1 ? c->beta1 : LT_OPTIM_BETA1;
	double beta2 = c->beta2 ? c->beta2 : LT_OPTIM_BETA2;
	double eps = c->eps ? c->eps : LT_OPTIM_EPS;
	float flr = (float)lr, wd = (float)c->weight_decay, mu = (float)c->momentum;
	float decay = (float)(1 - lr * c->weight_decay), w1 = (float)(1 - beta1);
	float b2 = (float)beta2, w2 = (float)(1 - beta2);
	float step_size = (float)(lr / (1 - pow(beta1, step)));
	float bc2_sqrt = (float)sqrt(1 - pow(beta2, step)), feps = (float)eps;
	size_t i;

	for (i = 0; i < n; i++) {
		float pi = load16(dt, p[i]), gi = load16(dt, g[i]);
		if (c->kind == LT_OPTIM_ADAMW) {
			float mi = b0[i] + w1 * (gi - b0[i]);
			float vi = b1[i] * b2 + w2 * gi * gi;
			pi = pi * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + feps));
			b0[i] = state16 ? load16(dt, store16(dt, mi)) : mi;
			b1[i] = state16 ? load16(dt, store16(dt, vi)) : vi;
		} else {
			float d = gi + wd * pi;
			if (c->momentum > 0) {
				float bi = mu * b0[i] + d;
				d = c->nesterov ? d + mu * bi : bi;
				b0[i] = state16 ? load16(dt, store16(dt, bi)) : bi;
			}
			pi = pi - flr * d;
		}
		p[i] = store16(dt, pi);
	}
}

/* The state of o as f32 values (for the f32-state and 16-bit-state
 * cases alike). */
static float state_at(struct lt_optim *o, int which, size_t i)
{
	const char *names[2];
	void *bufs[2];
	enum lt_dtype sdt = lt_optim_state_dtype(o);

	cr_assert_gt(lt_optim_buffers_typed(o, names, bufs), which);
	if (sdt == LT_F32)
		return ((float *)bufs[which])[i];
	return load16(sdt, ((uint16_t *)bufs[which])[i]);
}

/* Every torch case on f16 and bf16 parameters, with their own state and
 * with f32 state: bit for bit the f32 computation rounded per step. */
Test(trainer_optim, f16_bf16_equal_f32_rounded_per_step)
{
	static const enum lt_dtype dts[] = { LT_F16, LT_BF16 };
	size_t c, k, st;

	for (k = 0; k < 2; k++)
		for (st = 0; st < 2; st++)
			for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
				const struct optim_case *oc = &cases[c];
				enum lt_dtype dt = dts[k], sdt = st ? dt : LT_F32;
				const char *dn = dt == LT_F16 ? "f16" : "bf16";
				struct lt_err err = { 0 };
				struct lt_optim *o = lt_optim_new_typed(&oc->cfg, NP, sdt, &err);
				uint16_t p[NP], g[NP], rp[NP];
				float rb0[NP] = { 0 }, rb1[NP] = { 0 };
				int s, i;

				cr_assert(o, "%s: %s", oc->name, err.msg);
				for (i = 0; i < NP; i++)
					p[i] = rp[i] = store16(dt, p0[i]);
				for (s = 0; s < NSTEPS; s++) {
					for (i = 0; i < NP; i++)
						g[i] = store16(dt, grads[s][i]);
					lt_optim_step_typed(o, dt, p, g, 0, NP, oc->lr, s + 1);
					ref_step_16(&oc->cfg, oc->lr, s + 1, dt, st, rp, g, rb0, rb1, NP);
					for (i = 0; i < NP; i++) {
						float w = oc->want[s][i];
						cr_expect_eq(p[i], rp[i],
							     "%s %s (%s state), step %d, param %d: "
							     "%.9g, want %.9g", oc->name, dn,
							     st ? dn : "f32", s + 1, i,
							     load16(dt, p[i]), load16(dt, rp[i]));
						/* and near torch's f32 run */
						cr_expect(fabsf(load16(dt, p[i]) - w) <=
								  (dt == LT_F16 ? 4e-3f : 3e-2f) * fmaxf(1, fabsf(w)),
							  "%s %s, step %d, param %d: %.9g, torch %.9g",
							  oc->name, dn, s + 1, i, load16(dt, p[i]), w);
						if (oc->cfg.kind == LT_OPTIM_ADAMW || oc->cfg.momentum > 0)
							cr_expect_eq(state_at(o, 0, (size_t)i), rb0[i],
								     "%s %s, step %d, state %d", oc->name, dn,
								     s + 1, i);
						if (oc->cfg.kind == LT_OPTIM_ADAMW)
							cr_expect_eq(state_at(o, 1, (size_t)i), rb1[i],
								     "%s %s, step %d, exp_avg_sq %d",
								     oc->name, dn, s + 1, i);
					}
				}
				lt_optim_free(o);
			}
}

/* Ranges of 16-bit state are their own (the state offset in elements of
 * the state dtype, not of float). */
Test(trainer_optim, typed_ranges_step_like_the_whole)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.1 };
	struct lt_err err = { 0 };
	struct lt_optim *whole = lt_optim_new_typed(&cfg, NP, LT_BF16, &err);
	struct lt_optim *parts = lt_optim_new_typed(&cfg, NP, LT_BF16, &err);
	uint16_t a[NP], b[NP], g[NP];
	int s, i;

	cr_assert(whole && parts);
	for (i = 0; i < NP; i++)
		a[i] = b[i] = lt_f32_to_bf16(p0[i]);
	for (s = 0; s < NSTEPS; s++) {
		for (i = 0; i < NP; i++)
			g[i] = lt_f32_to_bf16(grads[s][i]);
		lt_optim_step_typed(whole, LT_BF16, a, g, 0, NP, 0.01, s + 1);
		lt_optim_step_typed(parts, LT_BF16, b + 3, g + 3, 3, 1, 0.01, s + 1);
		lt_optim_step_typed(parts, LT_BF16, b + 1, g + 1, 1, 2, 0.01, s + 1);
		lt_optim_step_typed(parts, LT_BF16, b, g, 0, 1, 0.01, s + 1);
	}
	cr_expect_arr_eq(a, b, sizeof(a));
	lt_optim_free(whole);
	lt_optim_free(parts);
}

/* f(x) = sum a_i (x_i - c_i)^2 / 2 in each dtype, state in the same dtype:
 * no NaN, and the squared distance to the minimum falls by a large factor
 * (by 1e5 or more, but 3e3 for bf16 SGD and 4e2 for bf16 AdamW). */
Test(trainer_optim, typed_steps_minimise_a_quadratic)
{
	static const struct {
		struct lt_optim_cfg cfg;
		double lr;
	} opts[] = {
		{ { .kind = LT_OPTIM_SGD }, 0.1 },
		{ { .kind = LT_OPTIM_SGD, .momentum = 0.9, .nesterov = true,
		    .weight_decay = 1e-4 }, 0.05 },
		{ { .kind = LT_OPTIM_ADAMW, .weight_decay = 1e-4 }, 0.02 },
	};
	static const enum lt_dtype dts[] = { LT_F16, LT_BF16, LT_F64 };
	enum { N = 37, STEPS = 400 };
	size_t k, d;

	for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		for (d = 0; d < 3; d++) {
			enum lt_dtype dt = dts[d];
			struct lt_err err = { 0 };
			struct lt_optim *o = lt_optim_new_typed(&opts[k].cfg, N, dt, &err);
			double x[N], a[N], c[N], dist0 = 0, dist = 0;
			uint16_t p16[N], g16[N];
			double p64[N], g64[N];
			int s, i;

			cr_assert(o, "%s", err.msg);
			for (i = 0; i < N; i++) {
				a[i] = 0.5 + (i % 5) * 0.25;
				c[i] = -1.5 + (i % 7) * 0.5;
				p64[i] = 2.0 - (i % 3);
				p16[i] = store16(dt == LT_F64 ? LT_F16 : dt, (float)p64[i]);
			}
			for (s = 1; s <= STEPS; s++) {
				for (i = 0; i < N; i++) {
					x[i] = dt == LT_F64 ? p64[i] : load16(dt, p16[i]);
					if (s == 1)
						dist0 += (x[i] - c[i]) * (x[i] - c[i]);
					g64[i] = a[i] * (x[i] - c[i]);
					g16[i] = store16(dt == LT_F64 ? LT_F16 : dt, (float)g64[i]);
				}
				if (dt == LT_F64)
					lt_optim_step_typed(o, dt, p64, g64, 0, N, opts[k].lr, s);
				else
					lt_optim_step_typed(o, dt, p16, g16, 0, N, opts[k].lr, s);
			}
			for (i = 0; i < N; i++) {
				x[i] = dt == LT_F64 ? p64[i] : load16(dt, p16[i]);
				cr_expect(isfinite(x[i]), "optimizer %zu, dtype %d, param %d: %g", k,
					  (int)dt, i, x[i]);
				dist += (x[i] - c[i]) * (x[i] - c[i]);
			}
			/* bf16 exp_avg_sq barely decays (0.999 v rounds to v in 8
			 * bits), so AdamW there ends further off: 2.3e-3. */
			cr_expect(dist < dist0 * (dt == LT_BF16 ? 1e-2 : 1e-3), "optimizer %zu, dtype %d: distance^2 %g from %g",
				  k, (int)dt, dist, dist0);
			lt_optim_free(o);
		}
}

Test(trainer_optim, typed_state_buffers_and_bad_state_dtype)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_SGD, .momentum = 0.5 };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_typed(&cfg, 3, LT_F64, &err);
	double p[3] = { 1, 2, 3 }, g[3] = { 0.5, -1, 0.25 };
	const char *names[2];
	void *bufs[2];
	float *fbufs[2];

	cr_assert(o);
	cr_assert_eq(lt_optim_buffers_typed(o, names, bufs), 1);
	cr_expect_str_eq(names[0], "momentum_buffer");
	lt_optim_step_typed(o, LT_F64, p, g, 0, 3, 0.1, 1);
	cr_expect_eq(((double *)bufs[0])[1], -1.0, "the first step's buffer is the gradient");
	cr_expect_eq(p[1], 2.1);
	lt_optim_free(o);

	o = lt_optim_new(&cfg, 3, &err);
	cr_assert(o);
	cr_expect_eq(lt_optim_state_dtype(o), LT_F32);
	cr_assert_eq(lt_optim_buffers_typed(o, names, bufs), 1);
	cr_assert_eq(lt_optim_buffers(o, names, fbufs), 1);
	cr_expect_eq((void *)fbufs[0], bufs[0], "both see the same f32 buffer");
	lt_optim_free(o);

	cr_expect_null(lt_optim_new_typed(&cfg, 3, LT_I32, &err));
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(strstr(err.msg, "invalid optimizer state dtype i32") != NULL, "%s", err.msg);
	cr_expect_null(lt_optim_new_typed(&cfg, 3, (enum lt_dtype)42, &err));
	cr_expect_eq(err.status, LT_EXIT_USAGE);
}

/* Parameters of a dtype the state cannot serve: a programmer's mistake. */
Test(trainer_optim, f16_params_on_f64_state_is_a_bug, .signal = SIGABRT)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_typed(&cfg, 2, LT_F64, &err);
	uint16_t p[2] = { 0 }, g[2] = { 0 };

	cr_assert(o);
	lt_optim_step_typed(o, LT_F16, p, g, 0, 2, 0.01, 1);
}

Test(trainer_optim, f32_params_on_bf16_state_is_a_bug, .signal = SIGABRT)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_SGD, .momentum = 0.9 };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_typed(&cfg, 2, LT_BF16, &err);
	float p[2] = { 0 }, g[2] = { 0 };

	cr_assert(o);
	lt_optim_step(o, p, g, 0, 2, 0.01, 1);
}

Test(trainer_optim, f32_buffers_of_f16_state_is_a_bug, .signal = SIGABRT)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW };
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_typed(&cfg, 2, LT_F16, &err);
	const char *names[2];
	float *bufs[2];

	cr_assert(o);
	lt_optim_buffers(o, names, bufs);
}

/* ------------------------------------------------------------ schedule */

Test(trainer_schedule, constant_with_warmup)
{
	struct lt_schedule s = { LT_SCHED_CONSTANT, 0.1, 0, 4, 100 };

	cr_expect_float_eq(lt_schedule_lr(&s, 0), 0.025, 1e-15);
	cr_expect_float_eq(lt_schedule_lr(&s, 1), 0.05, 1e-15);
	cr_expect_float_eq(lt_schedule_lr(&s, 3), 0.1, 1e-15);
	cr_expect_float_eq(lt_schedule_lr(&s, 4), 0.1, 1e-15);
	cr_expect_float_eq(lt_schedule_lr(&s, 1000), 0.1, 1e-15);
	cr_expect_float_eq(lt_schedule_lr(&s, -5), 0.025, 1e-15, "a negative step counts as 0");
	s.warmup_steps = 0;
	cr_expect_float_eq(lt_schedule_lr(&s, 0), 0.1, 1e-15);
}

Test(trainer_schedule, cosine_endpoints_and_middle)
{
	struct lt_schedule s = { LT_SCHED_COSINE, 0.1, 0.001, 10, 110 };

	cr_expect_float_eq(lt_schedule_lr(&s, 9), 0.1, 1e-15, "last warmup step reaches base_lr");
	cr_expect_float_eq(lt_schedule_lr(&s, 10), 0.1, 1e-15, "cosine starts at base_lr");
	cr_expect_float_eq(lt_schedule_lr(&s, 60), 0.0505, 1e-12, "halfway: the mean");
	cr_expect(lt_schedule_lr(&s, 109) > 0.001 && lt_schedule_lr(&s, 109) < 0.00103);
	cr_expect_float_eq(lt_schedule_lr(&s, 110), 0.001, 1e-15, "ends at min_lr");
	cr_expect_float_eq(lt_schedule_lr(&s, 500), 0.001, 1e-15, "stays at min_lr");
	cr_expect(lt_schedule_lr(&s, 30) > lt_schedule_lr(&s, 31), "decreasing");
	s.total_steps = 10;
	cr_expect_float_eq(lt_schedule_lr(&s, 50), 0.1, 1e-15, "total <= warmup: constant");
	s.total_steps = -1;
	cr_expect_float_eq(lt_schedule_lr(&s, 50), 0.1, 1e-15, "unknown total: constant");
}

/* ------------------------------------------------------------ clipping */

Test(trainer_clip, norm_pieces)
{
	float g[11];
	int i;

	for (i = 0; i < 11; i++)
		g[i] = (float)(i + 1); /* sum of squares 1..11: 506 */
	cr_expect_float_eq(lt_clip_sumsq(g, 11), 506.0, 1e-12);
	cr_expect_float_eq(lt_clip_sumsq(g, 3), 14.0, 1e-12);
	cr_expect_eq(lt_clip_sumsq(g, 0), 0.0);
	cr_expect_float_eq(lt_clip_factor(10, 1), 1 / (10 + 1e-6), 1e-15);
	cr_expect_eq(lt_clip_factor(0.5, 1), 1.0, "under the limit: no change");
	cr_expect_eq(lt_clip_factor(INFINITY, 1), 1.0);
	cr_expect_eq(lt_clip_factor(NAN, 1), 1.0);
	lt_clip_scale(g, 11, 0.5f);
	cr_expect_eq(g[0], 0.5f);
	cr_expect_eq(g[10], 5.5f);
}

Test(trainer_clip, value)
{
	float g[5] = { -3, -0.5f, 0, 0.5f, 3 };

	lt_clip_value(g, 5, 1);
	cr_expect_eq(g[0], -1.0f);
	cr_expect_eq(g[1], -0.5f);
	cr_expect_eq(g[3], 0.5f);
	cr_expect_eq(g[4], 1.0f);
}
