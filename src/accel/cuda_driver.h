/*
 * cuda_driver.h - the CUDA driver API, loaded with dlopen (libcuda.so.1)
 * so that ltrun builds and runs where no NVIDIA driver is installed.
 * The types and the versioned names (cuMemsetD8 is cuMemsetD8_v2...) come
 * from the toolkit's own cuda.h: configure finds it (LT_HAVE_CUDA).
 */
#ifndef LT_ACCEL_CUDA_DRIVER_H
#define LT_ACCEL_CUDA_DRIVER_H

#include <cuda.h>

#include "core/error.h"

/* One field a driver entry point, named as cuda.h names the function
 * (its macros give the versioned symbol). */
#define LT_CUDA_DRIVER_FUNCS(X)                                                          \
	X(cuInit) X(cuDriverGetVersion) X(cuGetErrorString) X(cuDeviceGetCount)          \
	X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetUuid) X(cuDeviceGetAttribute)     \
	X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)     \
	X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxGetDevice) X(cuCtxSynchronize)      \
	X(cuMemGetAllocationGranularity) X(cuMemAddressReserve) X(cuMemAddressFree)      \
	X(cuMemCreate) X(cuMemRelease) X(cuMemMap) X(cuMemUnmap) X(cuMemSetAccess)       \
	X(cuMemsetD8) X(cuMemsetD8Async) X(cuMemcpy) X(cuMemAlloc) X(cuMemFree) X(cuMemHostAlloc)           \
	X(cuMemFreeHost) X(cuMemGetInfo) X(cuPointerGetAttribute) X(cuStreamCreate)      \
	X(cuStreamDestroy) X(cuStreamQuery) X(cuStreamSynchronize) X(cuStreamWaitEvent)  \
	X(cuMemcpyAsync) X(cuEventCreate) X(cuEventRecord) X(cuEventQuery)               \
	X(cuEventSynchronize) X(cuEventDestroy) X(cuModuleLoadData) X(cuModuleGetFunction) X(cuModuleUnload)         \
	X(cuLaunchKernel)

struct lt_cuda_driver {
#define LT_CUDA_FIELD(f) __typeof__(&f) f;
	LT_CUDA_DRIVER_FUNCS(LT_CUDA_FIELD)
#undef LT_CUDA_FIELD
	int version; /* cuDriverGetVersion's, e.g. 13000 */
};

/* The driver, loaded and cuInit'ed once per process; NULL with err
 * ("no NVIDIA driver here" and dlerror's words, or cuInit's error). */
const struct lt_cuda_driver *lt_cuda_driver(struct lt_err *err);

/* Sets err to "<what>: <the driver's name and description of rc>" and
 * returns -1 (0 when rc is CUDA_SUCCESS). */
int lt_cuda_check(const struct lt_cuda_driver *d, CUresult rc, const char *what,
		  struct lt_err *err);

#endif
