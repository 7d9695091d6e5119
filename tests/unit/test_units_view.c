/*
 * test_units_view.c - the units as a strategy plugin sees them
 * (lt_num_units, lt_unit_params of <ltrun/strategy.h>, in
 * src/rank/abi_units.c): their count, each one's name and range of
 * parameters in lt_unit_new() order; and units.h's search for the
 * parameter holding an address of the values arena.
 */
#include <criterion/criterion.h>

#include "runtime/ctx.h"
#include "runtime/units.h"

static struct lt_unit a = { .name = "block0", .index = 0, .first = 1, .count = 3 };
static struct lt_unit b = { .name = "block1", .index = 1, .first = 4, .count = 2 };
static struct lt_unit *units[2] = { &a, &b };

Test(units_view, strategies_see_each_units_name_and_parameters)
{
	struct lt_ctx ctx = { .units = units, .nunits = 2 };
	size_t first = 99, count = 99;

	cr_expect_eq(lt_num_units(&ctx), 2);
	cr_expect_str_eq(lt_unit_params(&ctx, 1, &first, &count), "block1");
	cr_expect_eq(first, 4);
	cr_expect_eq(count, 2);
	cr_expect_str_eq(lt_unit_params(&ctx, 0, &first, &count), "block0");
	cr_expect_eq(first, 1);
	cr_expect_eq(count, 3);
	ctx.nunits = 0;
	cr_expect_eq(lt_num_units(&ctx), 0);
}

Test(units_view, an_address_finds_the_parameter_holding_it)
{
	static float arena[64];
	struct lt_tensor t[3] = { { .name = "x", .numel = 10, .data = arena },
				  { .name = "y", .numel = 20, .data = arena + 10 },
				  { .name = "z", .numel = 5, .data = arena + 30 } };
	struct lt_tensor *params[3] = { &t[0], &t[1], &t[2] };
	struct lt_ctx ctx = { .params = params, .nparams = 3, .dtype = LT_F32 };

	cr_expect_eq(lt_units_param_at_address(&ctx, arena), &t[0]);
	cr_expect_eq(lt_units_param_at_address(&ctx, (char *)(arena + 10) - 1), &t[0]);
	cr_expect_eq(lt_units_param_at_address(&ctx, arena + 10), &t[1]);
	cr_expect_eq(lt_units_param_at_address(&ctx, arena + 29), &t[1]);
	cr_expect_eq(lt_units_param_at_address(&ctx, arena + 34), &t[2]);
	cr_expect_null(lt_units_param_at_address(&ctx, arena + 35));
	cr_expect_null(lt_units_param_at_address(&ctx, arena + 63));
}
