/*
 * test_lazy_fill.c - deferred first values (src/runtime/lazy_fill.c) and
 * the ranges of draw.c they rest on: any range of a tensor drawn alone
 * is bit for bit that range of the whole draw, for every rule; a
 * parameter with whole pages of its own is guarded and not resident
 * after registration, its edges drawn; the first touch draws all of it,
 * exactly as an eager draw; settling (one rank) draws the owned range of
 * a parameter in a unit and nothing of it beyond (whole pages stay zero,
 * not resident), and the whole of one in no unit.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/accel.h"
#include "core/registry.h"
#include "runtime/ctx.h"
#include "runtime/draw.h"
#include "runtime/lazy_fill.h"

#define SEED 11

static const struct lt_init rules[] = {
	{ .kind = LT_INIT_ZEROS },
	{ .kind = LT_INIT_CONSTANT, .a = 0.25 },
	{ .kind = LT_INIT_UNIFORM, .a = -0.5, .b = 2.0 },
	{ .kind = LT_INIT_NORMAL, .a = 1.0, .b = 0.02 },
	{ .kind = LT_INIT_KAIMING_UNIFORM },
	{ .kind = LT_INIT_XAVIER_UNIFORM },
};

Test(lazy_fill, a_range_drawn_alone_is_that_range_of_the_whole)
{
	struct lt_shape shape = { .ndim = 2, .dim = { 50, 100 } };
	static float whole[5000], part[5000];
	static const int64_t ranges[][2] = { { 0, 1 }, { 17, 983 }, { 4999, 1 }, { 0, 5000 },
					     { 2500, 0 } };

	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		lt_draw(SEED, &shape, 5000, rules[r], 4, whole);
		for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
			int64_t first = ranges[k][0], count = ranges[k][1];

			memset(part, 0xff, sizeof(part));
			lt_draw_range(SEED, &shape, rules[r], 4, first, count, part);
			cr_expect_eq(memcmp(part, whole + first, (size_t)count * sizeof(float)), 0,
				     "rule %zu: elements [%lld, +%lld) drawn alone differ", r,
				     (long long)first, (long long)count);
		}
	}
}

/* --- registration, touch and settling, on one rank --- */

#define NP 3

static const struct lt_accelerator_ops *cpu;
static struct lt_registry *reg;
static struct lt_config cfg = { .seed = SEED };
static const struct lt_precision_ops f32 = { .compute = LT_F32, .state = LT_F32 };
static struct lt_ctx ctx;
static struct lt_tensor tensors[NP];
static struct lt_tensor *params[NP];
static size_t page;

/* "loose" (16 elements: no page of its own, drawn at once), "unit"
 * (3 pages and 8 elements, in a unit), "tail" (2 pages, in no unit),
 * packed in one f32 arena as lt_param() registers them. */
static void setup(void)
{
	struct lt_err err = { 0 };
	static const char *const names[NP] = { "loose", "unit", "tail" };
	int64_t numel[NP];

	page = (size_t)sysconf(_SC_PAGESIZE);
	numel[0] = 16;
	numel[1] = (int64_t)(3 * page / 4 + 8);
	numel[2] = (int64_t)(2 * page / 4);
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
	cpu = (const struct lt_accelerator_ops *)lt_registry_find(reg, LT_KIND_ACCELERATOR, "cpu")->ops;
	ctx.cfg = &cfg;
	ctx.accel = cpu;
	ctx.precision = &f32;
	ctx.dtype = LT_F32;
	ctx.info.world_size = 1;
	ctx.params = params;
	cr_assert(lt_lazy_fill_possible(&ctx));
	cr_assert_eq(cpu->reserve(&ctx.data_arena, 1 << 22, &err), 0, "%s", err.msg);
	ctx.data_arena.align = 1;
	for (int i = 0; i < NP; i++) {
		struct lt_tensor *t = &tensors[i];

		snprintf(t->name, sizeof(t->name), "%s", names[i]);
		t->shape = (struct lt_shape){ .ndim = 1, .dim = { numel[i] } };
		t->numel = numel[i];
		t->index = (size_t)i;
		t->offset = ctx.numel;
		t->unit = i == 1 ? 0 : -1;
		t->data = cpu->alloc(&ctx.data_arena, (size_t)numel[i] * 4, &err);
		cr_assert_not_null(t->data, "%s", err.msg);
		cr_assert_eq(lt_lazy_fill_param(&ctx, t, rules[2 + i], &err), 0, "%s", err.msg);
		ctx.numel += (size_t)numel[i];
		params[ctx.nparams++] = t;
	}
}

static void teardown(void)
{
	cpu->release(&ctx.data_arena);
	lt_registry_free(reg);
}

TestSuite(lazy_fill, .timeout = 30);

/* t's first values as an eager draw gives them (malloc'ed). */
static float *eager(const struct lt_tensor *t)
{
	float *v = malloc((size_t)t->numel * sizeof(float));

	cr_assert_not_null(v);
	lt_draw(SEED, &t->shape, t->numel, t->init, t->index, v);
	return v;
}

/* Resident pages among the whole pages inside [p, p + bytes). */
static size_t resident(const void *p, size_t bytes)
{
	uintptr_t a = ((uintptr_t)p + page - 1) / page * page, e = ((uintptr_t)p + bytes) / page * page;
	unsigned char vec[64];
	size_t n = 0;

	cr_assert_leq((e - a) / page, sizeof(vec));
	if (e <= a)
		return 0;
	cr_assert_eq(mincore((void *)a, e - a, vec), 0);
	for (size_t i = 0; i < (e - a) / page; i++)
		n += vec[i] & 1;
	return n;
}

Test(lazy_fill, registration_guards_whole_pages_and_a_touch_draws_all, .init = setup,
     .fini = teardown)
{
	struct lt_tensor *u = &tensors[1];
	float *want = eager(u), *loose = eager(&tensors[0]);
	volatile float *v = u->data;
	float got;

	cr_expect_not(tensors[0].lazy, "a parameter without a page of its own waits");
	cr_expect_eq(memcmp(tensors[0].data, loose, 16 * sizeof(float)), 0);
	cr_assert(u->lazy);
	cr_assert(tensors[2].lazy);
	cr_expect_eq(resident(u->data, (size_t)u->numel * 4), 0,
		     "the guarded pages of 'unit' are resident after registration");
	got = v[page / 4 + 3]; /* a whole page: faults, and the handler draws */
	cr_expect_eq(memcmp(&got, &want[page / 4 + 3], sizeof(got)), 0);
	cr_expect_not(u->lazy);
	cr_expect(u->touched);
	cr_expect_eq(memcmp(u->data, want, (size_t)u->numel * sizeof(float)), 0,
		     "the touched parameter is not its eager draw");
	cr_expect(tensors[2].lazy, "a touch drew a neighbour too");
	free(want);
	free(loose);
}

Test(lazy_fill, settling_draws_the_owned_range_of_a_unit, .init = setup, .fini = teardown)
{
	struct lt_err err = { 0 };
	struct lt_tensor *u = &tensors[1], *tail = &tensors[2];
	float *want = eager(u), *want_tail = eager(tail);
	/* own the second page of 'unit' and one element on */
	size_t lo = u->offset + page / 4, hi = lo + page / 4 + 1;
	const float *d = u->data;
	size_t wrong = 0, drawn_outside = 0;

	cr_assert_eq(lt_lazy_fill_settle(&ctx, lo, hi, &err), 0, "%s", err.msg);
	for (int64_t i = 0; i < u->numel; i++) {
		size_t flat = u->offset + (size_t)i;
		bool own = flat >= lo && flat < hi;

		if (own && memcmp(&d[i], &want[i], sizeof(float)))
			wrong++;
		if (!own && d[i] != 0.0f)
			drawn_outside++;
	}
	cr_expect_eq(wrong, 0, "%zu owned elements of 'unit' are not their eager draw", wrong);
	/* the edges (the elements on pages shared with the neighbours) were
	 * drawn at registration; nothing else outside the owned range */
	cr_expect_leq(drawn_outside, 2 * page / 4,
		      "%zu elements of 'unit' outside the owned range were drawn", drawn_outside);
	cr_expect_leq(resident(u->data, (size_t)u->numel * 4), 2,
		      "more whole pages of 'unit' are resident than the owned range covers");
	cr_expect_eq(memcmp(tail->data, want_tail, (size_t)tail->numel * sizeof(float)), 0,
		     "'tail', in no unit, is not drawn whole");
	cr_expect_not(u->lazy);
	cr_expect_not(ctx.defer_fill);
	free(want);
	free(want_tail);
}
