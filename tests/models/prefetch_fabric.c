/*
 * prefetch_fabric.c - a Fabric-mode model whose units have a forward
 * bracket only, for zero's reshard_after_forward=false
 * (tests/integration/test_prefetch.c): three units "f0".."f2" of one
 * 1024-element weight each; six steps of the loss sum_k sum_i
 * (p_k[i] - c_k[i])^2 / 2 for fixed targets c_k, the values read in
 * forward (bracketed) and the gradient written from them with no
 * backward bracket, so a unit kept after its forward is released only by
 * the step.
 *
 *   ltrun [...] prefetch_fabric.so -- [--dump PATH]
 *
 *   --dump PATH  rank 0 writes every parameter at the end (params.h's
 *                text dump)
 */
#include <ltrun.h>

#include "../../examples/common/params.h"

#include <stdlib.h>
#include <string.h>

#define WHO "prefetch_fabric"

enum { K = 3, N = 1024, STEPS = 6 };

static double goal(int k, int i)
{
	return (double)(mix64((uint64_t)(k * N + i)) >> 11) / (double)(1ull << 53) - 0.5;
}

/* The gradient of unit k from its values, read inside its forward. */
static void step_unit(lt_ctx *ctx, lt_tensor *p, lt_unit *u, int k, double *g)
{
	enum lt_dtype dt = lt_dtype(ctx);

	lt_unit_begin(ctx, u, LT_FORWARD);
	for (int i = 0; i < N; i++)
		g[i] = (load(lt_data(p), dt, (size_t)i) - goal(k, i)) * lt_loss_scale(ctx);
	lt_unit_end(ctx, u, LT_FORWARD);
	for (int i = 0; i < N; i++)
		store_add(lt_grad(p), dt, (size_t)i, g[i]);
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	const char *dump = argc == 3 && !strcmp(argv[1], "--dump") ? argv[2] : NULL;
	lt_tensor *p[K];
	lt_unit *u[K];
	static double g[N];
	char name[16];

	require_cpu(ctx, WHO);
	if (argc != 1 && !dump)
		lt_fatal(ctx, WHO ": takes --dump PATH or nothing");
	for (int k = 0; k < K; k++) {
		snprintf(name, sizeof(name), "f%d.weight", k);
		p[k] = lt_param(ctx, name, LT_SHAPE(N), LT_UNIFORM(-1, 1));
		snprintf(name, sizeof(name), "f%d", k);
		u[k] = lt_unit_new(ctx, name, p[k], p[k]);
	}
	for (int s = 0; s < STEPS; s++) {
		for (int k = 0; k < K; k++)
			step_unit(ctx, p[k], u[k], k, g);
		lt_sync_grads(ctx);
		lt_optimizer_step(ctx);
	}
	if (dump) {
		/* the gathering is collective: every rank begins the units */
		for (int k = 0; k < K; k++)
			lt_unit_begin(ctx, u[k], LT_FORWARD);
		dump_params(ctx, WHO, dump, p, K);
		for (int k = 0; k < K; k++)
			lt_unit_end(ctx, u[k], LT_FORWARD);
	}
	return 0;
}
