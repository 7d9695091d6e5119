/*
 * abi_units.c - the units of <ltrun.h> (lt_unit_new, lt_unit_begin,
 * lt_unit_end) and their view for strategies (lt_num_units,
 * lt_unit_params of <ltrun/strategy.h>).
 *
 * A unit is a run of consecutive parameters a model uses together.  Each
 * begin and end goes to the strategy's unit op (ZeRO-3 gathers and
 * releases the values there; the others do nothing), and the end of a
 * unit's backward marks ready every tensor of it the model did not mark
 * itself, so that ddp starts its buckets as units finish.  Every misuse
 * ends the rank with a message naming the unit and the fix.
 */
#include "core/error.h"
#include "rank/abi.h"
#include "rank/fatal.h"
#include "runtime/ready.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pass_names[] = { "LT_FORWARD", "LT_BACKWARD" };

/* t for lt_unit_new's `which` (first/last): a parameter of this ctx. */
static struct lt_tensor *unit_param(lt_ctx *ctx, const char *name, const char *which,
				    lt_tensor *t)
{
	if (!t)
		lt_fatal(ctx, "lt_unit_new('%s'): %s is NULL: pass parameters lt_param() returned",
			 name, which);
	if (t->is_buffer)
		lt_fatal(ctx, "lt_unit_new('%s'): %s '%s' is a buffer: a unit holds parameters only (lt_param)",
			 name, which, t->name);
	return t;
}

static void check_new(lt_ctx *ctx, const char *name)
{
	if (!lt_abi_valid_name(name))
		lt_fatal(ctx, "lt_unit_new(): bad unit name '%s': give 1 to 127 printable characters without spaces or quotes",
			 name ? name : "(null)");
	if (ctx->params_frozen)
		lt_fatal(ctx, "lt_unit_new('%s') after training started: make every unit in init, after its parameters",
			 name);
	for (size_t i = 0; i < ctx->nunits; i++)
		if (!strcmp(ctx->units[i]->name, name))
			lt_fatal(ctx, "lt_unit_new(): unit '%s' is made twice: give each unit its own name",
				 name);
}

static void add_unit(lt_ctx *ctx, struct lt_unit *u)
{
	if (ctx->nunits == ctx->units_cap) {
		size_t cap = ctx->units_cap ? 2 * ctx->units_cap : 16;
		struct lt_unit **p = realloc(ctx->units, cap * sizeof(*p));

		if (!p)
			lt_fatal(ctx, "out of memory making unit '%s'", u->name);
		ctx->units = p;
		ctx->units_cap = cap;
	}
	u->index = ctx->nunits;
	ctx->units[ctx->nunits++] = u;
}

LT_API lt_unit *lt_unit_new(lt_ctx *ctx, const char *name, lt_tensor *first, lt_tensor *last)
{
	struct lt_tensor *a, *b;
	struct lt_unit *u;

	check_new(ctx, name);
	a = unit_param(ctx, name, "first", first);
	b = unit_param(ctx, name, "last", last);
	if (b->index < a->index)
		lt_fatal(ctx, "lt_unit_new('%s'): last parameter '%s' was registered before first '%s': give the unit's first and last parameters in registration order",
			 name, b->name, a->name);
	for (size_t i = a->index; i <= b->index; i++)
		if (ctx->params[i]->unit >= 0)
			lt_fatal(ctx, "lt_unit_new('%s'): parameter '%s' is already in unit '%s': units may not overlap",
				 name, ctx->params[i]->name, ctx->units[ctx->params[i]->unit]->name);
	u = calloc(1, sizeof(*u));
	if (!u)
		lt_fatal(ctx, "out of memory making unit '%s'", name);
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->first = a->index;
	u->count = b->index - a->index + 1;
	add_unit(ctx, u);
	for (size_t i = a->index; i <= b->index; i++)
		ctx->params[i]->unit = (int)u->index;
	return u;
}

/* u and pass for fn: one of this ctx's units, a known pass. */
static void check_use(lt_ctx *ctx, const char *fn, const lt_unit *u, enum lt_pass pass)
{
	if (!u)
		lt_fatal(ctx, "%s(NULL): pass a unit lt_unit_new() returned", fn);
	if (u->index >= ctx->nunits || ctx->units[u->index] != u)
		lt_fatal(ctx, "%s(): not a unit of this run: pass a unit lt_unit_new() returned", fn);
	if ((int)pass != LT_FORWARD && (int)pass != LT_BACKWARD)
		lt_fatal(ctx, "%s('%s'): unknown pass %d: give LT_FORWARD or LT_BACKWARD", fn,
			 u->name, (int)pass);
}

/* Tells the strategy of a begin or end of u in pass. */
static void send_event(lt_ctx *ctx, const char *fn, const struct lt_unit *u,
		       enum lt_pass pass, bool begin)
{
	struct lt_unit_event ev = { .unit = u->index, .name = u->name, .first = u->first,
				    .count = u->count, .pass = pass, .begin = begin };
	struct lt_err err = { 0 };

	if (lt_runtime_unit(ctx, &ev, &err))
		lt_fatal(ctx, "%s('%s', %s): %s", fn, u->name, pass_names[pass], err.msg);
}

LT_API void lt_unit_begin(lt_ctx *ctx, lt_unit *u, enum lt_pass pass)
{
	check_use(ctx, "lt_unit_begin", u, pass);
	if (u->active[pass])
		lt_fatal(ctx, "lt_unit_begin('%s', %s): the unit is already begun in this pass: call lt_unit_end before beginning it again",
			 u->name, pass_names[pass]);
	lt_abi_ensure_setup(ctx, "lt_unit_begin"); /* Fabric mode: place the values first */
	u->active[pass] = true;
	send_event(ctx, "lt_unit_begin", u, pass, true);
}

/* The end of u's backward: every tensor of it the model did not mark
 * (at all) in this micro-batch is ready now, as lt_grad_ready() says. */
static void mark_unit_ready(lt_ctx *ctx, const struct lt_unit *u)
{
	struct lt_err err = { 0 };

	for (size_t i = u->first; i < u->first + u->count; i++) {
		struct lt_tensor *t = ctx->params[i];
		int rc;

		if (t->marked)
			continue;
		rc = lt_ready_mark(ctx, t, 0, t->numel, &err);
		if (rc > 0)
			rc = lt_runtime_grad_ready_range(ctx, t, 0, t->numel, &err);
		if (rc < 0)
			lt_fatal(ctx, "lt_unit_end('%s', LT_BACKWARD): parameter '%s': %s", u->name,
				 t->name, err.msg);
	}
}

LT_API void lt_unit_end(lt_ctx *ctx, lt_unit *u, enum lt_pass pass)
{
	check_use(ctx, "lt_unit_end", u, pass);
	if (!u->active[pass])
		lt_fatal(ctx, "lt_unit_end('%s', %s): the unit was not begun in this pass: call lt_unit_begin before using its parameters",
			 u->name, pass_names[pass]);
	u->active[pass] = false;
	if (pass == LT_BACKWARD)
		mark_unit_ready(ctx, u);
	send_event(ctx, "lt_unit_end", u, pass, false);
}

/* --- for strategies (ltrun/strategy.h) --- */

LT_API size_t lt_num_units(const lt_ctx *ctx) { return ctx->nunits; }

LT_API const char *lt_unit_params(const lt_ctx *ctx, size_t i, size_t *first, size_t *count)
{
	const struct lt_unit *u;

	if (i >= ctx->nunits)
		lt_fatal((lt_ctx *)ctx, "lt_unit_params(%zu): the model made %zu units", i,
			 ctx->nunits);
	u = ctx->units[i];
	if (first)
		*first = u->first;
	if (count)
		*count = u->count;
	return u->name;
}
