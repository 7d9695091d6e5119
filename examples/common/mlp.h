/*
 * mlp.h - the digits MLP shared by the Trainer-mode (examples/mlp/mlp.c)
 * and Fabric-mode (examples/fabric/fabric.c) examples: its options, its
 * parameters, and forward and backward side by side.
 *
 * Header-only (static inline); nothing to build on its own.
 *
 *	x (B, I) -> fc1 -> relu -> h (B, H) -> fc2 -> logits (B, O)
 *	         -> softmax -> p (B, O) -> cross-entropy with y (B)
 *
 * B = samples in the batch, I = 64 pixels, H = --hidden, O = 10 classes.
 * Weights are (out, in), as in torch.nn.Linear, so Kaiming's fan_in is
 * the last dimension, as lt_param() expects.  f32 on the cpu only.
 */
#ifndef LTRUN_EXAMPLES_MLP_H
#define LTRUN_EXAMPLES_MLP_H

#include "digits.h"
#include "params.h"

#include <math.h>

#define MLP_DEFAULT_HIDDEN 128

struct mlp_options {
	const char *data;     /* --data: the CSV; default: digits_default_path() */
	int hidden;           /* --hidden: H */
	double val_fraction;  /* --val-fraction: share of samples in LT_VAL */
	const char *dump;     /* --dump: where fini writes the parameters, or NULL */
	int epochs;           /* --epochs (Fabric mode only) */
	int batch_size;       /* --batch-size, per rank (Fabric mode only) */
	char default_data[PATH_MAX];
};

/* Parses the model's arguments (argv[0] is the model's path).  loop_options
 * also accepts --epochs and --batch-size, for a model that owns its loop.
 * A bad option ends the rank, naming it. */
static inline void mlp_parse(lt_ctx *ctx, const char *who, int argc, char **argv,
			     int loop_options, struct mlp_options *o)
{
	o->data = digits_default_path(o->default_data, sizeof(o->default_data));
	o->hidden = MLP_DEFAULT_HIDDEN;
	o->val_fraction = 0.2;
	o->dump = NULL;
	o->epochs = 20;
	o->batch_size = 32;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data"))
			o->data = opt_value(ctx, who, argc, argv, &i);
		else if (!strcmp(a, "--hidden"))
			o->hidden = (int)opt_count(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   1, 1 << 20);
		else if (!strcmp(a, "--val-fraction"))
			o->val_fraction = opt_real(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   0, 1);
		else if (!strcmp(a, "--dump"))
			o->dump = opt_value(ctx, who, argc, argv, &i);
		else if (loop_options && !strcmp(a, "--epochs"))
			o->epochs = (int)opt_count(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   0, INT_MAX);
		else if (loop_options && !strcmp(a, "--batch-size"))
			o->batch_size = (int)opt_count(ctx, who, a,
						       opt_value(ctx, who, argc, argv, &i),
						       1, 1 << 20);
		else
			lt_fatal(ctx, "%s: unknown option '%s'; known: --data PATH, "
				 "--hidden N, --val-fraction F, --dump PATH%s", who, a,
				 loop_options ? ", --epochs N, --batch-size N" : "");
	}
}

struct mlp {
	int I, H, O;
	lt_tensor *fc1_w;  /* (H, I) */
	lt_tensor *fc1_b;  /* (H) */
	lt_tensor *fc2_w;  /* (O, H) */
	lt_tensor *fc2_b;  /* (O) */
	/* Activations of the last forward, room for cap samples. */
	int cap;
	float *x;   /* (cap, I) inputs */
	int *y;     /* (cap) labels */
	float *h;   /* (cap, H) relu(fc1(x)) */
	float *p;   /* (cap, O) softmax(fc2(h)); backward turns it into dlogits */
	float *dh;  /* (cap, H) scratch of backward */
	struct digits data;
};

/* Loads and splits the data, registers the four parameters (Kaiming
 * weights, zero biases).  Ends the rank on bad data. */
static inline void mlp_setup(lt_ctx *ctx, const char *who,
			     const struct mlp_options *o, struct mlp *m)
{
	*m = (struct mlp){ .I = DIGITS_PIXELS, .H = o->hidden, .O = DIGITS_CLASSES };
	require_f32_cpu(ctx, who);
	digits_load(ctx, who, o->data, &m->data);
	digits_split(&m->data, o->val_fraction);
	m->fc1_w = lt_param(ctx, "fc1.weight", LT_SHAPE(m->H, m->I), LT_KAIMING_UNIFORM);
	m->fc1_b = lt_param(ctx, "fc1.bias", LT_SHAPE(m->H), LT_ZEROS);
	m->fc2_w = lt_param(ctx, "fc2.weight", LT_SHAPE(m->O, m->H), LT_KAIMING_UNIFORM);
	m->fc2_b = lt_param(ctx, "fc2.bias", LT_SHAPE(m->O), LT_ZEROS);
}

static inline void mlp_free(struct mlp *m)
{
	free(m->x);
	free(m->y);
	free(m->h);
	free(m->p);
	free(m->dh);
	digits_free(&m->data);
}

/* Writes the parameters to o->dump on rank 0, if asked to. */
static inline void mlp_dump(lt_ctx *ctx, const char *who,
			    const struct mlp_options *o, struct mlp *m)
{
	lt_tensor *const t[] = { m->fc1_w, m->fc1_b, m->fc2_w, m->fc2_b };
	if (o->dump)
		dump_params(ctx, who, o->dump, t, 4);
}

/* Copies samples index[0..B) of split into m->x and m->y, growing the
 * activations to B samples.  Out of memory ends the rank. */
static inline void mlp_gather(lt_ctx *ctx, struct mlp *m, enum lt_split split,
			      const int64_t *index, int B)
{
	if (B > m->cap) {
		m->cap = B;
		m->x = realloc(m->x, (size_t)B * m->I * sizeof(float));
		m->y = realloc(m->y, (size_t)B * sizeof(int));
		m->h = realloc(m->h, (size_t)B * m->H * sizeof(float));
		m->p = realloc(m->p, (size_t)B * m->O * sizeof(float));
		m->dh = realloc(m->dh, (size_t)B * m->H * sizeof(float));
		if (!m->x || !m->y || !m->h || !m->p || !m->dh)
			lt_fatal(ctx, "mlp: out of memory for a batch of %d", B);
	}
	for (int b = 0; b < B; b++) {
		memcpy(m->x + (size_t)b * m->I, digits_x(&m->data, split, index[b]),
		       (size_t)m->I * sizeof(float));
		m->y[b] = digits_y(&m->data, split, index[b]);
	}
}

/* out (B, N) = in (B, K) W^T + bias, with W (N, K), bias (N). */
static inline void linear_forward(float *out, const float *in, const float *W,
				  const float *bias, int B, int K, int N)
{
	for (int b = 0; b < B; b++)
		for (int n = 0; n < N; n++) {
			const float *w = W + (size_t)n * K, *x = in + (size_t)b * K;
			float s = bias[n];
			for (int k = 0; k < K; k++)
				s += w[k] * x[k];
			out[(size_t)b * N + n] = s;
		}
}

/* Backward of linear_forward, given dout (B, N): adds dW (N, K) +=
 * dout^T in, dbias (N) += sum_b dout, and, if din is not NULL, writes
 * din (B, K) = dout W. */
static inline void linear_backward(float *din, float *dW, float *dbias,
				   const float *dout, const float *in,
				   const float *W, int B, int K, int N)
{
	if (din)
		memset(din, 0, (size_t)B * K * sizeof(float));
	for (int b = 0; b < B; b++)
		for (int n = 0; n < N; n++) {
			float g = dout[(size_t)b * N + n];
			const float *x = in + (size_t)b * K, *w = W + (size_t)n * K;
			float *dw = dW + (size_t)n * K;
			dbias[n] += g;
			for (int k = 0; k < K; k++)
				dw[k] += g * x[k];
			if (din)
				for (int k = 0; k < K; k++)
					din[(size_t)b * K + k] += g * w[k];
		}
}

/* Forward of the B gathered samples.  Returns the summed cross-entropy
 * loss and adds the number of correct predictions to *correct. */
static inline double mlp_forward(struct mlp *m, int B, int64_t *correct)
{
	const int H = m->H, O = m->O;
	linear_forward(m->h, m->x, lt_data(m->fc1_w), lt_data(m->fc1_b), B, m->I, H);
	for (size_t k = 0; k < (size_t)B * H; k++)
		m->h[k] = m->h[k] > 0 ? m->h[k] : 0;  /* h = relu(fc1(x)) */
	linear_forward(m->p, m->h, lt_data(m->fc2_w), lt_data(m->fc2_b), B, H, O);
	double loss = 0;
	for (int b = 0; b < B; b++) {
		float *p = m->p + (size_t)b * O;  /* logits, then softmax */
		int best = 0;
		for (int k = 1; k < O; k++)
			best = p[k] > p[best] ? k : best;
		float max = p[best], sum = 0;
		for (int k = 0; k < O; k++)
			sum += p[k] = expf(p[k] - max);
		for (int k = 0; k < O; k++)
			p[k] /= sum;
		loss -= log(fmax(p[m->y[b]], 1e-30));  /* loss_b = -log p[y] */
		*correct += best == m->y[b];
	}
	return loss;
}

/* Backward of mlp_forward for the loss (sum of loss_b) * dloss: adds
 * every parameter's gradient to lt_grad() and marks each ready as soon as
 * it is complete, fc2 first.  dloss is lt_loss_scale(ctx) / B for the
 * gradient of the mean loss. */
static inline void mlp_backward(lt_ctx *ctx, struct mlp *m, int B, float dloss)
{
	const int H = m->H, O = m->O;
	/* dlogits = (p - onehot(y)) * dloss, in place of p */
	for (int b = 0; b < B; b++) {
		float *p = m->p + (size_t)b * O;
		p[m->y[b]] -= 1;
		for (int k = 0; k < O; k++)
			p[k] *= dloss;
	}
	/* logits = h W2^T + b2 */
	linear_backward(m->dh, lt_grad(m->fc2_w), lt_grad(m->fc2_b), m->p, m->h,
			lt_data(m->fc2_w), B, H, O);
	lt_grad_ready(ctx, m->fc2_w);
	lt_grad_ready(ctx, m->fc2_b);
	/* h = relu(z): dz = dh where h > 0 */
	for (size_t k = 0; k < (size_t)B * H; k++)
		m->dh[k] = m->h[k] > 0 ? m->dh[k] : 0;
	/* z = x W1^T + b1 */
	linear_backward(NULL, lt_grad(m->fc1_w), lt_grad(m->fc1_b), m->dh, m->x,
			lt_data(m->fc1_w), B, m->I, H);
	lt_grad_ready(ctx, m->fc1_w);
	lt_grad_ready(ctx, m->fc1_b);
}

#endif /* LTRUN_EXAMPLES_MLP_H */
