/*
 * ddp_buckets.c - ddp's bucket cutting and ready counts (ddp_buckets.h).
 */
#include "strategy/ddp_buckets.h"

#include <string.h>

/* Elements per bucket of a parameter larger than cap. */
static size_t piece(size_t elem_size, size_t cap)
{
	return cap / elem_size ? cap / elem_size : 1;
}

size_t lt_ddp_max_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size,
			  size_t cap)
{
	size_t most = 0, per = piece(elem_size, cap);

	for (size_t i = 0; i < n; i++)
		most += ((size_t)params[i]->numel + per - 1) / per;
	return most;
}

static struct lt_bucket *new_bucket(struct lt_bucket *out, size_t *nb, size_t i, char *begin,
				    size_t bytes)
{
	struct lt_bucket *b = &out[(*nb)++];

	memset(b, 0, sizeof(*b));
	b->first = b->last = i;
	b->begin = begin;
	b->bytes = bytes;
	return b;
}

/* A parameter larger than cap: buckets of `per` elements from its end. */
static void cut_large(struct lt_tensor *t, size_t i, size_t elem_size, size_t per,
		      struct lt_bucket *out, size_t *nb)
{
	t->bucket = (int)*nb;
	t->nbuckets = 0;
	for (size_t end = (size_t)t->numel; end > 0; t->nbuckets++) {
		size_t k = end < per ? end : per;
		struct lt_bucket *b = new_bucket(out, nb, i, (char *)t->grad + (end - k) * elem_size,
						 k * elem_size);

		b->elems = k;
		end -= k;
	}
}

size_t lt_ddp_cut_buckets(struct lt_tensor *const *params, size_t n, size_t elem_size, size_t cap,
			  struct lt_bucket *out)
{
	size_t nb = 0, i, per = piece(elem_size, cap);

	for (i = n; i-- > 0;) {
		struct lt_tensor *t = params[i];
		struct lt_bucket *b = nb ? &out[nb - 1] : NULL;
		size_t bytes = (size_t)t->numel * elem_size;

		if (bytes > cap) {
			cut_large(t, i, elem_size, per, out, &nb);
			continue;
		}
		if (!b || (size_t)(b->begin + b->bytes - (char *)t->grad) > cap) {
			b = new_bucket(out, &nb, i, t->grad, bytes);
		} else {
			/* t lies before the bucket's parameters in the arena. */
			b->bytes = (size_t)(b->begin + b->bytes - (char *)t->grad);
			b->begin = t->grad;
		}
		b->first = i;
		b->elems += (size_t)t->numel;
		t->bucket = (int)(b - out);
		t->nbuckets = 1;
	}
	for (i = 0; i < nb; i++)
		out[i].pending = out[i].elems;
	return nb;
}

void lt_ddp_mark_ready(struct lt_bucket *buckets, const struct lt_tensor *t, size_t first,
		       size_t count, size_t elem_size)
{
	const char *lo = (const char *)t->grad + first * elem_size, *hi = lo + count * elem_size;

	for (int k = t->bucket; k >= 0 && k < t->bucket + t->nbuckets; k++) {
		struct lt_bucket *b = &buckets[k];
		const char *from = lo > b->begin ? lo : b->begin;
		const char *to = hi < b->begin + b->bytes ? hi : b->begin + b->bytes;

		if (to > from)
			b->pending -= (size_t)(to - from) / elem_size;
	}
}
