/*
 * main.c - the digits MLP of examples/mlp on a GPU, in Fabric mode: the
 * network of examples/common/mlp.h (64-128-10, relu, softmax), its
 * forward and backward as CUDA kernels (kernels.cu).  ltrun gives each
 * rank its GPU (--accelerator cuda), the parameters in that GPU's memory
 * (lt_param, the same first values as on the cpu), averages the
 * gradients over NCCL (lt_sync_grads) and steps them with its optimizer's
 * device kernels (lt_optimizer_step: --optimizer, --lr, --momentum...);
 * validation counts are summed with lt_all_reduce on host buffers.
 * --save checkpoints after every epoch with lt_save() (ltrun copies the
 * state out of the GPU), and with --resume lt_resume() loads it back
 * into GPU memory, as examples/fabric does on the cpu.
 *
 *   make   # with nvcc: build/examples/mlp_cuda/mlp_cuda.so
 *   ltrun --accelerator cuda --devices 2 --lr 0.1 build/examples/mlp_cuda/mlp_cuda.so
 *   ... mlp_cuda.so -- [--epochs N] [--batch-size N] [--save]
 *                      [--data PATH] [--hidden N] [--val-fraction F]
 *   ltrun --accelerator cuda --ckpt-dir ck ... mlp_cuda.so -- --epochs 5 --save
 *   ltrun --accelerator cuda --ckpt-dir ck --resume last ... -- --epochs 10 --save
 *
 * Rank 0 prints "epoch E
 * val_acc X val_loss L" after each epoch and "val_acc X" at the end, as
 * examples/fabric does on the cpu.
 */
#define _GNU_SOURCE /* dladdr() in digits.h */
#include "../common/mlp.h"
#include "kernels.h"

#define WHO "mlp_cuda"

static void check(lt_ctx *ctx, const char *what, const char *err)
{
	if (err)
		lt_fatal(ctx, WHO ": %s: %s", what, err);
}

struct net {
	lt_tensor *t[4]; /* fc1.weight, fc1.bias, fc2.weight, fc2.bias */
	struct mlp_dev d;
	float *x;        /* (cap, I) a batch on the host */
	int *y;
};

static float *P(struct net *n, int k) { return lt_data(n->t[k]); }
static float *G(struct net *n, int k) { return lt_grad(n->t[k]); }

static void batch(lt_ctx *ctx, struct net *n, const struct digits *data, enum lt_split split,
		  const int64_t *idx, int B)
{
	for (int b = 0; b < B; b++) {
		memcpy(n->x + (size_t)b * n->d.I, digits_x(data, split, idx[b]),
		       (size_t)n->d.I * sizeof(float));
		n->y[b] = digits_y(data, split, idx[b]);
	}
	check(ctx, "copying a batch in", mlp_dev_batch(&n->d, n->x, n->y, B));
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	struct mlp_options opt;
	struct digits data;
	struct net n = { 0 };

	const int save = mlp_take_flag(&argc, argv, "--save");

	mlp_parse(ctx, WHO, argc, argv, 1, &opt);
	if (lt_device(ctx).kind != LT_DEVICE_CUDA)
		lt_fatal(ctx, WHO ": runs on a GPU: give ltrun --accelerator cuda (examples/fabric is the cpu's)");
	if (lt_dtype(ctx) != LT_F32)
		lt_fatal(ctx, WHO ": computes in f32: run with --precision 32-true");
	digits_load(ctx, WHO, opt.data, &data);
	digits_split(&data, opt.val_fraction);
	n.d = (struct mlp_dev){ .I = DIGITS_PIXELS, .H = opt.hidden, .O = DIGITS_CLASSES,
				.cap = opt.batch_size };
	check(ctx, "the GPU", mlp_dev_open(lt_device(ctx).index, &n.d));
	/* the names, shapes and first values of examples/mlp's parameters */
	n.t[0] = lt_param(ctx, "fc1.weight", LT_SHAPE(n.d.H, n.d.I), LT_KAIMING_UNIFORM);
	n.t[1] = lt_param(ctx, "fc1.bias", LT_SHAPE(n.d.H), LT_ZEROS);
	n.t[2] = lt_param(ctx, "fc2.weight", LT_SHAPE(n.d.O, n.d.H), LT_KAIMING_UNIFORM);
	n.t[3] = lt_param(ctx, "fc2.bias", LT_SHAPE(n.d.O), LT_ZEROS);
	n.x = malloc((size_t)opt.batch_size * n.d.I * sizeof(float));
	n.y = malloc((size_t)opt.batch_size * sizeof(int));
	if (!n.x || !n.y)
		lt_fatal(ctx, WHO ": out of memory");

	const int world = lt_world_size(ctx);
	const int64_t n_train = digits_count(&data, LT_TRAIN), n_val = digits_count(&data, LT_VAL);
	const int64_t most = (n_train + world - 1) / world;
	const int64_t steps = (most + opt.batch_size - 1) / opt.batch_size;
	int64_t *train_idx = malloc((size_t)(most ? most : 1) * sizeof(int64_t));
	int64_t *val_idx = malloc((size_t)((n_val + world - 1) / world + 1) * sizeof(int64_t));
	if (!train_idx || !val_idx)
		lt_fatal(ctx, WHO ": out of memory");
	const int64_t n_my_val = lt_shard(ctx, n_val, 0, val_idx);
	double acc = 0, val_loss = 0;
	/* with --resume: the checkpoint's parameters and optimizer state in
	 * GPU memory, and the epoch to go on from (the model's own blob) */
	lt_state *state = lt_state_new(ctx);
	const int first_epoch = mlp_resume_epoch(ctx, state);

	for (int epoch = first_epoch; epoch < opt.epochs; epoch++) {
		int64_t nt = lt_shard(ctx, n_train, epoch, train_idx);
		double loss = 0; /* the training loss, not reported */

		for (int64_t s = 0; s < steps; s++) {
			int64_t lo = s * opt.batch_size;
			int B = lo >= nt ? 0 : (int)(nt - lo < opt.batch_size ? nt - lo : opt.batch_size);

			if (B > 0) {
				long long c = 0; /* nor the training accuracy */

				batch(ctx, &n, &data, LT_TRAIN, train_idx + lo, B);
				check(ctx, "forward", mlp_dev_forward(&n.d, P(&n, 0), P(&n, 1), P(&n, 2),
								      P(&n, 3), B, &loss, &c));
				check(ctx, "backward",
				      mlp_dev_backward(&n.d, P(&n, 2), G(&n, 0), G(&n, 1), G(&n, 2),
						       G(&n, 3), B, lt_loss_scale(ctx) / (float)B));
			} else {
				/* a shard that ran out steps with a zero gradient */
				for (int k = 0; k < 4; k++)
					check(ctx, "zeroing", mlp_dev_zero(G(&n, k), lt_numel(n.t[k])));
			}
			lt_sync_grads(ctx);
			lt_optimizer_step(ctx);
		}
		/* validation: this rank's share, the counts summed over the ranks */
		int64_t counts[2] = { 0, n_my_val };
		double loss_sum = 0;
		for (int64_t lo = 0; lo < n_my_val; lo += opt.batch_size) {
			int B = (int)(n_my_val - lo < opt.batch_size ? n_my_val - lo : opt.batch_size);
			long long c = 0;

			batch(ctx, &n, &data, LT_VAL, val_idx + lo, B);
			check(ctx, "validation", mlp_dev_forward(&n.d, P(&n, 0), P(&n, 1), P(&n, 2),
								 P(&n, 3), B, &loss_sum, &c));
			counts[0] += c;
		}
		lt_all_reduce(ctx, counts, 2, LT_I64, LT_SUM);
		lt_all_reduce(ctx, &loss_sum, 1, LT_F64, LT_SUM);
		acc = counts[1] ? (double)counts[0] / (double)counts[1] : 0;
		val_loss = counts[1] ? loss_sum / (double)counts[1] : 0;
		if (lt_rank(ctx) == 0)
			printf("epoch %d val_acc %.4f val_loss %.4f\n", epoch, acc, val_loss);
		if (save)
			mlp_save_epoch(ctx, state, epoch);
	}
	if (lt_rank(ctx) == 0) {
		printf("val_acc %.4f\n", acc);
		fflush(stdout);
	}
	check(ctx, "the last kernels", mlp_dev_sync());
	mlp_dev_close(&n.d);
	lt_state_free(state);
	free(train_idx);
	free(val_idx);
	free(n.x);
	free(n.y);
	digits_free(&data);
	return 0;
}
