/*
 * abi.c - every function of ltrun.h a model calls (Fabric mode's and
 * Trainer mode's alike): lt_fatal, the rank's place, barriers, parameters,
 * gradients and the loss scale, metrics, collectives on the model's
 * buffers, the data shard, and Fabric mode's gradient synchronisation and
 * optimizer step; and the parameter accessors of <ltrun/strategy.h>
 * (lt_num_params, lt_param_at, lt_offset, lt_master...) a strategy
 * plugin uses.
 *
 * Every misuse (a NULL tensor, a duplicate name, a bad shape, a collective
 * that fails) ends the rank through lt_fatal() with a message naming the
 * call and the fix: the ABI returns no error codes.
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "core/error.h"
#include "rank/abi.h"
#include "rank/fatal.h"
#include "runtime/buffers.h"
#include "runtime/ready.h"
#include "runtime/lazy_fill.h"
#include "runtime/runtime.h"
#include "trainer/init_weights.h"
#include "trainer/sampler.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- failing, and where this rank is --- */

LT_API void lt_fatal(lt_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lt_fatal_exit(ctx, msg);
}

LT_API int lt_rank(const lt_ctx *ctx) { return ctx->info.rank; }
LT_API int lt_world_size(const lt_ctx *ctx) { return ctx->info.world_size; }
LT_API int lt_local_rank(const lt_ctx *ctx) { return ctx->info.local_rank; }
LT_API int lt_local_world_size(const lt_ctx *ctx) { return ctx->info.local_world_size; }
LT_API int lt_node_rank(const lt_ctx *ctx) { return ctx->info.node_rank; }
LT_API int lt_num_nodes(const lt_ctx *ctx) { return ctx->info.num_nodes; }
LT_API int lt_restart_count(const lt_ctx *ctx) { return ctx->info.restart_count; }

/* --- barriers --- */

LT_API void lt_barrier(lt_ctx *ctx)
{
	struct lt_err err = { 0 };
	char name[32];

	snprintf(name, sizeof(name), "barrier/%u", ctx->barriers);
	if (ctx->rz.ops->barrier(&ctx->rz, name, &err))
		lt_fatal(ctx, "barrier %u: %s", ctx->barriers, err.msg);
	ctx->barriers++;
}


/* --- parameters --- */

bool lt_abi_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n >= sizeof(((struct lt_tensor *)0)->name))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == '"' || name[i] == '\\')
			return false;
	return true;
}

int64_t lt_abi_shape_numel(lt_ctx *ctx, const char *fn, const char *name, struct lt_shape shape)
{
	int64_t n = 1;

	if (shape.ndim < 1 || shape.ndim > LT_MAX_DIMS)
		lt_fatal(ctx, "%s('%s'): %d dimensions: give 1 to %d (LT_SHAPE(rows, cols))",
			 fn, name, shape.ndim, LT_MAX_DIMS);
	for (int i = 0; i < shape.ndim; i++) {
		if (shape.dim[i] < 1 || shape.dim[i] > ((int64_t)1 << 40) / n)
			lt_fatal(ctx, "%s('%s'): dimension %d is %lld: every dimension must be at least 1 and the tensor below 2^40 elements",
				 fn, name, i, (long long)shape.dim[i]);
		n *= shape.dim[i];
	}
	return n;
}

static void add_param(lt_ctx *ctx, struct lt_tensor *t)
{
	if (ctx->nparams == ctx->params_cap) {
		size_t cap = ctx->params_cap ? 2 * ctx->params_cap : 64;
		struct lt_tensor **p = realloc(ctx->params, cap * sizeof(*p));
		if (!p)
			lt_fatal(ctx, "out of memory registering parameter '%s'", t->name);
		ctx->params = p;
		ctx->params_cap = cap;
	}
	ctx->params[ctx->nparams++] = t;
}

LT_API lt_tensor *lt_param(lt_ctx *ctx, const char *name, struct lt_shape shape,
			   struct lt_init init)
{
	struct lt_err err = { 0 };
	struct lt_tensor *t;
	size_t bytes;

	if (!lt_abi_valid_name(name))
		lt_fatal(ctx, "lt_param(): bad parameter name '%s': give 1 to 127 printable characters without spaces or quotes",
			 name ? name : "(null)");
	if (ctx->params_frozen)
		lt_fatal(ctx, "lt_param('%s') after training started: register every parameter in init (or before the first lt_sync_grads)",
			 name);
	if (init.kind < LT_INIT_ZEROS || init.kind > LT_INIT_XAVIER_UNIFORM)
		lt_fatal(ctx, "lt_param('%s'): unknown init kind %d: use LT_ZEROS, LT_NORMAL(...), LT_KAIMING_UNIFORM...",
			 name, (int)init.kind);
	for (size_t i = 0; i < ctx->nparams; i++)
		if (!strcmp(ctx->params[i]->name, name))
			lt_fatal(ctx, "lt_param(): parameter '%s' is registered twice: give each parameter its own name",
				 name);
	if (lt_tensor_named(ctx, name))
		lt_fatal(ctx, "lt_param(): '%s' is already a buffer: buffers and parameters share one namespace, give each its own name",
			 name);
	t = calloc(1, sizeof(*t));
	if (!t)
		lt_fatal(ctx, "out of memory registering parameter '%s'", name);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->shape = shape;
	t->numel = lt_abi_shape_numel(ctx, "lt_param", name, shape);
	t->dtype = ctx->dtype;
	t->index = ctx->nparams;
	t->offset = ctx->numel;
	t->bucket = -1;
	t->unit = -1;
	bytes = (size_t)t->numel * lt_dtype_size(ctx->dtype);
	t->data = ctx->accel->alloc(&ctx->data_arena, bytes, &err);
	t->grad = t->data ? ctx->accel->alloc(&ctx->grad_arena, bytes, &err) : NULL;
	if (t->grad && ctx->precision->mixed) {
		bytes = (size_t)t->numel * sizeof(float);
		t->master = ctx->accel->alloc(&ctx->master_arena, bytes, &err);
		t->master_grad = t->master ? ctx->accel->alloc(&ctx->master_grad_arena, bytes, &err)
					   : NULL;
		if (!t->master_grad)
			t->grad = NULL;
	}
	if (!t->grad || (ctx->defer_fill ? lt_lazy_fill_param(ctx, t, init, &err)
					 : lt_param_fill(ctx, t, init, ctx->nparams, &err)))
		lt_fatal(ctx, "lt_param('%s'): %s", name, err.msg);
	ctx->numel += (size_t)t->numel;
	add_param(ctx, t);
	if (lt_runtime_place(ctx, t, &err))
		lt_fatal(ctx, "lt_param('%s'): %s", name, err.msg);
	return t;
}

static struct lt_tensor *check_tensor(const lt_tensor *t, const char *fn)
{
	if (!t)
		lt_fatal(NULL, "%s(NULL): pass a tensor lt_param() returned", fn);
	return (struct lt_tensor *)t;
}

struct lt_tensor *lt_abi_check_param(const lt_tensor *t, const char *fn)
{
	if (check_tensor(t, fn)->is_buffer)
		lt_fatal(NULL, "%s('%s'): '%s' is a buffer: it has no gradient", fn, t->name,
			 t->name);
	return (struct lt_tensor *)t;
}

LT_API void *lt_data(lt_tensor *t) { return check_tensor(t, "lt_data")->data; }
LT_API void *lt_grad(lt_tensor *t) { return lt_abi_check_param(t, "lt_grad")->grad; }
LT_API int64_t lt_numel(const lt_tensor *t) { return check_tensor(t, "lt_numel")->numel; }
LT_API const char *lt_name(const lt_tensor *t) { return check_tensor(t, "lt_name")->name; }

LT_API void lt_grad_ready(lt_ctx *ctx, lt_tensor *t)
{
	struct lt_err err = { 0 };
	int rc;

	lt_abi_check_param(t, "lt_grad_ready");
	rc = lt_ready_mark(ctx, t, 0, t->numel, &err);
	if (rc > 0)
		rc = lt_runtime_grad_ready_range(ctx, t, 0, t->numel, &err);
	if (rc < 0)
		lt_fatal(ctx, "lt_grad_ready('%s'): %s", t->name, err.msg);
}

LT_API float lt_loss_scale(const lt_ctx *ctx)
{
	/* the first step's guard asks whether the model read it (guards.h) */
	__atomic_store_n(&((struct lt_ctx *)ctx)->loss_scale_reads, 1, __ATOMIC_RELAXED);
	return ctx->loss_scale;
}
LT_API enum lt_dtype lt_dtype(const lt_ctx *ctx) { return ctx->dtype; }

/* --- the parameters, for strategies (ltrun/strategy.h) --- */

LT_API size_t lt_num_params(const lt_ctx *ctx) { return ctx->nparams; }
LT_API size_t lt_total_numel(const lt_ctx *ctx) { return ctx->numel; }
LT_API size_t lt_offset(const lt_tensor *t) { return check_tensor(t, "lt_offset")->offset; }
LT_API float *lt_master(lt_tensor *t) { return check_tensor(t, "lt_master")->master; }
LT_API float *lt_master_grad(lt_tensor *t) { return check_tensor(t, "lt_master_grad")->master_grad; }
LT_API void lt_views_from_values(lt_ctx *ctx) { ctx->views_from_values = true; }

LT_API lt_tensor *lt_param_at(lt_ctx *ctx, size_t i)
{
	if (i >= ctx->nparams)
		lt_fatal(ctx, "lt_param_at(%zu): the model registered %zu parameters", i,
			 ctx->nparams);
	return ctx->params[i];
}

LT_API int lt_accel_sync(lt_ctx *ctx, struct lt_err *err)
{
	return ctx->accel->sync(err);
}

LT_API struct lt_device lt_device(const lt_ctx *ctx)
{
	return (struct lt_device){ .kind = ctx->accel->kind,
				   .index = ctx->accel->index ? ctx->accel->index() : 0 };
}

LT_API void lt_set_stream(lt_ctx *ctx, void *stream)
{
	if (ctx->accel->set_stream)
		ctx->accel->set_stream(stream);
	else if (stream)
		lt_fatal(ctx, "lt_set_stream() with --accelerator %s: there is no device stream to order after; call it when lt_device() says LT_DEVICE_CUDA",
			 ctx->choice[LT_KIND_ACCELERATOR].named->name);
}

void lt_abi_need_host(lt_ctx *ctx, const char *fn)
{
	if (ctx->accel && !ctx->accel->host_access)
		lt_fatal(ctx, "%s() with --accelerator %s is not built in this version: it works on the parameters in host memory",
			 fn, ctx->choice[LT_KIND_ACCELERATOR].named->name);
}

/* --- metrics --- */

LT_API void lt_log(lt_ctx *ctx, const char *name, double value)
{
	size_t n = name ? strlen(name) : 0;

	/* A name no logger could take (TensorBoard's tags included) costs
	 * its values and one warning, not the run. */
	if (!n || n >= sizeof(ctx->train_metrics[0].name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n) {
		char q[LT_QUOTE_MAX];
		if (!ctx->bad_metric_warned++ && ctx->info.rank == 0)
			lt_warn("lt_log(): bad metric name '%s': use 1 to 47 of [a-z0-9_.]; its values (and those of any other bad name) are not logged",
				lt_quote(q, sizeof(q), name ? name : "(null)"));
		return;
	}
	lt_metric_add(ctx, name, value, ctx->cur_batch_size > 0 ? ctx->cur_batch_size : 1);
}

/* --- collectives on the model's buffers --- */

static void check_coll(lt_ctx *ctx, const char *fn, enum lt_dtype dt, int op)
{
	if ((unsigned)dt >= LT_DTYPE_COUNT)
		lt_fatal(ctx, "%s(): unknown dtype %d: use LT_F32, LT_F64, LT_F16, LT_BF16, LT_I32 or LT_I64",
			 fn, (int)dt);
	if (op < LT_SUM || op > LT_MAX)
		lt_fatal(ctx, "%s(): unknown op %d: use LT_SUM, LT_AVG, LT_MIN or LT_MAX", fn, op);
}

static lt_work *start(lt_ctx *ctx, const char *fn, enum lt_comm_kind kind,
		      const void *send, void *recv, size_t count, enum lt_dtype dt,
		      enum lt_op op, int root)
{
	struct lt_err err = { 0 };
	struct lt_comm_req *req;

	check_coll(ctx, fn, dt, op);
	req = lt_comm_start(ctx->comm, kind, send, recv, count, dt, op, root, &err);
	if (!req)
		lt_fatal(ctx, "%s(%zu x %s): %s", fn, count, lt_dtype_name(dt), err.msg);
	return (lt_work *)req;
}

LT_API void lt_wait(lt_ctx *ctx, lt_work *work)
{
	struct lt_err err = { 0 };

	if (!work)
		lt_fatal(ctx, "lt_wait(NULL): pass the work an lt_*_async() call returned");
	if (lt_comm_wait((struct lt_comm_req *)work, &err))
		lt_fatal(ctx, "collective failed: %s", err.msg);
}

LT_API lt_work *lt_all_reduce_async(lt_ctx *ctx, void *buf, size_t count,
				    enum lt_dtype dt, enum lt_op op)
{
	return start(ctx, "lt_all_reduce", LT_COLL_ALL_REDUCE, buf, buf, count, dt, op, 0);
}

LT_API lt_work *lt_broadcast_async(lt_ctx *ctx, void *buf, size_t count,
				   enum lt_dtype dt, int root)
{
	if (root < 0 || root >= ctx->info.world_size)
		lt_fatal(ctx, "lt_broadcast(): root %d is not a rank of this job (0 to %d)", root,
			 ctx->info.world_size - 1);
	return start(ctx, "lt_broadcast", LT_COLL_BROADCAST, buf, buf, count, dt, LT_SUM, root);
}

LT_API lt_work *lt_all_gather_async(lt_ctx *ctx, const void *send, void *recv,
				    size_t count, enum lt_dtype dt)
{
	return start(ctx, "lt_all_gather", LT_COLL_ALL_GATHER, send, recv, count, dt, LT_SUM, 0);
}

LT_API lt_work *lt_reduce_scatter_async(lt_ctx *ctx, const void *send, void *recv,
					size_t count, enum lt_dtype dt, enum lt_op op)
{
	return start(ctx, "lt_reduce_scatter", LT_COLL_REDUCE_SCATTER, send, recv, count, dt,
		     op, 0);
}

/* The blocking forms run on the calling thread when nothing is queued
 * (comm.h's run_blocking): a hand-off to the communicator's worker and
 * back costs two thread wake-ups, tens of microseconds on a VM, more than
 * a small all-reduce itself. */
static void finish(lt_ctx *ctx, const char *fn, size_t count, enum lt_dtype dt, int rc,
		   const struct lt_err *err)
{
	if (rc)
		lt_fatal(ctx, "%s(%zu x %s): %s", fn, count, lt_dtype_name(dt), err->msg);
}

LT_API void lt_all_reduce(lt_ctx *ctx, void *buf, size_t count, enum lt_dtype dt,
			  enum lt_op op)
{
	struct lt_err err = { 0 };

	check_coll(ctx, "lt_all_reduce", dt, op);
	finish(ctx, "lt_all_reduce", count, dt,
	       lt_comm_all_reduce(ctx->comm, buf, count, dt, op, &err), &err);
}

LT_API void lt_broadcast(lt_ctx *ctx, void *buf, size_t count, enum lt_dtype dt, int root)
{
	struct lt_err err = { 0 };

	if (root < 0 || root >= ctx->info.world_size)
		lt_fatal(ctx, "lt_broadcast(): root %d is not a rank of this job (0 to %d)", root,
			 ctx->info.world_size - 1);
	check_coll(ctx, "lt_broadcast", dt, LT_SUM);
	finish(ctx, "lt_broadcast", count, dt,
	       lt_comm_broadcast(ctx->comm, buf, count, dt, root, &err), &err);
}

LT_API void lt_all_gather(lt_ctx *ctx, const void *send, void *recv, size_t count,
			  enum lt_dtype dt)
{
	struct lt_err err = { 0 };

	check_coll(ctx, "lt_all_gather", dt, LT_SUM);
	finish(ctx, "lt_all_gather", count, dt,
	       lt_comm_all_gather(ctx->comm, send, recv, count, dt, &err), &err);
}

LT_API void lt_reduce_scatter(lt_ctx *ctx, const void *send, void *recv, size_t count,
			      enum lt_dtype dt, enum lt_op op)
{
	struct lt_err err = { 0 };

	check_coll(ctx, "lt_reduce_scatter", dt, op);
	finish(ctx, "lt_reduce_scatter", count, dt,
	       lt_comm_reduce_scatter(ctx->comm, send, recv, count, dt, op, &err), &err);
}

/* --- the data shard --- */

LT_API int64_t lt_shard(lt_ctx *ctx, int64_t num_samples, int epoch, int64_t *out)
{
	if (num_samples < 0 || (num_samples > 0 && !out))
		lt_fatal(ctx, "lt_shard(%lld samples): give a count >= 0 and room for the indices",
			 (long long)num_samples);
	int64_t n = lt_sampler_shard(num_samples, ctx->info.world_size, ctx->info.rank,
				     (uint64_t)ctx->cfg->seed, epoch, true, out);

	if (n < 0)
		lt_fatal(ctx, "lt_shard(%lld samples): out of memory for the epoch's permutation",
			 (long long)num_samples);
	return n;
}

/* --- Fabric mode's training step --- */

void lt_abi_ensure_setup(lt_ctx *ctx, const char *fn)
{
	struct lt_err err = { 0 };

	if (ctx->params_frozen)
		return;
	if (!ctx->nparams)
		lt_fatal(ctx, "%s() before any lt_param(): register the parameters first", fn);
	if (ctx->cfg->init_weights && ctx->accel && !ctx->accel->host_access)
		lt_fatal(ctx, "--init-weights with --accelerator %s is not built in this version: the weights are read into host memory",
			 ctx->choice[LT_KIND_ACCELERATOR].named->name);
	lt_init_weights_apply(ctx); /* --init-weights: rank 0 reads, setup shares */
	if (lt_runtime_setup(ctx, &err))
		lt_fatal(ctx, "%s(): %s", fn, err.msg);
}

LT_API void lt_sync_grads(lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	lt_abi_ensure_setup(ctx, "lt_sync_grads");
	lt_ready_micro_done(ctx, NULL);
	if (lt_runtime_sync(ctx, &err))
		lt_fatal(ctx, "lt_sync_grads(): %s", err.msg);
	ctx->syncing = true;
}

LT_API void lt_optimizer_step(lt_ctx *ctx)
{
	struct lt_err err = { 0 };

	lt_abi_ensure_setup(ctx, "lt_optimizer_step");
	if (lt_runtime_optimizer_step(ctx, lt_runtime_lr(ctx, -1), &err))
		lt_fatal(ctx, "optimizer step: %s", err.msg);
}

LT_API double lt_lr(const lt_ctx *ctx)
{
	return lt_runtime_lr(ctx, -1);
}
