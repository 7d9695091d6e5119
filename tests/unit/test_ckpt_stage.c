/*
 * test_ckpt_stage.c - a checkpoint's staging through the accelerator's
 * host memory, on the cpu accelerator's staging ops (the cuda ones need
 * a GPU: bench/gpu): every tensor gets a 64-byte aligned slot of its own
 * in the stage, the staged bytes are a snapshot (the arena changes after,
 * they do not), the stage grows for a bigger state, and a load copies
 * the staged bytes back to where each tensor lives.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "cpu_arena.h"
#include "trainer/ckpt_stage.h"

TestSuite(ckpt_stage, .init = cpu_arena_open, .fini = cpu_arena_close);

/* n tensors in the arena of bytes[i] bytes, byte j of tensor i = i + j
 * (the stage moves bytes: the dtype and shape are only a description). */
static void make(struct lt_ckpt_tensor *t, const size_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = cpu->alloc(&arena, bytes[i], &err);

		cr_assert(p || !bytes[i], "%s", err.msg);
		for (size_t j = 0; j < bytes[i]; j++)
			p[j] = (unsigned char)(i + j);
		t[i] = (struct lt_ckpt_tensor){ .name = "t", .dtype = LT_F32, .ndim = 1,
						.shape = { (int64_t)bytes[i] }, .data = p,
						.bytes = bytes[i] };
	}
}

static void expect_pattern(const struct lt_ckpt_tensor *t, size_t i)
{
	const unsigned char *p = t->data;

	for (size_t j = 0; j < t->bytes; j++)
		if (p[j] != (unsigned char)(i + j))
			cr_assert_fail("tensor %zu byte %zu is %u, not %u", i, j, p[j],
				       (unsigned)(unsigned char)(i + j));
}

Test(ckpt_stage, saving_gives_each_tensor_an_aligned_snapshot_of_its_own)
{
	size_t bytes[4] = { 1000, 0, 3, (size_t)1 << 20 };
	struct lt_ckpt_tensor t[4];
	const void *arena_ptr[4];
	struct lt_ckpt_stage *s = lt_ckpt_stage_new(cpu);

	cr_assert_not_null(s);
	cr_expect_eq(lt_ckpt_stage_ready(s, &err), 0, "nothing queued: %s", err.msg);
	cr_expect_eq(lt_ckpt_stage_fence(s, &err), 0, "nothing queued: %s", err.msg);
	make(t, bytes, 4);
	for (size_t i = 0; i < 4; i++)
		arena_ptr[i] = t[i].data;
	cr_assert_eq(lt_ckpt_stage_out(s, t, 4, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_stage_ready(s, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_stage_fence(s, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < 4; i++) {
		const char *p = t[i].data;

		cr_expect_neq(t[i].data, arena_ptr[i], "tensor %zu still points into the arena", i);
		cr_expect_eq((uintptr_t)p % 64, 0, "tensor %zu's slot is not 64-byte aligned", i);
		for (size_t k = 0; k < i; k++) {
			const char *q = t[k].data;

			cr_expect(p >= q + t[k].bytes || q >= p + t[i].bytes,
				  "slots %zu and %zu overlap", k, i);
		}
		/* the next optimizer step changes the arena, not the stage */
		memset((void *)arena_ptr[i], 0xee, bytes[i]);
		expect_pattern(&t[i], i);
	}
	lt_ckpt_stage_free(s);
	lt_ckpt_stage_free(NULL);
}

Test(ckpt_stage, a_bigger_state_grows_the_stage)
{
	size_t small[1] = { 4096 }, big[2] = { (size_t)3 << 20, (size_t)5 << 20 };
	struct lt_ckpt_tensor a[1], b[2];
	struct lt_ckpt_stage *s = lt_ckpt_stage_new(cpu);

	cr_assert_not_null(s);
	make(a, small, 1);
	cr_assert_eq(lt_ckpt_stage_out(s, a, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_stage_ready(s, &err), 0, "%s", err.msg);
	expect_pattern(&a[0], 0);
	make(b, big, 2);
	cr_assert_eq(lt_ckpt_stage_out(s, b, 2, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_stage_ready(s, &err), 0, "%s", err.msg);
	expect_pattern(&b[0], 0);
	expect_pattern(&b[1], 1);
	lt_ckpt_stage_free(s);
}

Test(ckpt_stage, loading_copies_the_staged_bytes_to_each_tensor)
{
	size_t bytes[3] = { 333, 64, (size_t)2 << 20 };
	struct lt_ckpt_tensor t[3];
	const void *dev[3], *where[3];
	struct lt_ckpt_stage *s = lt_ckpt_stage_new(cpu);

	cr_assert_not_null(s);
	make(t, bytes, 3);
	for (size_t i = 0; i < 3; i++) {
		where[i] = t[i].data;
		memset((void *)t[i].data, 0, bytes[i]); /* what the run holds before the load */
	}
	cr_assert_eq(lt_ckpt_stage_map(s, t, 3, dev, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < 3; i++) {
		cr_expect_eq(dev[i], where[i], "dev[%zu] is not the tensor's own address", i);
		cr_expect_neq(t[i].data, where[i]);
		/* the reader fills the stage */
		for (size_t j = 0; j < bytes[i]; j++)
			((unsigned char *)(uintptr_t)t[i].data)[j] = (unsigned char)(i + j);
	}
	cr_assert_eq(lt_ckpt_stage_copy_in(s, t, 3, dev, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < 3; i++) {
		struct lt_ckpt_tensor home = t[i];

		home.data = where[i];
		expect_pattern(&home, i);
	}
	lt_ckpt_stage_free(s);
}
