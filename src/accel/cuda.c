/*
 * cuda.c - the `cuda` accelerator: one GPU a rank (local rank r takes the
 * r-th device CUDA shows it, cuda_visible.c), its primary context, and
 * the parameter arenas in its memory through the driver's virtual-memory
 * API: the whole reservation is address space (cuMemAddressReserve), and
 * physical memory is created and mapped a grain at a time as the arena
 * grows, so that every pointer stays valid for the run.  The driver is
 * loaded with dlopen (cuda_driver.c): ltrun built with CUDA's headers
 * runs on machines without a driver, and says so when cuda is asked for.
 *
 * The host cannot touch these arenas (host_access false): the runtime
 * copies initial values in, steps the optimizer and clips with this
 * file's kernels (cuda_kernels.cu, a fatbin embedded at build time and
 * loaded on first use), and refuses what it would do to them on the host
 * (accel.h).  Checkpoints stage through pinned host memory on a
 * non-blocking stream of their own (stage_out, ordered after the work
 * asked so far by an event).  discard zeroes without giving memory back,
 * and guard is refused: the sharded strategies on the device are not
 * built yet.
 */
#include "accel/accel.h"
#include "core/registry.h"

#if LT_HAVE_CUDA
#include "accel/cuda_driver.h"
#include "accel/cuda_stream.h"
#include "accel/cuda_visible.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Physical memory comes in grains of at least this (and of the
 * driver's granularity); each grain is its own mapping. */
#define GRAIN_MIN ((size_t)2 << 20)

static struct {
	const struct lt_cuda_driver *d;
	CUdevice dev;
	CUcontext ctx;
	int ordinal;
	size_t grain;
	char uuid[48];
	char name[128];
	CUstream stream; /* the model's (lt_set_stream), or the legacy default */
} gpu = { .ordinal = -1, .stream = CU_STREAM_LEGACY };

CUstream lt_cuda_stream(void)
{
	return gpu.stream;
}

static void cuda_set_stream(void *stream)
{
	gpu.stream = stream ? (CUstream)stream : CU_STREAM_LEGACY;
}

/* Waits for the work on the stream (a result the host reads, memory a
 * caller frees or reuses). */
static int stream_sync(const char *what, struct lt_err *err)
{
	return lt_cuda_check(gpu.d, gpu.d->cuStreamSynchronize(gpu.stream), what, err);
}

/* The device's context on the calling thread (the communicator's worker
 * and the checkpoint threads call in too). */
static void bind_thread(void)
{
	CUcontext cur = NULL;

	if (gpu.ctx && (gpu.d->cuCtxGetCurrent(&cur) != CUDA_SUCCESS || cur != gpu.ctx))
		gpu.d->cuCtxSetCurrent(gpu.ctx);
}

static int cuda_open(int local_rank, int local_world, struct lt_err *err)
{
	struct lt_cuda_visible vis;
	CUmemAllocationProp prop = { 0 };
	const struct lt_cuda_driver *d;
	CUuuid uuid;
	int count = 0, vmm = 0;
	size_t gran = 0;
	char what[64];

	if (lt_cuda_visible_parse(getenv("CUDA_VISIBLE_DEVICES"), &vis, err))
		return -1;
	if (!(d = lt_cuda_driver(err)))
		return -1;
	gpu.d = d;
	if (lt_cuda_check(d, d->cuDeviceGetCount(&count), "cuDeviceGetCount", err) ||
	    lt_cuda_pick_device(local_rank, local_world, count, &vis, &gpu.ordinal, err))
		return -1;
	snprintf(what, sizeof(what), "device %d", gpu.ordinal);
	if (lt_cuda_check(d, d->cuDeviceGet(&gpu.dev, gpu.ordinal), what, err) ||
	    lt_cuda_check(d, d->cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, gpu.dev), what, err))
		return -1;
	d->cuDeviceGetName(gpu.name, (int)sizeof(gpu.name), gpu.dev);
	if (!vmm)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--accelerator cuda: device %d (%s) lacks the driver's virtual memory management, which ltrun's arenas need: use a newer GPU or driver",
				  gpu.ordinal, gpu.name);
	if (lt_cuda_check(d, d->cuDeviceGetUuid(&uuid, gpu.dev), what, err) ||
	    lt_cuda_check(d, d->cuDevicePrimaryCtxRetain(&gpu.ctx, gpu.dev), what, err) ||
	    lt_cuda_check(d, d->cuCtxSetCurrent(gpu.ctx), what, err))
		return -1;
	lt_cuda_uuid_text((const unsigned char *)uuid.bytes, gpu.uuid, sizeof(gpu.uuid));
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = gpu.dev;
	if (lt_cuda_check(d, d->cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED), "cuMemGetAllocationGranularity", err))
		return -1;
	/* at least GRAIN_MIN, a multiple of the driver's granularity */
	gpu.grain = gran ? (GRAIN_MIN + gran - 1) / gran * gran : GRAIN_MIN;
	return 0;
}

static int cuda_index(void) { return gpu.ordinal; }
static const char *cuda_uuid(void) { return gpu.uuid; }

static int cuda_auto_devices(void)
{
	struct lt_err err = { 0 };
	const struct lt_cuda_driver *d = lt_cuda_driver(&err);
	int n = 0;

	/* no driver: one rank, which says why it cannot run */
	if (!d || d->cuDeviceGetCount(&n) != CUDA_SUCCESS || n < 1)
		return 1;
	return n;
}

static int need_open(struct lt_err *err)
{
	return gpu.ctx ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "the cuda accelerator was not opened");
}

static int cuda_reserve(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	CUdeviceptr p = 0;

	memset(a, 0, sizeof(*a));
	if (need_open(err))
		return -1;
	bind_thread();
	bytes = (bytes + gpu.grain - 1) / gpu.grain * gpu.grain;
	if (gpu.d->cuMemAddressReserve(&p, bytes, gpu.grain, 0, 0) != CUDA_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot reserve %zu GiB of device address space on GPU %d for parameters",
				  bytes >> 30, gpu.ordinal);
	a->base = (char *)(uintptr_t)p;
	a->reserved = bytes;
	return 0;
}

/* Maps physical memory under [a->committed, to). */
static int commit(struct lt_arena *a, size_t to, struct lt_err *err)
{
	CUmemAllocationProp prop = { 0 };
	CUmemAccessDesc acc = { 0 };

	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = gpu.dev;
	acc.location = prop.location;
	acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	while (a->committed < to) {
		CUdeviceptr at = (CUdeviceptr)(uintptr_t)(a->base + a->committed);
		CUmemGenericAllocationHandle h;
		CUresult rc = gpu.d->cuMemCreate(&h, gpu.grain, &prop, 0);

		if (rc != CUDA_SUCCESS) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "out of memory on GPU %d (%s) for parameters: %zu MiB in this arena so far (cuMemCreate error %d)",
				   gpu.ordinal, gpu.name, a->committed >> 20, (int)rc);
			return -1;
		}
		rc = gpu.d->cuMemMap(at, gpu.grain, 0, h, 0);
		if (rc == CUDA_SUCCESS)
			rc = gpu.d->cuMemSetAccess(at, gpu.grain, &acc, 1);
		/* the mapping holds the memory from here on */
		gpu.d->cuMemRelease(h);
		if (rc != CUDA_SUCCESS)
			return lt_cuda_check(gpu.d, rc, "mapping parameter memory", err);
		a->committed += gpu.grain;
	}
	return 0;
}

static void *cuda_alloc(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	size_t start, end;

	if (!lt_arena_place(a, bytes, &start, &end)) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "parameters need more than the %zu GiB of device address space ltrun reserves",
			   a->reserved >> 30);
		return NULL;
	}
	bind_thread();
	if (end > a->committed && commit(a, end, err))
		return NULL;
	if (bytes && (gpu.d->cuMemsetD8Async((CUdeviceptr)(uintptr_t)(a->base + start), 0, bytes,
					     gpu.stream) != CUDA_SUCCESS ||
		      gpu.d->cuStreamSynchronize(gpu.stream) != CUDA_SUCCESS)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot zero %zu bytes on GPU %d", bytes,
			   gpu.ordinal);
		return NULL;
	}
	a->used = end;
	return a->base + start;
}

static void cuda_release(struct lt_arena *a)
{
	if (a->base && gpu.d) {
		bind_thread();
		gpu.d->cuCtxSynchronize();
		for (size_t off = 0; off < a->committed; off += gpu.grain)
			gpu.d->cuMemUnmap((CUdeviceptr)(uintptr_t)(a->base + off), gpu.grain);
		gpu.d->cuMemAddressFree((CUdeviceptr)(uintptr_t)a->base, a->reserved);
	}
	memset(a, 0, sizeof(*a));
}

static void cuda_fill(void *dst, int byte, size_t bytes)
{
	bind_thread();
	if (bytes)
		gpu.d->cuMemsetD8Async((CUdeviceptr)(uintptr_t)dst, (unsigned char)byte, bytes,
				       gpu.stream);
}

static void cuda_copy(void *dst, const void *src, size_t bytes)
{
	bind_thread();
	/* unified addressing: the driver tells host from device pointers; on
	 * the stream, in its order, and done when this returns (a host buffer
	 * may be freed then) */
	if (bytes &&
	    gpu.d->cuMemcpyAsync((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, bytes,
				 gpu.stream) == CUDA_SUCCESS)
		gpu.d->cuStreamSynchronize(gpu.stream);
}

/* Zeros only: the device has no fault that could bring a page back on
 * the next write, so the memory stays mapped. */
static void cuda_discard(void *p, size_t bytes)
{
	cuda_fill(p, 0, bytes);
}

static int cuda_guard(void *p, size_t bytes, bool on, struct lt_err *err)
{
	(void)p, (void)bytes, (void)on;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "guarding parameters (the sharded strategies' units) is not built for --accelerator cuda in this version");
}

/* --- the runtime's kernels (cuda_kernels.cu), from the fatbin nvcc made
 * at build time, loaded on first use --- */

#if LT_HAVE_CUDA_KERNELS

extern const unsigned char lt_cuda_kernels_fatbin[];

#define BLOCK 256
#define MAX_BLOCKS 4096

static struct {
	CUmodule mod;
	CUfunction sgd_plain, sgd_momentum, adamw, sumsq, scale_clamp, to_half, unscale_half;
	CUdeviceptr sum;   /* one double, sumsq's result */
	CUdeviceptr found; /* one int, unscale_half's flag */
} k;

static unsigned grid_for(size_t n)
{
	size_t b = (n + BLOCK - 1) / BLOCK;

	return (unsigned)(b < 1 ? 1 : b > MAX_BLOCKS ? MAX_BLOCKS : b);
}

static int launch(CUfunction f, size_t n, void **args, const char *what, struct lt_err *err)
{
	bind_thread();
	return lt_cuda_check(gpu.d, gpu.d->cuLaunchKernel(f, grid_for(n), 1, 1, BLOCK, 1, 1, 0,
							   gpu.stream, args, NULL),
			     what, err);
}

static int k_sgd(float *p, const float *g, float *b, size_t n, const struct lt_optim_scalars *s,
		 bool nesterov, struct lt_err *err)
{
	unsigned long long nn = n;
	float lr = (float)s->lr, wd = (float)s->wd, mu = (float)s->mu;
	int nest = nesterov;

	if (!b) {
		void *args[] = { &p, &g, &nn, &lr, &wd };

		return launch(k.sgd_plain, n, args, "the sgd kernel", err);
	}
	void *args[] = { &p, &g, &b, &nn, &lr, &wd, &mu, &nest };

	return launch(k.sgd_momentum, n, args, "the sgd kernel", err);
}

static int k_adamw(float *p, const float *g, float *m, float *v, size_t n,
		   const struct lt_optim_scalars *s, struct lt_err *err)
{
	unsigned long long nn = n;
	float decay = (float)s->decay, w1 = (float)s->w1, b2 = (float)s->b2, w2 = (float)s->w2;
	float step_size = (float)s->step_size, bc2_sqrt = (float)s->bc2_sqrt, eps = (float)s->eps;
	void *args[] = { &p, &g, &m, &v, &nn, &decay, &w1, &b2, &w2, &step_size, &bc2_sqrt, &eps };

	return launch(k.adamw, n, args, "the adamw kernel", err);
}

static int k_sumsq(const float *x, size_t n, double *out, struct lt_err *err)
{
	unsigned long long nn = n;
	void *args[] = { &x, &nn, &k.sum };

	*out = 0;
	if (!n)
		return 0;
	bind_thread();
	if (lt_cuda_check(gpu.d, gpu.d->cuMemsetD8Async(k.sum, 0, sizeof(double), gpu.stream), "zeroing a sum", err) ||
	    launch(k.sumsq, n, args, "the sum-of-squares kernel", err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuMemcpyAsync((CUdeviceptr)(uintptr_t)out, k.sum, sizeof(double), gpu.stream),
			  "reading a sum of squares", err))
		return -1;
	return stream_sync("reading a sum of squares", err);
}

static int k_scale_clamp(float *x, size_t n, float factor, float limit, struct lt_err *err)
{
	unsigned long long nn = n;
	void *args[] = { &x, &nn, &factor, &limit };

	return n ? launch(k.scale_clamp, n, args, "the clipping kernel", err) : 0;
}

static int k_to_half(uint16_t *dst, const float *src, size_t n, bool bf16, struct lt_err *err)
{
	unsigned long long nn = n;
	int b = bf16;
	void *args[] = { &dst, &src, &nn, &b };

	return n ? launch(k.to_half, n, args, "the f32 to half conversion kernel", err) : 0;
}

static int k_unscale_half(float *dst, const uint16_t *src, size_t n, bool bf16, float scale,
			  bool *found, struct lt_err *err)
{
	unsigned long long nn = n;
	int b = bf16, flag = 0;
	void *args[] = { &dst, &src, &nn, &b, &scale, &k.found };

	*found = false;
	if (!n)
		return 0;
	bind_thread();
	if (lt_cuda_check(gpu.d, gpu.d->cuMemsetD8Async(k.found, 0, sizeof(int), gpu.stream), "zeroing a flag", err) ||
	    launch(k.unscale_half, n, args, "the unscale kernel", err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuMemcpyAsync((CUdeviceptr)(uintptr_t)&flag, k.found, sizeof(int), gpu.stream),
			  "reading the inf/NaN flag", err) ||
	    stream_sync("reading the inf/NaN flag", err))
		return -1;
	*found = flag != 0;
	return 0;
}

static const struct lt_accel_kernels kernels = {
	.sgd = k_sgd,
	.adamw = k_adamw,
	.sumsq = k_sumsq,
	.scale_clamp = k_scale_clamp,
	.to_half = k_to_half,
	.unscale_half = k_unscale_half,
};

static const struct lt_accel_kernels *cuda_kernels(struct lt_err *err)
{
	const struct { CUfunction *f; const char *name; } fns[] = {
		{ &k.sgd_plain, "lt_k_sgd_plain" }, { &k.sgd_momentum, "lt_k_sgd_momentum" },
		{ &k.adamw, "lt_k_adamw" }, { &k.sumsq, "lt_k_sumsq" },
		{ &k.scale_clamp, "lt_k_scale_clamp" }, { &k.to_half, "lt_k_f32_to_half" },
		{ &k.unscale_half, "lt_k_unscale_half" },
	};

	if (k.mod)
		return &kernels;
	if (need_open(err))
		return NULL;
	bind_thread();
	/* the fatbin holds sm_80 and sm_90 code and PTX the driver compiles
	 * for any other GPU from sm_75 on */
	if (lt_cuda_check(gpu.d, gpu.d->cuModuleLoadData(&k.mod, lt_cuda_kernels_fatbin),
			  "loading ltrun's kernels onto the GPU (a GPU older than sm_75, or a driver older than the toolkit?)", err))
		return NULL;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (lt_cuda_check(gpu.d, gpu.d->cuModuleGetFunction(fns[i].f, k.mod, fns[i].name),
				  fns[i].name, err))
			return NULL;
	if (lt_cuda_check(gpu.d, gpu.d->cuMemAlloc(&k.sum, sizeof(double)), "a device double", err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuMemAlloc(&k.found, sizeof(int)), "a device flag", err))
		return NULL;
	return &kernels;
}
#else
static const struct lt_accel_kernels *cuda_kernels(struct lt_err *err)
{
	lt_err_set(err, LT_EXIT_FAILURE,
		   "--accelerator cuda: ltrun's device kernels (optimizers, clipping) were not built: configure found no nvcc; Fabric-mode models that step their own parameters run without them");
	return NULL;
}
#endif

/* --- staging: a non-blocking stream of its own, so that a checkpoint's
 * copy out runs beside the next step's kernels; `before` orders it after
 * the work asked so far (on gpu.stream, which the runtime's kernels and
 * the communicator's events use), `done` marks its end --- */

static struct {
	CUstream s;
	CUevent before, done;
} st;

static void *cuda_host_alloc(size_t bytes, struct lt_err *err)
{
	void *p = NULL;

	if (need_open(err))
		return NULL;
	bind_thread();
	if (lt_cuda_check(gpu.d, gpu.d->cuMemHostAlloc(&p, bytes ? bytes : 1, CU_MEMHOSTALLOC_PORTABLE),
			  "pinned host memory for a checkpoint's staging", err))
		return NULL;
	memset(p, 0, bytes);
	return p;
}

static void cuda_host_free(void *p, size_t bytes)
{
	(void)bytes;
	if (p && gpu.d) {
		bind_thread();
		gpu.d->cuMemFreeHost(p);
	}
}

static int stage_open(struct lt_err *err)
{
	const char *what = "the checkpoint's copy stream";

	if (st.s)
		return 0;
	if (lt_cuda_check(gpu.d, gpu.d->cuStreamCreate(&st.s, CU_STREAM_NON_BLOCKING), what, err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuEventCreate(&st.before, CU_EVENT_DISABLE_TIMING), what, err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuEventCreate(&st.done, CU_EVENT_DISABLE_TIMING), what, err))
		return -1;
	return 0;
}

static int cuda_stage_out(void *const *dst, const void *const *src, const size_t *bytes, size_t n,
			  struct lt_err *err)
{
	const char *what = "copying a checkpoint out of the GPU";

	if (need_open(err))
		return -1;
	bind_thread();
	if (stage_open(err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuEventRecord(st.before, gpu.stream), what, err) ||
	    lt_cuda_check(gpu.d, gpu.d->cuStreamWaitEvent(st.s, st.before, 0), what, err))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (bytes[i] && lt_cuda_check(gpu.d, gpu.d->cuMemcpyAsync((CUdeviceptr)(uintptr_t)dst[i], (CUdeviceptr)(uintptr_t)src[i], bytes[i], st.s), what, err))
			return -1;
	return lt_cuda_check(gpu.d, gpu.d->cuEventRecord(st.done, st.s), what, err);
}

static int cuda_stage_fence(struct lt_err *err)
{
	if (!st.s)
		return 0;
	bind_thread();
	return lt_cuda_check(gpu.d, gpu.d->cuStreamWaitEvent(gpu.stream, st.done, 0),
			     "ordering the optimizer after a checkpoint's copy", err);
}

static int cuda_stage_wait(struct lt_err *err)
{
	if (!st.s)
		return 0;
	bind_thread();
	return lt_cuda_check(gpu.d, gpu.d->cuEventSynchronize(st.done),
			     "waiting for a checkpoint's copy out of the GPU", err);
}

static int cuda_sync(struct lt_err *err)
{
	if (!gpu.ctx)
		return 0;
	bind_thread();
	return lt_cuda_check(gpu.d, gpu.d->cuCtxSynchronize(), "waiting for the GPU", err);
}

static const struct lt_accelerator_ops cuda_ops = {
	.kind = LT_DEVICE_CUDA,
	.host_access = false,
	.open = cuda_open,
	.index = cuda_index,
	.uuid = cuda_uuid,
	.kernels = cuda_kernels,
	.auto_devices = cuda_auto_devices,
	.reserve = cuda_reserve,
	.alloc = cuda_alloc,
	.release = cuda_release,
	.fill = cuda_fill,
	.copy = cuda_copy,
	.discard = cuda_discard,
	.guard = cuda_guard,
	.sync = cuda_sync,
	.host_alloc = cuda_host_alloc,
	.host_free = cuda_host_free,
	.stage_out = cuda_stage_out,
	.stage_fence = cuda_stage_fence,
	.stage_wait = cuda_stage_wait,
	.set_stream = cuda_set_stream,
};

const struct lt_plugin lt_accel_cuda = {
	.kind = LT_KIND_ACCELERATOR,
	.name = "cuda",
	.description = "Tensors in a GPU's memory, one GPU a rank (CUDA_VISIBLE_DEVICES honoured); the driver is loaded at run time. 32-true, 16-mixed and bf16-mixed under ddp in this version, ltrun's optimizers, clipping and conversions as device kernels, checkpoints copied out through pinned memory; sharding on the device is not built yet.",
	.recommended_when = "the model's kernels are CUDA and the machine has NVIDIA GPUs (with --comm auto, which takes nccl)",
	.ops = &cuda_ops,
};
#endif
