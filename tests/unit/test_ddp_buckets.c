/*
 * test_ddp_buckets.c - how ddp cuts the gradient arena into buckets
 * (src/strategy/ddp_buckets.c): last parameter first, consecutive ranges
 * of at most the cap (alignment gaps included), a parameter larger than
 * the cap cut into buckets from its end, every element in exactly one
 * bucket, pending counts going down as ranges are marked ready.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "strategy/ddp_buckets.h"

#define MAXP 8
#define MAXB 16

static struct lt_tensor tensors[MAXP];
static struct lt_tensor *params[MAXP];
static struct lt_bucket buckets[MAXB];
static _Alignas(64) char arena[4096];

/* n f32 parameters of numel[i] elements, each starting at a 64-byte
 * boundary of the arena (as the accelerator's alloc hands them out). */
static void lay_out(size_t n, const int64_t *numel)
{
	size_t at = 0;

	memset(tensors, 0, sizeof(tensors));
	for (size_t i = 0; i < n; i++) {
		tensors[i].numel = numel[i];
		tensors[i].grad = arena + at;
		tensors[i].bucket = -1;
		params[i] = &tensors[i];
		at += ((size_t)numel[i] * 4 + 63) / 64 * 64;
	}
}

/* Elements of t within bucket k. */
static size_t elems_in(const struct lt_tensor *t, const struct lt_bucket *k)
{
	const char *lo = t->grad, *hi = lo + t->numel * 4;
	const char *from = lo > k->begin ? lo : k->begin;
	const char *to = hi < k->begin + k->bytes ? hi : k->begin + k->bytes;

	return to > from ? (size_t)(to - from) / 4 : 0;
}

/* The buckets go backwards through the arena without overlapping; each
 * parameter's buckets (bucket .. bucket + nbuckets - 1) hold all its
 * elements, and each bucket's elems and pending count them. */
static void check_cover(size_t n, size_t nb)
{
	size_t total = 0, held = 0;

	for (size_t b = 0; b < nb; b++) {
		struct lt_bucket *k = &buckets[b];
		size_t in = 0;

		cr_assert_leq(k->first, k->last);
		cr_expect_eq(k->pending, k->elems);
		cr_expect_null(k->req);
		for (size_t i = k->first; i <= k->last; i++)
			in += elems_in(params[i], k);
		cr_expect_eq(in, k->elems, "bucket %zu holds %zu elements, says %zu", b, in, k->elems);
		if (b)
			cr_expect_leq(k->begin + k->bytes, buckets[b - 1].begin,
				      "bucket %zu lies before bucket %zu", b, b - 1);
		held += k->elems;
	}
	for (size_t i = 0; i < n; i++) {
		const struct lt_tensor *t = params[i];
		size_t in = 0;

		cr_assert_geq(t->bucket, 0);
		for (int b = t->bucket; b < t->bucket + t->nbuckets; b++)
			in += elems_in(t, &buckets[b]);
		cr_expect_eq(in, (size_t)t->numel, "parameter %zu: %zu of %lld elements in its buckets",
			     i, in, (long long)t->numel);
		total += (size_t)t->numel;
	}
	cr_expect_eq(held, total);
}

Test(ddp_buckets, no_parameters_no_buckets)
{
	cr_expect_eq(lt_ddp_cut_buckets(params, 0, 4, 1 << 20, buckets), 0);
}

Test(ddp_buckets, a_large_cap_makes_one_bucket)
{
	static const int64_t numel[] = { 10, 3, 100, 7 };
	size_t nb;

	lay_out(4, numel);
	nb = lt_ddp_cut_buckets(params, 4, 4, 1 << 20, buckets);
	cr_assert_eq(nb, 1);
	cr_expect_eq(buckets[0].first, 0);
	cr_expect_eq(buckets[0].last, 3);
	check_cover(4, nb);
}

/* A cap of the largest parameter's 400 bytes keeps it whole, alone; the
 * small ones around it cannot join it (the gaps count). */
Test(ddp_buckets, a_cap_of_the_largest_parameter_keeps_it_whole_last_first)
{
	static const int64_t numel[] = { 10, 3, 100, 7 };
	size_t nb;

	lay_out(4, numel); /* at bytes 0, 64, 128, 576 */
	cr_expect_eq(lt_ddp_max_buckets(params, 4, 4, 400), 4);
	nb = lt_ddp_cut_buckets(params, 4, 4, 400, buckets);
	cr_assert_eq(nb, 3);
	cr_expect_eq(buckets[0].first, 3);
	cr_expect_eq(buckets[0].bytes, 28);
	cr_expect_eq(buckets[1].first, 2);
	cr_expect_eq(buckets[1].last, 2);
	cr_expect_eq(buckets[1].bytes, 400);
	cr_expect_eq(buckets[2].first, 0);
	cr_expect_eq(buckets[2].last, 1);
	check_cover(4, nb);
}

/* Four parameters of 40 bytes, 64 bytes apart: a bucket of parameters 2
 * and 3 spans 104 bytes (the gap counts), adding 1 would span 168. */
Test(ddp_buckets, alignment_gaps_count_against_the_cap)
{
	static const int64_t numel[] = { 10, 10, 10, 10 };
	size_t nb;

	lay_out(4, numel);
	nb = lt_ddp_cut_buckets(params, 4, 4, 128, buckets);
	cr_assert_eq(nb, 2);
	cr_expect_eq(buckets[0].first, 2);
	cr_expect_eq(buckets[0].last, 3);
	cr_expect_eq(buckets[0].bytes, 104);
	cr_expect_eq(buckets[1].first, 0);
	cr_expect_eq(buckets[1].last, 1);
	check_cover(4, nb);
	/* exactly the span fits */
	nb = lt_ddp_cut_buckets(params, 4, 4, 168, buckets);
	cr_expect_eq(nb, 2);
	cr_expect_eq(buckets[0].first, 1);
	check_cover(4, nb);
}

/* A parameter larger than the cap is cut into buckets of cap bytes from
 * its end (its last elements travel first); the one holding its first
 * elements takes in the earlier parameters that fit. */
Test(ddp_buckets, a_parameter_over_the_cap_is_cut_from_its_end)
{
	static const int64_t numel[] = { 4, 4, 200, 4, 4 };
	size_t nb;

	lay_out(5, numel); /* at bytes 0, 64, 128 (800 bytes), 960, 1024 */
	nb = lt_ddp_cut_buckets(params, 5, 4, 256, buckets);
	cr_assert_eq(nb, 5);
	cr_expect_eq(buckets[0].first, 3); /* 3 and 4 */
	cr_expect_eq(params[2]->bucket, 1);
	cr_expect_eq(params[2]->nbuckets, 4);
	for (size_t b = 1; b <= 3; b++) {
		cr_expect_eq(buckets[b].first, 2);
		cr_expect_eq(buckets[b].bytes, 256);
		cr_expect_eq(buckets[b].begin, arena + 128 + (200 - 64 * b) * 4);
	}
	/* elements 0..7 of parameter 2, with parameters 0 and 1 */
	cr_expect_eq(buckets[4].first, 0);
	cr_expect_eq(buckets[4].last, 2);
	cr_expect_eq(buckets[4].elems, 16);
	cr_expect_eq(buckets[4].bytes, 160);
	check_cover(5, nb);
}

/* A stacked (4, 64) tensor in buckets of one layer each: marking the last
 * layer readies the first bucket alone, and so on down. */
Test(ddp_buckets, ranges_marked_ready_count_down_their_buckets)
{
	static const int64_t numel[] = { 3, 256 };
	size_t nb;

	lay_out(2, numel);
	nb = lt_ddp_cut_buckets(params, 2, 4, 256, buckets);
	cr_assert_eq(nb, 5, "4 layers, then the small parameter");
	check_cover(2, nb);
	lt_ddp_mark_ready(buckets, params[1], 192, 64, 4);
	cr_expect_eq(buckets[0].pending, 0, "layer 3 is ready");
	cr_expect_eq(buckets[1].pending, 64);
	lt_ddp_mark_ready(buckets, params[1], 96, 96, 4); /* layer 2 and half of 1 */
	cr_expect_eq(buckets[1].pending, 0);
	cr_expect_eq(buckets[2].pending, 32);
	lt_ddp_mark_ready(buckets, params[1], 0, 96, 4);
	cr_expect_eq(buckets[2].pending, 0);
	cr_expect_eq(buckets[3].pending, 0);
	cr_expect_eq(buckets[4].pending, 3, "the small parameter is not marked");
	lt_ddp_mark_ready(buckets, params[0], 0, 3, 4);
	cr_expect_eq(buckets[4].pending, 0);
}

/* Half-precision gradients: the element size sets the bytes. */
Test(ddp_buckets, the_element_size_sets_the_bytes)
{
	static const int64_t numel[] = { 16, 16 };
	size_t nb;

	memset(tensors, 0, sizeof(tensors));
	for (size_t i = 0; i < 2; i++) {
		tensors[i].numel = numel[i];
		tensors[i].grad = arena + 64 * i;
		params[i] = &tensors[i];
	}
	nb = lt_ddp_cut_buckets(params, 2, 2, 96, buckets);
	cr_assert_eq(nb, 1, "two 32-byte f16 gradients 64 bytes apart fit in 96");
	cr_expect_eq(buckets[0].bytes, 96);
}
