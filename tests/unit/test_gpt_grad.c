/*
 * test_gpt_grad.c - the GPT of examples/gpt (examples/gpt/model.h, built
 * here in double) against finite differences: the analytic gradient of
 * the mean loss equals the central difference of the loss for elements
 * of every one of its tensors (wte, wpe, each block's 12, lnf's 2), on a
 * tiny model with weights large enough to exercise every nonlinearity.
 * Backward's ready calls, what gpt.c hands to lt_grad_ready(): each
 * tensor is marked exactly once, wte last, and no gradient changes after
 * it was marked.  And the block brackets, what gpt.c makes units of: a
 * block's weights are read only between its begin and end (outside,
 * they hold NaN, as fsdp's released pages would hold nothing), one block
 * at a time, and its gradients are complete at the end of its backward.
 */
#define GPT_REAL double
#include "../../examples/gpt/model.h"

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

static const struct gpt_config cfg = { .vocab = 7, .ctx = 5, .layers = 2, .dim = 8, .heads = 2 };
#define BATCH 2

#define NT (4 + GPT_BLOCK_KINDS * 2) /* gpt_num_tensors(&cfg) */

struct net {
	double *w[NT], *g[NT];
	struct gpt_weights m;
	struct gpt_acts acts, grads;
	int inputs[BATCH * 5], targets[BATCH * 5];
};

static uint64_t rng = 0x853c49e6748fea9bull;

/* Uniform in [-1, 1). */
static double uniform(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1p-52 - 1.0;
}

static void net_make(struct net *n)
{
	cr_assert_eq(gpt_num_tensors(&cfg), NT);
	for (int t = 0; t < NT; t++) {
		int l;
		enum gpt_param p = gpt_tensor_kind(&cfg, t, &l);
		int64_t k = gpt_param_numel(&cfg, p);
		n->w[t] = malloc((size_t)k * sizeof(double));
		n->g[t] = calloc((size_t)k, sizeof(double));
		cr_assert(n->w[t] && n->g[t]);
		for (int64_t i = 0; i < k; i++) /* layernorm gains near 1, the rest near 0 */
			n->w[t][i] = (p == GPT_LN1W || p == GPT_LN2W || p == GPT_LNFW ? 1.0 : 0.0) +
				     0.4 * uniform();
		n->m.w[t] = n->w[t];
		n->m.g[t] = n->g[t];
	}
	cr_assert_eq(gpt_acts_alloc(&n->acts, &cfg, BATCH), 0);
	cr_assert_eq(gpt_acts_alloc(&n->grads, &cfg, BATCH), 0);
	for (int i = 0; i < BATCH * cfg.ctx; i++) {
		n->inputs[i] = (int)((uniform() + 1) * 3.5) % cfg.vocab;
		n->targets[i] = (int)((uniform() + 1) * 3.5) % cfg.vocab;
	}
}

static void net_free(struct net *n)
{
	for (int t = 0; t < NT; t++) {
		free(n->w[t]);
		free(n->g[t]);
	}
	gpt_acts_free(&n->acts);
	gpt_acts_free(&n->grads);
}

static double loss(struct net *n)
{
	return gpt_forward(&cfg, &n->m, &n->acts, n->inputs, n->targets, BATCH, NULL);
}

Test(gpt_grad, backward_matches_finite_differences_for_every_tensor)
{
	struct net n;
	const double h = 1e-5;

	net_make(&n);
	loss(&n);
	gpt_backward(&cfg, &n.m, &n.acts, &n.grads, n.inputs, n.targets, BATCH, 1.0, NULL);
	for (int t = 0; t < NT; t++) {
		int l;
		int64_t k = gpt_param_numel(&cfg, gpt_tensor_kind(&cfg, t, &l));
		double largest = 0;
		char name[64];

		gpt_tensor_name(&cfg, t, name, sizeof(name));
		/* 7 elements spread over the tensor */
		for (int j = 0; j < 7; j++) {
			int64_t i = (k - 1) * j / 6;
			double keep = n.w[t][i], up, down, numeric;
			n.w[t][i] = keep + h;
			up = loss(&n);
			n.w[t][i] = keep - h;
			down = loss(&n);
			n.w[t][i] = keep;
			numeric = (up - down) / (2 * h);
			largest = fmax(largest, fabs(numeric));
			cr_expect_leq(fabs(numeric - n.g[t][i]), 1e-8 + 1e-5 * fabs(numeric),
				      "%s[%lld]: backward %.12g, finite difference %.12g", name,
				      (long long)i, n.g[t][i], numeric);
		}
		cr_expect_gt(largest, 1e-4, "%s: every checked gradient is ~0 (%g): a vacuous check",
			     name, largest);
	}
	net_free(&n);
}

/* What the ready calls saw: per tensor, the times marked and a checksum
 * of its gradient at marking time. */
struct marks {
	struct net *n;
	int times[NT];
	int calls;
	int wte_call;
	double sum_at_mark[NT];
};

static double grad_sum(const struct net *n, int t)
{
	int l;
	int64_t k = gpt_param_numel(&cfg, gpt_tensor_kind(&cfg, t, &l));
	double s = 0;

	for (int64_t i = 0; i < k; i++)
		s += n->g[t][i] * (double)(i + 1); /* weighted: a moved value shows */
	return s;
}

static void on_ready(void *arg, int t)
{
	struct marks *mk = arg;

	cr_assert(t >= 0 && t < NT, "ready(%d): no such tensor", t);
	mk->times[t]++;
	mk->sum_at_mark[t] = grad_sum(mk->n, t);
	if (t == GPT_WTE)
		mk->wte_call = mk->calls;
	mk->calls++;
}

Test(gpt_grad, ready_marks_every_tensor_once_after_its_last_write)
{
	struct net n;
	struct marks mk = { .n = &n };
	const struct gpt_hooks hooks = { .ready = on_ready, .arg = &mk };

	net_make(&n);
	loss(&n);
	gpt_backward(&cfg, &n.m, &n.acts, &n.grads, n.inputs, n.targets, BATCH, 1.0, &hooks);
	cr_expect_eq(mk.wte_call, mk.calls - 1, "the tied wte is marked last (call %d of %d)",
		     mk.wte_call + 1, mk.calls);
	for (int t = 0; t < NT; t++) {
		char name[64];
		gpt_tensor_name(&cfg, t, name, sizeof(name));
		cr_expect_eq(mk.times[t], 1, "%s marked %d times", name, mk.times[t]);
		cr_expect_eq(grad_sum(&n, t), mk.sum_at_mark[t], "%s changed after it was marked ready",
			     name);
	}
	net_free(&n);
}

/* The brackets as fsdp sees them: a block's weights (in resident[]) hold
 * its values only while it is begun, NaN otherwise. */
struct brackets {
	struct net *n;
	double *resident[NT];
	int open;                /* the block begun, -1: none */
	int begun[2][2];         /* per pass, per layer: begins seen */
	double grad_at_end[NT];  /* at the end of the block's backward */
};

static void block_fill(struct brackets *b, int l, int values)
{
	for (int t = gpt_tensor(&cfg, GPT_LN1W, l); t <= gpt_tensor(&cfg, GPT_FCPROJB, l); t++) {
		int layer;
		int64_t k = gpt_param_numel(&cfg, gpt_tensor_kind(&cfg, t, &layer));
		cr_assert_eq(layer, l);
		for (int64_t i = 0; i < k; i++)
			b->resident[t][i] = values ? b->n->w[t][i] : NAN;
	}
}

static void on_block(void *arg, int l, int backward, int begin)
{
	struct brackets *b = arg;

	cr_assert(l >= 0 && l < cfg.layers && (backward == 0 || backward == 1));
	if (begin) {
		cr_assert_eq(b->open, -1, "block %d begun while block %d is open", l, b->open);
		b->open = l;
		b->begun[backward][l]++;
		block_fill(b, l, 1);
		return;
	}
	cr_assert_eq(b->open, l, "block %d ended, block %d is open", l, b->open);
	b->open = -1;
	block_fill(b, l, 0);
	if (backward)
		for (int t = gpt_tensor(&cfg, GPT_LN1W, l); t <= gpt_tensor(&cfg, GPT_FCPROJB, l);
		     t++)
			b->grad_at_end[t] = grad_sum(b->n, t);
}

Test(gpt_grad, blocks_are_read_only_inside_their_brackets_one_at_a_time)
{
	struct net plain, n;
	struct brackets b = { .n = &n, .open = -1 };
	const struct gpt_hooks hooks = { .block = on_block, .arg = &b };
	double want, got;

	rng = 0x853c49e6748fea9bull;
	net_make(&plain);
	rng = 0x853c49e6748fea9bull; /* the same weights and tokens */
	net_make(&n);
	for (int t = 0; t < NT; t++) {
		int l;
		int64_t k = gpt_param_numel(&cfg, gpt_tensor_kind(&cfg, t, &l));
		if (l < 0)
			continue;
		b.resident[t] = malloc((size_t)k * sizeof(double));
		cr_assert(b.resident[t]);
		n.m.w[t] = b.resident[t];
	}
	for (int l = 0; l < cfg.layers; l++)
		block_fill(&b, l, 0);

	want = loss(&plain);
	gpt_backward(&cfg, &plain.m, &plain.acts, &plain.grads, plain.inputs, plain.targets, BATCH,
		     1.0, NULL);
	got = gpt_forward(&cfg, &n.m, &n.acts, n.inputs, n.targets, BATCH, &hooks);
	gpt_backward(&cfg, &n.m, &n.acts, &n.grads, n.inputs, n.targets, BATCH, 1.0, &hooks);

	cr_expect_eq(got, want, "the loss with released blocks is %.17g, resident %.17g", got, want);
	cr_expect_eq(b.open, -1, "block %d was left open", b.open);
	for (int l = 0; l < cfg.layers; l++)
		cr_expect(b.begun[0][l] == 1 && b.begun[1][l] == 1,
			  "block %d begun %d times in forward, %d in backward", l, b.begun[0][l],
			  b.begun[1][l]);
	for (int t = 0; t < NT; t++) {
		int l;
		int64_t k = gpt_param_numel(&cfg, gpt_tensor_kind(&cfg, t, &l));
		char name[64];

		gpt_tensor_name(&cfg, t, name, sizeof(name));
		for (int64_t i = 0; i < k; i++)
			cr_expect_eq(n.g[t][i], plain.g[t][i], "%s[%lld]: %.17g with released blocks, "
				     "%.17g resident", name, (long long)i, n.g[t][i], plain.g[t][i]);
		if (l >= 0)
			cr_expect_eq(grad_sum(&n, t), b.grad_at_end[t],
				     "%s changed after its block's backward ended", name);
		free(b.resident[t]);
	}
	net_free(&plain);
	net_free(&n);
}
