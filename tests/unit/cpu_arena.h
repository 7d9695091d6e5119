/*
 * cpu_arena.h - the fixture of the unit tests that use the cpu
 * accelerator's ops on an arena of their own (test_ckpt_stage.c,
 * test_accel_cpu.c): the registry resolves "cpu", a 64 MiB arena is
 * reserved, and both go away at the end.  Static: each test file has
 * its own.
 */
#ifndef LT_TESTS_UNIT_CPU_ARENA_H
#define LT_TESTS_UNIT_CPU_ARENA_H

#include <criterion/criterion.h>

#include <string.h>

#include "accel/accel.h"
#include "core/registry.h"

static struct lt_registry *reg;
static struct lt_choice choice;
static const struct lt_accelerator_ops *cpu;
static struct lt_arena arena;
static struct lt_err err;

static void cpu_arena_open(void)
{
	memset(&err, 0, sizeof(err));
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_ACCELERATOR, "cpu", &choice, &err), 0, "%s",
		     err.msg);
	cpu = lt_accel_of(&choice);
	cr_assert_eq(cpu->reserve(&arena, (size_t)64 << 20, &err), 0, "%s", err.msg);
}

static void cpu_arena_close(void)
{
	cpu->release(&arena);
	lt_choice_free(&choice);
	lt_registry_free(reg);
}

#endif
