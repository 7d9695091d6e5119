/*
 * cuda_driver.c - libcuda.so.1 through dlopen (cuda_driver.h): every
 * entry point the cuda accelerator and the nccl communicator call, looked
 * up once under the versioned names the toolkit's cuda.h gives them.
 * LTRUN_CUDA_DRIVER names another library (tests point it at a missing
 * file to see the message a machine without a driver gives).
 */
#if LT_HAVE_CUDA
#include "accel/cuda_driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LT_STR(x) #x
#define LT_XSTR(x) LT_STR(x)

static struct lt_cuda_driver drv;
static struct lt_err load_err;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded; /* 1: drv usable; -1: load_err says why not */

static void load(void)
{
	const char *lib = getenv("LTRUN_CUDA_DRIVER");
	void *h;
	CUresult rc;

	if (!lib || !*lib)
		lib = "libcuda.so.1";
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		lt_err_set(&load_err, LT_EXIT_FAILURE,
			   "--accelerator cuda: cannot load the NVIDIA driver's %s (%s): no NVIDIA driver on this machine? Use --accelerator cpu here",
			   lib, dlerror());
		loaded = -1;
		return;
	}
#define LT_CUDA_LOOKUP(f)                                                                      \
	*(void **)&drv.f = dlsym(h, LT_XSTR(f));                                               \
	if (!drv.f) {                                                                          \
		lt_err_set(&load_err, LT_EXIT_FAILURE,                                         \
			   "--accelerator cuda: the NVIDIA driver's %s has no %s: this driver is older than the CUDA %d.%d ltrun was built with; update the driver", \
			   lib, LT_XSTR(f), CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);    \
		loaded = -1;                                                                   \
		return;                                                                        \
	}
	LT_CUDA_DRIVER_FUNCS(LT_CUDA_LOOKUP)
#undef LT_CUDA_LOOKUP
	rc = drv.cuInit(0);
	if (rc != CUDA_SUCCESS) {
		const char *s = NULL;

		drv.cuGetErrorString(rc, &s);
		lt_err_set(&load_err, LT_EXIT_FAILURE,
			   "--accelerator cuda: the NVIDIA driver did not start (cuInit: %s): %s",
			   s ? s : "unknown error",
			   rc == CUDA_ERROR_NO_DEVICE ? "no GPU on this machine, or CUDA_VISIBLE_DEVICES hides them all"
						      : "check nvidia-smi");
		loaded = -1;
		return;
	}
	drv.cuDriverGetVersion(&drv.version);
	loaded = 1;
}

const struct lt_cuda_driver *lt_cuda_driver(struct lt_err *err)
{
	pthread_once(&once, load);
	if (loaded < 0) {
		*err = load_err;
		return NULL;
	}
	return &drv;
}

int lt_cuda_check(const struct lt_cuda_driver *d, CUresult rc, const char *what,
		  struct lt_err *err)
{
	const char *text = NULL;

	if (rc == CUDA_SUCCESS)
		return 0;
	if (d)
		d->cuGetErrorString(rc, &text);
	return lt_err_set(err, LT_EXIT_FAILURE, "%s: CUDA error %d (%s)", what, (int)rc,
			  text ? text : "no description");
}
#endif
