/*
 * test_ddp_buckets.c - how ddp cuts the gradient arena into buckets
 * (src/strategy/ddp_buckets.c): last parameter first, consecutive ranges
 * of at most the cap (alignment gaps included), a parameter larger than
 * the cap alone, every parameter in exactly one bucket, pending counts.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "strategy/ddp_buckets.h"

#define MAXP 8

static struct lt_tensor tensors[MAXP];
static struct lt_tensor *params[MAXP];
static struct lt_bucket buckets[MAXP];
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

/* Every parameter is in the bucket that says it holds it, and the
 * buckets cover [first, last] with their bytes. */
static void check_cover(size_t n, size_t nb)
{
	size_t seen = 0;

	for (size_t b = 0; b < nb; b++) {
		struct lt_bucket *k = &buckets[b];
		struct lt_tensor *lo = params[k->first], *hi = params[k->last];

		cr_assert_leq(k->first, k->last);
		cr_expect_eq(k->pending, k->last - k->first + 1);
		cr_expect_eq(k->begin, (char *)lo->grad);
		cr_expect_eq(k->begin + k->bytes, (char *)hi->grad + hi->numel * 4);
		cr_expect_null(k->req);
		for (size_t i = k->first; i <= k->last; i++) {
			cr_expect_eq(params[i]->bucket, (int)b, "parameter %zu in bucket %d, not %zu", i,
				     params[i]->bucket, b);
			seen++;
		}
		/* buckets go backwards through the parameters */
		if (b)
			cr_expect_eq(k->last + 1, buckets[b - 1].first);
	}
	cr_expect_eq(seen, n);
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

Test(ddp_buckets, a_tiny_cap_gives_each_parameter_its_own_last_first)
{
	static const int64_t numel[] = { 10, 3, 100, 7 };
	size_t nb;

	lay_out(4, numel);
	nb = lt_ddp_cut_buckets(params, 4, 4, 1, buckets);
	cr_assert_eq(nb, 4);
	for (size_t b = 0; b < 4; b++) {
		cr_expect_eq(buckets[b].first, 3 - b);
		cr_expect_eq(buckets[b].last, 3 - b);
		cr_expect_eq(buckets[b].bytes, (size_t)numel[3 - b] * 4);
	}
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

/* A parameter larger than the cap is a bucket of its own, and the next
 * (earlier) parameter starts a new one. */
Test(ddp_buckets, a_parameter_over_the_cap_stands_alone)
{
	static const int64_t numel[] = { 4, 4, 200, 4, 4 };
	size_t nb;

	lay_out(5, numel);
	nb = lt_ddp_cut_buckets(params, 5, 4, 256, buckets);
	cr_assert_eq(nb, 3);
	cr_expect_eq(buckets[0].first, 3); /* 3 and 4 */
	cr_expect_eq(buckets[1].first, 2);
	cr_expect_eq(buckets[1].last, 2);
	cr_expect_eq(buckets[1].bytes, 800);
	cr_expect_eq(buckets[2].first, 0); /* 0 and 1 */
	check_cover(5, nb);
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
