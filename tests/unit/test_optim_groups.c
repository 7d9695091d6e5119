/*
 * test_optim_groups.c - optimizer groups and their settings, below the
 * runtime: a group's step (weight decay off, an lr scale) against the f32
 * arithmetic of torch's AdamW and SGD written out here, bit for bit;
 * betas and eps taken as given (0 included); the cosine schedule down to
 * min_lr; --optimizer adamw_gpt's preset (given options win, in any
 * order, and nothing more is exported to the ranks); --min-lr above --lr
 * refused.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/config.h"
#include "runtime/optim.h"
#include "runtime/schedule.h"

#define N 5
#define STEPS 4

static const float start[N] = { 1.0f, -2.0f, 0.5f, 3.0f, -0.25f };

/* The gradient of element i at step s (1-based): changes sign and size. */
static float grad_at(int s, int i)
{
	return (float)((s + i) % 2 ? -0.1 : 0.2) * (float)(1 + (s * 3 + i) % 4);
}

/* torch's AdamW on float32 tensors, one element at a time: the scalars
 * worked out in double and rounded to float, as lt_optim_step's kernels
 * (and torch's) take them; lr is the group's (scaled), wd 0 when the
 * group is not decayed. */
static void ref_adamw(float *p, float *m, float *v, int n, double lr, double wd, double beta1,
		      double beta2, double eps, int step)
{
	float decay = (float)(1 - lr * wd), w1 = (float)(1 - beta1), b2 = (float)beta2;
	float w2 = (float)(1 - beta2), step_size = (float)(lr / (1 - pow(beta1, step)));
	float bc2_sqrt = (float)sqrt(1 - pow(beta2, step)), feps = (float)eps;

	for (int i = 0; i < n; i++) {
		float g = grad_at(step, i);
		m[i] = m[i] + w1 * (g - m[i]);
		v[i] = v[i] * b2 + w2 * g * g;
		p[i] = p[i] * decay - step_size * (m[i] / (sqrtf(v[i]) / bc2_sqrt + feps));
	}
}

/* STEPS steps of ref_adamw from start at lr 0.1, into p. */
static void ref_adamw_run(float *p, double wd, double beta1, double beta2, double eps)
{
	float m[N] = { 0 }, v[N] = { 0 };

	memcpy(p, start, sizeof(start));
	for (int s = 1; s <= STEPS; s++)
		ref_adamw(p, m, v, N, 0.1, wd, beta1, beta2, eps, s);
}

/* Steps an optimizer made from cfg over STEPS steps with group g at lr,
 * into p; the gradients are grad_at's. */
static void run_group(const struct lt_optim_cfg *cfg, const struct lt_optim_group *g, double lr,
		      float *p)
{
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new(cfg, N, &err);
	float grad[N];

	cr_assert_not_null(o, "%s", err.msg);
	memcpy(p, start, sizeof(start));
	for (int s = 1; s <= STEPS; s++) {
		for (int i = 0; i < N; i++)
			grad[i] = grad_at(s, i);
		lt_optim_step_group(o, g, LT_F32, p, grad, 0, N, lr, s);
	}
	lt_optim_free(o);
}

static void expect_bits(const float *got, const float *want, const char *what)
{
	for (int i = 0; i < N; i++)
		cr_expect_eq(got[i], want[i], "%s: element %d is %.9g, want %.9g", what, i,
			     (double)got[i], (double)want[i]);
}

static void expect_differ(const float *a, const float *b, const char *what)
{
	double d = 0;

	for (int i = 0; i < N; i++)
		d = fmax(d, fabs((double)a[i] - b[i]));
	cr_expect_gt(d, 1e-4, "%s: the setting changed nothing (largest difference %g)", what, d);
}

Test(optim_groups, adamw_group_without_decay_is_torch_without_weight_decay)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.5 };
	struct lt_optim_group off = { .lr_scale = 1, .decay = false }, on = LT_OPTIM_GROUP_DEFAULT;
	float got[N], want[N], decayed[N];

	run_group(&cfg, &off, 0.1, got);
	ref_adamw_run(want, 0.0, 0.9, 0.999, 1e-8);
	expect_bits(got, want, "adamw, decay off");
	run_group(&cfg, &on, 0.1, decayed);
	ref_adamw_run(want, 0.5, 0.9, 0.999, 1e-8);
	expect_bits(decayed, want, "adamw, decay on");
	expect_differ(got, decayed, "weight decay off");
}

Test(optim_groups, lr_scale_is_the_groups_lr)
{
	struct lt_optim_cfg adamw = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.5 };
	struct lt_optim_cfg sgd = { .kind = LT_OPTIM_SGD, .momentum = 0.9, .weight_decay = 0.1 };
	struct lt_optim_group half = { .lr_scale = 0.5, .decay = true }, one = LT_OPTIM_GROUP_DEFAULT;
	float scaled[N], plain[N], full[N];

	/* torch: a group of lr 0.05 (decay included: p *= 1 - 0.05 x wd) */
	run_group(&adamw, &half, 0.1, scaled);
	run_group(&adamw, &one, 0.05, plain);
	expect_bits(scaled, plain, "adamw, lr 0.1 x 0.5 against lr 0.05");
	run_group(&adamw, &one, 0.1, full);
	expect_differ(scaled, full, "adamw lr scale 0.5");
	run_group(&sgd, &half, 0.1, scaled);
	run_group(&sgd, &one, 0.05, plain);
	expect_bits(scaled, plain, "sgd, lr 0.1 x 0.5 against lr 0.05");
}

Test(optim_groups, sgd_group_without_decay_adds_no_l2)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_SGD, .weight_decay = 0.3 };
	struct lt_optim_group off = { .lr_scale = 1, .decay = false };
	float got[N], want[N];

	run_group(&cfg, &off, 0.1, got);
	memcpy(want, start, sizeof(start));
	for (int s = 1; s <= STEPS; s++)
		for (int i = 0; i < N; i++) {
			/* two statements: clang would fuse a - b * c into one
			 * rounding (-ffp-contract=on), which the kernel does not */
			float step = 0.1f * grad_at(s, i);
			want[i] = want[i] - step;
		}
	expect_bits(got, want, "plain sgd, decay off");
}

Test(optim_groups, betas_and_eps_change_the_step_as_torch_says)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-2,
				    .as_given = true };
	struct lt_optim_cfg defaults = { .kind = LT_OPTIM_ADAMW };
	struct lt_optim_group one = LT_OPTIM_GROUP_DEFAULT;
	float got[N], want[N], dflt[N];

	run_group(&cfg, &one, 0.1, got);
	ref_adamw_run(want, 0.0, 0.8, 0.95, 1e-2);
	expect_bits(got, want, "adamw betas (0.8, 0.95) eps 0.01");
	run_group(&defaults, &one, 0.1, dflt);
	expect_differ(got, dflt, "betas and eps");
}

Test(optim_groups, zero_beta1_is_taken_as_given)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .beta1 = 0, .beta2 = 0.95, .eps = 1e-8,
				    .as_given = true };
	struct lt_optim_group one = LT_OPTIM_GROUP_DEFAULT;
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new(&cfg, N, &err);
	float got[N], want[N];

	cr_assert_not_null(o, "%s", err.msg);
	cr_expect_eq(lt_optim_config(o)->beta1, 0.0, "beta1 0 as given, not the default");
	lt_optim_free(o);
	run_group(&cfg, &one, 0.1, got);
	ref_adamw_run(want, 0.0, 0.0, 0.95, 1e-8);
	expect_bits(got, want, "adamw beta1 0");
	cfg.beta2 = 1.0;
	cr_expect_null(lt_optim_new(&cfg, N, &err), "beta2 1 accepted");
}

Test(optim_groups, cosine_decays_to_min_lr)
{
	struct lt_schedule s = { .kind = LT_SCHED_COSINE, .base_lr = 0.1, .min_lr = 0.01,
				 .warmup_steps = 2, .total_steps = 12 };

	cr_expect_float_eq(lt_schedule_lr(&s, 0), 0.05, 1e-15, "warmup step 0");
	cr_expect_float_eq(lt_schedule_lr(&s, 2), 0.1, 1e-15, "the warmup's end is --lr");
	/* half way through the decay: the mean of lr and min_lr */
	cr_expect_float_eq(lt_schedule_lr(&s, 7), 0.055, 1e-15, "half way");
	cr_expect_gt(lt_schedule_lr(&s, 11), 0.01, "the last step is above min_lr");
	cr_expect_lt(lt_schedule_lr(&s, 11), 0.0125, "and close to it");
	cr_expect_eq(lt_schedule_lr(&s, 12), 0.01, "the end is min_lr");
	cr_expect_eq(lt_schedule_lr(&s, 100), 0.01, "past the end: min_lr");
	s.kind = LT_SCHED_CONSTANT;
	cr_expect_eq(lt_schedule_lr(&s, 100), 0.1, "constant ignores min_lr");
}

/* --- --optimizer adamw_gpt, --min-lr --- */

static const struct lt_option *opt(enum lt_opt_id id)
{
	return &lt_options[id];
}

static void set(struct lt_config *c, enum lt_opt_id id, const char *v, enum lt_source src)
{
	struct lt_err err = { 0 };

	cr_assert_eq(lt_config_set(c, opt(id), v, src, "--x", &err), 0, "%s", err.msg);
}

static int count_exports(const char *name, const char *value, void *arg)
{
	(void)value;
	if (!strcmp(name, "LTRUN_ADAM_BETAS") || !strcmp(name, "LTRUN_WEIGHT_DECAY_ON"))
		++*(int *)arg;
	return 0;
}

Test(optim_groups, adamw_gpt_presets_what_is_not_given)
{
	struct lt_config c;
	struct lt_err err = { 0 };
	int exported = 0;

	cr_assert_eq(lt_config_init(&c, &err), 0);
	set(&c, LT_OPT_OPTIMIZER, "adamw_gpt", LT_SRC_FLAG);
	cr_expect_eq(c.adam_beta1, 0.9);
	cr_expect_eq(c.adam_beta2, 0.95);
	cr_expect_str_eq(c.weight_decay_on, "matrices");
	cr_expect_eq(c.source[LT_OPT_ADAM_BETAS], LT_SRC_DEFAULT, "the preset's value stays a default");
	lt_config_export(&c, count_exports, &exported);
	cr_expect_eq(exported, 0, "the ranks derive the preset from LTRUN_OPTIMIZER themselves");
	/* a given value wins, read before or after --optimizer */
	set(&c, LT_OPT_ADAM_BETAS, "0.8,0.99", LT_SRC_CONFIG);
	cr_expect_eq(c.adam_beta2, 0.99);
	set(&c, LT_OPT_OPTIMIZER, "adamw_gpt", LT_SRC_FLAG);
	cr_expect_eq(c.adam_beta2, 0.99, "a given --adam-betas stays");
	cr_expect_str_eq(c.weight_decay_on, "matrices");
	/* back to adamw (a stronger source): the defaults return */
	set(&c, LT_OPT_OPTIMIZER, "adamw", LT_SRC_FLAG);
	cr_expect_str_eq(c.weight_decay_on, "all");
	cr_expect_eq(c.adam_beta2, 0.99);
	lt_config_free(&c);
	/* given before --optimizer, in a weaker source: still wins */
	cr_assert_eq(lt_config_init(&c, &err), 0);
	set(&c, LT_OPT_WEIGHT_DECAY_ON, "all", LT_SRC_ENV);
	set(&c, LT_OPT_OPTIMIZER, "adamw_gpt", LT_SRC_FLAG);
	cr_expect_str_eq(c.weight_decay_on, "all");
	cr_expect_eq(c.adam_beta2, 0.95);
	lt_config_free(&c);
}

Test(optim_groups, min_lr_above_lr_is_refused)
{
	struct lt_config c;
	struct lt_err err = { 0 };

	cr_assert_eq(lt_config_init(&c, &err), 0);
	set(&c, LT_OPT_LR, "0.01", LT_SRC_FLAG);
	set(&c, LT_OPT_MIN_LR, "0.01", LT_SRC_FLAG);
	cr_expect_eq(lt_config_check(&c, &err), 0, "min-lr equal to lr: %s", err.msg);
	set(&c, LT_OPT_MIN_LR, "0.02", LT_SRC_FLAG);
	cr_expect_eq(lt_config_check(&c, &err), -1);
	cr_expect(strstr(err.msg, "--x 0.02 is above --lr 0.01") != NULL, "%s", err.msg);
	lt_config_free(&c);
}
