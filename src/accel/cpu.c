/*
 * cpu.c - the `cpu` accelerator: parameter arenas in host memory (an
 * anonymous PROT_NONE reservation made readable and writable 2 MiB at a
 * time, asked for transparent huge pages; the parameter arenas packed), memset and memcpy, pages given
 * back with madvise and guarded with mprotect, and no events to wait for; `--devices auto`
 * is one rank.  Also the accelerators' catalogue: cpu, and cuda (cuda.c)
 * when configure found CUDA's headers (known, not built, otherwise).
 */
#include "accel/accel.h"
#include "core/built.h"
#include "core/registry.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define COMMIT_GRAIN ((size_t)2 << 20)
#ifdef MADV_POPULATE_WRITE
#define LT_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#else
#define LT_MADV_POPULATE_WRITE 23 /* Linux 5.14's value; older kernels: EINVAL */
#endif

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
	/* 2 MiB pages where the kernel lends them (transparent huge pages in
	 * "madvise" mode): a stage 2 rank's gradients given back and written
	 * again every micro-batch fault in 512 times less often */
	madvise(p, bytes, MADV_HUGEPAGE);
	return 0;
}

static void *cpu_alloc(struct lt_arena *a, size_t bytes, struct lt_err *err)
{
	size_t start, end;

	if (!lt_arena_place(a, bytes, &start, &end)) {
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

/* The whole pages inside [p, p + bytes): *first and the count, 0 when none. */
static size_t whole_pages(void *p, size_t bytes, char **first)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (uintptr_t)p, hi = lo + bytes;
	uintptr_t a = (lo + page - 1) / page * page, b = hi / page * page;

	*first = (char *)a;
	return b > a ? b - a : 0;
}

static void cpu_discard(void *p, size_t bytes)
{
	char *pages;
	size_t n = whole_pages(p, bytes, &pages);

	if (!n) {
		memset(p, 0, bytes);
		return;
	}
	memset(p, 0, (size_t)(pages - (char *)p));
	memset(pages + n, 0, (size_t)((char *)p + bytes - (pages + n)));
	/* private anonymous memory: the pages read as zeros from now on */
	if (madvise(pages, n, MADV_DONTNEED))
		memset(pages, 0, n);
}

static void cpu_populate(void *p, size_t bytes)
{
	char *pages;
	size_t n = whole_pages(p, bytes, &pages);

	/* Linux 5.14 and later; before, the model's writes fault them in */
	if (n)
		(void)madvise(pages, n, LT_MADV_POPULATE_WRITE);
}

static int cpu_guard(void *p, size_t bytes, bool on, struct lt_err *err)
{
	char *pages;
	size_t n = whole_pages(p, bytes, &pages);

	if (n && mprotect(pages, n, on ? PROT_NONE : PROT_READ | PROT_WRITE))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot %s %zu KiB of parameters: %s",
				  on ? "guard" : "unguard", n >> 10, strerror(errno));
	return 0;
}

static int cpu_sync(struct lt_err *err)
{
	(void)err;
	return 0;
}

/* Staging: the host reads the arenas itself, so a stage is a plain
 * copy into anonymous memory. */
static void *cpu_host_alloc(size_t bytes, struct lt_err *err)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot map %zu MiB of staging memory: %s",
			   bytes >> 20, strerror(errno));
		return NULL;
	}
	return p;
}

static void cpu_host_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes ? bytes : 1);
}

static int cpu_stage_out(void *const *dst, const void *const *src, const size_t *bytes, size_t n,
			 struct lt_err *err)
{
	(void)err;
	for (size_t i = 0; i < n; i++)
		if (bytes[i])
			memcpy(dst[i], src[i], bytes[i]);
	return 0;
}

/* On the cpu accelerator `--devices auto` means one rank, as in Lightning:
 * more CPU ranks than that is a choice the user makes. */
static int cpu_auto_devices(void)
{
	return 1;
}

static const struct lt_accelerator_ops cpu_ops = {
	.kind = LT_DEVICE_CPU,
	.host_access = true,
	.auto_devices = cpu_auto_devices,
	.reserve = cpu_reserve,
	.alloc = cpu_alloc,
	.release = cpu_release,
	.fill = cpu_fill,
	.copy = cpu_copy,
	.discard = cpu_discard,
	.discard_grain = COMMIT_GRAIN,
	.populate = cpu_populate,
	.guard = cpu_guard,
	.sync = cpu_sync,
	.host_alloc = cpu_host_alloc,
	.host_free = cpu_host_free,
	.stage_out = cpu_stage_out,
	/* the copies are done when stage_out returns */
	.stage_fence = cpu_sync,
	.stage_wait = cpu_sync,
};

static const struct lt_plugin cpu = {
	.kind = LT_KIND_ACCELERATOR,
	.name = "cpu",
	.description = "Tensors in host memory; each rank is one process.",
	.recommended_when = "no GPU, or for tests and small models",
	.ops = &cpu_ops,
};

#if LT_HAVE_CUDA
extern const struct lt_plugin lt_accel_cuda;

int lt_accelerator_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &cpu, err) || lt_registry_add(reg, &lt_accel_cuda, err) ? -1 : 0;
}
#else
static const struct lt_absent absent[] = { LT_ABSENT_LEFT_OUT("cuda", LT_DEP_CUDA),
					   { .name = NULL } };

int lt_accelerator_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add_all(reg, &cpu, 1, absent, err);
}
#endif
