/*
 * fp16_compress_ddp.c - an example strategy plugin: DDP whose gradients
 * travel as f16, like torch's fp16_compress_hook.  Under 32-true each
 * bucket's f32 gradients are converted to f16, all-reduced (half the
 * bytes), and converted back; everything else (placement, the optimizer
 * step, checkpoints) is the replicated default of <ltrun/strategy.h>.
 *
 * Build it on its own, against nothing but the public headers:
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) fp16_compress_ddp.c -o fp16_compress_ddp.so
 *
 * and run a model through it:
 *
 *   ltrun --plugin ./fp16_compress_ddp.so --strategy fp16_compress_ddp --devices 4 model.so
 *   ltrun --plugin ./fp16_compress_ddp.so --strategy fp16_compress_ddp:bucket_mb=1 ...
 *
 * At the end rank 0 says on stderr how many gradient bytes it sent and
 * how many plain ddp would have sent.
 *
 * The strategy writes five ops: init (its state), setup (the buckets,
 * then the default's setup: rank 0's values to every rank), grad_ready
 * (a bucket starts as soon as its last gradient is complete, in order, so
 * that every rank starts the same sequence), sync (start the rest, wait,
 * convert back) and teardown.  The f16 sum is the average because ltrun
 * scales every rank's loss by 1/world_size.  Like the hook, it trades
 * precision for bytes: gradients below f16's 6e-8 become 0.
 */
#include <ltrun/strategy.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fp16_compress_ddp"

struct bucket {
	size_t first, last; /* parameter indices, first <= last */
	size_t pending;     /* parameters not ready yet */
	size_t numel;
	uint16_t *half;     /* the f16 gradients that travel */
	lt_work *work;      /* in flight, or NULL */
};

struct state {
	struct bucket *b;
	size_t nb, next;         /* buckets; the first not started yet */
	size_t *bucket_of;       /* per parameter */
	unsigned char *ready;    /* per parameter, this step */
	unsigned long long sent; /* bytes all-reduced (f16) */
	unsigned long long plain; /* what ddp would have all-reduced (f32) */
};

/* --- f32 <-> f16, rounding to nearest even --- */

static uint16_t to_half(float f)
{
	uint32_t x, sign, mant;
	int32_t exp;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000u;
	exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
	mant = x & 0x7fffffu;
	if (((x >> 23) & 0xff) == 0xff) /* inf, NaN */
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (exp <= 0) { /* subnormal or zero */
		uint32_t m, shift, half, rest;

		if (exp < -10)
			return (uint16_t)sign;
		m = mant | 0x800000u;
		shift = (uint32_t)(14 - exp);
		half = 1u << (shift - 1);
		rest = m & ((1u << shift) - 1);
		m >>= shift;
		if (rest > half || (rest == half && (m & 1)))
			m++;
		return (uint16_t)(sign | m);
	}
	{
		uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13), rest = mant & 0x1fffu;

		if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
			h++; /* may carry into the exponent: still right */
		return (uint16_t)h;
	}
}

static float from_half(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
	uint32_t x;
	float f;

	if (exp == 0x1f) {
		x = sign | 0x7f800000u | (mant << 13);
	} else if (exp) {
		x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	} else if (mant) { /* subnormal: mant x 2^-24 */
		f = (float)mant * (1.0f / 16777216.0f);
		return sign ? -f : f;
	} else {
		x = sign;
	}
	memcpy(&f, &x, sizeof(f));
	return f;
}

/* --- the ops --- */

static int fp16_init(lt_ctx *ctx, void **state, const struct lt_params *p, struct lt_err *err)
{
	(void)p;
	if (lt_dtype(ctx) != LT_F32)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "compresses f32 gradients, but this run's are %s: use --precision 32-true, or --strategy ddp",
				  lt_dtype(ctx) == LT_F16 ? "f16" : lt_dtype(ctx) == LT_BF16 ? "bf16" : "not f32");
	*state = calloc(1, sizeof(struct state));
	return *state ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
}

/* Buckets of about cap bytes of f32 gradient, last parameter first (the
 * order backward completes them). */
static int cut(lt_ctx *ctx, struct state *s, size_t cap, struct lt_err *err)
{
	size_t n = lt_num_params(ctx), i, bytes = 0;

	s->b = calloc(n ? n : 1, sizeof(*s->b));
	s->bucket_of = calloc(n ? n : 1, sizeof(*s->bucket_of));
	s->ready = calloc(n ? n : 1, 1);
	if (!s->b || !s->bucket_of || !s->ready)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu buckets", n);
	for (i = n; i-- > 0;) {
		size_t numel = (size_t)lt_numel(lt_param_at(ctx, i));
		struct bucket *b = s->nb ? &s->b[s->nb - 1] : NULL;

		if (!b || bytes + numel * sizeof(float) > cap) {
			b = &s->b[s->nb++];
			b->last = i;
			bytes = 0;
		}
		b->first = i;
		b->numel += numel;
		bytes += numel * sizeof(float);
		s->bucket_of[i] = (size_t)(b - s->b);
	}
	for (i = 0; i < s->nb; i++) {
		struct bucket *b = &s->b[i];

		b->pending = b->last - b->first + 1;
		b->half = malloc(b->numel * sizeof(uint16_t));
		if (!b->half)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for a bucket of %zu gradients",
					  b->numel);
	}
	return 0;
}

static int fp16_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		      struct lt_strategy_layout *layout, struct lt_err *err)
{
	size_t cap = (size_t)(lt_params_float(p, "bucket_mb") * 1048576.0);

	if (cut(ctx, state, cap < 4096 ? 4096 : cap, err))
		return -1;
	/* every rank starts from rank 0's values */
	return lt_strategy_default()->setup(ctx, NULL, p, layout, err);
}

/* Compresses bucket b and starts its all-reduce. */
static int launch(lt_ctx *ctx, struct state *s, struct bucket *b, struct lt_err *err)
{
	size_t k = 0;

	/* the conversion reads what the device wrote */
	if (lt_accel_sync(ctx, err))
		return -1;
	for (size_t i = b->first; i <= b->last; i++) {
		lt_tensor *t = lt_param_at(ctx, i);
		const float *g = lt_grad(t);
		size_t n = (size_t)lt_numel(t);

		for (size_t j = 0; j < n; j++)
			b->half[k + j] = to_half(g[j]);
		k += n;
	}
	b->work = lt_all_reduce_async(ctx, b->half, b->numel, LT_F16, LT_SUM);
	s->sent += b->numel * sizeof(uint16_t);
	s->plain += b->numel * sizeof(float);
	return 0;
}

/* Starts every complete bucket that all earlier ones precede. */
static int launch_ready(lt_ctx *ctx, struct state *s, struct lt_err *err)
{
	while (s->next < s->nb && !s->b[s->next].pending) {
		if (launch(ctx, s, &s->b[s->next], err))
			return -1;
		s->next++;
	}
	return 0;
}

static int fp16_grad_ready(lt_ctx *ctx, void *state, const struct lt_params *p, lt_tensor *t,
			   struct lt_err *err)
{
	struct state *s = state;
	size_t i;

	(void)p;
	/* the model's tensor: find its index (parameters are few) */
	for (i = 0; i < lt_num_params(ctx) && lt_param_at(ctx, i) != t; i++)
		;
	if (i == lt_num_params(ctx) || s->ready[i])
		return 0;
	s->ready[i] = 1;
	s->b[s->bucket_of[i]].pending--;
	return launch_ready(ctx, s, err);
}

/* Waits for b and writes the averaged gradients back as f32. */
static void finish(lt_ctx *ctx, struct bucket *b)
{
	size_t k = 0;

	lt_wait(ctx, b->work);
	b->work = NULL;
	for (size_t i = b->first; i <= b->last; i++) {
		lt_tensor *t = lt_param_at(ctx, i);
		float *g = lt_grad(t);
		size_t n = (size_t)lt_numel(t);

		for (size_t j = 0; j < n; j++)
			g[j] = from_half(b->half[k + j]);
		k += n;
	}
}

static int fp16_sync(lt_ctx *ctx, void *state, const struct lt_params *p, struct lt_err *err)
{
	struct state *s = state;
	size_t i;

	(void)p;
	for (i = 0; i < s->nb; i++)
		s->b[i].pending = 0;
	if (launch_ready(ctx, s, err))
		return -1;
	for (i = 0; i < s->nb; i++) {
		finish(ctx, &s->b[i]);
		s->b[i].pending = s->b[i].last - s->b[i].first + 1;
	}
	memset(s->ready, 0, lt_num_params(ctx));
	s->next = 0;
	return 0;
}

static void fp16_teardown(lt_ctx *ctx, void *state, const struct lt_params *p)
{
	struct state *s = state;

	(void)p;
	if (!s)
		return;
	if (lt_rank(ctx) == 0 && s->plain)
		fprintf(stderr, NAME ": rank 0 sent %llu bytes of gradients as f16 where ddp sends %llu as f32 (%.1f%% saved)\n",
			s->sent, s->plain, 100.0 * (1.0 - (double)s->sent / (double)s->plain));
	for (size_t i = 0; i < s->nb; i++)
		free(s->b[i].half);
	free(s->b);
	free(s->bucket_of);
	free(s->ready);
	free(s);
}

/* --- registration --- */

static const struct lt_strategy_ops ops = {
	.launcher = "exec",
	.multi_rank = true,
	.init = fp16_init,
	.setup = fp16_setup,
	.grad_ready = fp16_grad_ready,
	.sync = fp16_sync,
	.teardown = fp16_teardown,
};

static const struct lt_param_spec params[] = {
	{ .name = "bucket_mb", .type = LT_PARAM_FLOAT, .default_value = "25", .min = 0.001,
	  .max = 65536, .help = "f32 gradient bytes per bucket, in MiB" },
	{ .name = NULL },
};

static const struct lt_plugin plugins[] = {
	{
		.kind = LT_KIND_STRATEGY,
		.name = NAME,
		.description = "ddp whose gradients travel as f16 (torch's fp16_compress_hook): half the bytes, f16's precision.",
		.recommended_when = "32-true training limited by the network between the ranks",
		.params = params,
		.ops = &ops,
	},
	{
		.kind = LT_KIND_STRATEGY,
		.name = NAME "_small",
		.description = "fp16_compress_ddp with 10 KiB buckets: many small all-reduces that overlap backward.",
		.recommended_when = "small models, or to test the overlap",
		.alias_of = NAME,
		.preset = "bucket_mb=0.01",
	},
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		if (lt_registry_add(reg, &plugins[i], err))
			return -1;
	return 0;
}
