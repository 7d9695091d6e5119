/*
 * state_fabric.c - a Fabric-mode model for the tests of lt_save() and
 * lt_resume(): a parameter w (4 elements, 32-true) pulled towards a
 * target that depends on the step, a buffer "seen" (i64, += 1 per step)
 * and a blob "pos" of its own (the next data position), all of which a
 * resumed run must continue bit for bit.
 *
 *   ltrun [--ckpt-dir D] [--resume last] state_fabric.so -- [--steps N]
 *         [--save-every K] [--dump PATH] [--no-resume 1]
 *
 *   --steps N        optimizer steps of the whole run (default 6)
 *   --save-every K   lt_save() after every K steps (0: never)
 *   --dump PATH      every rank writes PATH.<rank> at the end: w, seen,
 *                    pos and the step it resumed from
 *   --no-resume 1    never calls lt_resume()
 */
#include <ltrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 4 };

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	int64_t steps = 6, save_every = 0, pos = 1000, start, no_resume = 0;
	const char *dump = NULL;
	lt_tensor *w, *seen;
	lt_state *st;
	size_t size = 0;
	const void *saved;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--steps"))
			steps = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--save-every"))
			save_every = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--no-resume"))
			no_resume = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--dump"))
			dump = argv[i + 1];
		else
			lt_fatal(ctx, "state_fabric: unknown option '%s'", argv[i]);
	}
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "state_fabric: runs under --precision 32-true only");
	w = lt_param(ctx, "w", LT_SHAPE(DIM), LT_UNIFORM(-1, 1));
	seen = lt_buffer(ctx, "seen", LT_SHAPE(1), LT_I64, LT_ZEROS, LT_BUFFER_BROADCAST);
	st = lt_state_new(ctx);
	start = no_resume ? 0 : lt_resume(ctx, st);
	if ((saved = lt_state_get(st, "pos", &size)) && size == sizeof(pos))
		memcpy(&pos, saved, sizeof(pos));
	else if (start)
		lt_fatal(ctx, "state_fabric: resumed at step %lld without 'pos'", (long long)start);
	for (int64_t s = start; s < steps; s++) {
		float *v = lt_data(w), *g = lt_grad(w);

		for (int j = 0; j < DIM; j++)
			g[j] += lt_loss_scale(ctx) *
				(v[j] - (float)((pos * (j + 1) + lt_rank(ctx)) % 7) / 7.0f);
		lt_sync_grads(ctx);
		lt_optimizer_step(ctx);
		((int64_t *)lt_data(seen))[0]++;
		pos += 3;
		if (save_every > 0 && (s + 1) % save_every == 0) {
			lt_state_put(st, "pos", &pos, sizeof(pos));
			lt_save(ctx, st);
		}
	}
	if (dump) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s.%d", dump, lt_rank(ctx));
		if (!(f = fopen(path, "w")))
			lt_fatal(ctx, "state_fabric: cannot write '%s'", path);
		for (int j = 0; j < DIM; j++)
			fprintf(f, "w %d %a\n", j, (double)((float *)lt_data(w))[j]);
		fprintf(f, "seen %lld\npos %lld\n", (long long)((int64_t *)lt_data(seen))[0],
			(long long)pos);
		fclose(f);
	}
	if (lt_rank(ctx) == 0)
		printf("state_fabric resumed from step %lld\n", (long long)start);
	lt_state_free(st);
	return 0;
}
