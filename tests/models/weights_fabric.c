/*
 * weights_fabric.c - a Fabric-mode model for the given-weights tests
 * (tests/integration/test_init_weights.c): the parameters of linreg.c and
 * weights_set.c ("linear.weight" 4 x 8, "linear.bias" 4), one backward
 * pass of half their sum of squares, one lt_sync_grads(), and a dump of
 * the values the pass saw.
 *
 *   ltrun [--init-weights FILE] [...] weights_fabric.so -- [--place-first]
 *         [--dump PATH]
 *
 *   --place-first  lt_sync_grads() once right after registering the
 *                  parameters, so that they are placed (and take the
 *                  --init-weights values) before the first forward
 *   --dump PATH    every rank writes PATH.<rank> after the step: the
 *                  values the forward read, as raw f32
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO "weights_fabric"

static void dump(lt_ctx *ctx, const char *dump_path, const float *v, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%d", dump_path, lt_rank(ctx));
	if (!(f = fopen(path, "wb")))
		lt_fatal(ctx, WHO ": cannot write '%s'", path);
	fwrite(v, sizeof(float), n, f);
	if (ferror(f) | fclose(f))
		lt_fatal(ctx, WHO ": cannot write '%s'", path);
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	const char *dump_path = NULL;
	enum lt_dtype dt = lt_dtype(ctx);
	int place_first = 0, n = 0;
	lt_tensor *p[2];
	float seen[36];

	require_cpu(ctx, WHO);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--place-first"))
			place_first = 1;
		else if (!strcmp(argv[i], "--dump"))
			dump_path = opt_value(ctx, WHO, argc, argv, &i);
		else
			lt_fatal(ctx, WHO ": unknown option '%s'", argv[i]);
	}
	p[0] = lt_param(ctx, "linear.weight", LT_SHAPE(4, 8), LT_KAIMING_UNIFORM);
	p[1] = lt_param(ctx, "linear.bias", LT_SHAPE(4), LT_UNIFORM(-0.1, 0.1));
	if (place_first)
		lt_sync_grads(ctx);
	/* forward and backward: d (sum p^2 / 2) / d p = p */
	for (int k = 0; k < 2; k++)
		for (int64_t i = 0; i < lt_numel(p[k]); i++) {
			double v = load(lt_data(p[k]), dt, (size_t)i);

			seen[n++] = (float)v;
			store_add(lt_grad(p[k]), dt, (size_t)i, v * lt_loss_scale(ctx));
		}
	lt_sync_grads(ctx);
	lt_optimizer_step(ctx);
	if (dump_path)
		dump(ctx, dump_path, seen, (size_t)n);
	return 0;
}
