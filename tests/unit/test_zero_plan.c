/*
 * test_zero_plan.c - the `zero` strategy's arithmetic
 * (src/strategy/zero_plan.c): the partition (padded to a multiple of the
 * world size, contiguous, clipped to the parameters) and the bytes per
 * rank, which equal the ZeRO paper's formulas (Rajbhandari et al. 2020:
 * 2 + 2 + K bytes a parameter under mixed-precision Adam, K = 12) at
 * each stage, plus ltrun's f32 master gradients (4 bytes, sharded);
 * stage 3's gathered units follow prefetch and reshard_after_forward.
 */
#include <criterion/criterion.h>

#include "strategy/zero_plan.h"

Test(zero_plan, partition_is_padded_contiguous_and_clipped)
{
	for (size_t n = 0; n < 50; n++)
		for (int w = 1; w <= 5; w++) {
			size_t next = 0;

			for (int r = 0; r < w; r++) {
				struct zero_part p = zero_part_of(n, w, r);

				cr_assert_eq(p.padded, p.shard * (size_t)w);
				cr_assert(p.padded >= n && p.padded < n + (size_t)w);
				cr_assert_eq(p.offset, next, "n %zu w %d rank %d", n, w, r);
				cr_assert_leq(p.numel, p.shard);
				next = p.offset + p.numel;
			}
			cr_assert_eq(next, n, "n %zu on %d ranks: the shards cover %zu", n, w, next);
		}
	/* 41 on 4 ranks: 11 a rank, the last one 8 */
	struct zero_part last = zero_part_of(41, 4, 3);
	cr_expect_eq(last.offset, 33);
	cr_expect_eq(last.numel, 8);
}

static size_t total(struct zero_bytes b)
{
	return b.params + b.grads + b.optim + b.gathered;
}

/* 32-true AdamW: ddp 16N, stage 1 8N + 8N/W, stage 2 4N + 12N/W, stage 3
 * 16N/W + the gathered units. */
Test(zero_plan, bytes_per_rank_are_the_papers_under_32_true)
{
	const size_t n = 1200000;
	const int w = 8;
	struct zero_model m = { .n = n, .ranks = w, .elem = 4, .slots = 2, .largest_unit = 5000,
				.units_total = 60000, .prefetch = 1 };

	m.stage = 0;
	cr_expect_eq(total(zero_plan_bytes(&m)), 16 * n);
	m.stage = 1;
	cr_expect_eq(total(zero_plan_bytes(&m)), 8 * n + 8 * n / w);
	m.stage = 2;
	cr_expect_eq(total(zero_plan_bytes(&m)), 4 * n + 12 * n / w);
	m.stage = 3;
	struct zero_bytes b = zero_plan_bytes(&m);
	cr_expect_eq(b.params + b.grads + b.optim, 16 * n / w);
	cr_expect_eq(b.gathered, 2 * 5000 * 4, "the unit in use and one prefetched");
}

/* Mixed precision (2-byte compute values and gradients, f32 master
 * weights and two AdamW slots: K = 12): the paper's (2 + 2 + K) N split
 * the same way, plus ltrun's f32 master gradients 4N/W. */
Test(zero_plan, bytes_per_rank_are_the_papers_under_mixed_precision)
{
	const size_t n = 3000000;
	const int w = 6;
	struct zero_model m = { .n = n, .ranks = w, .elem = 2, .master = true, .slots = 2 };

	m.stage = 0;
	cr_expect_eq(total(zero_plan_bytes(&m)), (2 + 2 + 12) * n + 4 * n);
	m.stage = 1;
	cr_expect_eq(total(zero_plan_bytes(&m)), 2 * n + 2 * n + 12 * n / w + 4 * n / w);
	m.stage = 2;
	cr_expect_eq(total(zero_plan_bytes(&m)), 2 * n + (2 + 12) * n / w + 4 * n / w);
	m.stage = 3;
	cr_expect_eq(total(zero_plan_bytes(&m)), (2 + 2 + 12) * n / w + 4 * n / w);
}

/* A count the ranks do not divide: the shard is rounded up. */
Test(zero_plan, uneven_counts_round_the_shard_up)
{
	struct zero_model m = { .n = 41, .ranks = 2, .stage = 2, .elem = 4, .slots = 2 };
	struct zero_bytes b = zero_plan_bytes(&m);

	cr_expect_eq(b.params, 42 * 4);
	cr_expect_eq(b.grads, 21 * 4);
	cr_expect_eq(b.optim, 21 * 8);
}

/* Stage 3's gathered units: the largest unit once for the unit in use
 * and once per unit prefetched, never more than every unit together;
 * reshard_after_forward=false (keep_forward) may hold every unit. */
Test(zero_plan, gathered_bytes_follow_prefetch_and_reshard_after_forward)
{
	struct zero_model m = { .n = 100000, .ranks = 4, .stage = 3, .elem = 2, .slots = 2,
				.largest_unit = 3000, .units_total = 10000 };

	for (int k = 0; k <= 2; k++) {
		m.prefetch = k;
		cr_expect_eq(zero_plan_bytes(&m).gathered, (size_t)(1 + k) * 3000 * 2,
			     "prefetch %d", k);
	}
	m.prefetch = 4;
	cr_expect_eq(zero_plan_bytes(&m).gathered, 10000 * 2, "5 units' worth exceeds the units");
	m.prefetch = 1;
	m.keep_forward = true;
	cr_expect_eq(zero_plan_bytes(&m).gathered, 10000 * 2, "every unit between the passes");
	m.stage = 2;
	cr_expect_eq(zero_plan_bytes(&m).gathered, 0, "stage 2 gathers no unit");
}
