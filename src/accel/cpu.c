/*
 * cpu.c - the `cpu` accelerator's runtime: parameter arenas in host
 * memory (an anonymous PROT_NONE reservation made readable and writable
 * 2 MiB at a time), memset and memcpy, and no events to wait for.
 */
#include "accel/accel.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define COMMIT_GRAIN ((size_t)2 << 20)

static int cpu_reserve(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	memset(a, 0, sizeof(*a));
	if (p == MAP_FAILED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot reserve %zu MiB of address space for parameters: %s (is ulimit -v set?)",
				  bytes >> 20, strerror(errno));
	a->base = p;
	a->reserved = bytes;
	return 0;
}

static void *cpu_alloc(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	size_t start = (a->used + 63) & ~(size_t)63, end = start + bytes;

	if (end > a->reserved || end < start) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "parameters need more than the %zu GiB ltrun reserves: register fewer or smaller parameters",
			   a->reserved >> 30);
		return NULL;
	}
	if (end > a->committed) {
		size_t to = (end + COMMIT_GRAIN - 1) / COMMIT_GRAIN * COMMIT_GRAIN;

		if (to > a->reserved)
			to = a->reserved;
		if (mprotect(a->base + a->committed, to - a->committed, PROT_READ | PROT_WRITE)) {
			lt_err_set(err, LT_EXIT_FAILURE, "cannot commit %zu MiB for parameters: %s",
				   (to - a->committed) >> 20, strerror(errno));
			return NULL;
		}
		a->committed = to;
	}
	a->used = end;
	return a->base + start;
}

static void cpu_release(struct lt_arena *a)
{
	if (a->base)
		munmap(a->base, a->reserved);
	memset(a, 0, sizeof(*a));
}

static void cpu_fill(void *dst, int byte, size_t bytes)
{
	memset(dst, byte, bytes);
}

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
	memmove(dst, src, bytes);
}

static int cpu_sync(struct lt_err *err)
{
	(void)err;
	return 0;
}

const struct lt_accel_rt lt_accel_cpu = {
	.name = "cpu",
	.kind = LT_DEVICE_CPU,
	.reserve = cpu_reserve,
	.alloc = cpu_alloc,
	.release = cpu_release,
	.fill = cpu_fill,
	.copy = cpu_copy,
	.sync = cpu_sync,
};

const struct lt_accel_rt *lt_accel_runtime(const char *name)
{
	if (!strcmp(name, "auto") || !strcmp(name, "cpu"))
		return &lt_accel_cpu;
	return NULL;
}
