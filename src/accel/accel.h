/*
 * accel.h - the runtime side of an accelerator: where a rank's parameter
 * storage lives, how bytes are filled and copied there, and the event a
 * collective waits on before it reads what the device wrote.  The
 * registry's side (what --devices auto means) is in src/core/accelerator.c.
 *
 *   cpu   host memory (cpu.c)
 *
 * Storage comes in arenas: one large reservation of address space per
 * arena, handed out in order and committed as it is used, so that every
 * pointer stays valid for the whole run and consecutive allocations are
 * contiguous (a DDP bucket is one range of the gradient arena).
 */
#ifndef LT_ACCEL_ACCEL_H
#define LT_ACCEL_ACCEL_H

#include <stddef.h>

#include "core/error.h"
#include "ltrun.h"

/* The registry's side of an accelerator (ltrun --list accelerator). */
struct lt_accelerator_ops {
	/* What --devices auto means when ltrun creates the ranks. */
	int (*auto_devices)(void);
};


struct lt_arena {
	char *base;
	size_t reserved;  /* bytes of address space */
	size_t used;      /* bytes handed out */
	size_t committed; /* bytes usable */
};

struct lt_accel_rt {
	const char *name;
	enum lt_device_kind kind;
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
	/* Copies bytes between two buffers of this accelerator. */
	void (*copy)(void *dst, const void *src, size_t bytes);
	/* Returns when everything the device was asked to write before has
	 * been written (the cpu: at once).  Returns 0 or -1 with err. */
	int (*sync)(struct lt_err *err);
};

extern const struct lt_accel_rt lt_accel_cpu;

/* The runtime of accelerator `name` ("auto" is the first built one), or
 * NULL when this version has none. */
const struct lt_accel_rt *lt_accel_runtime(const char *name);

#endif
