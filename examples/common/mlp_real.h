/*
 * mlp_real.h - mlp.h's forward and backward in one real type.  Only mlp.h
 * includes it, twice: with MLP_R float, MLP_FN(name) name##_f32 and
 * MLP_EXP expf, then with double, _f64 and exp, so that one text serves
 * the f32 and the f64 compute dtypes.  It undefines the three macros.
 */
#define R MLP_R

/* out (B, N) = in (B, K) W^T + bias, with W (N, K), bias (N). */
static inline void MLP_FN(linear_forward)(R *out, const R *in, const R *W,
					  const R *bias, int B, int K, int N)
{
	for (int b = 0; b < B; b++)
		for (int n = 0; n < N; n++) {
			const R *w = W + (size_t)n * K, *x = in + (size_t)b * K;
			R s = bias[n];
			for (int k = 0; k < K; k++)
				s += w[k] * x[k];
			out[(size_t)b * N + n] = s;
		}
}

/* Backward of linear_forward, given dout (B, N): adds dW (N, K) +=
 * dout^T in, dbias (N) += sum_b dout, and, if din is not NULL, writes
 * din (B, K) = dout W. */
static inline void MLP_FN(linear_backward)(R *din, R *dW, R *dbias, const R *dout,
					   const R *in, const R *W, int B, int K,
					   int N)
{
	if (din)
		memset(din, 0, (size_t)B * K * sizeof(R));
	for (int b = 0; b < B; b++)
		for (int n = 0; n < N; n++) {
			R g = dout[(size_t)b * N + n];
			const R *x = in + (size_t)b * K, *w = W + (size_t)n * K;
			R *dw = dW + (size_t)n * K;
			dbias[n] += g;
			for (int k = 0; k < K; k++)
				dw[k] += g * x[k];
			if (din)
				for (int k = 0; k < K; k++)
					din[(size_t)b * K + k] += g * w[k];
		}
}

static inline double MLP_FN(mlp_forward)(lt_ctx *ctx, struct mlp *m, int B,
					 int64_t *correct)
{
	const int H = m->H, O = m->O;
	R *h = m->h;
	lt_unit_begin(ctx, m->fc1, LT_FORWARD);
	MLP_FN(linear_forward)(h, m->x, view_data(&m->fc1_w), view_data(&m->fc1_b),
			       B, m->I, H);
	lt_unit_end(ctx, m->fc1, LT_FORWARD);
	for (size_t k = 0; k < (size_t)B * H; k++)
		h[k] = h[k] > 0 ? h[k] : 0;  /* h = relu(fc1(x)) */
	lt_unit_begin(ctx, m->fc2, LT_FORWARD);
	MLP_FN(linear_forward)(m->p, h, view_data(&m->fc2_w), view_data(&m->fc2_b),
			       B, H, O);
	lt_unit_end(ctx, m->fc2, LT_FORWARD);
	double loss = 0;
	for (int b = 0; b < B; b++) {
		R *p = (R *)m->p + (size_t)b * O;  /* logits, then softmax */
		int best = 0;
		for (int k = 1; k < O; k++)
			best = p[k] > p[best] ? k : best;
		R max = p[best], sum = 0;
		for (int k = 0; k < O; k++)
			sum += p[k] = MLP_EXP(p[k] - max);
		for (int k = 0; k < O; k++)
			p[k] /= sum;
		loss -= log(fmax(p[m->y[b]], 1e-30));  /* loss_b = -log p[y] */
		*correct += best == m->y[b];
	}
	return loss;
}

static inline void MLP_FN(mlp_backward)(lt_ctx *ctx, struct mlp *m, int B,
					float dloss)
{
	const int H = m->H, O = m->O;
	R *dh = m->dh;
	const R *h = m->h;
	/* dlogits = (p - onehot(y)) * dloss, in place of p */
	for (int b = 0; b < B; b++) {
		R *p = (R *)m->p + (size_t)b * O;
		p[m->y[b]] -= 1;
		for (int k = 0; k < O; k++)
			p[k] *= dloss;
	}
	/* logits = h W2^T + b2 */
	lt_unit_begin(ctx, m->fc2, LT_BACKWARD);
	MLP_FN(linear_backward)(dh, view_grad(&m->fc2_w), view_grad(&m->fc2_b), m->p,
				h, view_data(&m->fc2_w), B, H, O);
	view_grad_ready(ctx, &m->fc2_w);
	view_grad_ready(ctx, &m->fc2_b);
	lt_unit_end(ctx, m->fc2, LT_BACKWARD);
	/* h = relu(z): dz = dh where h > 0 */
	for (size_t k = 0; k < (size_t)B * H; k++)
		dh[k] = h[k] > 0 ? dh[k] : 0;
	/* z = x W1^T + b1 */
	lt_unit_begin(ctx, m->fc1, LT_BACKWARD);
	MLP_FN(linear_backward)(NULL, view_grad(&m->fc1_w), view_grad(&m->fc1_b), dh,
				m->x, view_data(&m->fc1_w), B, m->I, H);
	view_grad_ready(ctx, &m->fc1_w);
	view_grad_ready(ctx, &m->fc1_b);
	lt_unit_end(ctx, m->fc1, LT_BACKWARD);
}

#undef R
#undef MLP_R
#undef MLP_FN
#undef MLP_EXP
