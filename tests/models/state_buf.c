/*
 * state_buf.c - a Trainer-mode model for the tests of buffers, the
 * model's own state and --check-replicas: a parameter w (4 elements,
 * 32-true) pulled towards each sample's features, and three buffers the
 * model updates in every train_step:
 *
 *   ema       f64 (3) BROADCAST  ema = 0.9 ema + 0.1 sin(step (j + 1)):
 *                                the same on every rank
 *   avg.rank  f64 (1) AVERAGE    += this rank's number, then averaged:
 *                                0.5 per step on 2 ranks
 *   count     i64 (1) BROADCAST  starts at 7, += 1 per micro-batch
 *
 * and two blobs of its own state, saved with on_save and restored by
 * on_load: "rng" (an xorshift state advanced every micro-batch) and
 * "calls" (train_step calls on this rank, resumed from rank 0's).
 *
 *   ltrun [...] state_buf.so -- [--samples N] [--dump PATH] [--rank-init]
 *         [--perturb-step S] [--perturb-buffer S] [--bad-key] [--extra-buffer]
 *         [--dup-name] [--grad-of-buffer]
 *
 *   --dump PATH         every rank writes PATH.<rank> at the end: w, the
 *                       buffers and the blobs, exactly (%a)
 *   --rank-init         each rank writes values of its own into the
 *                       buffers in init (rank 0's must win)
 *   --perturb-step S    rank 1 adds 1e-3 to w[0] in train_step of step S
 *   --perturb-buffer S  rank 1 adds 1 to ema[0] in train_step of step S
 *   --bad-key           on_save puts a key with a space
 *   --extra-buffer      registers one more buffer, "extra"
 *   --dup-name          registers a buffer named as the parameter "w"
 *   --grad-of-buffer    asks lt_grad() of a buffer
 */
#include <ltrun.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 4 };

struct model {
	int64_t samples;
	const char *dump;
	int64_t perturb_step, perturb_buffer;
	int bad_key;
	lt_tensor *w, *ema, *avg, *count, *extra;
	uint64_t rng;
	int64_t calls;
};

/* A deterministic value in [-1, 1] from (sample, feature). */
static float feature(int64_t sample, int j)
{
	return (float)((sample * 31 + j * 7) % 17) / 8.0f - 1.0f;
}

static int flag(const char *arg, const char *name, int *out)
{
	if (strcmp(arg, name))
		return 0;
	*out = 1;
	return 1;
}

static int init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct model *m = calloc(1, sizeof(*m));
	int rank_init = 0, extra = 0, dup = 0, grad_of_buffer = 0;

	if (!m)
		lt_fatal(ctx, "state_buf: out of memory");
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "state_buf: runs under --precision 32-true only");
	m->samples = 64;
	m->perturb_step = m->perturb_buffer = -1;
	m->rng = 0x243F6A8885A308D3ull;
	for (int i = 1; i < argc; i++) {
		if (flag(argv[i], "--rank-init", &rank_init) || flag(argv[i], "--bad-key", &m->bad_key) ||
		    flag(argv[i], "--extra-buffer", &extra) || flag(argv[i], "--dup-name", &dup) ||
		    flag(argv[i], "--grad-of-buffer", &grad_of_buffer))
			continue;
		if (i + 1 >= argc)
			lt_fatal(ctx, "state_buf: option '%s' needs a value", argv[i]);
		if (!strcmp(argv[i], "--samples"))
			m->samples = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--dump"))
			m->dump = argv[++i];
		else if (!strcmp(argv[i], "--perturb-step"))
			m->perturb_step = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--perturb-buffer"))
			m->perturb_buffer = atoll(argv[++i]);
		else
			lt_fatal(ctx, "state_buf: unknown option '%s'", argv[i]);
	}
	m->w = lt_param(ctx, "w", LT_SHAPE(DIM), LT_UNIFORM(-1, 1));
	m->ema = lt_buffer(ctx, "ema", LT_SHAPE(3), LT_F64, LT_NORMAL(0, 1), LT_BUFFER_BROADCAST);
	m->avg = lt_buffer(ctx, "avg.rank", LT_SHAPE(1), LT_F64, LT_ZEROS, LT_BUFFER_AVERAGE);
	m->count = lt_buffer(ctx, "count", LT_SHAPE(1), LT_I64, LT_CONSTANT(7), LT_BUFFER_BROADCAST);
	if (extra)
		m->extra = lt_buffer(ctx, "extra", LT_SHAPE(2), LT_F32, LT_ZEROS, LT_BUFFER_BROADCAST);
	if (dup)
		lt_buffer(ctx, "w", LT_SHAPE(1), LT_F32, LT_ZEROS, LT_BUFFER_BROADCAST);
	if (grad_of_buffer)
		(void)lt_grad(m->ema);
	if (lt_tensor_dtype(m->count) != LT_I64 || lt_tensor_dtype(m->w) != LT_F32 ||
	    lt_tensor_shape(m->ema).ndim != 1 || lt_tensor_shape(m->ema).dim[0] != 3)
		lt_fatal(ctx, "state_buf: lt_tensor_dtype/lt_tensor_shape are wrong");
	if (rank_init) {
		((double *)lt_data(m->ema))[0] += 100.0 * lt_rank(ctx);
		((double *)lt_data(m->avg))[0] = 10.0 * lt_rank(ctx);
		((int64_t *)lt_data(m->count))[0] += 1000 * lt_rank(ctx);
	}
	*self = m;
	return 0;
}

static int64_t num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	return split == LT_TRAIN ? ((struct model *)self)->samples : 0;
}

static int train_step(lt_ctx *ctx, void *self, const struct lt_batch *b, double *loss)
{
	struct model *m = self;
	float *w = lt_data(m->w), *g = lt_grad(m->w);
	double *ema = lt_data(m->ema), sum = 0.0;
	double scale = (double)lt_loss_scale(ctx) / b->size;

	for (int s = 0; s < b->size; s++)
		for (int j = 0; j < DIM; j++) {
			double d = w[j] - feature(b->index[s], j);

			sum += 0.5 * d * d;
			g[j] += (float)(scale * d);
		}
	*loss = sum / b->size;
	for (int j = 0; j < 3; j++)
		ema[j] = 0.9 * ema[j] + 0.1 * sin((double)b->step * (j + 1));
	((double *)lt_data(m->avg))[0] += lt_rank(ctx);
	((int64_t *)lt_data(m->count))[0] += 1;
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	m->calls++;
	if (lt_rank(ctx) == 1 && b->step == m->perturb_step)
		w[0] += 1e-3f;
	if (lt_rank(ctx) == 1 && b->step == m->perturb_buffer)
		ema[0] += 1.0;
	return 0;
}

static int on_save(lt_ctx *ctx, void *self, lt_state *st)
{
	struct model *m = self;

	(void)ctx;
	lt_state_put(st, "rng", &m->rng, sizeof(m->rng));
	lt_state_put(st, "calls", &m->calls, sizeof(m->calls));
	lt_state_put(st, "calls", &m->calls, sizeof(m->calls)); /* twice: the last is kept */
	lt_state_put(st, "note.txt", "state_buf", 9);
	if (m->bad_key)
		lt_state_put(st, "bad key", "x", 1);
	return 0;
}

static int on_load(lt_ctx *ctx, void *self, lt_state *st)
{
	struct model *m = self;
	size_t size = 0;
	const void *rng = lt_state_get(st, "rng", &size);

	if (!rng || size != sizeof(m->rng))
		lt_fatal(ctx, "state_buf: the checkpoint has no 'rng' of 8 bytes (%zu)", size);
	memcpy(&m->rng, rng, sizeof(m->rng));
	memcpy(&m->calls, lt_state_get(st, "calls", NULL), sizeof(m->calls));
	if (lt_state_get(st, "absent", &size) || size != 0)
		lt_fatal(ctx, "state_buf: lt_state_get of an absent key is not NULL");
	if (!lt_state_get(st, "note.txt", &size) || size != 9)
		lt_fatal(ctx, "state_buf: 'note.txt' lost");
	return 0;
}

static void fini(lt_ctx *ctx, void *self)
{
	struct model *m = self;
	char path[4096];
	FILE *f;

	if (m->dump) {
		snprintf(path, sizeof(path), "%s.%d", m->dump, lt_rank(ctx));
		if (!(f = fopen(path, "w")))
			lt_fatal(ctx, "state_buf: cannot write '%s'", path);
		for (int j = 0; j < DIM; j++)
			fprintf(f, "w %d %a\n", j, (double)((float *)lt_data(m->w))[j]);
		for (int j = 0; j < 3; j++)
			fprintf(f, "ema %d %a\n", j, ((double *)lt_data(m->ema))[j]);
		fprintf(f, "avg.rank %a\n", ((double *)lt_data(m->avg))[0]);
		fprintf(f, "count %lld\n", (long long)((int64_t *)lt_data(m->count))[0]);
		fprintf(f, "rng %llx\ncalls %lld\n", (unsigned long long)m->rng, (long long)m->calls);
		fclose(f);
	}
	free(m);
}

static const struct lt_module module = {
	.size = sizeof(struct lt_module),
	.name = "state_buf",
	.init = init,
	.num_samples = num_samples,
	.train_step = train_step,
	.on_save = on_save,
	.on_load = on_load,
	.fini = fini,
};

const struct lt_module *lt_module_v1(void)
{
	return &module;
}
