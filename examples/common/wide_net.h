/*
 * wide_net.h - what examples/wide (the cpu) and examples/wide_cuda (a
 * GPU) share: the options, the number of layers they make, and the
 * synthetic data.  A stack of L residual ReLU layers of width W:
 *
 *	z_l = h_l W_l^T + b_l        W_l (W, W), b_l (W)    l = 0..L-1
 *	h_{l+1} = h_l + alpha relu(z_l)    alpha = 1/L
 *	loss = mean over (B, W) of (h_L - y)^2
 *
 * Sample s's input is x_j = uniform[-1, 1) from a hash of (s, j) and its
 * target y_j = x_{(j+1) mod W} / 2: the same on every rank and run, and
 * learnable.
 */
#ifndef EXAMPLES_COMMON_WIDE_NET_H
#define EXAMPLES_COMMON_WIDE_NET_H

#include "params.h"

struct wide_options {
	long long params; /* --params: parameters to aim for */
	int W;            /* --width, a multiple of 4 */
	int64_t samples;  /* --samples: training samples */
	const char *dump; /* --dump PATH, or NULL */
	int L;            /* layers: round(params / (W W + W)), at least 1 */
};

/* Parses the model's arguments (argv[0] is its path) and works out L; a
 * bad option ends the rank, naming it. */
static inline void wide_parse(lt_ctx *ctx, const char *who, int argc, char **argv,
			      struct wide_options *o)
{
	o->params = 10000000;
	o->W = 1024;
	o->samples = 1 << 20;
	o->dump = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--params"))
			o->params = opt_count(ctx, who, a, opt_value(ctx, who, argc, argv, &i), 1,
					      1LL << 40);
		else if (!strcmp(a, "--width"))
			o->W = (int)opt_count(ctx, who, a, opt_value(ctx, who, argc, argv, &i), 4,
					      1 << 16);
		else if (!strcmp(a, "--samples"))
			o->samples = opt_count(ctx, who, a, opt_value(ctx, who, argc, argv, &i), 1,
					       1LL << 40);
		else if (!strcmp(a, "--dump"))
			o->dump = opt_value(ctx, who, argc, argv, &i);
		else
			lt_fatal(ctx, "%s: unknown option '%s'; known: --params N, --width W, --samples N, --dump PATH",
				 who, a);
	}
	if (o->W % 4)
		lt_fatal(ctx, "%s: option '--width %d': expected a multiple of 4", who, o->W);
	const long long per_layer = (long long)o->W * o->W + o->W;
	long long L = (o->params + per_layer / 2) / per_layer;
	if (L > 1 << 20)
		lt_fatal(ctx, "%s: --params %lld at --width %d makes %lld layers; hint: a larger --width",
			 who, o->params, o->W, L);
	o->L = L < 1 ? 1 : (int)L;
}

/* x (B, W) and y (B, W) of samples index[0..B). */
static inline void wide_make_batch(float *x, float *y, const int64_t *index, int B, int W)
{
	for (int b = 0; b < B; b++) {
		float *xb = x + (size_t)b * W, *yb = y + (size_t)b * W;

		for (int j = 0; j < W; j++) {
			uint64_t r = mix64((uint64_t)index[b] * (uint64_t)W + (uint64_t)j);

			xb[j] = (float)((double)(r >> 11) * 0x1p-52 - 1.0);
		}
		for (int j = 0; j < W; j++)
			yb[j] = 0.5f * xb[(j + 1) % W];
	}
}

/* Layer l's parameters, as both models name them. */
static inline void wide_param_names(char *weight, char *bias, size_t len, int l)
{
	snprintf(weight, len, "layers.%d.weight", l);
	snprintf(bias, len, "layers.%d.bias", l);
}

#endif
