/*
 * ddp_buckets.h - how ddp (ddp.c) cuts the gradients into buckets
 * (ddp_buckets.c): consecutive parameters in reverse registration order
 * (the order backward completes them), each bucket one contiguous range
 * of the gradient arena, all-reduced in place.  A parameter larger than
 * a bucket is cut into buckets of its own, its last elements first, so
 * that a tensor stacking every layer sends its last layers while
 * backward is still on the first ones.
 */
#ifndef LT_STRATEGY_DDP_BUCKETS_H
#define LT_STRATEGY_DDP_BUCKETS_H

#include <stddef.h>

#include "runtime/ctx.h"

struct lt_comm_req;

/* One DDP bucket: gradient bytes [begin, begin + bytes), holding parts
 * of parameters first..last (whole ones, but a large parameter's part). */
struct lt_bucket {
	size_t first, last;      /* parameter indices, first <= last */
	char *begin;
	size_t bytes;
	size_t elems;            /* gradient elements it holds (gaps not counted) */
	size_t pending;          /* of those, not ready yet */
	struct lt_comm_req *req; /* in flight, or NULL */
};

/* The most buckets lt_ddp_cut_buckets makes of params[0..n-1]: the room
 * its out needs. */
size_t lt_ddp_max_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size,
			  size_t cap);
/* Cuts params[0..n-1] (gradients of elem_size-byte elements, laid out in
 * index order in one arena), last first, into buckets of at most cap
 * bytes of the arena (the alignment gaps between gradients count); a
 * parameter larger than cap becomes buckets of cap / elem_size elements
 * from its end (the one holding its first elements may take in earlier
 * parameters).  Sets each parameter's bucket (the one holding its last
 * element) and nbuckets (its buckets are bucket .. bucket + nbuckets - 1),
 * and each bucket's elems and pending.  Returns the number of buckets. */
size_t lt_ddp_cut_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size, size_t cap,
			  struct lt_bucket *out);
/* Elements [first, first + count) of t are ready: the pending counts of
 * the buckets holding them go down by as many.  Can't fail. */
void lt_ddp_mark_ready(struct lt_bucket *buckets, const struct lt_tensor *t, size_t first,
		       size_t count, size_t elem_size);

#endif
