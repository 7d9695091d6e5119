/*
 * test_prefetch.c - zero's stage 3 gathering ahead (prefetch) and
 * reshard_after_forward (src/strategy/zero_units.c): examples/wide (a
 * unit per layer) and tests/models/prefetch_units.c (a model that
 * changes the order of its units on later steps) end 12 steps with
 * ddp's parameters within 1e-5 under prefetch 0, 1 and 2 and without
 * resharding after forward, and so does a Fabric-mode model without
 * backward brackets (tests/models/prefetch_fabric.c); --verbose counts the gathers (prefetch
 * starts them ahead, reshard_after_forward=false saves the backward's)
 * and prints the gathered bytes of the accounting; a parameter read
 * outside its unit still faults with units gathered ahead.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(prefetch, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 240);

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define WIDE build_path("examples/wide/wide.so")
#define UNITS build_path("tests/models/prefetch_units.so")
#define FABRIC build_path("tests/models/prefetch_fabric.so")
#define NONE ((const char *const[]){ NULL })

/* examples/wide at width 20: 12 layers (units) of 420 parameters */
#define WIDE_ARGS "--params", "5000", "--width", "20"
enum { WIDE_UNITS = 12, WIDE_UNIT = 20 * 20 + 20, STEPS = 12 };

/* The options of a run of model under strategy on 2 ranks (12 steps
 * unless it is the Fabric model; its own options after "--") into argv;
 * returns argv. */
static const char **run_args(const char **argv, const char *strategy, const char *model,
			     const char *const *model_args)
{
	static const char *const common[] = { "--devices", "2", "--optimizer", "adamw",
					      "--lr", "1e-2", "--seed", "5", "--verbose" };
	static const char *const trainer[] = { "--batch-size", "4", "--max-steps", "12" };
	size_t steps = strstr(model, "prefetch_fabric") ? 0 : sizeof(trainer) / sizeof(*trainer);
	int n = 0;

	for (size_t i = 0; i < sizeof(common) / sizeof(*common); i++)
		argv[n++] = common[i];
	/* Trainer mode's steps (a Fabric model makes its own) */
	for (size_t i = 0; i < steps; i++)
		argv[n++] = trainer[i];
	argv[n++] = "--strategy";
	argv[n++] = strategy;
	argv[n++] = model;
	argv[n++] = "--";
	while (*model_args)
		argv[n++] = *model_args++;
	argv[n] = NULL;
	return argv;
}

/* Each strategy of zeros ends with ddp's parameters within 1e-5 (of the
 * largest). */
static void against_ddp(const char *model, const char *const *model_args,
			const char *const *zeros)
{
	const char *argv[40];
	char want[512], got[512], what[256];

	train_dumping("ddp", run_args(argv, "ddp", model, model_args), "ddp.txt", want,
		      sizeof(want));
	for (; *zeros; zeros++) {
		double big, d;

		snprintf(what, sizeof(what), "%s under %s", model, *zeros);
		train_dumping(what, run_args(argv, *zeros, model, model_args), "zero.txt", got,
			      sizeof(got));
		d = dump_max_diff(want, got, &big);
		cr_expect_leq(d, 1e-5 * big, "%s: a parameter is %g from ddp's (largest %g)", what,
			      d, big);
	}
}

#define VARIANTS                                                                   \
	LIST("zero:stage=3,prefetch=0", "zero:stage=3,prefetch=1", "zero:stage=3,prefetch=2", \
	     "zero:stage=3,reshard_after_forward=false",                               \
	     "fsdp:prefetch=2,reshard_after_forward=false")

Test(prefetch, wide_matches_ddp_with_prefetch_0_1_2_and_without_reshard)
{
	against_ddp(WIDE, LIST(WIDE_ARGS), VARIANTS);
}

Test(prefetch, a_model_that_changes_its_order_of_units_matches_ddp)
{
	against_ddp(UNITS, LIST("--branch"), VARIANTS);
}

/* Fabric mode, units with a forward bracket only: a unit kept after its
 * forward (reshard_after_forward=false) is released by the step, whose
 * update would leave its gathered values stale. */
Test(prefetch, fabric_mode_without_backward_brackets_matches_ddp)
{
	against_ddp(FABRIC, NONE,
		    LIST("zero:stage=3,reshard_after_forward=false", "zero:stage=3,prefetch=2"));
}

/* A run of wide under strategy: its --verbose accounting's gathered
 * bytes, and the gathers counted at the end (all, and ahead of use). */
static void gathers(const char *strategy, size_t *bytes, size_t *all, size_t *ahead)
{
	const char *argv[40];
	char *err = train(strategy, run_args(argv, strategy, WIDE, LIST(WIDE_ARGS)), 1);
	const char *plan = strstr(err, "gathered "), *count = strstr(err, "stage 3 gathered units ");

	cr_assert(plan && count, "%s: no accounting or count under --verbose:\n%s", strategy, err);
	cr_assert_eq(sscanf(plan, "gathered %zu bytes", bytes), 1, "%s", plan);
	cr_assert_eq(sscanf(count, "stage 3 gathered units %zu times, %zu of them", all, ahead), 2,
		     "%s", count);
	free(err);
}

/* wide's units are begun F0..F11 B11..B0 each step.  Without prefetch every begin gathers, on demand;
 * with it the first step records the order, and from the second on only
 * a step's first unit is gathered when begun (a gather ahead must not
 * cross the step, whose update would make it stale): the others are
 * gathered ahead, or kept between the last layer's two passes.
 * reshard_after_forward=false gathers each unit once a step. */
Test(prefetch, verbose_counts_the_gathers_and_the_gathered_bytes)
{
	const size_t begins = 2 * WIDE_UNITS, f32 = 4;
	size_t bytes, all, ahead;

	gathers("zero:stage=3,prefetch=0", &bytes, &all, &ahead);
	cr_expect_eq(bytes, WIDE_UNIT * f32);
	cr_expect_eq(all, STEPS * begins);
	cr_expect_eq(ahead, 0);
	for (int p = 1; p <= 2; p++) {
		char strategy[64];

		snprintf(strategy, sizeof(strategy), "zero:stage=3,prefetch=%d", p);
		gathers(strategy, &bytes, &all, &ahead);
		cr_expect_eq(bytes, (size_t)(1 + p) * WIDE_UNIT * f32, "%s", strategy);
		/* on demand: the first step's begins, then a step's first */
		cr_expect_eq(all - ahead, begins + (STEPS - 1), "%s: %zu of %zu on demand",
			     strategy, all - ahead, all);
		cr_expect_geq(ahead, (STEPS - 1) * (begins - 2 * (size_t)p - 1), "%s", strategy);
	}
	gathers("zero:stage=3,prefetch=0,reshard_after_forward=false", &bytes, &all, &ahead);
	cr_expect_eq(bytes, WIDE_UNITS * WIDE_UNIT * f32);
	cr_expect_eq(all, STEPS * WIDE_UNITS);
}

/* With units gathered ahead, the ones neither in use nor next stay
 * released: rank 1 reading u0 inside u2's forward faults, naming it
 * (stage 2, which keeps every value, runs the same read). */
Test(prefetch, a_parameter_used_outside_its_unit_still_faults_with_prefetch)
{
	const char *argv[40];
	struct run_result r;

	train("stage 2", run_args(argv, "zero:stage=2", UNITS, LIST("--stray")), 0);
	cr_assert_eq(run_ltrun(run_args(argv, "zero:stage=3,prefetch=2", UNITS, LIST("--stray")),
			       NULL, &r),
		     0);
	cr_assert_neq(r.status, 0, "rank 1 read a released value and went on:\n%s", r.err);
	cr_expect_not_null(strstr(r.err, "parameter 'u0.weight' (unit 'u0') was used outside lt_unit_begin/lt_unit_end"),
			   "the fault does not name the parameter:\n%s", r.err);
	run_result_free(&r);
}
