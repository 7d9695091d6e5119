/*
 * bf16_sr.c - an example precision plugin, `bf16-sr`: bf16 compute from
 * f32 master weights, like the built-in bf16-mixed, but the bf16 view is
 * made by stochastic rounding (Gupta et al., 2015) rather than rounding
 * to nearest: a value between two bf16 numbers rounds up with probability
 * equal to its distance from the lower one, so the view is an unbiased
 * estimate of the master weight and updates smaller than half a bf16 ulp
 * still move the model it computes with, on average.
 *
 * The random bits come from a counter-based generator seeded by the
 * parameter's index, the optimizer step and the plugin's `seed`
 * parameter, so every rank makes the same view, and a resumed run makes
 * the views the uninterrupted run made.
 *
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) -o bf16_sr.so bf16_sr.c
 *   ltrun --plugin ./bf16_sr.so --precision bf16-sr model.so
 *   ltrun --plugin ./bf16_sr.so --precision bf16-sr:seed=7 model.so
 */
#include <stdint.h>

#include "ltrun/precision.h"

/* SplitMix64's finaliser: a good 64-bit mix of a counter. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* x rounded to bf16 up or down, with r (16 random bits) deciding. */
static uint16_t round_stochastic(float x, uint32_t r)
{
	uint32_t bits = lt_bits_of_f32_(x);

	if ((bits & 0x7f800000) == 0x7f800000) /* inf and NaN: as usual */
		return lt_f32_to_bf16(x);
	/* Adding r below the kept 16 bits carries into them with probability
	 * (dropped bits) / 2^16: rounding away from zero in proportion. */
	bits += r & 0xffffu;
	if ((bits & 0x7f800000) == 0x7f800000) /* rounded past the largest */
		return lt_f32_to_bf16(x);
	return (uint16_t)(bits >> 16);
}

static int sr_to_compute(const struct lt_precision_view *v, void *dst, const float *src,
			 size_t n, struct lt_err *err)
{
	uint16_t *out = dst;
	uint64_t key = mix64((uint64_t)lt_params_int(v->params, "seed") ^
			     mix64(((uint64_t)v->index << 40) ^ (uint64_t)v->step));

	uint64_t r = 0;

	(void)err;
	/* element j of the parameter draws 16 bits of block j / 4, whatever
	 * slice [first, first + n) is converted */
	for (size_t i = 0; i < n; i++) {
		size_t j = v->first + i;

		if (i == 0 || j % 4 == 0)
			r = mix64(key + (j - j % 4));
		out[i] = round_stochastic(src[i], (uint32_t)(r >> (16 * (j % 4))));
	}
	return 0;
}

static const struct lt_precision_ops sr_ops = {
	.compute = LT_BF16,
	.state = LT_F32,
	.mixed = true,
	.scaler = false,
	.to_compute = sr_to_compute,
};

static const struct lt_param_spec sr_params[] = {
	{ .name = "seed", .type = LT_PARAM_INT, .default_value = "0", .min = 0, .max = 1e15,
	  .help = "seeds the rounding (the same on every rank)" },
	{ .name = NULL },
};

static const struct lt_plugin sr_plugin = {
	.kind = LT_KIND_PRECISION,
	.name = "bf16-sr",
	.description = "f32 master weights, bf16 compute made from them by stochastic rounding.",
	.recommended_when = "bf16 compute whose view should be unbiased (example plugin)",
	.params = sr_params,
	.ops = &sr_ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &sr_plugin, err);
}
