/*
 * lazy_fill.c - first values drawn where they are needed (lazy_fill.h):
 * the guard at registration, the SIGSEGV handler that draws a parameter
 * the model touches before setup, and the settling at setup.
 *
 * The handler may call only async-signal-safe code: lt_draw_range (no
 * allocation, no lock), the dtype conversions, and mprotect through the
 * accelerator's guard op.  A fault on any other address goes to the
 * handler from before (as unit_fault.c does): it is restored and the
 * faulting instruction runs again.
 *
 * The arenas are on small pages until setup, so that drawing an edge
 * makes no neighbour's page resident (a 2 MiB page would).
 */
#include "runtime/lazy_fill.h"
#include "comm/comm.h"
#include "core/dtype.h"
#include "core/io.h"
#include "precision/precision.h"
#include "runtime/draw.h"
#include "runtime/unit_fault.h"
#include "runtime/units.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct lt_ctx *fill_ctx;
static struct sigaction previous;
static bool installed;

bool lt_lazy_fill_possible(const struct lt_ctx *ctx)
{
	const struct lt_precision_ops *ops = ctx->precision;

	return ctx->accel && ctx->accel->kind == LT_DEVICE_CPU && ctx->accel->guard && ops &&
	       !ops->to_compute && (ctx->dtype == LT_F32 || ops->mixed);
}

/* Elements [a, b) of t: drawn as f32 into its master weights (mixed
 * precision; the compute values rounded from them) or its values. */
static void draw(const struct lt_ctx *ctx, struct lt_tensor *t, int64_t a, int64_t b)
{
	float *v = t->master ? t->master + a : (float *)t->data + a;

	if (b <= a)
		return;
	lt_draw_range((uint64_t)ctx->cfg->seed, &t->shape, t->init, t->index, a, b - a, v);
	if (t->master)
		lt_precision_from_f32((char *)t->data + (size_t)a * lt_dtype_size(ctx->dtype),
				      ctx->dtype, v, (size_t)(b - a));
}

/* The elements of an array at p (numel of esz bytes) before its first
 * whole page and after its last; *head = numel when it has none. */
static void edges(const void *p, size_t esz, int64_t numel, int64_t *head, int64_t *tail)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (uintptr_t)p;
	uintptr_t hi = lo + (size_t)numel * esz;
	uintptr_t a = (lo + page - 1) / page * page, e = hi / page * page;

	if (e <= a) {
		*head = numel, *tail = 0;
		return;
	}
	*head = (int64_t)((a - lo) / esz);
	*tail = (int64_t)((hi - e) / esz);
}

static int guard(struct lt_ctx *ctx, struct lt_tensor *t, bool on, struct lt_err *err)
{
	size_t n = (size_t)t->numel;

	if (ctx->accel->guard(t->data, n * lt_dtype_size(ctx->dtype), on, err))
		return -1;
	return t->master ? ctx->accel->guard(t->master, n * sizeof(float), on, err) : 0;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct lt_tensor *t = fill_ctx ? (struct lt_tensor *)lt_units_param_at_address(
						 fill_ctx, si->si_addr)
				       : NULL;

	(void)uc;
	if (t && t->lazy) {
		struct lt_err err;

		if (guard(fill_ctx, t, false, &err)) {
			static const char msg[] =
				"ltrun: cannot make a parameter's pages readable to draw its first values\n";

			(void)lt_write_all(STDERR_FILENO, msg, sizeof(msg) - 1);
			_exit(LT_EXIT_FAILURE);
		}
		draw(fill_ctx, t, 0, t->numel);
		t->lazy = false;
		t->touched = true;
		errno = saved;
		return;
	}
	/* Not a parameter waiting for its values: the handler from before
	 * takes it when the instruction runs again. */
	sigaction(sig, &previous, NULL);
	installed = false;
	errno = saved;
}

/* The cpu accelerator asks for transparent huge pages on its arenas
 * (cpu.c): the first value written would make a whole 2 MiB of its
 * neighbours resident, waiting or not.  Small pages until settled. */
static void huge_pages(struct lt_ctx *ctx, bool on)
{
	struct lt_arena *a[] = { &ctx->data_arena, &ctx->master_arena };

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (a[i]->base)
			(void)madvise(a[i]->base, a[i]->reserved, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

static int install(struct lt_ctx *ctx, struct lt_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK };

	fill_ctx = ctx;
	if (installed)
		return 0;
	huge_pages(ctx, false);
	if (lt_fault_altstack(err))
		return -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot install the SIGSEGV handler of deferred first values: %s",
				  strerror(errno));
	installed = true;
	return 0;
}

static void uninstall(void)
{
	if (installed)
		sigaction(SIGSEGV, &previous, NULL);
	installed = false;
	fill_ctx = NULL;
}

int lt_lazy_fill_param(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_init init,
		       struct lt_err *err)
{
	int64_t head, tail, h, e;
	struct lt_err no;

	/* small pages from the first parameter on (install) */
	t->init = init;
	if (install(ctx, err))
		return -1;
	edges(t->data, lt_dtype_size(ctx->dtype), t->numel, &head, &tail);
	if (t->master) {
		edges(t->master, sizeof(float), t->numel, &h, &e);
		head = h > head ? h : head;
		tail = e > tail ? e : tail;
	}
	if (head + tail >= t->numel) { /* no page of its own: drawn now */
		draw(ctx, t, 0, t->numel);
		return 0;
	}
	/* the edges, which may lie on whole pages of the other arena, then
	 * the guard */
	draw(ctx, t, 0, head);
	draw(ctx, t, t->numel - tail, t->numel);
	if (guard(ctx, t, true, &no)) {
		/* out of mappings (vm.max_map_count: each guard splits one):
		 * this parameter is drawn now, as without deferral */
		if (guard(ctx, t, false, err))
			return -1;
		draw(ctx, t, head, t->numel - tail);
		return 0;
	}
	t->lazy = true;
	return 0;
}

/* Broadcasts t whole from rank 0: its master weights and the compute
 * values made from them, or its values. */
static int broadcast(struct lt_ctx *ctx, struct lt_tensor *t, struct lt_err *err)
{
	size_t n = (size_t)t->numel;

	if (!t->master)
		return lt_comm_broadcast(ctx->comm, t->data, n, ctx->dtype, 0, err) ? -1 : 0;
	if (lt_comm_broadcast(ctx->comm, t->master, n, LT_F32, 0, err))
		return -1;
	lt_precision_from_f32(t->data, ctx->dtype, t->master, n);
	return 0;
}

int lt_lazy_fill_settle(struct lt_ctx *ctx, size_t own_lo, size_t own_hi, struct lt_err *err)
{
	size_t n = ctx->nparams;
	int32_t *touched = calloc(n ? n : 1, sizeof(*touched));
	int rc = 0;

	if (!touched)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory settling %zu parameters", n);
	for (size_t i = 0; i < n; i++) {
		struct lt_tensor *t = ctx->params[i];

		touched[i] = t->touched;
		if (t->lazy && guard(ctx, t, false, err))
			rc = -1;
	}
	uninstall();
	/* a parameter one rank touched is rank 0's on every rank */
	if (!rc && ctx->info.world_size > 1 &&
	    lt_comm_all_reduce(ctx->comm, touched, n, LT_I32, LT_MAX, err))
		rc = -1;
	for (size_t i = 0; !rc && i < n; i++) {
		struct lt_tensor *t = ctx->params[i];
		size_t lo = t->offset, hi = lo + (size_t)t->numel;
		size_t a = own_lo > lo ? own_lo : lo, b = own_hi < hi ? own_hi : hi;

		if (touched[i]) {
			if (t->lazy && ctx->info.rank == 0)
				draw(ctx, t, 0, t->numel);
		} else if (t->lazy && t->unit >= 0) {
			if (b > a)
				draw(ctx, t, (int64_t)(a - lo), (int64_t)(b - lo));
		} else if (t->lazy) {
			draw(ctx, t, 0, t->numel);
		}
		t->lazy = false;
	}
	for (size_t i = 0; !rc && i < n; i++)
		if (touched[i] && ctx->info.world_size > 1 && broadcast(ctx, ctx->params[i], err))
			rc = -1;
	free(touched);
	huge_pages(ctx, true); /* what is drawn is drawn */
	ctx->defer_fill = false;
	return rc;
}
