/*
 * ltrun.h - the ABI between ltrun and model shared objects.
 *
 * A model is a shared object built with
 *
 *	cc -shared -fPIC $(pkg-config --cflags ltrun) model.c -o model.so
 *
 * and started by `ltrun [OPTIONS] model.so [-- ARGS]`.  It needs no -l
 * flag: the functions below live in the ltrun process that loads it.
 *
 * Two modes (a model exports one of the two entry points):
 *
 *  - Trainer mode: the model exports lt_module_v1(), a table of callbacks
 *    (init, num_samples, train_step, val_step, fini).  ltrun owns the loop:
 *    epochs and steps, the distributed sampler, gradient accumulation and
 *    synchronisation, the optimizer and its schedule, clipping,
 *    validation, logging and progress.
 *  - Fabric mode: the model exports lt_main() and owns its loop, calling
 *    ltrun for collectives (lt_all_reduce...), gradient synchronisation
 *    (lt_sync_grads), the optimizer (lt_optimizer_step) and its shard of
 *    the data (lt_shard).
 *
 * In both modes parameters are registered, never allocated by the model:
 * lt_param() returns a tensor whose storage the strategy owns.  The model
 * reads lt_data(t) and *adds* to lt_grad(t) in backward (gradients
 * accumulate, as in PyTorch and llm.c; ltrun zeroes them after each
 * optimizer step), in the compute dtype lt_dtype(ctx), seeding its
 * backward with lt_loss_scale(ctx).  Pointers from lt_data()/lt_grad() stay
 * valid until the run ends; on an accelerator other than the cpu they
 * point to device memory (lt_device() says which).
 *
 * Ownership: every pointer ltrun returns belongs to ltrun.  Functions that
 * can fail on bad input end the rank with a one-line message through
 * lt_fatal(); none of them returns an error to check.
 */
#ifndef LTRUN_H
#define LTRUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever this header changes in a way a built model would notice;
 * ltrun refuses a model built for another version, naming both. */
#define LT_ABI_VERSION 4

/* Every model records the version it was built for; including this header
 * is enough (a weak definition, so several files of one model may include
 * it). */
#ifdef __cplusplus
/* In C++ a namespace-scope const is internal unless extern; weak needs public. */
__attribute__((visibility("default"), weak)) extern const unsigned lt_model_abi_version =
	LT_ABI_VERSION;
#else
__attribute__((visibility("default"), weak)) const unsigned lt_model_abi_version =
	LT_ABI_VERSION;
#endif

typedef struct lt_ctx lt_ctx;
typedef struct lt_tensor lt_tensor;
typedef struct lt_work lt_work;
typedef struct lt_state lt_state;
typedef struct lt_unit lt_unit;

/* ------------------------------------------------------------ where */

/* Global rank 0..world_size-1; local rank on this node 0..local_world_size-1;
 * node 0..num_nodes-1. */
int lt_rank(const lt_ctx *ctx);
int lt_world_size(const lt_ctx *ctx);
int lt_local_rank(const lt_ctx *ctx);
int lt_local_world_size(const lt_ctx *ctx);
int lt_node_rank(const lt_ctx *ctx);
int lt_num_nodes(const lt_ctx *ctx);
/* How many times the job was restarted after a failure (--max-restarts). */
int lt_restart_count(const lt_ctx *ctx);

/* The splits of a model's data (Trainer mode's num_samples). */
enum lt_split { LT_TRAIN = 0, LT_VAL = 1 };

/* Facts of the run a model sizes its buffers by; every one may be asked
 * from init on (Trainer mode) or anywhere (Fabric mode).
 *   lt_micro_batch_size  the most samples one lt_batch holds (--batch-size)
 *   lt_accumulate        micro-batches per optimizer step
 *                        (--accumulate-grad-batches)
 *   lt_total_steps       optimizer steps the whole run makes, resumed
 *                        ones included (the schedule's end); -1 when no
 *                        limit is set (Fabric mode without --max-steps)
 *   lt_samples_per_rank  this rank's share of one epoch of the split
 *                        (Trainer mode only: a Fabric model counts its
 *                        share with lt_shard(); asking ends the rank)
 * In init, the last two need num_samples(): ltrun calls it with the
 * pointer the model stored in *self so far, so set *self and load the
 * data before asking (asking earlier ends the rank, saying so). */
int lt_micro_batch_size(const lt_ctx *ctx);
int lt_accumulate(const lt_ctx *ctx);
int64_t lt_total_steps(lt_ctx *ctx);
int64_t lt_samples_per_rank(lt_ctx *ctx, enum lt_split split);

enum lt_device_kind { LT_DEVICE_CPU = 0, LT_DEVICE_CUDA = 1 };
struct lt_device {
	enum lt_device_kind kind;
	int index; /* device ordinal on this node; 0 on the cpu */
};
/* Where lt_data() and lt_grad() point. */
struct lt_device lt_device(const lt_ctx *ctx);
/* On a GPU: the CUDA stream the model computes on (a cudaStream_t or
 * CUstream; NULL: CUDA's legacy default stream, the default).  ltrun's
 * own device work from then on (its kernels, fills and copies) runs on
 * it, and its collectives and checkpoint copies wait for what was queued
 * on it before them, so a model on a non-blocking stream of its own
 * needs no synchronisation before lt_grad_ready(), lt_sync_grads() or
 * lt_save().  On the cpu a stream other than NULL is an error. */
void lt_set_stream(lt_ctx *ctx, void *stream);

/* Ends this rank with a message, as a failure: ltrun's report shows the
 * message beside the rank's number and host, and tears the job down. */
__attribute__((noreturn, format(printf, 2, 3))) void lt_fatal(lt_ctx *ctx,
							      const char *fmt, ...);

/* ------------------------------------------------------------ dtypes */

enum lt_dtype {
	LT_F32 = 0,
	LT_F64 = 1,
	LT_F16 = 2,  /* IEEE binary16, stored as uint16_t */
	LT_BF16 = 3, /* bfloat16, stored as uint16_t */
	LT_I32 = 4,
	LT_I64 = 5,
};
#define LT_DTYPE_COUNT 6

/* Half-precision conversions for model code: round to nearest even,
 * correct for subnormals, infinities and NaN (a NaN stays a quiet NaN);
 * f16/bf16 -> f32 is exact.  Values of LT_F16 and LT_BF16 buffers are
 * stored as uint16_t. */
static inline uint32_t lt_bits_of_f32_(float f)
{
	uint32_t u;
	__builtin_memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float lt_f32_of_bits_(uint32_t u)
{
	float f;
	__builtin_memcpy(&f, &u, sizeof(f));
	return f;
}

static inline uint16_t lt_f32_to_f16(float f)
{
	uint32_t x = lt_bits_of_f32_(f), sign = (x >> 16) & 0x8000, a = x & 0x7fffffff;

	if (a > 0x7f800000) /* NaN: quiet, payload kept as far as it fits */
		return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
	if (a >= 0x477ff000) /* 65520 and above round to infinity */
		return (uint16_t)(sign | 0x7c00);
	/* Below 2^-14 the result is subnormal: adding 0.5f puts its ulp
	 * (2^-24) at the float's last bit, so the FPU's own rounding to
	 * nearest even does the work. */
	if (a < 0x38800000)
		return (uint16_t)(sign | (lt_bits_of_f32_(lt_f32_of_bits_(a) + 0.5f) - 0x3f000000));
	a += 0xc8000fffu + ((a >> 13) & 1); /* rebias, round to nearest even */
	return (uint16_t)(sign | (a >> 13));
}

static inline float lt_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;

	if (e == 0x1f)
		return lt_f32_of_bits_(sign | 0x7f800000 | (m << 13) | (m ? 0x400000 : 0));
	if (e == 0)
		return lt_f32_of_bits_(sign | lt_bits_of_f32_((float)m * 0x1p-24f));
	return lt_f32_of_bits_(sign | ((e + 112) << 23) | (m << 13));
}

static inline uint16_t lt_f32_to_bf16(float f)
{
	uint32_t x = lt_bits_of_f32_(f);

	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fffu + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

static inline float lt_bf16_to_f32(uint16_t h)
{
	if ((h & 0x7fff) > 0x7f80)
		h |= 0x40;
	return lt_f32_of_bits_((uint32_t)h << 16);
}

/* The compute dtype: what lt_data() and lt_grad() hold (LT_F32 under
 * --precision 32-true, the default). */
enum lt_dtype lt_dtype(const lt_ctx *ctx);
/* Bytes of one element of dt. */
size_t lt_dtype_size(enum lt_dtype dt);

/* ------------------------------------------------------------ parameters */

#define LT_MAX_DIMS 8
struct lt_shape {
	int ndim;
	int64_t dim[LT_MAX_DIMS];
};
/* LT_SHAPE(64, 10) is a 64x10 shape. */
#define LT_SHAPE(...)                                                        \
	((struct lt_shape){ .ndim = (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / \
					  sizeof(int64_t)),                  \
			    .dim = { __VA_ARGS__ } })

/* How a parameter's first values are drawn, from the run's --seed (the
 * same on every rank; rank 0's values are broadcast anyway). */
enum lt_init_kind {
	LT_INIT_ZEROS = 0,
	LT_INIT_CONSTANT,        /* every element a */
	LT_INIT_UNIFORM,         /* uniform in [a, b) */
	LT_INIT_NORMAL,          /* mean a, standard deviation b */
	LT_INIT_KAIMING_UNIFORM, /* uniform in +-sqrt(6 / fan_in), fan_in: the last dim */
	LT_INIT_XAVIER_UNIFORM,  /* uniform in +-sqrt(6 / (fan_in + fan_out)) */
};
struct lt_init {
	enum lt_init_kind kind;
	double a, b;
};
#define LT_ZEROS ((struct lt_init){ LT_INIT_ZEROS, 0, 0 })
#define LT_CONSTANT(v) ((struct lt_init){ LT_INIT_CONSTANT, (v), 0 })
#define LT_UNIFORM(lo, hi) ((struct lt_init){ LT_INIT_UNIFORM, (lo), (hi) })
#define LT_NORMAL(mean, std) ((struct lt_init){ LT_INIT_NORMAL, (mean), (std) })
#define LT_KAIMING_UNIFORM ((struct lt_init){ LT_INIT_KAIMING_UNIFORM, 0, 0 })
#define LT_XAVIER_UNIFORM ((struct lt_init){ LT_INIT_XAVIER_UNIFORM, 0, 0 })

/* Registers a parameter: name unique in the model ("fc1.weight"), shape
 * and first values.  Call it from init (Trainer mode) or before the first
 * lt_sync_grads() (Fabric mode); the strategy places the storage.  A
 * duplicate name, a bad shape or a late call ends the rank. */
lt_tensor *lt_param(lt_ctx *ctx, const char *name, struct lt_shape shape,
		    struct lt_init init);
/* The parameter's values and gradient, numel elements of lt_dtype(ctx). */
void *lt_data(lt_tensor *t);
void *lt_grad(lt_tensor *t);
int64_t lt_numel(const lt_tensor *t);
const char *lt_name(const lt_tensor *t);
/* The dtype of lt_data(t): the compute dtype for a parameter, its own
 * for a buffer (lt_buffer()). */
enum lt_dtype lt_tensor_dtype(const lt_tensor *t);
/* Its shape, as registered. */
struct lt_shape lt_tensor_shape(const lt_tensor *t);

/* ------------------------------------------------------------ given weights */

/* Sets a parameter's values from numel elements of dt (LT_F32, LT_F64,
 * LT_F16 or LT_BF16): the f32 master copy under mixed precision and the
 * compute view alike, so that they survive every precision (writing into
 * lt_data() under 16-mixed or bf16-mixed is lost: the master copy wins).
 * Call it from init (Trainer mode) or before the first lt_sync_grads()
 * (Fabric mode); rank 0's values are broadcast to every rank, as the
 * first values are.  `ltrun --init-weights FILE` does this for every
 * parameter from a safetensors file, by name, after init. */
void lt_param_set(lt_ctx *ctx, lt_tensor *t, const void *values, enum lt_dtype dt);

/* ------------------------------------------------------------ f32 views */

/* For kernels that compute in f32 whatever the precision:
 *   lt_data_f32(t)  the parameter's values in f32: the master weights
 *                   under mixed precision, lt_data(t) itself under
 *                   32-true, an f32 copy refreshed after every optimizer
 *                   step otherwise (and under mixed precision with a
 *                   strategy that shards the master weights, ZeRO's:
 *                   there the model computes from the compute values, as
 *                   under DeepSpeed and FSDP).  Read-only
 *                   (lt_param_set() writes).
 *   lt_grad_f32(t)  an f32 gradient the model *adds* to (seeded with
 *                   lt_loss_scale(), as lt_grad()); ltrun folds it into
 *                   the synchronised gradient when t is marked ready or
 *                   at the end of the micro-batch, and zeroes it.  Under
 *                   32-true it is lt_grad(t) itself.
 * A model written against these runs unchanged under every --precision.
 * The pointers stay valid until the run ends; ask for them in init so
 * that the memory is found before training starts. */
const float *lt_data_f32(lt_ctx *ctx, lt_tensor *t);
float *lt_grad_f32(lt_ctx *ctx, lt_tensor *t);

/* ------------------------------------------------------------ buffers and model state */

/* How a buffer is kept consistent across ranks:
 *   LT_BUFFER_BROADCAST  rank 0's values reach every rank at the start
 *                        and after a resume (running statistics a model
 *                        updates identically on every rank)
 *   LT_BUFFER_AVERAGE    as BROADCAST, and averaged across ranks after
 *                        every optimizer step (sync_batchnorm-style
 *                        statistics); float dtypes only */
enum lt_buffer_sync { LT_BUFFER_BROADCAST = 0, LT_BUFFER_AVERAGE = 1 };

/* Registers non-trainable state: saved in checkpoints beside the
 * parameters (rank 0's values), loaded by --resume, never touched by the
 * optimizer.  lt_data(t) is numel elements of dt; lt_grad(t) ends the
 * rank.  Names share the parameters' namespace.  Call it where lt_param()
 * may be called. */
lt_tensor *lt_buffer(lt_ctx *ctx, const char *name, struct lt_shape shape, enum lt_dtype dt,
		     struct lt_init init, enum lt_buffer_sync sync);

/* The model's own bytes in a checkpoint (Trainer mode's on_save/on_load,
 * Fabric mode's lt_save/lt_resume): named blobs.  lt_state_put copies
 * bytes under key ([A-Za-z0-9_.-], up to 63 characters; a key put twice
 * keeps the last); lt_state_get returns the bytes saved under key and
 * their size, or NULL when the checkpoint has none. */
void lt_state_put(lt_state *st, const char *key, const void *bytes, size_t size);
const void *lt_state_get(lt_state *st, const char *key, size_t *size);

/* ------------------------------------------------------------ optimizer groups */

/* Per-parameter optimizer options, from init (or before the first
 * lt_optimizer_step() in Fabric mode):
 *   lt_param_weight_decay  whether --weight-decay applies to t (default:
 *                          yes, unless --weight-decay-on matrices, which
 *                          decays only tensors of 2 or more dimensions)
 *   lt_param_lr_scale      t's learning rate is --lr's schedule times
 *                          scale (default 1) */
void lt_param_weight_decay(lt_ctx *ctx, lt_tensor *t, int on);
void lt_param_lr_scale(lt_ctx *ctx, lt_tensor *t, double scale);

/* Tells the strategy that t's gradient is complete for this micro-batch,
 * so that its bucket's all-reduce may start while backward goes on.
 * Optional: gradients not marked are synchronised after train_step.  The
 * gradient must not change after it is marked (--debug checks it). */
void lt_grad_ready(lt_ctx *ctx, lt_tensor *t);
/* The same for elements [first, first + count) of t: a tensor that stacks
 * every layer's weights is marked layer by layer as backward goes, and is
 * complete when every element was marked. */
void lt_grad_ready_range(lt_ctx *ctx, lt_tensor *t, int64_t first, int64_t count);

/* ------------------------------------------------------------ units */

/* A unit is a group of consecutive parameters used together (a layer, a
 * transformer block: what FSDP wraps).  Under the fully sharded strategies
 * (fsdp, deepspeed_stage_3) a rank keeps only its shard of each
 * parameter's values: ltrun gathers a unit's parameters when the model
 * begins to use them (from the second step on, ahead of use: while the
 * model computes with one unit, the next ones in the order of the first
 * step's lt_unit_begin calls arrive), and gives the pages back when the
 * use ends; at the end
 * of a unit's backward its gradients are complete and leave for their
 * owners.  The pointers lt_data() and lt_grad() returned stay valid: only
 * the pages come and go.  Under every other strategy the brackets cost
 * nothing, so one model source runs under all of them.
 *
 *   lt_unit_new    in init (before the first step): parameters first to
 *                  last, in registration order, in no other unit; the
 *                  name is for messages ("block3")
 *   lt_unit_begin  before the model reads the unit's values in pass
 *                  LT_FORWARD, or reads them and writes its gradients in
 *                  LT_BACKWARD
 *   lt_unit_end    when it is done with them in that pass; in
 *                  LT_BACKWARD its gradients are then complete for this
 *                  micro-batch (as lt_grad_ready() says of one tensor)
 *
 * A parameter in no unit is always resident.  A unit begun twice without
 * its end, an end without a begin, or (fully sharded) a parameter read
 * outside its unit's brackets ends the rank with a message naming it. */
enum lt_pass { LT_FORWARD = 0, LT_BACKWARD = 1 };
lt_unit *lt_unit_new(lt_ctx *ctx, const char *name, lt_tensor *first, lt_tensor *last);
void lt_unit_begin(lt_ctx *ctx, lt_unit *u, enum lt_pass pass);
void lt_unit_end(lt_ctx *ctx, lt_unit *u, enum lt_pass pass);

/* What the model multiplies the gradient of its loss by before backward
 * (dloss = lt_loss_scale(ctx)).  It folds in this micro-batch's share of
 * the accumulated, distributed batch and, under 16-mixed, the loss scale;
 * the model needs to know none of that. */
float lt_loss_scale(const lt_ctx *ctx);

/* ------------------------------------------------------------ metrics */

/* Records a metric for this batch: in train_step it is averaged over the
 * logging interval, in val_step over the whole validation set of every
 * rank (weighted by batch size), then written to --log-dir/metrics.csv
 * and shown on rank 0.  Names are [a-z0-9_.] ("val_acc"). */
void lt_log(lt_ctx *ctx, const char *name, double value);

/* ------------------------------------------------------------ Trainer mode */

/* One micro-batch: the sample indices (into the split, 0..num_samples-1)
 * this rank processes now.  size may be smaller than --batch-size at the
 * end of an epoch, and is never 0. */
struct lt_batch {
	const int64_t *index;
	int size;
	enum lt_split split;
	int epoch;
	int64_t step;  /* optimizer steps done before this batch */
	int micro;     /* 0..accumulate-grad-batches-1 within the step */
};

struct lt_module {
	/* sizeof(struct lt_module), for forward compatibility. */
	size_t size;
	const char *name;
	/* Parses argv (argv[0] is the model's path), registers parameters
	 * with lt_param(), loads data; *self is passed to every other call.
	 * Returns 0, or nonzero to fail the rank (after lt_fatal's message, or
	 * say why on stderr). */
	int (*init)(lt_ctx *ctx, int argc, char **argv, void **self);
	/* Samples in a split (0 for a split the model has not). */
	int64_t (*num_samples)(lt_ctx *ctx, void *self, enum lt_split split);
	/* Forward and backward of one micro-batch: adds the gradient of the
	 * batch's mean loss, times lt_loss_scale(ctx), to lt_grad() of every
	 * parameter, and writes the mean loss.  Returns 0, or nonzero to fail. */
	int (*train_step)(lt_ctx *ctx, void *self, const struct lt_batch *batch,
			  double *loss);
	/* Optional: forward of a validation batch; writes its mean loss and
	 * may lt_log() more ("val_acc").  Returns 0, or nonzero to fail. */
	int (*val_step)(lt_ctx *ctx, void *self, const struct lt_batch *batch,
			double *loss);
	/* Optional: the model's own bytes in checkpoints (a data loader's
	 * position, an RNG), beside the parameters, buffers and ltrun's
	 * state.  on_save is called on every rank when a checkpoint is taken
	 * and rank 0's blobs are saved; on_load is called on every rank after
	 * --resume loaded one, with those blobs.  Return 0, or nonzero to
	 * fail the rank. */
	int (*on_save)(lt_ctx *ctx, void *self, lt_state *state);
	int (*on_load)(lt_ctx *ctx, void *self, lt_state *state);
	/* Optional: frees what init made. */
	void (*fini)(lt_ctx *ctx, void *self);
};

/* The Trainer-mode entry point. */
const struct lt_module *lt_module_v1(void);

/* ------------------------------------------------------------ Fabric mode */

/* The Fabric-mode entry point.  argv[0] is the model's path, then the
 * arguments after `--` on ltrun's command line.  Returning 0 ends the rank
 * successfully; any other value is its exit status. */
int lt_main(lt_ctx *ctx, int argc, char **argv);

/* Blocks until every rank of the job has called it the same number of
 * times.  A rank that cannot reach the others ends through lt_fatal(). */
void lt_barrier(lt_ctx *ctx);

enum lt_op { LT_SUM = 0, LT_AVG = 1, LT_MIN = 2, LT_MAX = 3 };

/* Collectives on the model's own buffers, over the run's communicator
 * (--comm).  Every rank calls the same collectives in the same order with
 * the same count and dtype.  `count` is in elements.
 *
 *   lt_all_reduce      buf (count) becomes op over every rank's buf
 *   lt_broadcast       buf (count) becomes root's buf
 *   lt_all_gather      recv (count * world) is every rank's send (count),
 *                      in rank order
 *   lt_reduce_scatter  recv (count) is op over every rank's send
 *                      (count * world), the rank'th block of it
 *
 * In place: all_gather's send may be this rank's block of recv, and
 * reduce_scatter's recv this rank's block of send (the rest of send is
 * then undefined); any other overlap is refused.
 *
 * The _async forms return at once; the buffers must stay untouched until
 * lt_wait() on the returned work has returned. */
void lt_all_reduce(lt_ctx *ctx, void *buf, size_t count, enum lt_dtype dt,
		   enum lt_op op);
void lt_broadcast(lt_ctx *ctx, void *buf, size_t count, enum lt_dtype dt, int root);
void lt_all_gather(lt_ctx *ctx, const void *send, void *recv, size_t count,
		   enum lt_dtype dt);
void lt_reduce_scatter(lt_ctx *ctx, const void *send, void *recv, size_t count,
		       enum lt_dtype dt, enum lt_op op);
lt_work *lt_all_reduce_async(lt_ctx *ctx, void *buf, size_t count,
			     enum lt_dtype dt, enum lt_op op);
lt_work *lt_broadcast_async(lt_ctx *ctx, void *buf, size_t count,
			    enum lt_dtype dt, int root);
lt_work *lt_all_gather_async(lt_ctx *ctx, const void *send, void *recv,
			     size_t count, enum lt_dtype dt);
lt_work *lt_reduce_scatter_async(lt_ctx *ctx, const void *send, void *recv,
				 size_t count, enum lt_dtype dt, enum lt_op op);
/* Waits for work and frees it. */
void lt_wait(lt_ctx *ctx, lt_work *work);

/* This rank's share of an epoch of num_samples samples: disjoint from the
 * other ranks', together covering the epoch, reshuffled each epoch from
 * --seed (the same on every run with the same seed).  Writes the indices
 * to out (room for (num_samples + world - 1) / world) and returns how many. */
int64_t lt_shard(lt_ctx *ctx, int64_t num_samples, int epoch, int64_t *out);

/* Averages the gradients of every parameter across ranks, as the
 * strategy does in Trainer mode (buckets; parameters marked with
 * lt_grad_ready() may already be on their way). */
void lt_sync_grads(lt_ctx *ctx);
/* Clips (--gradient-clip-val), applies the optimizer (--optimizer, --lr,
 * the schedule), zeroes the gradients and counts the step. */
void lt_optimizer_step(lt_ctx *ctx);
/* The learning rate the next lt_optimizer_step() uses. */
double lt_lr(const lt_ctx *ctx);

/* Checkpoints in Fabric mode, under --ckpt-dir through --ckpt-io, as the
 * Trainer saves them: the parameters, buffers, optimizer state, the step
 * counts, and the blobs the model puts in *state (NULL: none).
 *   lt_save    every rank calls it at the same step; rank 0 writes
 *              (--ckpt-keep prunes).  Without --ckpt-dir it ends the rank.
 *   lt_resume  with --resume, loads that checkpoint on every rank (call
 *              it after registering the parameters and buffers, before
 *              the first step), fills *state when given, and returns the
 *              optimizer steps it had done; without --resume returns 0
 *              and loads nothing.  Either way it places the parameters
 *              (as the first lt_sync_grads() would), so that
 *              --init-weights and lt_param_set() values are on every
 *              rank before the model's first forward.
 * The lt_state handles are ltrun's: lt_state_new() makes an empty one,
 * lt_state_free() frees it. */
lt_state *lt_state_new(lt_ctx *ctx);
void lt_state_free(lt_state *state);
void lt_save(lt_ctx *ctx, lt_state *state);
int64_t lt_resume(lt_ctx *ctx, lt_state *state);

#ifdef __cplusplus
}
#endif

#endif /* LTRUN_H */
