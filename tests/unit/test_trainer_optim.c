/*
 * test_trainer_optim.c - the optimizers against values PyTorch 1.13 gives
 * for the same parameters and gradients (torch.optim.SGD and AdamW, three
 * steps of four parameters; the numbers are pinned here, no Python needed),
 * stepping in pieces (as buckets do) equal to stepping at once, bad
 * settings; the LR schedules (warmup, cosine endpoints); gradient clipping.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "trainer/clip.h"
#include "trainer/optim.h"
#include "trainer/schedule.h"

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
