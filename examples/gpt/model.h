/*
 * model.h - the GPT-2 decoder of examples/gpt, over plain arrays: token
 * and position embeddings, pre-layernorm blocks (causal self-attention,
 * then a GELU MLP, each around a residual), a final layernorm and a head
 * tied to the token embedding, with its cross-entropy loss; forward and
 * backward.  The kernels follow llm.c's train_gpt2.c, but each block has
 * tensors of its own (llm.c stacks every layer's in one tensor per kind):
 * a block's weights are one contiguous run of the parameters, and
 * forward and backward bracket each block's use (struct gpt_hooks), so
 * that gpt.c makes a unit of each.  The activations of a batch are in
 * one allocation, stacked over the layers as in llm.c.
 *
 * It knows nothing of ltrun (gpt.c is the glue), so that a test can check
 * its gradients against finite differences: the element type is
 * gpt_real, float unless the includer defines GPT_REAL first (double for
 * that test), and the math goes through <tgmath.h>.
 *
 * Header-only (static inline), included by gpt.c and tests/unit/test_gpt_grad.c.
 */
#ifndef LTRUN_EXAMPLES_GPT_MODEL_H
#define LTRUN_EXAMPLES_GPT_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#ifndef GPT_REAL
#define GPT_REAL float
#endif
typedef GPT_REAL gpt_real;

/* Built with -fopenmp-simd -DGPT_OMP_SIMD (the Makefile does), the inner
 * loops are vectorised, sums included (which reorders their additions);
 * without, they are plain loops. */
#ifdef GPT_OMP_SIMD
#define GPT_PRAGMA(x) _Pragma(#x)
#define GPT_SIMD GPT_PRAGMA(omp simd)
#define GPT_SIMD_SUM(v) GPT_PRAGMA(omp simd reduction(+ : v))
#define GPT_PRAGMA_SIMD_SUM4(a, b, c, d) GPT_PRAGMA(omp simd reduction(+ : a, b, c, d))
#define GPT_PRAGMA_SIMD_SUM8(a, b, c, d, e, f, g, h) \
	GPT_PRAGMA(omp simd reduction(+ : a, b, c, d, e, f, g, h))
#else
#define GPT_PRAGMA_SIMD_SUM4(a, b, c, d)
#define GPT_PRAGMA_SIMD_SUM8(a, b, c, d, e, f, g, h)
#define GPT_SIMD
#define GPT_SIMD_SUM(v)
#endif

/* The kinds of parameter tensor (llm.c's names): two embeddings, the 12
 * of each block, the final layernorm's 2.  A block's tensors hold that
 * layer's weights only (no [layers, ...] stacks), so each block is one
 * contiguous run of the parameters, registered in this order:
 *
 *   wte wpe | blocks.0.ln1w ... blocks.0.fcprojb | blocks.1.ln1w ... | lnfw lnfb
 */
enum gpt_param {
	GPT_WTE,      /* [vocab, dim] token embedding, also the output head */
	GPT_WPE,      /* [ctx, dim] position embedding */
	GPT_LN1W,     /* [dim]  the block's first of 12 */
	GPT_LN1B,     /* [dim] */
	GPT_QKVW,     /* [3 dim, dim] */
	GPT_QKVB,     /* [3 dim] */
	GPT_ATTPROJW, /* [dim, dim] */
	GPT_ATTPROJB, /* [dim] */
	GPT_LN2W,     /* [dim] */
	GPT_LN2B,     /* [dim] */
	GPT_FCW,      /* [4 dim, dim] */
	GPT_FCB,      /* [4 dim] */
	GPT_FCPROJW,  /* [dim, 4 dim] */
	GPT_FCPROJB,  /* [dim]  the block's last */
	GPT_LNFW,     /* [dim] */
	GPT_LNFB,     /* [dim] */
	GPT_NKINDS
};

#define GPT_BLOCK_KINDS 12 /* GPT_LN1W..GPT_FCPROJB */
#define GPT_MAX_LAYERS 64
#define GPT_MAX_TENSORS (4 + GPT_BLOCK_KINDS * GPT_MAX_LAYERS)

static const char *const gpt_kind_names[GPT_NKINDS] = {
	"wte",  "wpe", "ln1w",    "ln1b",    "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

struct gpt_config {
	int vocab, ctx, layers, dim, heads; /* layers <= GPT_MAX_LAYERS */
};

/* Whether kind p is one of a block's (one tensor per layer). */
static inline int gpt_kind_in_block(enum gpt_param p)
{
	return p >= GPT_LN1W && p <= GPT_FCPROJB;
}

/* Whether p is a bias or a layernorm's parameter (no weight decay). */
static inline int gpt_param_is_vector(enum gpt_param p)
{
	return p != GPT_WTE && p != GPT_WPE && p != GPT_QKVW && p != GPT_ATTPROJW &&
	       p != GPT_FCW && p != GPT_FCPROJW;
}

/* The parameter tensors: 4 + 12 layers. */
static inline int gpt_num_tensors(const struct gpt_config *c)
{
	return 4 + GPT_BLOCK_KINDS * c->layers;
}

/* The index, in registration order, of kind p's tensor of block l (l is
 * ignored for wte, wpe, lnfw and lnfb). */
static inline int gpt_tensor(const struct gpt_config *c, enum gpt_param p, int l)
{
	if (p == GPT_WTE || p == GPT_WPE)
		return (int)p;
	if (p == GPT_LNFW || p == GPT_LNFB)
		return 2 + GPT_BLOCK_KINDS * c->layers + (int)(p - GPT_LNFW);
	return 2 + GPT_BLOCK_KINDS * l + (int)(p - GPT_LN1W);
}

/* The kind of tensor i; its block into *layer (-1: in none). */
static inline enum gpt_param gpt_tensor_kind(const struct gpt_config *c, int i, int *layer)
{
	*layer = -1;
	if (i < 2)
		return (enum gpt_param)i;
	if (i >= 2 + GPT_BLOCK_KINDS * c->layers)
		return (enum gpt_param)(GPT_LNFW + (i - 2 - GPT_BLOCK_KINDS * c->layers));
	*layer = (i - 2) / GPT_BLOCK_KINDS;
	return (enum gpt_param)(GPT_LN1W + (i - 2) % GPT_BLOCK_KINDS);
}

/* Tensor i's name: "wte", "blocks.3.qkvw", "lnfb". */
static inline void gpt_tensor_name(const struct gpt_config *c, int i, char *buf, size_t size)
{
	int l;
	enum gpt_param p = gpt_tensor_kind(c, i, &l);

	if (l < 0)
		snprintf(buf, size, "%s", gpt_kind_names[p]);
	else
		snprintf(buf, size, "blocks.%d.%s", l, gpt_kind_names[p]);
}

/* The shape of a tensor of kind p into dim[0..]; returns its number of
 * dimensions. */
static inline int gpt_param_shape(const struct gpt_config *c, enum gpt_param p, int64_t dim[2])
{
	const int64_t C = c->dim;
	static const int rows[GPT_NKINDS] = { [GPT_QKVW] = 3, [GPT_QKVB] = 3,
					      [GPT_FCW] = 4, [GPT_FCB] = 4 };

	switch (p) {
	case GPT_WTE:
		dim[0] = c->vocab, dim[1] = C;
		return 2;
	case GPT_WPE:
		dim[0] = c->ctx, dim[1] = C;
		return 2;
	case GPT_FCPROJW:
		dim[0] = C, dim[1] = 4 * C;
		return 2;
	case GPT_QKVW:
	case GPT_ATTPROJW:
	case GPT_FCW:
		dim[0] = (rows[p] ? rows[p] : 1) * C, dim[1] = C;
		return 2;
	default: /* the biases and layernorms */
		dim[0] = (rows[p] ? rows[p] : 1) * C;
		return 1;
	}
}

static inline int64_t gpt_param_numel(const struct gpt_config *c, enum gpt_param p)
{
	int64_t dim[2], n = 1;
	int nd = gpt_param_shape(c, p, dim);
	for (int i = 0; i < nd; i++)
		n *= dim[i];
	return n;
}

/* ------------------------------------------------------------ activations */

/* The activations of a batch of B sequences of ctx tokens (and, in a
 * second instance, their gradients), each an array into one block. */
enum gpt_act {
	A_ENCODED,   /* (B, T, C) */
	A_LN1,       /* (L, B, T, C) */
	A_LN1_MEAN,  /* (L, B, T) */
	A_LN1_RSTD,  /* (L, B, T) */
	A_QKV,       /* (L, B, T, 3C) */
	A_ATTY,      /* (L, B, T, C) */
	A_PREATT,    /* (L, B, NH, T, T) */
	A_ATT,       /* (L, B, NH, T, T) */
	A_ATTPROJ,   /* (L, B, T, C) */
	A_RESIDUAL2, /* (L, B, T, C) */
	A_LN2,       /* (L, B, T, C) */
	A_LN2_MEAN,  /* (L, B, T) */
	A_LN2_RSTD,  /* (L, B, T) */
	A_FCH,       /* (L, B, T, 4C) */
	A_FCH_GELU,  /* (L, B, T, 4C) */
	A_FCPROJ,    /* (L, B, T, C) */
	A_RESIDUAL3, /* (L, B, T, C) */
	A_LNF,       /* (B, T, C) */
	A_LNF_MEAN,  /* (B, T) */
	A_LNF_RSTD,  /* (B, T) */
	A_LOGITS,    /* (B, T, V) */
	A_PROBS,     /* (B, T, V) */
	A_LOSSES,    /* (B, T) */
	A_COUNT
};

struct gpt_acts {
	gpt_real *a[A_COUNT];
	gpt_real *block;
	size_t total; /* elements of block */
};

/* Elements of each activation for batch B into size[]. */
static inline void gpt_act_sizes(const struct gpt_config *c, int B, size_t size[A_COUNT])
{
	const size_t L = (size_t)c->layers, T = (size_t)c->ctx, C = (size_t)c->dim,
		     NH = (size_t)c->heads, V = (size_t)c->vocab, BT = (size_t)B * T;

	size[A_ENCODED] = BT * C;
	size[A_LN1] = size[A_ATTY] = size[A_ATTPROJ] = size[A_RESIDUAL2] = size[A_LN2] =
		size[A_FCPROJ] = size[A_RESIDUAL3] = L * BT * C;
	size[A_LN1_MEAN] = size[A_LN1_RSTD] = size[A_LN2_MEAN] = size[A_LN2_RSTD] = L * BT;
	size[A_QKV] = L * BT * 3 * C;
	size[A_PREATT] = size[A_ATT] = L * B * NH * T * T;
	size[A_FCH] = size[A_FCH_GELU] = L * BT * 4 * C;
	size[A_LNF] = BT * C;
	size[A_LNF_MEAN] = size[A_LNF_RSTD] = size[A_LOSSES] = BT;
	size[A_LOGITS] = size[A_PROBS] = BT * V;
}

/* Allocates the activations of a batch of up to B sequences, zeroed.
 * Returns 0, or -1 when out of memory. */
static inline int gpt_acts_alloc(struct gpt_acts *acts, const struct gpt_config *c, int B)
{
	size_t size[A_COUNT], off = 0;

	gpt_act_sizes(c, B, size);
	for (int i = 0; i < A_COUNT; i++)
		off += size[i];
	acts->block = calloc(off, sizeof(gpt_real));
	if (!acts->block)
		return -1;
	acts->total = off;
	off = 0;
	for (int i = 0; i < A_COUNT; i++) {
		acts->a[i] = acts->block + off;
		off += size[i];
	}
	return 0;
}

static inline void gpt_acts_free(struct gpt_acts *acts)
{
	free(acts->block);
	acts->block = NULL;
}

/* ------------------------------------------------------------ kernels */

static inline void gpt_encoder_forward(gpt_real *out, const int *inp, const gpt_real *wte,
				       const gpt_real *wpe, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			gpt_real *o = out + ((size_t)b * T + t) * C;
			const gpt_real *te = wte + (size_t)inp[b * T + t] * C, *pe = wpe + (size_t)t * C;
			for (int i = 0; i < C; i++)
				o[i] = te[i] + pe[i];
		}
}

static inline void gpt_encoder_backward(gpt_real *dwte, gpt_real *dwpe, const gpt_real *dout,
					const int *inp, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			const gpt_real *d = dout + ((size_t)b * T + t) * C;
			gpt_real *dte = dwte + (size_t)inp[b * T + t] * C, *dpe = dwpe + (size_t)t * C;
			for (int i = 0; i < C; i++) {
				dte[i] += d[i];
				dpe[i] += d[i];
			}
		}
}

static inline void gpt_layernorm_forward(gpt_real *out, gpt_real *mean, gpt_real *rstd,
					 const gpt_real *inp, const gpt_real *weight,
					 const gpt_real *bias, int N, int C)
{
	for (int n = 0; n < N; n++) {
		const gpt_real *x = inp + (size_t)n * C;
		gpt_real *o = out + (size_t)n * C, m = 0, v = 0, s;
		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		s = (gpt_real)1 / sqrt(v + (gpt_real)1e-5);
		for (int i = 0; i < C; i++)
			o[i] = (x[i] - m) * s * weight[i] + bias[i];
		mean[n] = m;
		rstd[n] = s;
	}
}

static inline void gpt_layernorm_backward(gpt_real *dinp, gpt_real *dweight, gpt_real *dbias,
					  const gpt_real *dout, const gpt_real *inp,
					  const gpt_real *weight, const gpt_real *mean,
					  const gpt_real *rstd, int N, int C)
{
	for (int n = 0; n < N; n++) {
		const gpt_real *d = dout + (size_t)n * C, *x = inp + (size_t)n * C;
		gpt_real *dx = dinp + (size_t)n * C, m = mean[n], s = rstd[n];
		gpt_real dnorm_mean = 0, dnorm_norm_mean = 0;
		for (int i = 0; i < C; i++) {
			gpt_real norm = (x[i] - m) * s, dnorm = weight[i] * d[i];
			dnorm_mean += dnorm;
			dnorm_norm_mean += dnorm * norm;
		}
		dnorm_mean /= C;
		dnorm_norm_mean /= C;
		for (int i = 0; i < C; i++) {
			gpt_real norm = (x[i] - m) * s, dnorm = weight[i] * d[i];
			dbias[i] += d[i];
			dweight[i] += norm * d[i];
			dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
		}
	}
}

/* The matmuls are most of a step.  They are blocked so that each weight
 * row is read from memory once a call, not once a token: forward and the
 * input's gradient take 4 weight rows against 2 tokens at a time, the
 * weight's gradient 2 rows against 4 tokens; the sums still run over i
 * (the inner, vectorised loop).  On x86-64, built with GPT_OMP_SIMD, gcc
 * and clang also make AVX2 and AVX-512 clones of them (target_clones),
 * one picked at load time for the machine: the build itself stays
 * baseline x86-64. */
#if defined(GPT_OMP_SIMD) && defined(__x86_64__) && defined(__GNUC__)
#define GPT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GPT_CLONES
#endif

/* out (N, OC) = inp (N, C) @ weight (OC, C)^T + bias (OC; NULL: none). */
GPT_CLONES
static void gpt_matmul_forward(gpt_real *out, const gpt_real *inp, const gpt_real *weight,
			       const gpt_real *bias, int N, int C, int OC)
{
	int o = 0;

	for (; o + 4 <= OC; o += 4) {
		const gpt_real *w0 = weight + (size_t)o * C, *w1 = w0 + C, *w2 = w1 + C,
			       *w3 = w2 + C;
		int n = 0;
		for (; n + 2 <= N; n += 2) {
			const gpt_real *x = inp + (size_t)n * C, *y = x + C;
			gpt_real a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
			GPT_PRAGMA_SIMD_SUM8(a0, a1, a2, a3, b0, b1, b2, b3)
			for (int i = 0; i < C; i++) {
				a0 += x[i] * w0[i];
				a1 += x[i] * w1[i];
				a2 += x[i] * w2[i];
				a3 += x[i] * w3[i];
				b0 += y[i] * w0[i];
				b1 += y[i] * w1[i];
				b2 += y[i] * w2[i];
				b3 += y[i] * w3[i];
			}
			gpt_real *r = out + (size_t)n * OC + o, *s = r + OC;
			r[0] = (bias ? bias[o] : 0) + a0;
			r[1] = (bias ? bias[o + 1] : 0) + a1;
			r[2] = (bias ? bias[o + 2] : 0) + a2;
			r[3] = (bias ? bias[o + 3] : 0) + a3;
			s[0] = (bias ? bias[o] : 0) + b0;
			s[1] = (bias ? bias[o + 1] : 0) + b1;
			s[2] = (bias ? bias[o + 2] : 0) + b2;
			s[3] = (bias ? bias[o + 3] : 0) + b3;
		}
		for (; n < N; n++) {
			const gpt_real *x = inp + (size_t)n * C;
			gpt_real a0 = 0, a1 = 0, a2 = 0, a3 = 0;
			GPT_PRAGMA_SIMD_SUM4(a0, a1, a2, a3)
			for (int i = 0; i < C; i++) {
				a0 += x[i] * w0[i];
				a1 += x[i] * w1[i];
				a2 += x[i] * w2[i];
				a3 += x[i] * w3[i];
			}
			gpt_real *r = out + (size_t)n * OC + o;
			r[0] = (bias ? bias[o] : 0) + a0;
			r[1] = (bias ? bias[o + 1] : 0) + a1;
			r[2] = (bias ? bias[o + 2] : 0) + a2;
			r[3] = (bias ? bias[o + 3] : 0) + a3;
		}
	}
	for (; o < OC; o++) {
		const gpt_real *w = weight + (size_t)o * C;
		for (int n = 0; n < N; n++) {
			const gpt_real *x = inp + (size_t)n * C;
			gpt_real acc = 0;
			GPT_SIMD_SUM(acc)
			for (int i = 0; i < C; i++)
				acc += x[i] * w[i];
			out[(size_t)n * OC + o] = (bias ? bias[o] : 0) + acc;
		}
	}
}

/* dinp (N, C) += dout (N, OC) @ weight (OC, C); dweight (OC, C) +=
 * dout^T @ inp; dbias (OC; NULL: none) += dout summed over N. */
GPT_CLONES
static void gpt_matmul_backward(gpt_real *dinp, gpt_real *dweight, gpt_real *dbias,
				const gpt_real *dout, const gpt_real *inp, const gpt_real *weight,
				int N, int C, int OC)
{
	int o = 0;

	for (; o + 4 <= OC; o += 4) {
		const gpt_real *w0 = weight + (size_t)o * C, *w1 = w0 + C, *w2 = w1 + C,
			       *w3 = w2 + C;
		int n = 0;
		for (; n + 2 <= N; n += 2) {
			const gpt_real *d = dout + (size_t)n * OC + o, *e = d + OC;
			gpt_real *dx = dinp + (size_t)n * C, *dy = dx + C;
			const gpt_real d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
			const gpt_real e0 = e[0], e1 = e[1], e2 = e[2], e3 = e[3];
			GPT_SIMD
			for (int i = 0; i < C; i++) {
				dx[i] += d0 * w0[i] + d1 * w1[i] + d2 * w2[i] + d3 * w3[i];
				dy[i] += e0 * w0[i] + e1 * w1[i] + e2 * w2[i] + e3 * w3[i];
			}
		}
		for (; n < N; n++) {
			const gpt_real *d = dout + (size_t)n * OC + o;
			gpt_real *dx = dinp + (size_t)n * C;
			const gpt_real d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
			GPT_SIMD
			for (int i = 0; i < C; i++)
				dx[i] += d0 * w0[i] + d1 * w1[i] + d2 * w2[i] + d3 * w3[i];
		}
	}
	for (; o < OC; o++) {
		const gpt_real *w = weight + (size_t)o * C;
		for (int n = 0; n < N; n++) {
			const gpt_real g = dout[(size_t)n * OC + o];
			gpt_real *dx = dinp + (size_t)n * C;
			GPT_SIMD
			for (int i = 0; i < C; i++)
				dx[i] += g * w[i];
		}
	}

	for (o = 0; o + 2 <= OC; o += 2) {
		gpt_real *dw0 = dweight + (size_t)o * C, *dw1 = dw0 + C;
		int n = 0;
		for (; n + 4 <= N; n += 4) {
			const gpt_real *x0 = inp + (size_t)n * C, *x1 = x0 + C, *x2 = x1 + C,
				       *x3 = x2 + C, *d = dout + (size_t)n * OC + o;
			const gpt_real g0 = d[0], g1 = d[OC], g2 = d[2 * OC], g3 = d[3 * OC];
			const gpt_real h0 = d[1], h1 = d[OC + 1], h2 = d[2 * OC + 1],
				       h3 = d[3 * OC + 1];
			GPT_SIMD
			for (int i = 0; i < C; i++) {
				dw0[i] += x0[i] * g0 + x1[i] * g1 + x2[i] * g2 + x3[i] * g3;
				dw1[i] += x0[i] * h0 + x1[i] * h1 + x2[i] * h2 + x3[i] * h3;
			}
		}
		for (; n < N; n++) {
			const gpt_real *x = inp + (size_t)n * C, g = dout[(size_t)n * OC + o],
				       h = dout[(size_t)n * OC + o + 1];
			GPT_SIMD
			for (int i = 0; i < C; i++) {
				dw0[i] += x[i] * g;
				dw1[i] += x[i] * h;
			}
		}
	}
	for (; o < OC; o++) {
		gpt_real *dw = dweight + (size_t)o * C;
		for (int n = 0; n < N; n++) {
			const gpt_real *x = inp + (size_t)n * C, g = dout[(size_t)n * OC + o];
			GPT_SIMD
			for (int i = 0; i < C; i++)
				dw[i] += x[i] * g;
		}
	}
	if (dbias)
		for (int n = 0; n < N; n++)
			for (o = 0; o < OC; o++)
				dbias[o] += dout[(size_t)n * OC + o];
}

/* Causal multi-head attention: inp (B, T, 3C) holds q, k, v; out (B, T, C);
 * preatt and att (B, NH, T, T) keep the scores and their softmax. */
static inline void gpt_attention_forward(gpt_real *out, gpt_real *preatt, gpt_real *att,
					 const gpt_real *inp, int B, int T, int C, int NH)
{
	const int C3 = 3 * C, hs = C / NH;
	const gpt_real scale = (gpt_real)1 / sqrt((gpt_real)hs);

	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int h = 0; h < NH; h++) {
				const gpt_real *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				gpt_real *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
				gpt_real *a = att + (((size_t)b * NH + h) * T + t) * T;
				gpt_real *o = out + ((size_t)b * T + t) * C + h * hs;
				gpt_real maxval = -INFINITY, sum = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					const gpt_real *k = inp + ((size_t)b * T + t2) * C3 + h * hs + C;
					gpt_real v = 0;
					GPT_SIMD_SUM(v)
					for (int i = 0; i < hs; i++)
						v += q[i] * k[i];
					pre[t2] = v * scale;
					if (pre[t2] > maxval)
						maxval = pre[t2];
				}
				for (int t2 = 0; t2 <= t; t2++) {
					a[t2] = exp(pre[t2] - maxval);
					sum += a[t2];
				}
				for (int t2 = 0; t2 < T; t2++)
					a[t2] = t2 <= t ? a[t2] / sum : 0;
				for (int i = 0; i < hs; i++)
					o[i] = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					const gpt_real *v = inp + ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
					for (int i = 0; i < hs; i++)
						o[i] += a[t2] * v[i];
				}
			}
}

/* dpreatt and datt are scratch (B, NH, T, T), zeroed by the caller. */
static inline void gpt_attention_backward(gpt_real *dinp, gpt_real *dpreatt, gpt_real *datt,
					  const gpt_real *dout, const gpt_real *inp,
					  const gpt_real *att, int B, int T, int C, int NH)
{
	const int C3 = 3 * C, hs = C / NH;
	const gpt_real scale = (gpt_real)1 / sqrt((gpt_real)hs);

	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int h = 0; h < NH; h++) {
				const size_t row = (((size_t)b * NH + h) * T + t) * T;
				const gpt_real *a = att + row, *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				const gpt_real *d = dout + ((size_t)b * T + t) * C + h * hs;
				gpt_real *da = datt + row, *dpre = dpreatt + row;
				gpt_real *dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
				/* out = att @ v */
				for (int t2 = 0; t2 <= t; t2++) {
					const size_t kv = ((size_t)b * T + t2) * C3 + h * hs + 2 * C;
					const gpt_real *v = inp + kv;
					gpt_real *dv = dinp + kv;
					for (int i = 0; i < hs; i++) {
						da[t2] += v[i] * d[i];
						dv[i] += a[t2] * d[i];
					}
				}
				/* softmax: dpre[t3] = sum over t2 of a[t2] ((t2 == t3) - a[t3]) da[t2] */
				gpt_real dot = 0;
				for (int t2 = 0; t2 <= t; t2++)
					dot += a[t2] * da[t2];
				for (int t3 = 0; t3 <= t; t3++)
					dpre[t3] += a[t3] * (da[t3] - dot);
				/* preatt = q . k * scale */
				for (int t2 = 0; t2 <= t; t2++) {
					const size_t kk = ((size_t)b * T + t2) * C3 + h * hs + C;
					const gpt_real *k = inp + kk;
					gpt_real *dk = dinp + kk;
					for (int i = 0; i < hs; i++) {
						dq[i] += k[i] * dpre[t2] * scale;
						dk[i] += q[i] * dpre[t2] * scale;
					}
				}
			}
}

#define GPT_GELU_SCALE 0.7978845608028654 /* sqrt(2 / pi) */

/* GELU, tanh approximation (GPT-2's). */
static inline void gpt_gelu_forward(gpt_real *out, const gpt_real *inp, size_t N)
{
	for (size_t i = 0; i < N; i++) {
		gpt_real x = inp[i], cube = (gpt_real)0.044715 * x * x * x;
		out[i] = (gpt_real)0.5 * x * (1 + tanh((gpt_real)GPT_GELU_SCALE * (x + cube)));
	}
}

static inline void gpt_gelu_backward(gpt_real *dinp, const gpt_real *inp, const gpt_real *dout,
				     size_t N)
{
	for (size_t i = 0; i < N; i++) {
		gpt_real x = inp[i], cube = (gpt_real)0.044715 * x * x * x;
		gpt_real arg = (gpt_real)GPT_GELU_SCALE * (x + cube), th = tanh(arg);
		gpt_real sech2 = 1 - th * th;
		gpt_real local = (gpt_real)0.5 * (1 + th) +
				 x * (gpt_real)0.5 * sech2 * (gpt_real)GPT_GELU_SCALE *
					 (1 + (gpt_real)3 * (gpt_real)0.044715 * x * x);
		dinp[i] += local * dout[i];
	}
}

static inline void gpt_residual_forward(gpt_real *out, const gpt_real *a, const gpt_real *b,
					size_t N)
{
	for (size_t i = 0; i < N; i++)
		out[i] = a[i] + b[i];
}

static inline void gpt_residual_backward(gpt_real *da, gpt_real *db, const gpt_real *dout,
					 size_t N)
{
	for (size_t i = 0; i < N; i++) {
		da[i] += dout[i];
		db[i] += dout[i];
	}
}

/* probs (N, V) = softmax(logits); returns the mean of -log probs[target]. */
static inline double gpt_crossentropy_forward(gpt_real *probs, gpt_real *losses,
					      const gpt_real *logits, const int *targets,
					      int N, int V)
{
	double total = 0;
	for (int n = 0; n < N; n++) {
		const gpt_real *l = logits + (size_t)n * V;
		gpt_real *p = probs + (size_t)n * V, maxval = -INFINITY, sum = 0;
		for (int i = 0; i < V; i++)
			if (l[i] > maxval)
				maxval = l[i];
		for (int i = 0; i < V; i++) {
			p[i] = exp(l[i] - maxval);
			sum += p[i];
		}
		for (int i = 0; i < V; i++)
			p[i] /= sum;
		/* from the logits, not log(p): exact for a tiny p too */
		losses[n] = log(sum) + maxval - l[targets[n]];
		total += losses[n];
	}
	return total / N;
}

/* dlogits = (probs - onehot(target)) * dloss, for each of N rows. */
static inline void gpt_crossentropy_backward(gpt_real *dlogits, const gpt_real *probs,
					     const int *targets, gpt_real dloss, int N, int V)
{
	for (int n = 0; n < N; n++)
		for (int i = 0; i < V; i++)
			dlogits[(size_t)n * V + i] +=
				(probs[(size_t)n * V + i] - (i == targets[n])) * dloss;
}

/* ------------------------------------------------------------ the model */

/* Weights (w) and their gradients (g), one array per parameter tensor,
 * indexed as gpt_tensor() says. */
struct gpt_weights {
	const gpt_real *w[GPT_MAX_TENSORS];
	gpt_real *g[GPT_MAX_TENSORS];
};

/* What forward and backward tell their caller (gpt.c: ltrun's units and
 * ready marks); a NULL hooks, or a NULL function in it, tells nothing.
 *   block  (arg, l, backward, 1) before a pass (forward: backward 0)
 *          first reads block l's weights, (arg, l, backward, 0) after it
 *          last reads them and (backward) wrote their gradients: no
 *          other block's weights are read in between, wte, wpe, lnfw
 *          and lnfb never inside a bracket
 *   ready  (arg, i) when tensor i's gradient is complete (backward) */
struct gpt_hooks {
	void (*block)(void *arg, int layer, int backward, int begin);
	void (*ready)(void *arg, int tensor);
	void *arg;
};

static inline void gpt_hook_block(const struct gpt_hooks *h, int l, int backward, int begin)
{
	if (h && h->block)
		h->block(h->arg, l, backward, begin);
}

static inline void gpt_hook_ready(const struct gpt_hooks *h, int tensor)
{
	if (h && h->ready)
		h->ready(h->arg, tensor);
}

/* Layer l's slice of activation x for batch B (the (L, B, ...) ones). */
static inline gpt_real *gpt_layer_act(const struct gpt_config *c, const struct gpt_acts *acts,
				      enum gpt_act x, int B, int l)
{
	size_t size[A_COUNT];
	gpt_act_sizes(c, B, size);
	return acts->a[x] + (size_t)l * (size[x] / (size_t)c->layers);
}

/* Forward of B sequences of ctx tokens (inputs (B, T)).  With targets,
 * returns the mean cross-entropy and keeps the probabilities for
 * backward; without, leaves the logits and returns 0.  Brackets each
 * block with hooks->block. */
static inline double gpt_forward(const struct gpt_config *c, const struct gpt_weights *m,
				 struct gpt_acts *acts, const int *inputs, const int *targets, int B,
				 const struct gpt_hooks *hooks)
{
	const int T = c->ctx, C = c->dim, NH = c->heads, V = c->vocab, N = B * T;
	gpt_real *const *a = acts->a;
	const gpt_real *residual;

	gpt_encoder_forward(a[A_ENCODED], inputs, m->w[GPT_WTE], m->w[GPT_WPE], B, T, C);
	residual = a[A_ENCODED];
	for (int l = 0; l < c->layers; l++) {
#define ACT(x) gpt_layer_act(c, acts, x, B, l)
#define W(p) m->w[gpt_tensor(c, p, l)]
		gpt_real *ln1 = ACT(A_LN1), *qkv = ACT(A_QKV), *atty = ACT(A_ATTY);
		gpt_real *attproj = ACT(A_ATTPROJ), *res2 = ACT(A_RESIDUAL2), *ln2 = ACT(A_LN2);
		gpt_real *fch = ACT(A_FCH), *gelu = ACT(A_FCH_GELU), *fcproj = ACT(A_FCPROJ);
		gpt_real *res3 = ACT(A_RESIDUAL3);

		gpt_hook_block(hooks, l, 0, 1);
		gpt_layernorm_forward(ln1, ACT(A_LN1_MEAN), ACT(A_LN1_RSTD), residual, W(GPT_LN1W),
				      W(GPT_LN1B), N, C);
		gpt_matmul_forward(qkv, ln1, W(GPT_QKVW), W(GPT_QKVB), N, C, 3 * C);
		gpt_attention_forward(atty, ACT(A_PREATT), ACT(A_ATT), qkv, B, T, C, NH);
		gpt_matmul_forward(attproj, atty, W(GPT_ATTPROJW), W(GPT_ATTPROJB), N, C, C);
		gpt_residual_forward(res2, residual, attproj, (size_t)N * C);
		gpt_layernorm_forward(ln2, ACT(A_LN2_MEAN), ACT(A_LN2_RSTD), res2, W(GPT_LN2W),
				      W(GPT_LN2B), N, C);
		gpt_matmul_forward(fch, ln2, W(GPT_FCW), W(GPT_FCB), N, C, 4 * C);
		gpt_gelu_forward(gelu, fch, (size_t)N * 4 * C);
		gpt_matmul_forward(fcproj, gelu, W(GPT_FCPROJW), W(GPT_FCPROJB), N, 4 * C, C);
		gpt_residual_forward(res3, res2, fcproj, (size_t)N * C);
		gpt_hook_block(hooks, l, 0, 0);
		residual = res3;
#undef ACT
#undef W
	}
	gpt_layernorm_forward(a[A_LNF], a[A_LNF_MEAN], a[A_LNF_RSTD], residual,
			      m->w[gpt_tensor(c, GPT_LNFW, 0)], m->w[gpt_tensor(c, GPT_LNFB, 0)], N,
			      C);
	gpt_matmul_forward(a[A_LOGITS], a[A_LNF], m->w[GPT_WTE], NULL, N, C, V);
	if (!targets)
		return 0;
	return gpt_crossentropy_forward(a[A_PROBS], a[A_LOSSES], a[A_LOGITS], targets, N, V);
}

/* Backward of block l: from the gradient of its output (dres3) to its
 * input's (dres), its weights' gradients added; each tensor marked ready
 * as its gradient is complete. */
static inline void gpt_block_backward(const struct gpt_config *c, const struct gpt_weights *m,
				      const struct gpt_acts *acts, struct gpt_acts *grads,
				      const gpt_real *residual, gpt_real *dres, int B, int l,
				      const struct gpt_hooks *hooks)
{
	const int T = c->ctx, C = c->dim, NH = c->heads, N = B * T;
#define ACT(x) gpt_layer_act(c, acts, x, B, l)
#define DACT(x) gpt_layer_act(c, grads, x, B, l)
#define W(p) m->w[gpt_tensor(c, p, l)]
#define G(p) m->g[gpt_tensor(c, p, l)]
#define READY(p, q) (gpt_hook_ready(hooks, gpt_tensor(c, p, l)), \
		     gpt_hook_ready(hooks, gpt_tensor(c, q, l)))

	gpt_residual_backward(DACT(A_RESIDUAL2), DACT(A_FCPROJ), DACT(A_RESIDUAL3), (size_t)N * C);
	gpt_matmul_backward(DACT(A_FCH_GELU), G(GPT_FCPROJW), G(GPT_FCPROJB), DACT(A_FCPROJ),
			    ACT(A_FCH_GELU), W(GPT_FCPROJW), N, 4 * C, C);
	READY(GPT_FCPROJW, GPT_FCPROJB);
	gpt_gelu_backward(DACT(A_FCH), ACT(A_FCH), DACT(A_FCH_GELU), (size_t)N * 4 * C);
	gpt_matmul_backward(DACT(A_LN2), G(GPT_FCW), G(GPT_FCB), DACT(A_FCH), ACT(A_LN2),
			    W(GPT_FCW), N, C, 4 * C);
	READY(GPT_FCW, GPT_FCB);
	gpt_layernorm_backward(DACT(A_RESIDUAL2), G(GPT_LN2W), G(GPT_LN2B), DACT(A_LN2),
			       ACT(A_RESIDUAL2), W(GPT_LN2W), ACT(A_LN2_MEAN), ACT(A_LN2_RSTD), N,
			       C);
	READY(GPT_LN2W, GPT_LN2B);
	gpt_residual_backward(dres, DACT(A_ATTPROJ), DACT(A_RESIDUAL2), (size_t)N * C);
	gpt_matmul_backward(DACT(A_ATTY), G(GPT_ATTPROJW), G(GPT_ATTPROJB), DACT(A_ATTPROJ),
			    ACT(A_ATTY), W(GPT_ATTPROJW), N, C, C);
	READY(GPT_ATTPROJW, GPT_ATTPROJB);
	gpt_attention_backward(DACT(A_QKV), DACT(A_PREATT), DACT(A_ATT), DACT(A_ATTY), ACT(A_QKV),
			       ACT(A_ATT), B, T, C, NH);
	gpt_matmul_backward(DACT(A_LN1), G(GPT_QKVW), G(GPT_QKVB), DACT(A_QKV), ACT(A_LN1),
			    W(GPT_QKVW), N, C, 3 * C);
	READY(GPT_QKVW, GPT_QKVB);
	gpt_layernorm_backward(dres, G(GPT_LN1W), G(GPT_LN1B), DACT(A_LN1), residual, W(GPT_LN1W),
			       ACT(A_LN1_MEAN), ACT(A_LN1_RSTD), N, C);
	READY(GPT_LN1W, GPT_LN1B);
#undef ACT
#undef DACT
#undef W
#undef G
#undef READY
}

/* Backward of the last forward (with targets), adding to m->g the
 * gradient of the mean loss times dloss; grads holds the activations'
 * gradients (zeroed here).  Brackets each block with hooks->block, the
 * last block first, and marks each tensor ready as its gradient is
 * complete: the final layernorm's, each block's, then wpe and wte (tied:
 * the head's part comes first, the embedding's last). */
static inline void gpt_backward(const struct gpt_config *c, const struct gpt_weights *m,
				const struct gpt_acts *acts, struct gpt_acts *grads,
				const int *inputs, const int *targets, int B, gpt_real dloss,
				const struct gpt_hooks *hooks)
{
	const int T = c->ctx, C = c->dim, V = c->vocab, N = B * T;
	const int lnfw = gpt_tensor(c, GPT_LNFW, 0), lnfb = gpt_tensor(c, GPT_LNFB, 0);
	gpt_real *const *a = acts->a, *const *d = grads->a;

	memset(grads->block, 0, grads->total * sizeof(gpt_real));
	gpt_crossentropy_backward(d[A_LOGITS], a[A_PROBS], targets, dloss / N, N, V);
	gpt_matmul_backward(d[A_LNF], m->g[GPT_WTE], NULL, d[A_LOGITS], a[A_LNF], m->w[GPT_WTE], N,
			    C, V);
	gpt_layernorm_backward(gpt_layer_act(c, grads, A_RESIDUAL3, B, c->layers - 1), m->g[lnfw],
			       m->g[lnfb], d[A_LNF],
			       gpt_layer_act(c, acts, A_RESIDUAL3, B, c->layers - 1), m->w[lnfw],
			       a[A_LNF_MEAN], a[A_LNF_RSTD], N, C);
	gpt_hook_ready(hooks, lnfw);
	gpt_hook_ready(hooks, lnfb);
	for (int l = c->layers - 1; l >= 0; l--) {
		const gpt_real *residual = l ? gpt_layer_act(c, acts, A_RESIDUAL3, B, l - 1)
					     : a[A_ENCODED];
		gpt_real *dres = l ? gpt_layer_act(c, grads, A_RESIDUAL3, B, l - 1) : d[A_ENCODED];

		gpt_hook_block(hooks, l, 1, 1);
		gpt_block_backward(c, m, acts, grads, residual, dres, B, l, hooks);
		gpt_hook_block(hooks, l, 1, 0);
	}
	gpt_encoder_backward(m->g[GPT_WTE], m->g[GPT_WPE], d[A_ENCODED], inputs, B, T, C);
	gpt_hook_ready(hooks, GPT_WPE);
	gpt_hook_ready(hooks, GPT_WTE);
}

#endif
