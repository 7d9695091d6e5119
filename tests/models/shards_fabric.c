/*
 * shards_fabric.c - a Fabric-mode model for the sharded checkpoint tests
 * (test_ckpt_shards.c): three parameters of awkward sizes (a 7x5, b 3,
 * c 11: 49 elements, which no world size of 2-4 divides), a buffer
 * "seen" and a blob "pos", trained with lt_optimizer_step on gradients
 * that differ by rank.
 *
 *   ltrun ... shards_fabric.so -- [--steps N] [--save-every K] [--resave 1]
 *         [--dump PATH]
 *
 *   --steps N       optimizer steps of the whole run (default 6)
 *   --save-every K  lt_save() after every K steps (0: never)
 *   --resave 1      lt_save() at once after lt_resume(): the checkpoint
 *                   the resumed state makes, to compare with the one read
 *   --dump PATH     every rank writes PATH.<rank>: every value, in hex
 */
#include <ltrun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_pos(lt_state *st, int64_t pos)
{
	lt_state_put(st, "pos", &pos, sizeof(pos));
}

static void dump_values(lt_ctx *ctx, lt_tensor **p, int np, const char *dump)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%d", dump, lt_rank(ctx));
	if (!(f = fopen(path, "w")))
		lt_fatal(ctx, "shards_fabric: cannot write '%s'", path);
	for (int i = 0; i < np; i++)
		for (size_t j = 0; j < (size_t)lt_numel(p[i]); j++)
			fprintf(f, "%d %zu %a\n", i, j, (double)((float *)lt_data(p[i]))[j]);
	fclose(f);
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	int64_t steps = 6, save_every = 0, resave = 0, pos = 1000, start;
	const char *dump = NULL;
	lt_tensor *p[3], *seen;
	lt_state *st;
	size_t size = 0;
	const void *saved;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--steps"))
			steps = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--save-every"))
			save_every = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--resave"))
			resave = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--dump"))
			dump = argv[i + 1];
		else
			lt_fatal(ctx, "shards_fabric: unknown option '%s'", argv[i]);
	}
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, "shards_fabric: runs under --precision 32-true only");
	p[0] = lt_param(ctx, "a", LT_SHAPE(7, 5), LT_UNIFORM(-1, 1));
	p[1] = lt_param(ctx, "b", LT_SHAPE(3), LT_UNIFORM(-1, 1));
	p[2] = lt_param(ctx, "c", LT_SHAPE(11), LT_UNIFORM(-1, 1));
	seen = lt_buffer(ctx, "seen", LT_SHAPE(1), LT_I64, LT_ZEROS, LT_BUFFER_BROADCAST);
	st = lt_state_new(ctx);
	start = lt_resume(ctx, st);
	if ((saved = lt_state_get(st, "pos", &size)) && size == sizeof(pos))
		memcpy(&pos, saved, sizeof(pos));
	if (resave) {
		put_pos(st, pos);
		lt_save(ctx, st);
	}
	for (int64_t s = start; s < steps; s++) {
		for (int i = 0; i < 3; i++) {
			float *v = lt_data(p[i]), *g = lt_grad(p[i]);

			for (size_t j = 0; j < (size_t)lt_numel(p[i]); j++)
				g[j] += lt_loss_scale(ctx) *
					(v[j] - (float)((pos * (int64_t)(j + 1 + i) + lt_rank(ctx)) % 7) / 7.0f);
		}
		lt_sync_grads(ctx);
		lt_optimizer_step(ctx);
		((int64_t *)lt_data(seen))[0]++;
		pos += 3;
		if (save_every > 0 && (s + 1) % save_every == 0) {
			put_pos(st, pos);
			lt_save(ctx, st);
		}
	}
	if (dump)
		dump_values(ctx, p, 3, dump);
	lt_state_free(st);
	return 0;
}
