/*
 * ddp_buckets.h - how ddp (ddp.c) cuts the gradients into buckets
 * (ddp_buckets.c): consecutive parameters in reverse registration order
 * (the order backward completes them), each bucket one contiguous range
 * of the gradient arena, all-reduced in place.
 */
#ifndef LT_STRATEGY_DDP_BUCKETS_H
#define LT_STRATEGY_DDP_BUCKETS_H

#include <stddef.h>

#include "runtime/ctx.h"

struct lt_comm_req;

/* One DDP bucket: parameters first..last, gradient bytes
 * [begin, begin + bytes). */
struct lt_bucket {
	size_t first, last;      /* parameter indices, first <= last */
	char *begin;
	size_t bytes;
	size_t pending;          /* parameters not ready yet */
	struct lt_comm_req *req; /* in flight, or NULL */
};

/* Cuts params[0..n-1] (gradients of elem_size-byte elements, laid out in
 * index order in one arena), last first, into buckets of at most cap
 * bytes of the arena (a larger parameter gets a bucket of its own; the
 * alignment gaps between gradients count).  out has room for n buckets;
 * sets each parameter's bucket index and each bucket's pending count.
 * Returns the number of buckets. */
size_t lt_ddp_cut_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size, size_t cap,
			  struct lt_bucket *out);

#endif
