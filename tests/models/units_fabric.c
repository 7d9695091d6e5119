/*
 * units_fabric.c - a Fabric-mode model with a unit, for the tests of
 * units (tests/integration/test_units.c): one linear layer ("fc.weight"
 * 4 x 8, "fc.bias" 4) made a unit, three steps of half the sum of
 * squares of its parameters, each pass bracketed.
 *
 *   ltrun [...] units_fabric.so -- [--late-new]
 *
 *   --late-new  after the first lt_unit_begin (which places the
 *               parameters, as lt_sync_grads would), make another unit:
 *               it must end the rank
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <string.h>

#define WHO "units_fabric"

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	enum lt_dtype dt = lt_dtype(ctx);
	int late_new = argc > 1 && !strcmp(argv[1], "--late-new");
	lt_tensor *p[2];
	lt_unit *fc;

	require_cpu(ctx, WHO);
	p[0] = lt_param(ctx, "fc.weight", LT_SHAPE(4, 8), LT_KAIMING_UNIFORM);
	p[1] = lt_param(ctx, "fc.bias", LT_SHAPE(4), LT_UNIFORM(-0.1, 0.1));
	fc = lt_unit_new(ctx, "fc", p[0], p[1]);
	for (int step = 0; step < 3; step++) {
		double seen[36];
		int n = 0;

		lt_unit_begin(ctx, fc, LT_FORWARD);
		if (late_new)
			lt_unit_new(ctx, "late", p[1], p[1]);
		for (int k = 0; k < 2; k++)
			for (int64_t i = 0; i < lt_numel(p[k]); i++)
				seen[n++] = load(lt_data(p[k]), dt, (size_t)i);
		lt_unit_end(ctx, fc, LT_FORWARD);
		/* backward: d (sum p^2 / 2) / d p = p */
		lt_unit_begin(ctx, fc, LT_BACKWARD);
		n = 0;
		for (int k = 0; k < 2; k++)
			for (int64_t i = 0; i < lt_numel(p[k]); i++)
				store_add(lt_grad(p[k]), dt, (size_t)i, seen[n++] * lt_loss_scale(ctx));
		lt_unit_end(ctx, fc, LT_BACKWARD);
		lt_sync_grads(ctx);
		lt_optimizer_step(ctx);
	}
	return 0;
}
