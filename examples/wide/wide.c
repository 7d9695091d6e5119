/*
 * wide.c - a Trainer-mode benchmark model of any size: a stack of L
 * residual ReLU layers of width W, as many as make up --params, trained
 * with MSE on synthetic data.  Real forward and backward (about
 * 6 x params x batch flops a step), so step times measure the strategy's
 * overlap of gradient all-reduce with backward on a model of a chosen
 * size; the data costs nothing to make.
 *
 *   make          # builds build/examples/wide/wide.so
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) -O2 wide.c -o wide.so -lm
 *   ltrun --devices 4 --max-steps 20 build/examples/wide/wide.so -- --params 100M
 *   ltrun ... wide.so -- [--params N] [--width W] [--samples N] [--dump PATH]
 *
 *   --params N    parameters to aim for, K/M/G suffixes (powers of 1000;
 *                 default 10M): L = round(N / (W*W + W)) layers, at least 1
 *   --width W     layer width, a multiple of 4 (default 1024)
 *   --samples N   training samples (default 1048576); no validation split
 *   --dump PATH   at the end, rank 0 writes every parameter as text
 *                 (examples/common/params.h)
 *
 * The network, B the batch, h_0 (B, W) the input:
 *
 *	z_l = h_l W_l^T + b_l        W_l (W, W), b_l (W)    l = 0..L-1
 *	a_l = relu(z_l)
 *	h_{l+1} = h_l + alpha a_l    alpha = 1/L, so that h stays bounded at any depth
 *	loss = mean over (B, W) of (h_L - y)^2
 *
 * Sample s's input is x_j = uniform[-1, 1) from a hash of (s, j) and its
 * target y_j = x_{(j+1) mod W} / 2: deterministic, the same on every
 * rank and run, and learnable, so the loss falls.
 *
 * On the cpu, every compute dtype, always computing in f32: under f16 and
 * bf16, and under f64 too (unlike the digits MLP, which computes in f64
 * there), each layer's weights are converted to an f32 copy in forward and
 * again in backward, and its f32 gradient is added to the stored one once
 * per batch, each element rounded once (param_view, examples/common/params.h).
 * Under f32 the layers work on lt_data() and lt_grad() directly.
 *
 * Each layer is a unit (lt_unit_new): its forward and its backward are
 * bracketed by lt_unit_begin/lt_unit_end, so that under fsdp and
 * deepspeed_stage_3 a rank holds one layer's weights at a time (under
 * the other strategies the brackets cost nothing).
 */
#define _GNU_SOURCE
#include "../common/wide_net.h"


#define WHO "wide"

/* 4 floats (SSE, NEON: no ABI change), for loops the compiler does not
 * vectorise on its own at -O2 (sums need reassociation).  Loads and
 * stores go through memcpy: lt_data() promises no alignment. */
typedef float v4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p)
{
	v4 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void store4(float *p, v4 v)
{
	memcpy(p, &v, sizeof(v));
}

static inline float sum4(v4 v)
{
	return (v[0] + v[1]) + (v[2] + v[3]);
}

struct wide {
	int W;            /* width, a multiple of 4 */
	int L;            /* layers */
	int64_t samples;  /* training samples */
	float alpha;      /* residual branch scale, 1/L */
	const char *dump; /* --dump PATH, or NULL */
	lt_tensor **param; /* (2L): W_0, b_0, W_1, b_1...; W_l (W, W), b_l (W) */
	struct param_view *view; /* (2L): param in f32 */
	lt_unit **unit;    /* (L): layer l's W_l and b_l, "layers.l" */
	float *scratch;    /* when lt_dtype() is not f32: one layer's W_l and b_l,
			    * then their gradients, shared by every layer's views */
	/* Activations of the last forward, room for cap samples. */
	int cap;
	float *h;   /* (L+1, cap, W): h_l, the input of layer l; h_L the output */
	float *a;   /* (L, cap, W): relu(z_l) */
	float *y;   /* (cap, W) targets */
	float *g;   /* (cap, W) backward: dloss/dh_l */
	float *dz;  /* (cap, W) backward: dloss/dz_l */
};

/* ------------------------------------------------------------ data */

/* ------------------------------------------------------------ layers */

/* z (B, W) = h (B, W) Wt^T + bias, with Wt (W, W): output rows four at a
 * time, so that each load of h[b] serves four dot products. */
static void linear_forward(float *restrict z, const float *restrict h,
			   const float *restrict Wt, const float *restrict bias,
			   int B, int W)
{
	for (int o = 0; o < W; o += 4) {
		const float *w0 = Wt + (size_t)o * W, *w1 = w0 + W, *w2 = w1 + W,
			    *w3 = w2 + W;
		for (int b = 0; b < B; b++) {
			const float *x = h + (size_t)b * W;
			v4 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
			for (int k = 0; k < W; k += 4) {
				v4 xv = load4(x + k);
				s0 += load4(w0 + k) * xv;
				s1 += load4(w1 + k) * xv;
				s2 += load4(w2 + k) * xv;
				s3 += load4(w3 + k) * xv;
			}
			float *zb = z + (size_t)b * W + o;
			zb[0] = bias[o] + sum4(s0);
			zb[1] = bias[o + 1] + sum4(s1);
			zb[2] = bias[o + 2] + sum4(s2);
			zb[3] = bias[o + 3] + sum4(s3);
		}
	}
}

/* Backward of linear_forward given dz (B, W): dWt += dz^T h, dbias +=
 * sum_b dz, and g (B, W) += dz Wt.  Again four rows of Wt at a time. */
static void linear_backward(float *restrict g, float *restrict dWt,
			    float *restrict dbias, const float *restrict dz,
			    const float *restrict h, const float *restrict Wt,
			    int B, int W)
{
	for (int o = 0; o < W; o += 4) {
		const float *w0 = Wt + (size_t)o * W, *w1 = w0 + W, *w2 = w1 + W,
			    *w3 = w2 + W;
		float *d0 = dWt + (size_t)o * W, *d1 = d0 + W, *d2 = d1 + W,
		      *d3 = d2 + W;
		for (int b = 0; b < B; b++) {
			const float *x = h + (size_t)b * W, *dzb = dz + (size_t)b * W + o;
			float *gb = g + (size_t)b * W;
			float c0 = dzb[0], c1 = dzb[1], c2 = dzb[2], c3 = dzb[3];
			dbias[o] += c0, dbias[o + 1] += c1;
			dbias[o + 2] += c2, dbias[o + 3] += c3;
			for (int k = 0; k < W; k += 4) {
				v4 xv = load4(x + k);
				store4(d0 + k, load4(d0 + k) + c0 * xv);
				store4(d1 + k, load4(d1 + k) + c1 * xv);
				store4(d2 + k, load4(d2 + k) + c2 * xv);
				store4(d3 + k, load4(d3 + k) + c3 * xv);
				store4(gb + k, load4(gb + k) + c0 * load4(w0 + k) +
						       c1 * load4(w1 + k) + c2 * load4(w2 + k) +
						       c3 * load4(w3 + k));
			}
		}
	}
}

/* ------------------------------------------------------------ model */

static float *act(const struct wide *m, float *base, int l)
{
	return base + (size_t)l * m->cap * m->W;
}

/* Grows the activations to B samples; out of memory ends the rank. */
static void reserve(lt_ctx *ctx, struct wide *m, int B)
{
	if (B <= m->cap)
		return;
	size_t row = (size_t)B * m->W * sizeof(float);
	free(m->h), free(m->a), free(m->y), free(m->g), free(m->dz);
	m->cap = B;
	m->h = malloc(row * (m->L + 1));
	m->a = malloc(row * m->L);
	m->y = malloc(row);
	m->g = malloc(row);
	m->dz = malloc(row);
	if (!m->h || !m->a || !m->y || !m->g || !m->dz)
		lt_fatal(ctx, WHO ": out of memory for the activations of a batch "
			 "of %d (%zu MiB); hint: a smaller --batch-size", B,
			 row * (2 * m->L + 4) >> 20);
}

/* Forward of samples index[0..B); returns the mean squared error. */
static double forward(lt_ctx *ctx, struct wide *m, const int64_t *index, int B)
{
	const int W = m->W;
	const size_t n = (size_t)B * W;
	reserve(ctx, m, B);
	wide_make_batch(act(m, m->h, 0), m->y, index, B, W);
	for (int l = 0; l < m->L; l++) {
		const float *h = act(m, m->h, l);
		float *a = act(m, m->a, l), *next = act(m, m->h, l + 1);
		/* z_l = h_l W_l^T + b_l; a_l = relu(z_l); h_{l+1} = h_l + alpha a_l */
		lt_unit_begin(ctx, m->unit[l], LT_FORWARD);
		linear_forward(a, h, view_data(&m->view[2 * l]),
			       view_data(&m->view[2 * l + 1]), B, W);
		lt_unit_end(ctx, m->unit[l], LT_FORWARD);
		for (size_t k = 0; k < n; k++) {
			a[k] = a[k] > 0 ? a[k] : 0;
			next[k] = h[k] + m->alpha * a[k];
		}
	}
	const float *out = act(m, m->h, m->L);
	double loss = 0;
	for (size_t k = 0; k < n; k++)
		loss += (double)(out[k] - m->y[k]) * (out[k] - m->y[k]);
	return loss / (double)n;
}

/* Backward of forward for loss * dloss: adds every gradient, marking
 * each layer's ready as soon as it is complete, last layer first. */
static void backward(lt_ctx *ctx, struct wide *m, int B, float dloss)
{
	const int W = m->W;
	const size_t n = (size_t)B * W;
	const float *out = act(m, m->h, m->L);
	/* loss = mean (h_L - y)^2 */
	for (size_t k = 0; k < n; k++)
		m->g[k] = 2 * (out[k] - m->y[k]) * dloss / (float)n;
	for (int l = m->L - 1; l >= 0; l--) {
		const struct param_view *w = &m->view[2 * l], *b = &m->view[2 * l + 1];
		const float *a = act(m, m->a, l);
		/* h_{l+1} = h_l + alpha relu(z_l): dz = alpha g [a > 0], and g
		 * (now dloss/dh_{l+1}) passes on to h_l unchanged, plus dz W_l */
		for (size_t k = 0; k < n; k++)
			m->dz[k] = a[k] > 0 ? m->alpha * m->g[k] : 0;
		lt_unit_begin(ctx, m->unit[l], LT_BACKWARD);
		linear_backward(m->g, view_grad(w), view_grad(b), m->dz, act(m, m->h, l),
				view_data(w), B, W);
		view_grad_ready(ctx, w);
		view_grad_ready(ctx, b);
		lt_unit_end(ctx, m->unit[l], LT_BACKWARD);
	}
}

/* ------------------------------------------------------------ lt_module */

static int wide_init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct wide *m = calloc(1, sizeof(*m));
	struct wide_options o;

	if (!m)
		lt_fatal(ctx, WHO ": out of memory");
	wide_parse(ctx, WHO, argc, argv, &o);
	require_cpu(ctx, WHO);
	m->W = o.W;
	m->L = o.L;
	m->samples = o.samples;
	m->dump = o.dump;
	const long long per_layer = (long long)m->W * m->W + m->W;
	m->alpha = 1.0f / (float)m->L;
	const enum lt_dtype dt = lt_dtype(ctx);
	const size_t layer = (size_t)per_layer, ww = (size_t)m->W * m->W;
	m->param = calloc(2 * (size_t)m->L, sizeof(*m->param));
	m->view = calloc(2 * (size_t)m->L, sizeof(*m->view));
	m->unit = calloc((size_t)m->L, sizeof(*m->unit));
	if (dt != LT_F32)
		m->scratch = malloc(2 * layer * sizeof(float));
	if (!m->param || !m->view || !m->unit || (dt != LT_F32 && !m->scratch))
		lt_fatal(ctx, WHO ": out of memory");
	float *ws = m->scratch, *gs = ws ? ws + layer : NULL;
	for (int l = 0; l < m->L; l++) {
		char name[32], bname[32];
		wide_param_names(name, bname, sizeof(name), l);
		m->param[2 * l] = lt_param(ctx, name, LT_SHAPE(m->W, m->W),
					   LT_KAIMING_UNIFORM);
		m->param[2 * l + 1] = lt_param(ctx, bname, LT_SHAPE(m->W), LT_ZEROS);
		m->view[2 * l] = param_view(m->param[2 * l], dt, LT_F32, ws, gs);
		m->view[2 * l + 1] = param_view(m->param[2 * l + 1], dt, LT_F32,
						ws ? ws + ww : NULL, gs ? gs + ww : NULL);
		snprintf(name, sizeof(name), "layers.%d", l);
		m->unit[l] = lt_unit_new(ctx, name, m->param[2 * l], m->param[2 * l + 1]);
	}
	if (lt_rank(ctx) == 0) {
		printf(WHO ": %d layers of width %d, %lld parameters (%.1f MiB of %s)\n",
		       m->L, m->W, m->L * per_layer,
		       (double)(m->L * per_layer) * (double)lt_dtype_size(dt) / (1 << 20),
		       dtype_name(dt));
		fflush(stdout);
	}
	*self = m;
	return 0;
}

static int64_t wide_num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	const struct wide *m = self;
	return split == LT_TRAIN ? m->samples : 0;
}

static int wide_train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch,
			   double *loss)
{
	struct wide *m = self;
	*loss = forward(ctx, m, batch->index, batch->size);
	backward(ctx, m, batch->size, lt_loss_scale(ctx));
	return 0;
}

static void wide_fini(lt_ctx *ctx, void *self)
{
	struct wide *m = self;
	if (m->dump) {
		for (int l = 0; l < m->L; l++)
			lt_unit_begin(ctx, m->unit[l], LT_FORWARD);
		dump_params(ctx, WHO, m->dump, m->param, 2 * m->L);
		for (int l = 0; l < m->L; l++)
			lt_unit_end(ctx, m->unit[l], LT_FORWARD);
	}
	free(m->h), free(m->a), free(m->y), free(m->g), free(m->dz);
	free(m->param);
	free(m->view);
	free(m->unit);
	free(m->scratch);
	free(m);
}

static const struct lt_module wide_module = {
	.size = sizeof(struct lt_module),
	.name = WHO,
	.init = wide_init,
	.num_samples = wide_num_samples,
	.train_step = wide_train_step,
	.fini = wide_fini,
};

__attribute__((visibility("default"))) const struct lt_module *lt_module_v1(void)
{
	return &wide_module;
}
