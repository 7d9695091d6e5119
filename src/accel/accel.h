/*
 * accel.h - the runtime side of an accelerator: where a rank's parameter
 * storage lives, how bytes are filled and copied there, and the event a
 * collective waits on before it reads what the device wrote, and what
 * --devices auto means.  One plugin a file, its registry entry beside its
 * ops (the registry is the only list: a rank takes its accelerator from
 * ctx->choice[LT_KIND_ACCELERATOR]):
 *
 *   cpu   host memory (cpu.c)
 *   cuda  a GPU's memory through the CUDA driver, loaded with dlopen
 *         (cuda.c; built when configure finds cuda.h)
 *
 * Storage comes in arenas: one large reservation of address space per
 * arena, handed out in order and committed as it is used, so that every
 * pointer stays valid for the whole run and consecutive allocations are
 * contiguous (a DDP bucket is one range of the gradient arena).
 */
#ifndef LT_ACCEL_ACCEL_H
#define LT_ACCEL_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/registry.h"
#include "ltrun.h"

struct lt_arena {
	char *base;
	size_t reserved;  /* bytes of address space */
	size_t used;      /* bytes handed out */
	size_t committed; /* bytes usable */
	/* Alignment of what alloc hands out, set after reserve: 0 means 64
	 * bytes; the parameter arenas use 1 (packed: parameter i starts right
	 * after parameter i - 1, so arena element k is element k of the flat
	 * parameter space, and a shard is one range of every arena). */
	size_t align;
};

/* Where the next `bytes` of a go, [*start, *end), aligned as a->align
 * says; false when they do not fit in the reservation (the accelerators'
 * alloc then fails). */
static inline bool lt_arena_place(const struct lt_arena *a, size_t bytes, size_t *start,
				  size_t *end)
{
	size_t align = a->align ? a->align : 64;

	*start = (a->used + align - 1) / align * align;
	*end = *start + bytes;
	return *end <= a->reserved && *end >= *start;
}

/* The scalars of one optimizer step (runtime/optim.c works them out in
 * double once per call; each kernel rounds them to its compute type):
 * SGD's lr, wd, mu; AdamW's decay (1 - lr wd), w1 (1 - beta1), b2, w2
 * (1 - beta2), step_size (lr / (1 - beta1^t)), bc2_sqrt (sqrt(1 -
 * beta2^t)) and eps. */
struct lt_optim_scalars {
	double lr, wd, mu;
	double decay, w1, b2, w2, step_size, bc2_sqrt, eps;
};

/* The runtime's arithmetic on a device accelerator's memory (f32 arrays
 * there): one optimizer step with optim.c's scalars and formulas (SGD: b
 * the momentum buffer, or NULL without momentum; AdamW: m and v), the sum
 * of squares of gradient clipping, clipping's scale (or clamp to
 * [-limit, limit] when limit > 0), and mixed precision's conversions: n
 * f32 to f16 or bf16 (round to nearest even), and f16 or bf16 gradients
 * to f32 times scale, *found set where one is inf or NaN.  Each returns
 * 0, or -1 with err. */
struct lt_accel_kernels {
	int (*sgd)(float *p, const float *g, float *b, size_t n, const struct lt_optim_scalars *s,
		   bool nesterov, struct lt_err *err);
	int (*adamw)(float *p, const float *g, float *m, float *v, size_t n,
		     const struct lt_optim_scalars *s, struct lt_err *err);
	int (*sumsq)(const float *x, size_t n, double *out, struct lt_err *err);
	int (*scale_clamp)(float *x, size_t n, float factor, float limit, struct lt_err *err);
	int (*to_half)(uint16_t *dst, const float *src, size_t n, bool bf16, struct lt_err *err);
	int (*unscale_half)(float *dst, const uint16_t *src, size_t n, bool bf16, float scale,
			    bool *found, struct lt_err *err);
};

struct lt_accelerator_ops {
	enum lt_device_kind kind;
	/* false: the arenas are device memory that the host cannot touch;
	 * what the runtime does to them on the host (initial values,
	 * optimizers, conversions, checkpoints) goes through copies or is
	 * refused (cuda). */
	bool host_access;
	/* Takes this process's device: local rank local_rank of local_world
	 * on this node; before the first arena and the communicator.  NULL:
	 * nothing to take.  Returns 0 or -1 with err (no driver, no device,
	 * two ranks on one device...). */
	int (*open)(int local_rank, int local_world, struct lt_err *err);
	/* The device open() took: its ordinal as this process sees it, and
	 * a name unique on the node (the GPU's UUID), for lt_device() and
	 * to find two ranks given one device.  NULL on the cpu. */
	int (*index)(void);
	const char *(*uuid)(void);
	/* The kernels of a device accelerator, loaded on first use; NULL
	 * with err where the build or the device has none.  NULL on the
	 * cpu (the runtime's own loops). */
	const struct lt_accel_kernels *(*kernels)(struct lt_err *err);
	/* What --devices auto means when ltrun creates the ranks. */
	int (*auto_devices)(void);
	/* Reserves `bytes` of address space for a.  Returns 0 or -1 with err
	 * (a is then empty). */
	int (*reserve)(struct lt_arena *a, size_t bytes, struct lt_err *err);
	/* Hands out `bytes` of a, 64-byte aligned and zero-filled.  NULL with
	 * err when the reservation is exhausted or memory cannot be had; a is
	 * then unchanged. */
	void *(*alloc)(struct lt_arena *a, size_t bytes, struct lt_err *err);
	/* Gives a's memory back; a is empty afterwards.  Can't fail. */
	void (*release)(struct lt_arena *a);
	/* Sets `bytes` bytes at dst to `byte`. */
	void (*fill)(void *dst, int byte, size_t bytes);
	/* Copies bytes between two buffers of this accelerator, or between
	 * one of them and host memory (either way). */
	void (*copy)(void *dst, const void *src, size_t bytes);
	/* [p, p + bytes) of an arena reads as zeros afterwards, and the pages
	 * wholly inside it go back to the system: the addresses stay valid
	 * and the next write brings a zeroed page back (the sharded
	 * strategies drop what a rank does not own this way). */
	void (*discard)(void *p, size_t bytes);
	/* The unit in which discard gives memory back whole: a caller that
	 * discards and writes the same memory again every step (stage 2's
	 * gradients) discards only the aligned units wholly inside a range
	 * and zeroes the rest with fill, so that a unit is never split (the
	 * cpu: 2 MiB, the transparent huge page; a split one comes back 4 KiB
	 * at a time from then on).  0: no such unit. */
	size_t discard_grain;
	/* Optional (NULL: nothing to do): makes the discarded pages wholly
	 * inside [p, p + bytes) resident again now, as zeros, leaving those
	 * already there alone; the cpu's takes the pages just given back
	 * while the kernel still holds them (a VM's host reclaims free pages
	 * after a while, and touching them again then costs several times
	 * more: stage 2 takes a later bucket's pages back as it gives an
	 * earlier one's). */
	void (*populate)(void *p, size_t bytes);
	/* Makes the pages wholly inside [p, p + bytes) of an arena
	 * inaccessible (on) or usable again (!on): a model touching them
	 * faults, so that ZeRO-3 can name a parameter used outside its
	 * unit.  Returns 0 or -1 with err. */
	int (*guard)(void *p, size_t bytes, bool on, struct lt_err *err);
	/* Returns when everything the device was asked to write before has
	 * been written (the cpu: at once).  Returns 0 or -1 with err. */
	int (*sync)(struct lt_err *err);

	/* Staging between the arenas and host memory in the background (a
	 * checkpoint's copy out of the device).  host_alloc gives host
	 * memory the device copies to and from at full speed (pinned on a
	 * GPU), zero-filled, or NULL with err; host_free gives it back.
	 * stage_out queues n copies from the arenas (src[i], bytes[i]) to
	 * host memory from host_alloc (dst[i]) on a stream of their own,
	 * after everything the device was asked to do so far, and returns
	 * at once; stage_fence makes the device work asked from now on wait,
	 * on the device, for those copies (before the optimizer changes what
	 * they read); stage_wait returns, on any thread, once they have
	 * landed.  One batch at a time: the next stage_out comes after
	 * stage_wait.  The cpu copies in stage_out, and the rest is nothing. */
	void *(*host_alloc)(size_t bytes, struct lt_err *err);
	void (*host_free)(void *p, size_t bytes);
	int (*stage_out)(void *const *dst, const void *const *src, const size_t *bytes, size_t n,
			 struct lt_err *err);
	int (*stage_fence)(struct lt_err *err);
	int (*stage_wait)(struct lt_err *err);
	/* The device stream the model computes on (lt_set_stream; NULL: the
	 * device's default): the arenas' fills and copies, the kernels and
	 * the communicator's ordering go on it from now on.  NULL on the
	 * cpu. */
	void (*set_stream)(void *stream);
};

/* The ops of a resolved --accelerator choice. */
static inline const struct lt_accelerator_ops *lt_accel_of(const struct lt_choice *c)
{
	return (const struct lt_accelerator_ops *)c->base->ops;
}

#endif
