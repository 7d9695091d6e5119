/*
 * test_accel_cpu.c - the cpu accelerator's memory ops that stage 2 and 3
 * lean on: discard zeroes exactly its range and gives back the pages
 * wholly inside it, its grain is the 2 MiB huge page, and populate brings
 * given-back pages back as zeros without touching the resident ones.
 * Residency is read with mincore(2).
 */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_arena.h"

static size_t page;

static void setup(void)
{
	cpu_arena_open();
	page = (size_t)sysconf(_SC_PAGESIZE);
}

TestSuite(accel_cpu, .init = setup, .fini = cpu_arena_close);

/* Resident pages among those wholly inside [p, p + bytes). */
static size_t resident(const char *p, size_t bytes)
{
	uintptr_t a = ((uintptr_t)p + page - 1) / page * page, e = ((uintptr_t)p + bytes) / page * page;
	size_t n = e > a ? (e - a) / page : 0, in = 0;
	unsigned char *vec = calloc(n + 1, 1);

	cr_assert_not_null(vec);
	cr_assert_eq(mincore((void *)a, e - a, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

static bool all_bytes(const char *p, size_t bytes, int byte)
{
	for (size_t i = 0; i < bytes; i++)
		if (p[i] != (char)byte)
			return false;
	return true;
}

Test(accel_cpu, the_discard_grain_is_the_huge_page)
{
	cr_expect_eq(cpu->discard_grain, (size_t)2 << 20);
	cr_expect_not_null(cpu->populate);
}

Test(accel_cpu, discard_zeroes_its_range_only_and_gives_back_the_pages_inside)
{
	size_t bytes = (size_t)8 << 20;
	char *p = cpu->alloc(&arena, bytes, &err);
	char *from = p + 1000, *to = p + bytes - 3000;

	cr_assert_not_null(p, "%s", err.msg);
	memset(p, 0x5a, bytes);
	cpu->discard(from, (size_t)(to - from));
	cr_expect(all_bytes(p, 1000, 0x5a), "a byte before the range changed");
	cr_expect(all_bytes(to, 3000, 0x5a), "a byte after the range changed");
	cr_expect_eq(resident(from, (size_t)(to - from)), 0,
		     "pages wholly inside the discarded range stayed resident");
	cr_expect(all_bytes(from, (size_t)(to - from), 0), "the discarded range does not read as zeros");
}

Test(accel_cpu, populate_brings_given_back_pages_back_as_zeros_and_keeps_the_others)
{
	size_t bytes = (size_t)8 << 20, half = bytes / 2;
	char *p = cpu->alloc(&arena, bytes, &err);

	cr_assert_not_null(p, "%s", err.msg);
	memset(p, 0x33, bytes);
	cpu->discard(p + half, half);
	cr_assert_eq(resident(p + half, half), 0);
	cpu->populate(p, bytes);
	cr_expect_eq(resident(p, bytes), bytes / page, "populate left pages out");
	cr_expect(all_bytes(p, half, 0x33), "populate changed a resident page");
	cr_expect(all_bytes(p + half, half, 0), "a populated page is not zero");
}
