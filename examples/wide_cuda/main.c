/*
 * main.c - examples/wide on a GPU: the same Trainer-mode benchmark model
 * (examples/common/wide_net.h: L residual ReLU layers of width W, as many
 * as make up --params, MSE on synthetic data, the same parameter names
 * and first values), its forward and backward as CUDA kernels
 * (kernels.cu), in f32.  ltrun gives each rank its GPU (--accelerator
 * cuda), the parameters in its memory, its kernels on a non-blocking
 * stream of its own that ltrun orders after (lt_set_stream), the DDP
 * buckets over NCCL (each
 * layer's gradients marked ready as backward completes them, last layer
 * first, so that they travel while backward goes on) and the optimizer
 * step as device kernels.  bench/gpu times its DDP step.
 *
 *   make   # with nvcc: build/examples/wide_cuda/wide_cuda.so
 *   ltrun --accelerator cuda --devices 4 --max-steps 20 build/examples/wide_cuda/wide_cuda.so -- --params 100M
 *   ... wide_cuda.so -- [--params N] [--width W] [--samples N]
 *
 * --dump is examples/wide's only (the parameters are in GPU memory).
 */
#include "../common/wide_net.h"
#include "kernels.h"

#define WHO "wide_cuda"

struct wide {
	struct wide_options o;
	float alpha;
	lt_tensor **param; /* (2L): W_0, b_0, W_1, b_1... */
	int cap;           /* samples the activations have room for */
	float *h, *a;      /* device: (L+1, cap, W) inputs of each layer; (L, cap, W) relu(z) */
	float *y, *g, *dz; /* device: (cap, W) targets, dloss/dh, dloss/dz */
	double *loss;      /* device: one double */
	float *hx, *hy;    /* host: a batch's inputs and targets (cap, W) */
};

static void check(lt_ctx *ctx, const char *what, const char *err)
{
	if (err)
		lt_fatal(ctx, WHO ": %s: %s", what, err);
}

static float *at(const struct wide *m, float *base, int l)
{
	return base + (size_t)l * m->cap * m->o.W;
}

static void release(struct wide *m)
{
	wide_dev_free(m->h), wide_dev_free(m->a), wide_dev_free(m->y);
	wide_dev_free(m->g), wide_dev_free(m->dz), wide_dev_free(m->loss);
	free(m->hx), free(m->hy);
	m->h = m->a = m->y = m->g = m->dz = m->hx = m->hy = NULL;
	m->loss = NULL;
}

/* Room for B samples' activations; out of memory ends the rank. */
static void reserve(lt_ctx *ctx, struct wide *m, int B)
{
	const long long row = (long long)B * m->o.W;

	if (B <= m->cap)
		return;
	release(m);
	m->cap = B;
	m->h = wide_dev_alloc(row * (m->o.L + 1));
	m->a = wide_dev_alloc(row * m->o.L);
	m->y = wide_dev_alloc(row);
	m->g = wide_dev_alloc(row);
	m->dz = wide_dev_alloc(row);
	m->loss = (double *)wide_dev_alloc(2);
	m->hx = malloc((size_t)row * sizeof(float));
	m->hy = malloc((size_t)row * sizeof(float));
	if (!m->h || !m->a || !m->y || !m->g || !m->dz || !m->loss || !m->hx || !m->hy)
		lt_fatal(ctx, WHO ": out of memory for the activations of a batch of %d (%lld MiB of GPU memory); hint: a smaller --batch-size",
			 B, row * (2 * m->o.L + 4) * 4 >> 20);
}

static int wide_init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct wide *m = calloc(1, sizeof(*m));

	if (!m)
		lt_fatal(ctx, WHO ": out of memory");
	wide_parse(ctx, WHO, argc, argv, &m->o);
	if (lt_device(ctx).kind != LT_DEVICE_CUDA)
		lt_fatal(ctx, WHO ": runs on a GPU: give ltrun --accelerator cuda (examples/wide is the cpu's)");
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, WHO ": computes in f32: run with --precision 32-true");
	if (m->o.dump)
		lt_fatal(ctx, WHO ": --dump is examples/wide's (the cpu's): the parameters are in GPU memory here");
	void *stream = NULL;

	check(ctx, "the GPU", wide_dev_use(lt_device(ctx).index, &stream));
	/* ltrun orders its device work after this model's stream */
	lt_set_stream(ctx, stream);
	m->alpha = 1.0f / (float)m->o.L;
	m->param = calloc(2 * (size_t)m->o.L, sizeof(*m->param));
	if (!m->param)
		lt_fatal(ctx, WHO ": out of memory");
	for (int l = 0; l < m->o.L; l++) {
		char w[32], b[32];

		wide_param_names(w, b, sizeof(w), l);
		m->param[2 * l] = lt_param(ctx, w, LT_SHAPE(m->o.W, m->o.W), LT_KAIMING_UNIFORM);
		m->param[2 * l + 1] = lt_param(ctx, b, LT_SHAPE(m->o.W), LT_ZEROS);
	}
	if (lt_rank(ctx) == 0) {
		long long n = (long long)m->o.L * ((long long)m->o.W * m->o.W + m->o.W);

		printf(WHO ": %d layers of width %d, %lld parameters (%.1f MiB of f32 on GPU %d)\n",
		       m->o.L, m->o.W, n, (double)n * 4 / (1 << 20), lt_device(ctx).index);
		fflush(stdout);
	}
	*self = m;
	return 0;
}

static int64_t wide_num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	const struct wide *m = self;

	(void)ctx;
	return split == LT_TRAIN ? m->o.samples : 0;
}

/* Forward, the loss, and backward of it (each layer's gradients marked
 * ready as they are complete), queued; then the loss read back. */
static int wide_train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct wide *m = self;
	const int B = batch->size, W = m->o.W, L = m->o.L;
	const long long n = (long long)B * W;

	reserve(ctx, m, B);
	wide_make_batch(m->hx, m->hy, batch->index, B, W);
	check(ctx, "copying a batch in", wide_dev_upload(at(m, m->h, 0), m->hx, n));
	check(ctx, "copying a batch in", wide_dev_upload(m->y, m->hy, n));
	for (int l = 0; l < L; l++)
		check(ctx, "forward",
		      wide_dev_layer_forward(at(m, m->h, l + 1), at(m, m->a, l), at(m, m->h, l),
					     lt_data(m->param[2 * l]), lt_data(m->param[2 * l + 1]),
					     B, W, m->alpha));
	check(ctx, "the loss", wide_dev_loss(m->loss, m->g, at(m, m->h, L), m->y, n,
					     lt_loss_scale(ctx) / (float)n));
	for (int l = L - 1; l >= 0; l--) {
		lt_tensor *w = m->param[2 * l], *b = m->param[2 * l + 1];

		check(ctx, "backward",
		      wide_dev_layer_backward(m->g, m->dz, lt_grad(w), lt_grad(b), at(m, m->a, l),
					      at(m, m->h, l), lt_data(w), B, W, m->alpha));
		lt_grad_ready(ctx, w);
		lt_grad_ready(ctx, b);
	}
	check(ctx, "reading the loss", wide_dev_read(loss, m->loss));
	*loss /= (double)n;
	return 0;
}

static void wide_fini(lt_ctx *ctx, void *self)
{
	struct wide *m = self;

	(void)ctx;
	release(m);
	free(m->param);
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
