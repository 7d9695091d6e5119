/*
 * optim_fabric.c - a Fabric-mode test model for optimizer groups and the
 * run's facts (tests/integration/test_optim_groups.c): optim_grad.h's
 * parameters, trained for --steps optimizer steps with optim_grad.h's
 * gradient (times lt_loss_scale()).  Rank 0 prints "optim_fabric
 * total=T micro=M accumulate=A" first and every parameter at the end
 * ("optim_param NAME INDEX VALUE").
 *
 *   --steps N          optimizer steps (default 3)
 *   --no-decay NAME    lt_param_weight_decay(NAME, 0), NAME w or b
 *   --samples-per-rank ask lt_samples_per_rank(), which Fabric mode has not
 *   --late-group       lt_param_weight_decay(b, 0) after the first step
 *   --bad-scale X      lt_param_lr_scale(w, X) before the first step
 */
#include <ltrun.h>

#include "optim_grad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void step(lt_ctx *ctx, lt_tensor *w, lt_tensor *b, int64_t s)
{
	float *gw = lt_grad(w), *gb = lt_grad(b);
	double scale = lt_loss_scale(ctx);

	for (int k = 0; k < OPTIM_W; k++)
		gw[k] += (float)(optim_grad(s, k) * scale);
	for (int k = 0; k < OPTIM_ROWS; k++)
		gb[k] += (float)(optim_grad(s, OPTIM_W + k) * scale);
	lt_sync_grads(ctx);
	lt_optimizer_step(ctx);
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	lt_tensor *w = lt_param(ctx, "w", LT_SHAPE(OPTIM_ROWS, OPTIM_COLS), LT_CONSTANT(OPTIM_W0));
	lt_tensor *b = lt_param(ctx, "b", LT_SHAPE(OPTIM_ROWS), LT_CONSTANT(OPTIM_B0));
	int64_t steps = 3;
	int late = 0;

	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "optim_fabric: runs in f32 only (--precision 32-true)");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			steps = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--no-decay") && i + 1 < argc)
			lt_param_weight_decay(ctx, !strcmp(argv[++i], "w") ? w : b, 0);
		else if (!strcmp(argv[i], "--bad-scale") && i + 1 < argc)
			lt_param_lr_scale(ctx, w, atof(argv[++i]));
		else if (!strcmp(argv[i], "--samples-per-rank"))
			lt_samples_per_rank(ctx, LT_TRAIN);
		else if (!strcmp(argv[i], "--late-group"))
			late = 1;
		else
			lt_fatal(ctx, "optim_fabric: unknown option '%s'", argv[i]);
	}
	if (lt_rank(ctx) == 0)
		printf("optim_fabric total=%lld micro=%d accumulate=%d\n",
		       (long long)lt_total_steps(ctx), lt_micro_batch_size(ctx), lt_accumulate(ctx));
	fflush(stdout);
	for (int64_t s = 0; s < steps; s++) {
		step(ctx, w, b, s);
		if (late)
			lt_param_weight_decay(ctx, b, 0);
	}
	if (lt_rank(ctx) == 0)
		optim_print(lt_data(w), lt_data(b));
	return 0;
}
