/*
 * ddp_buckets.c - ddp's bucket cutting (ddp_buckets.h).
 */
#include "strategy/ddp_buckets.h"

#include <string.h>

size_t lt_ddp_cut_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size, size_t cap,
			  struct lt_bucket *out)
{
	size_t nb = 0, i;

	for (i = n; i-- > 0;) {
		struct lt_tensor *t = params[i];
		struct lt_bucket *b = nb ? &out[nb - 1] : NULL;
		size_t bytes = (size_t)t->numel * elem_size;

		if (!b || (size_t)(b->begin + b->bytes - (char *)t->grad) > cap) {
			b = &out[nb++];
			memset(b, 0, sizeof(*b));
			b->last = i;
			b->begin = t->grad;
			b->bytes = bytes;
		} else {
			/* t lies before the bucket's parameters in the arena. */
			b->bytes = (size_t)(b->begin + b->bytes - (char *)t->grad);
			b->begin = t->grad;
		}
		b->first = i;
		t->bucket = (int)(b - out);
	}
	for (i = 0; i < nb; i++)
		out[i].pending = out[i].last - out[i].first + 1;
	return nb;
}
