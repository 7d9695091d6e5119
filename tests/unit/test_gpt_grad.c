/*
 * test_gpt_grad.c - the GPT of examples/gpt (examples/gpt/model.h, built
 * here in double) against finite differences: the analytic gradient of
 * the mean loss equals the central difference of the loss for elements
 * of every one of its 16 tensors, on a tiny model with weights large
 * enough to exercise every nonlinearity.  And backward's ready calls,
 * what gpt.c hands to lt_grad_ready_range(): each element is marked
 * exactly once, wte last, and no gradient changes after it was marked.
 */
#define GPT_REAL double
#include "../../examples/gpt/model.h"

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

static const struct gpt_config cfg = { .vocab = 7, .ctx = 5, .layers = 2, .dim = 8, .heads = 2 };
#define BATCH 2

struct net {
	double *w[GPT_NPARAMS], *g[GPT_NPARAMS];
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
	for (int p = 0; p < GPT_NPARAMS; p++) {
		int64_t k = gpt_param_numel(&cfg, (enum gpt_param)p);
		n->w[p] = malloc((size_t)k * sizeof(double));
		n->g[p] = calloc((size_t)k, sizeof(double));
		cr_assert(n->w[p] && n->g[p]);
		for (int64_t i = 0; i < k; i++) /* layernorm gains near 1, the rest near 0 */
			n->w[p][i] = (p == GPT_LN1W || p == GPT_LN2W || p == GPT_LNFW ? 1.0 : 0.0) +
				     0.4 * uniform();
		n->m.w[p] = n->w[p];
		n->m.g[p] = n->g[p];
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
	for (int p = 0; p < GPT_NPARAMS; p++) {
		free(n->w[p]);
		free(n->g[p]);
	}
	gpt_acts_free(&n->acts);
	gpt_acts_free(&n->grads);
}

static double loss(struct net *n)
{
	return gpt_forward(&cfg, &n->m, &n->acts, n->inputs, n->targets, BATCH);
}

Test(gpt_grad, backward_matches_finite_differences_for_every_tensor)
{
	struct net n;
	const double h = 1e-5;

	net_make(&n);
	loss(&n);
	gpt_backward(&cfg, &n.m, &n.acts, &n.grads, n.inputs, n.targets, BATCH, 1.0, NULL, NULL);
	for (int p = 0; p < GPT_NPARAMS; p++) {
		int64_t k = gpt_param_numel(&cfg, (enum gpt_param)p);
		double largest = 0;
		/* 7 elements spread over the tensor (every layer of a stacked one) */
		for (int j = 0; j < 7; j++) {
			int64_t i = (k - 1) * j / 6;
			double keep = n.w[p][i], up, down, numeric;
			n.w[p][i] = keep + h;
			up = loss(&n);
			n.w[p][i] = keep - h;
			down = loss(&n);
			n.w[p][i] = keep;
			numeric = (up - down) / (2 * h);
			largest = fmax(largest, fabs(numeric));
			cr_expect_leq(fabs(numeric - n.g[p][i]), 1e-8 + 1e-5 * fabs(numeric),
				      "%s[%lld]: backward %.12g, finite difference %.12g",
				      gpt_param_names[p], (long long)i, n.g[p][i], numeric);
		}
		cr_expect_gt(largest, 1e-4, "%s: every checked gradient is ~0 (%g): a vacuous check",
			     gpt_param_names[p], largest);
	}
	net_free(&n);
}

/* What the ready calls saw: per tensor, the elements marked and a
 * checksum of each marked range's gradient at marking time. */
struct marks {
	struct net *n;
	int64_t marked[GPT_NPARAMS];
	int calls;
	int wte_call;
	double sum_at_mark[GPT_NPARAMS][8];
	int64_t first[GPT_NPARAMS][8], count[GPT_NPARAMS][8];
	int nmarks[GPT_NPARAMS];
};

static double range_sum(const double *g, int64_t first, int64_t count)
{
	double s = 0;
	for (int64_t i = first; i < first + count; i++)
		s += g[i] * (double)(i + 1); /* weighted: a moved value shows */
	return s;
}

static void on_ready(void *arg, enum gpt_param p, int64_t first, int64_t count)
{
	struct marks *mk = arg;
	int j = mk->nmarks[p]++;

	cr_assert_lt(j, 8, "%s marked too often", gpt_param_names[p]);
	mk->first[p][j] = first;
	mk->count[p][j] = count;
	mk->sum_at_mark[p][j] = range_sum(mk->n->g[p], first, count);
	mk->marked[p] += count;
	if (p == GPT_WTE)
		mk->wte_call = mk->calls;
	mk->calls++;
}

Test(gpt_grad, ready_marks_every_element_once_after_its_last_write)
{
	struct net n;
	struct marks mk = { .n = &n };

	net_make(&n);
	loss(&n);
	gpt_backward(&cfg, &n.m, &n.acts, &n.grads, n.inputs, n.targets, BATCH, 1.0, on_ready, &mk);
	cr_expect_eq(mk.wte_call, mk.calls - 1, "the tied wte is marked last (call %d of %d)",
		     mk.wte_call + 1, mk.calls);
	for (int p = 0; p < GPT_NPARAMS; p++) {
		cr_expect_eq(mk.marked[p], gpt_param_numel(&cfg, (enum gpt_param)p),
			     "%s: %lld of %lld elements marked", gpt_param_names[p],
			     (long long)mk.marked[p],
			     (long long)gpt_param_numel(&cfg, (enum gpt_param)p));
		for (int j = 0; j < mk.nmarks[p]; j++)
			cr_expect_eq(range_sum(n.g[p], mk.first[p][j], mk.count[p][j]),
				     mk.sum_at_mark[p][j],
				     "%s [%lld, +%lld) changed after it was marked ready",
				     gpt_param_names[p], (long long)mk.first[p][j],
				     (long long)mk.count[p][j]);
	}
	net_free(&n);
}
