/*
 * fabric.c - a Fabric-mode model: the digits MLP of examples/mlp/mlp.c
 * (examples/common/mlp.h), with its own loop.  It takes its shard of each
 * epoch from lt_shard(), batches it, runs forward and backward, and calls
 * lt_sync_grads() and lt_optimizer_step() itself; validation counts are
 * summed over the ranks with lt_all_reduce().
 *
 *   make          # builds build/examples/fabric/fabric.so, unpacks the data
 *   cc -shared -fPIC $(pkg-config --cflags ltrun) -O2 fabric.c -o fabric.so -lm
 *   ltrun --devices 4 --lr 0.1 build/examples/fabric/fabric.so
 *   ltrun ... fabric.so -- [--epochs N] [--batch-size N] [--data PATH]
 *                          [--hidden N] [--val-fraction F] [--dump PATH] [--save]
 *
 *   --epochs N         passes over the training split (default 20)
 *   --batch-size N     samples per rank and step (default 32)
 *   --save             save a checkpoint after every epoch with lt_save()
 *                      (give ltrun --ckpt-dir DIR; --ckpt-io and
 *                      --ckpt-keep apply)
 *   --data, --hidden, --val-fraction, --dump   as for mlp.so
 *
 * With ltrun's --resume (last, with --ckpt-dir), lt_resume() loads the
 * parameters, optimizer state and step count of a checkpoint, and the
 * loop goes on from the epoch after the saved one (a blob of the model's
 * own state, "next_epoch"):
 *
 *   ltrun --ckpt-dir ck fabric.so -- --epochs 10 --save
 *   ltrun --ckpt-dir ck --resume last fabric.so -- --epochs 20 --save
 *
 * ltrun's --optimizer, --lr, --momentum... apply through
 * lt_optimizer_step(); its --max-epochs and --batch-size do not (this
 * model owns its loop).  Rank 0 prints, after each epoch,
 *
 *	epoch E val_acc X val_loss L
 *
 * (E from 0, X the accuracy over the whole validation split, every rank's
 * share) and at the end "val_acc X".
 */
#define _GNU_SOURCE /* dladdr() in digits.h */
#include "../common/mlp.h"

#define WHO "fabric"

/* Removes flag from argv (the model's own, before mlp_parse sees the
 * rest); returns whether it was there. */
/* Trains on one epoch: steps optimizer steps on every rank (the same
 * number everywhere, or the collectives of lt_sync_grads() would not
 * pair up), each on the next batch_size samples of this rank's shard
 * idx (n of them); a rank whose shard ran out takes its step with a zero
 * gradient. */
static void train_epoch(lt_ctx *ctx, struct mlp *m, const int64_t *idx,
			  int64_t n, int64_t steps, int batch_size)
{
	int64_t correct = 0;
	for (int64_t s = 0; s < steps; s++) {
		int64_t lo = s * batch_size;
		int B = lo >= n ? 0 : (int)(n - lo < batch_size ? n - lo : batch_size);
		if (B > 0) {
			mlp_gather(ctx, m, LT_TRAIN, idx + lo, B);
			mlp_forward(ctx, m, B, &correct);
			mlp_backward(ctx, m, B, lt_loss_scale(ctx) / B);
		}
		lt_sync_grads(ctx);
		lt_optimizer_step(ctx);
	}
}

/* Validates on this rank's share of the validation split, idx (n
 * samples), and sums the counts over every rank.  Writes the global
 * accuracy and mean loss; 0 and 0 for an empty split. */
static void validate(lt_ctx *ctx, struct mlp *m, const int64_t *idx, int64_t n,
		     int batch_size, double *acc, double *loss)
{
	int64_t counts[2] = { 0, n }; /* correct, samples */
	double loss_sum = 0;
	for (int64_t lo = 0; lo < n; lo += batch_size) {
		int B = (int)(n - lo < batch_size ? n - lo : batch_size);
		mlp_gather(ctx, m, LT_VAL, idx + lo, B);
		loss_sum += mlp_forward(ctx, m, B, &counts[0]);
	}
	lt_all_reduce(ctx, counts, 2, LT_I64, LT_SUM);
	lt_all_reduce(ctx, &loss_sum, 1, LT_F64, LT_SUM);
	*acc = counts[1] ? (double)counts[0] / (double)counts[1] : 0;
	*loss = counts[1] ? loss_sum / (double)counts[1] : 0;
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct mlp_options opt;
	struct mlp m;
	const int save = mlp_take_flag(&argc, argv, "--save");
	mlp_parse(ctx, WHO, argc, argv, 1, &opt);
	mlp_setup(ctx, WHO, &opt, &m);

	const int world = lt_world_size(ctx);
	const int64_t n_train = digits_count(&m.data, LT_TRAIN);
	const int64_t n_val = digits_count(&m.data, LT_VAL);
	const int64_t most = (n_train + world - 1) / world; /* the largest shard */
	const int64_t steps = (most + opt.batch_size - 1) / opt.batch_size;
	int64_t *train_idx = malloc((size_t)(most ? most : 1) * sizeof(int64_t));
	int64_t *val_idx = malloc((size_t)((n_val + world - 1) / world + 1) *
				  sizeof(int64_t));
	if (!train_idx || !val_idx)
		lt_fatal(ctx, WHO ": out of memory");
	/* The validation shard does not change between epochs. */
	const int64_t n_my_val = lt_shard(ctx, n_val, 0, val_idx);

	/* With --resume: the checkpoint's state, and where to go on. */
	lt_state *state = lt_state_new(ctx);
	const int first_epoch = mlp_resume_epoch(ctx, state);

	double acc = 0, val_loss = 0;
	for (int epoch = first_epoch; epoch < opt.epochs; epoch++) {
		int64_t n = lt_shard(ctx, n_train, epoch, train_idx);
		train_epoch(ctx, &m, train_idx, n, steps, opt.batch_size);
		validate(ctx, &m, val_idx, n_my_val, opt.batch_size, &acc, &val_loss);
		if (lt_rank(ctx) == 0)
			printf("epoch %d val_acc %.4f val_loss %.4f\n", epoch, acc,
			       val_loss);
		if (save)
			mlp_save_epoch(ctx, state, epoch);
	}
	if (lt_rank(ctx) == 0) {
		printf("val_acc %.4f\n", acc);
		fflush(stdout);
	}
	mlp_dump(ctx, WHO, &opt, &m);
	lt_state_free(state);
	free(train_idx);
	free(val_idx);
	mlp_free(&m);
	return 0;
}
