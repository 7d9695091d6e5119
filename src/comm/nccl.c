/*
 * nccl.c - the `nccl` communicator: NCCL between the ranks' GPUs, on one
 * node or many.  libnccl.so.2 is loaded with dlopen (LTRUN_NCCL_LIBRARY
 * names another), so ltrun runs where NCCL is missing and says so when
 * it is asked for.
 *
 * Open: every rank publishes its host and GPU UUID; the group's first
 * rank refuses two ranks on one GPU (naming them, where NCCL would say
 * "Duplicate GPU detected"), makes the unique id and publishes it under a
 * key of its own for this communicator; then every rank initialises
 * non-blocking (ncclCommInitRankConfig, blocking=0) and polls.
 *
 * A collective runs on the communicator's stream, after the work already
 * queued on the device's default stream (an event between them), and is
 * polled to the end: ncclCommGetAsyncError and the stream, at every poll
 * through the watchdog of nccl_watch.c, which aborts the communicator
 * (ncclCommAbort) on an error or past the collective timeout, so that a
 * rank whose peer died returns with a message instead of hanging.  Host
 * buffers (the runtime's metrics, the --debug-collectives check) are
 * copied through a device scratch buffer.  The generic layer (comm.c)
 * gives the non-blocking forms their worker thread.
 */
#include "comm/comm.h"

#if LT_HAVE_CUDA
#include "comm/nccl.h"
#include "accel/cuda_driver.h"
#include "accel/cuda_stream.h"
#include "accel/cuda_visible.h"
#include "comm/nccl_watch.h"
#include "core/clock.h"
#include "rdzv/rdzv.h"

#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LT_NCCL_FUNCS(X)                                                                     \
	X(ncclGetVersion) X(ncclGetUniqueId) X(ncclCommInitRankConfig)                       \
	X(ncclCommGetAsyncError) X(ncclCommAbort) X(ncclCommDestroy) X(ncclCommFinalize)     \
	X(ncclGetErrorString) X(ncclGetLastError) X(ncclAllReduce) X(ncclBroadcast)          \
	X(ncclAllGather) X(ncclReduceScatter) X(ncclReduce) X(ncclGroupStart) X(ncclGroupEnd)

static struct {
#define LT_NCCL_FIELD(f) __typeof__(&f) f;
	LT_NCCL_FUNCS(LT_NCCL_FIELD)
#undef LT_NCCL_FIELD
	int version;
} nc;

_Static_assert(sizeof(ncclUniqueId) == LT_NCCL_ID_BYTES, "NCCL's unique id size");
static struct lt_err nc_err;
static int nc_loaded;
static pthread_once_t nc_once = PTHREAD_ONCE_INIT;
static atomic_uint open_count;

static void load_nccl(void)
{
	const char *lib = getenv("LTRUN_NCCL_LIBRARY");
	void *h;

	if (!lib || !*lib)
		lib = "libnccl.so.2";
	if (!(h = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) {
		lt_err_set(&nc_err, LT_EXIT_FAILURE,
			   "communicator 'nccl': cannot load %s (%s): install NCCL (libnccl2) or put its directory in LD_LIBRARY_PATH",
			   lib, dlerror());
		nc_loaded = -1;
		return;
	}
#define LT_NCCL_LOOKUP(f)                                                                      \
	if (!(*(void **)&nc.f = dlsym(h, #f))) {                                               \
		lt_err_set(&nc_err, LT_EXIT_FAILURE,                                           \
			   "communicator 'nccl': %s has no %s: NCCL 2.14 or newer is needed", lib, #f); \
		nc_loaded = -1;                                                                \
		return;                                                                        \
	}
	LT_NCCL_FUNCS(LT_NCCL_LOOKUP)
#undef LT_NCCL_LOOKUP
	nc.ncclGetVersion(&nc.version);
	nc_loaded = 1;
}

static int need_nccl(struct lt_err *err)
{
	pthread_once(&nc_once, load_nccl);
	if (nc_loaded < 0) {
		*err = nc_err;
		return -1;
	}
	return 0;
}

struct nccl {
	const struct lt_cuda_driver *d;
	CUcontext ctx;
	ncclComm_t comm;
	CUstream stream;
	CUevent after;     /* the default stream's work before a collective */
	CUdeviceptr scratch;
	size_t scratch_bytes;
	int timeout_ms;
	struct lt_nccl_watch watch;
};

static void bind_thread(struct nccl *n)
{
	CUcontext cur = NULL;

	if (n->d->cuCtxGetCurrent(&cur) != CUDA_SUCCESS || cur != n->ctx)
		n->d->cuCtxSetCurrent(n->ctx);
}

static const char *nccl_error(struct nccl *n, ncclResult_t r, char *buf, size_t len)
{
	const char *last = n->comm ? nc.ncclGetLastError(n->comm) : NULL;

	snprintf(buf, len, "%s%s%s", nc.ncclGetErrorString(r), last && *last ? ": " : "",
		 last && *last ? last : "");
	return buf;
}

/* Polls until NCCL and (stream) the stream are done; aborts the
 * communicator on an error or the timeout (nccl_watch.c). */
static int poll_done(struct lt_comm *c, struct nccl *n, const char *what, bool stream,
		     struct lt_err *err)
{
	char text[256];
	long spins = 0;

	if (!lt_nccl_watch_begin(&n->watch, what, lt_now_ns(), n->timeout_ms))
		return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s): %s: the communicator was aborted before: %s",
				  c->scope, what, n->watch.why);
	for (;;) {
		enum lt_nccl_seen seen = LT_NCCL_SEEN_BUSY;
		ncclResult_t r = ncclSuccess;
		enum lt_nccl_verdict v;

		text[0] = '\0';
		if (nc.ncclCommGetAsyncError(n->comm, &r) != ncclSuccess || (r != ncclSuccess && r != ncclInProgress)) {
			seen = LT_NCCL_SEEN_ERROR;
			nccl_error(n, r, text, sizeof(text));
		} else if (r == ncclSuccess) {
			CUresult q = stream ? n->d->cuStreamQuery(n->stream) : CUDA_SUCCESS;

			if (q == CUDA_SUCCESS) {
				seen = LT_NCCL_SEEN_DONE;
			} else if (q != CUDA_ERROR_NOT_READY) {
				const char *s = NULL;

				n->d->cuGetErrorString(q, &s);
				seen = LT_NCCL_SEEN_ERROR;
				snprintf(text, sizeof(text), "CUDA error %d (%s) on the stream", (int)q,
					 s ? s : "?");
			}
		}
		v = lt_nccl_watch_poll(&n->watch, seen, text, false, lt_now_ns());
		if (v == LT_NCCL_OK)
			return 0;
		if (v == LT_NCCL_ABORT) {
			nc.ncclCommAbort(n->comm);
			n->comm = NULL;
			return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s, rank %d of %d): %s", c->scope,
					  c->rank, c->size, n->watch.why);
		}
		/* a short collective ends while spinning; a long one is not
		 * kept waiting by more than 0.2 ms */
		if (++spins > 2000) {
			struct timespec ts = { 0, spins > 20000 ? 200000 : 20000 };

			nanosleep(&ts, NULL);
		}
	}
}

/* --- open --- */

static int get_text(const struct lt_comm_args *a, const char *key, int from, char **out,
		    struct lt_err *err)
{
	void *v = NULL;
	size_t len;

	if (a->rz->ops->get(a->rz, key, from, &v, &len, err))
		return -1;
	*out = v;
	return 0;
}

/* The group's first rank: no two ranks on one GPU, then the unique id
 * (or the refusal) under idkey. */
static int make_id(const struct lt_comm_args *a, const char *prefix, const char *idkey,
		   ncclUniqueId *id, struct lt_err *err)
{
	char **ids = calloc((size_t)a->size, sizeof(*ids)), key[160], msg[300];
	int first, second, rc = 0;

	if (!ids)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int r = 0; r < a->size && !rc; r++) {
		snprintf(key, sizeof(key), "%s/gpu%d", prefix, r);
		rc = get_text(a, key, a->global_rank ? a->global_rank[r] : r, &ids[r], err);
	}
	if (!rc && lt_cuda_find_shared((const char *const *)ids, a->size, &first, &second)) {
		const char *gpu = strrchr(ids[first], '/');

		snprintf(msg, sizeof(msg),
			 "Eranks %d and %d are both on %s of host %.*s: give each rank its own device (CUDA_VISIBLE_DEVICES, or --devices no more than the GPUs)",
			 a->global_rank ? a->global_rank[first] : first,
			 a->global_rank ? a->global_rank[second] : second, gpu ? gpu + 1 : ids[first],
			 gpu ? (int)(gpu - ids[first]) : 1, gpu ? ids[first] : "?");
		rc = a->rz->ops->put(a->rz, idkey, msg, strlen(msg) + 1, err) ? -1
			: lt_err_set(err, LT_EXIT_FAILURE, "communicator 'nccl': %s", msg + 1);
	} else if (!rc) {
		ncclResult_t r = nc.ncclGetUniqueId(id);
		char buf[1 + sizeof(*id)];

		if (r != ncclSuccess)
			rc = lt_err_set(err, LT_EXIT_FAILURE, "communicator 'nccl': ncclGetUniqueId: %s",
					nc.ncclGetErrorString(r));
		else {
			buf[0] = 'I';
			memcpy(buf + 1, id, sizeof(*id));
			rc = a->rz->ops->put(a->rz, idkey, buf, sizeof(buf), err);
		}
	}
	for (int r = 0; r < a->size; r++)
		free(ids[r]);
	free(ids);
	return rc;
}

static int take_id(const struct lt_comm_args *a, const char *idkey, ncclUniqueId *id,
		   struct lt_err *err)
{
	void *v = NULL;
	size_t len = 0;
	int rc = 0;

	if (a->rz->ops->get(a->rz, idkey, a->global_rank ? a->global_rank[0] : 0, &v, &len, err))
		return -1;
	if (len >= 1 && ((char *)v)[0] == 'E')
		rc = lt_err_set(err, LT_EXIT_FAILURE, "communicator 'nccl': %s", (char *)v + 1);
	else if (len != 1 + sizeof(*id) || ((char *)v)[0] != 'I')
		rc = lt_err_set(err, LT_EXIT_FAILURE,
				"communicator 'nccl': the unique id under '%s' is %zu bytes, not %zu: a rank of another ltrun version?",
				idkey, len, 1 + sizeof(*id));
	else
		memcpy(id, (char *)v + 1, sizeof(*id));
	free(v);
	return rc;
}

int lt_nccl_exchange_id(const struct lt_comm_args *a, const char *me, void *id_out,
			struct lt_err *err)
{
	char prefix[128], key[160], idkey[160];
	ncclUniqueId id;

	if (need_nccl(err))
		return -1;
	if (!a->rz)
		return lt_err_set(err, LT_EXIT_FAILURE, "communicator 'nccl' needs a rendezvous");
	/* keys of its own for each communicator: every rank opens them in
	 * the same order */
	snprintf(prefix, sizeof(prefix), "comm/%s/nccl%u", a->scope, atomic_fetch_add(&open_count, 1));
	snprintf(key, sizeof(key), "%s/gpu%d", prefix, a->rank);
	snprintf(idkey, sizeof(idkey), "%s/id", prefix);
	if (a->rz->ops->put(a->rz, key, me, strlen(me) + 1, err))
		return -1;
	if (a->rank == 0 ? make_id(a, prefix, idkey, &id, err) : take_id(a, idkey, &id, err))
		return -1;
	memcpy(id_out, &id, sizeof(id));
	return 0;
}

static int nccl_open(struct lt_comm *c, const struct lt_comm_args *a, struct lt_err *err)
{
	struct nccl *n = calloc(1, sizeof(*n));
	ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
	char me[160], uuid[48];
	ncclUniqueId id;
	ncclResult_t r;
	CUdevice dev;
	CUuuid u;

	c->state = n;
	if (!n)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (need_nccl(err) || !(n->d = lt_cuda_driver(err)))
		return -1;
	if (n->d->cuCtxGetCurrent(&n->ctx) != CUDA_SUCCESS || !n->ctx ||
	    n->d->cuCtxGetDevice(&dev) != CUDA_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "communicator 'nccl' moves GPU memory: it needs --accelerator cuda (this rank has no GPU open)");
	n->timeout_ms = a->timeout_ms;
	n->d->cuDeviceGetUuid(&u, dev);
	lt_cuda_uuid_text((const unsigned char *)u.bytes, uuid, sizeof(uuid));
	snprintf(me, sizeof(me), "%s/%s", a->host ? a->host : "?", uuid);
	if (lt_nccl_exchange_id(a, me, &id, err))
		return -1;
	cfg.blocking = 0;
	r = nc.ncclCommInitRankConfig(&n->comm, a->size, id, a->rank, &cfg);
	if (r != ncclSuccess && r != ncclInProgress) {
		char text[256];

		return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s): ncclCommInitRankConfig: %s",
				  a->scope, nccl_error(n, r, text, sizeof(text)));
	}
	if (poll_done(c, n, "init", false, err))
		return -1;
	if (lt_cuda_check(n->d, n->d->cuStreamCreate(&n->stream, CU_STREAM_NON_BLOCKING),
			  "nccl: creating its stream", err) ||
	    lt_cuda_check(n->d, n->d->cuEventCreate(&n->after, CU_EVENT_DISABLE_TIMING),
			  "nccl: creating its event", err))
		return -1;
	return 0;
}

static void nccl_close(struct lt_comm *c)
{
	struct nccl *n = c->state;

	if (!n)
		return;
	if (n->d && n->ctx)
		bind_thread(n);
	if (n->comm) {
		if (n->stream)
			n->d->cuStreamSynchronize(n->stream);
		nc.ncclCommDestroy(n->comm);
	}
	if (n->scratch)
		n->d->cuMemFree(n->scratch);
	if (n->after)
		n->d->cuEventDestroy(n->after);
	if (n->stream)
		n->d->cuStreamDestroy(n->stream);
	free(n);
	c->state = NULL;
}

/* --- collectives --- */

static ncclDataType_t nccl_dtype(enum lt_dtype dt)
{
	switch (dt) {
	case LT_F32: return ncclFloat32;
	case LT_F64: return ncclFloat64;
	case LT_F16: return ncclFloat16;
	case LT_BF16: return ncclBfloat16;
	case LT_I32: return ncclInt32;
	case LT_I64: return ncclInt64;
	}
	return ncclFloat32;
}

static ncclRedOp_t nccl_op(enum lt_op op)
{
	switch (op) {
	case LT_SUM: return ncclSum;
	case LT_AVG: return ncclAvg;
	case LT_MIN: return ncclMin;
	case LT_MAX: return ncclMax;
	}
	return ncclSum;
}

static size_t esize(enum lt_dtype dt)
{
	return dt == LT_F64 || dt == LT_I64 ? 8 : dt == LT_F16 || dt == LT_BF16 ? 2 : 4;
}

static bool on_device(struct nccl *n, const void *p)
{
	unsigned int type = 0;

	return p && n->d->cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
						(CUdeviceptr)(uintptr_t)p) == CUDA_SUCCESS &&
	       type == CU_MEMORYTYPE_DEVICE;
}

static int grow_scratch(struct nccl *n, size_t bytes, struct lt_err *err)
{
	if (bytes <= n->scratch_bytes)
		return 0;
	if (n->scratch)
		n->d->cuMemFree(n->scratch);
	n->scratch = 0;
	n->scratch_bytes = 0;
	if (lt_cuda_check(n->d, n->d->cuMemAlloc(&n->scratch, bytes), "nccl: device scratch for a host buffer", err))
		return -1;
	n->scratch_bytes = bytes;
	return 0;
}

/* One collective: kind as comm.c numbers them; send/recv as the backend
 * ops take them (sbytes and rbytes their sizes; recv_off: where recv is in
 * send when in place). */
struct call {
	const char *name;
	enum lt_comm_kind kind;
	const void *send;
	void *recv;
	size_t count;           /* all_gather: per rank; reduce_scatter: the result's */
	const size_t *counts;   /* reduce_scatter_v */
	enum lt_dtype dt;
	enum lt_op op;
	int root;
	size_t sbytes, rbytes;
};

static ncclResult_t enqueue(struct lt_comm *c, struct nccl *n, const struct call *k,
			    const void *send, void *recv)
{
	ncclDataType_t dt = nccl_dtype(k->dt);
	ncclResult_t r = ncclSuccess;
	CUstream s = n->stream;

	switch (k->kind) {
	case LT_COLL_BARRIER:
	case LT_COLL_ALL_REDUCE:
		return nc.ncclAllReduce(send, recv, k->count, dt, nccl_op(k->op), n->comm, s);
	case LT_COLL_BROADCAST:
		return nc.ncclBroadcast(send, recv, k->count, dt, k->root, n->comm, s);
	case LT_COLL_ALL_GATHER:
		return nc.ncclAllGather(send, recv, k->count, dt, n->comm, s);
	case LT_COLL_REDUCE_SCATTER:
		return nc.ncclReduceScatter(send, recv, k->count, dt, nccl_op(k->op), n->comm, s);
	case LT_COLL_REDUCE_SCATTER_V: {
		size_t off = 0;

		/* uneven blocks: one reduce to each block's owner, grouped */
		nc.ncclGroupStart();
		for (int j = 0; j < c->size && (r == ncclSuccess || r == ncclInProgress); j++) {
			const char *from = (const char *)send + off * esize(k->dt);

			r = nc.ncclReduce(from, j == c->rank ? recv : (void *)from, k->counts[j], dt,
					  nccl_op(k->op), j, n->comm, s);
			off += k->counts[j];
		}
		{
			ncclResult_t e = nc.ncclGroupEnd();

			return r != ncclSuccess && r != ncclInProgress ? r : e;
		}
	}
	}
	return ncclInvalidArgument;
}

/* NCCL's stream waits for what the model queued on its stream (the
 * accelerator's: lt_set_stream, or the legacy default); an aborted
 * communicator takes nothing more. */
static int order_after_model(struct lt_comm *c, struct nccl *n, const char *name,
			     struct lt_err *err)
{
	if (lt_cuda_check(n->d, n->d->cuEventRecord(n->after, lt_cuda_stream()), "nccl: ordering after the model's work", err) ||
	    lt_cuda_check(n->d, n->d->cuStreamWaitEvent(n->stream, n->after, 0), "nccl: ordering after the model's work", err))
		return -1;
	if (!n->comm)
		return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s): %s after the communicator was aborted: %s",
				  c->scope, name, n->watch.why);
	return 0;
}

static int run(struct lt_comm *c, const struct call *k, struct lt_err *err)
{
	struct nccl *n = c->state;
	const void *send = k->send;
	void *recv = k->recv;
	bool stage = (k->sbytes && !on_device(n, k->send)) || (k->rbytes && !on_device(n, k->recv));
	size_t roff = 0;
	char what[64], text[256];
	ncclResult_t r;

	bind_thread(n);
	if (stage) {
		/* the host buffers through device scratch, laid out as the
		 * caller's: in place, one buffer inside the other (a
		 * reduce-scatter's recv in send, an all-gather's send in recv);
		 * else [send | recv] */
		const char *s0 = k->send, *r0 = k->recv;
		bool r_in_s = s0 && r0 >= s0 && r0 < s0 + k->sbytes;
		bool s_in_r = !r_in_s && s0 && s0 >= r0 && s0 < r0 + k->rbytes;
		size_t soff = s_in_r ? (size_t)(s0 - r0) : 0, whole;

		roff = r_in_s ? (size_t)(r0 - s0) : s_in_r ? 0 : k->sbytes;
		whole = r_in_s ? k->sbytes : s_in_r ? k->rbytes : k->sbytes + k->rbytes;
		if (grow_scratch(n, whole ? whole : 64, err))
			return -1;
		if (k->sbytes &&
		    lt_cuda_check(n->d, n->d->cuMemcpy(n->scratch + soff, (CUdeviceptr)(uintptr_t)s0, k->sbytes),
				  "nccl: copying a host buffer in", err))
			return -1;
		send = (const void *)(uintptr_t)(n->scratch + soff);
		recv = (void *)(uintptr_t)(n->scratch + roff);
	}
	if (order_after_model(c, n, k->name, err))
		return -1;
	r = enqueue(c, n, k, send, recv);
	if (r != ncclSuccess && r != ncclInProgress)
		return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s): %s: %s", c->scope, k->name,
				  nccl_error(n, r, text, sizeof(text)));
	snprintf(what, sizeof(what), "%s of %zu %s", k->name, k->count,
		 k->dt == LT_F32 ? "f32" : k->dt == LT_F64 ? "f64" : k->dt == LT_F16 ? "f16" :
		 k->dt == LT_BF16 ? "bf16" : k->dt == LT_I32 ? "i32" : "i64");
	if (poll_done(c, n, what, true, err))
		return -1;
	if (stage && k->rbytes &&
	    lt_cuda_check(n->d, n->d->cuMemcpy((CUdeviceptr)(uintptr_t)k->recv, n->scratch + roff, k->rbytes),
			  "nccl: copying a result out to a host buffer", err))
		return -1;
	return 0;
}

static int nccl_barrier(struct lt_comm *c, struct lt_err *err)
{
	struct nccl *n = c->state;
	struct call k = { .name = "barrier", .kind = LT_COLL_BARRIER, .count = 1, .dt = LT_I32,
			  .op = LT_SUM };

	bind_thread(n);
	if (grow_scratch(n, 64, err))
		return -1;
	k.send = k.recv = (void *)(uintptr_t)n->scratch;
	return run(c, &k, err);
}

static int nccl_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt, int root,
			  struct lt_err *err)
{
	size_t b = count * esize(dt);
	struct call k = { .name = "broadcast", .kind = LT_COLL_BROADCAST, .send = buf, .recv = buf,
			  .count = count, .dt = dt, .root = root, .sbytes = b, .rbytes = b };

	return run(c, &k, err);
}

static int nccl_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			   enum lt_op op, struct lt_err *err)
{
	size_t b = count * esize(dt);
	struct call k = { .name = "all_reduce", .kind = LT_COLL_ALL_REDUCE, .send = buf, .recv = buf,
			  .count = count, .dt = dt, .op = op, .sbytes = b, .rbytes = b };

	return run(c, &k, err);
}

static int nccl_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			   enum lt_dtype dt, struct lt_err *err)
{
	size_t b = count * esize(dt);
	struct call k = { .name = "all_gather", .kind = LT_COLL_ALL_GATHER, .send = send,
			  .recv = recv, .count = count, .dt = dt, .sbytes = b,
			  .rbytes = b * (size_t)c->size };

	return run(c, &k, err);
}

static int nccl_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			       enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	size_t b = count * esize(dt);
	struct call k = { .name = "reduce_scatter", .kind = LT_COLL_REDUCE_SCATTER, .send = send,
			  .recv = recv, .count = count, .dt = dt, .op = op,
			  .sbytes = b * (size_t)c->size, .rbytes = b };

	return run(c, &k, err);
}

static int nccl_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
				 const size_t *counts, enum lt_dtype dt, enum lt_op op,
				 struct lt_err *err)
{
	size_t total = 0;
	struct call k = { .name = "reduce_scatter_v", .kind = LT_COLL_REDUCE_SCATTER_V,
			  .send = send, .recv = recv, .counts = counts, .dt = dt, .op = op };

	for (int j = 0; j < c->size; j++)
		total += counts[j];
	k.count = counts[c->rank];
	k.sbytes = total * esize(dt);
	k.rbytes = counts[c->rank] * esize(dt);
	return run(c, &k, err);
}

/* A group (the buckets that became ready at once): one ncclGroupStart/
 * End around every collective, one wait for all.  Device buffers only: a
 * host buffer's staging, or a barrier, goes one by one (returns 1). */
static int nccl_group(struct lt_comm *c, const struct lt_comm_call *calls, size_t count,
		      struct lt_err *err)
{
	struct nccl *n = c->state;
	ncclResult_t r = ncclSuccess, e;
	char what[64], text[256];

	for (size_t i = 0; i < count; i++)
		if (calls[i].kind == LT_COLL_BARRIER || /* its buffer is the scratch */
		    (calls[i].send && !on_device(n, calls[i].send)) ||
		    (calls[i].recv && !on_device(n, calls[i].recv)))
			return 1;
	bind_thread(n);
	if (order_after_model(c, n, "a group of collectives", err))
		return -1;
	nc.ncclGroupStart();
	for (size_t i = 0; i < count && (r == ncclSuccess || r == ncclInProgress); i++) {
		const struct lt_comm_call *a = &calls[i];
		struct call k = { .kind = a->kind, .send = a->send, .recv = a->recv,
				  .count = a->count, .counts = a->counts, .dt = a->dt, .op = a->op,
				  .root = a->root };

		/* in place, as the single calls take them */
		r = enqueue(c, n, &k, a->kind == LT_COLL_ALL_REDUCE || a->kind == LT_COLL_BROADCAST
					      ? a->recv : a->send, a->recv);
	}
	e = nc.ncclGroupEnd();
	if (r == ncclSuccess || r == ncclInProgress)
		r = e;
	if (r != ncclSuccess && r != ncclInProgress)
		return lt_err_set(err, LT_EXIT_FAILURE, "nccl (%s): a group of %zu collectives: %s",
				  c->scope, count, nccl_error(n, r, text, sizeof(text)));
	snprintf(what, sizeof(what), "a group of %zu collectives", count);
	return poll_done(c, n, what, true, err);
}

const struct lt_comm_ops lt_comm_nccl = {
	.intra_node = true,
	.inter_node = true,
	.averages = true,
	.device_buffers = true,
	.open = nccl_open,
	.barrier = nccl_barrier,
	.broadcast = nccl_broadcast,
	.all_reduce = nccl_all_reduce,
	.all_gather = nccl_all_gather,
	.reduce_scatter = nccl_reduce_scatter,
	.reduce_scatter_v = nccl_reduce_scatter_v,
	.close = nccl_close,
	.group = nccl_group,
};
#endif
