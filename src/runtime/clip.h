/*
 * clip.h - the pieces of gradient clipping (--gradient-clip-val and
 * --gradient-clip-algorithm), as torch.nn.utils.clip_grad_norm_ and
 * clip_grad_value_ do it.  Norm clipping across ranks is
 *
 *	local = sum of lt_clip_sumsq() over this rank's gradient shards;
 *	all-reduce local (sum);  f = lt_clip_factor(sqrt(total), max_norm);
 *	if (f < 1) lt_clip_scale() every shard by f
 *
 * with the all-reduce left to the caller.
 */
#ifndef LT_RUNTIME_CLIP_H
#define LT_RUNTIME_CLIP_H

#include <stddef.h>

/* Sum of the squares of g[0..n), accumulated in double.  Cannot fail. */
double lt_clip_sumsq(const float *g, size_t n);
/* The factor that brings total_norm within max_norm:
 * min(1, max_norm / (total_norm + 1e-6)); 1 when total_norm is not finite
 * (the precision plugin skips such a step anyway). */
double lt_clip_factor(double total_norm, double max_norm);
/* g[i] *= factor. */
void lt_clip_scale(float *g, size_t n, float factor);
/* Clamps each g[i] to [-limit, limit]; a NaN stays NaN. */
void lt_clip_value(float *g, size_t n, float limit);

#endif
