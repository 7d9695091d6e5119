/*
 * test_units.c - units of parameters (lt_unit_new, lt_unit_begin,
 * lt_unit_end; src/rank/abi_units.c) through the real ltrun on
 * tests/models/units_mlp.c: bracketing every layer changes no bit of the
 * trained parameters under single_device and ddp (2 ranks, also with
 * gradient accumulation and with tensors the model marks ready itself);
 * the end of a unit's backward marks its gradients ready (--debug then
 * catches a gradient written after it); every misuse ends the rank with
 * exit status 1 and a message naming the unit and the fix; in Fabric
 * mode the first lt_unit_begin places the parameters.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(units, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define MLP build_path("tests/models/units_mlp.so")

/* The whole text of path (malloc'ed). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long n;

	cr_assert_not_null(f, "no %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* Trains units_mlp 2 epochs with the ltrun options opts (up to 6) and the
 * model options extra (up to 2), dumping to tmp/name. */
static void train_mlp(const char *name, const char *const *opts, const char *const *extra,
		      char *dump, size_t len)
{
	const char *args[20] = { "--max-epochs", "2", "--batch-size", "8", "--lr", "0.05" };
	int n = 6;

	for (int i = 0; opts[i]; i++)
		args[n++] = opts[i];
	args[n++] = MLP;
	args[n++] = "--";
	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	train_dumping(name, args, name, dump, len);
}

/* The same training with and without units: the same bits. */
static void expect_units_change_nothing(const char *const *opts, const char *self_ready)
{
	char plain[512], units[512];
	char *a, *b;

	train_mlp("plain.txt", opts, (const char *const[]){ NULL }, plain, sizeof(plain));
	train_mlp("units.txt", opts, (const char *const[]){ "--units", self_ready, NULL }, units,
		  sizeof(units));
	a = slurp(plain);
	b = slurp(units);
	cr_expect(strlen(a) > 100, "a dump of every parameter: %s", a);
	cr_expect_str_eq(a, b, "units changed the trained parameters");
	free(a);
	free(b);
}

Test(units, brackets_change_no_bit_under_single_device)
{
	expect_units_change_nothing((const char *const[]){ "--strategy", "single_device", NULL },
				    NULL);
}

Test(units, brackets_change_no_bit_under_ddp)
{
	expect_units_change_nothing((const char *const[]){ "--strategy", "ddp", "--devices", "2",
							   NULL },
				    NULL);
}

Test(units, brackets_change_no_bit_under_ddp_with_accumulation_and_own_marks)
{
	expect_units_change_nothing((const char *const[]){ "--strategy", "ddp", "--devices", "2",
							   "--accumulate-grad-batches", "2", NULL },
				    "--self-ready");
}

/* Runs units_mlp with model options (NULL-terminated) under ddp on 2
 * ranks and expects exit status 1 and every fragment in its stderr. */
static void expect_ends(const char *const *model_opts, const char *debug, const char *want1,
			const char *want2)
{
	const char *args[16] = { "--strategy", "ddp", "--devices", "2", "--max-epochs", "1",
				 "--batch-size", "8" };
	struct run_result r;
	int n = 8;

	if (debug)
		args[n++] = debug;
	args[n++] = MLP;
	args[n++] = "--";
	for (int i = 0; model_opts[i]; i++)
		args[n++] = model_opts[i];
	args[n] = NULL;
	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_expect_eq(r.status, 1, "%s: exit status 1, not %d:\n%s", model_opts[1], r.status,
		     r.err);
	cr_expect(strstr(r.err, want1) && (!want2 || strstr(r.err, want2)),
		  "%s: the message names the unit and the fix:\n%s", model_opts[1], r.err);
	run_result_free(&r);
}

#define MISUSE(kind) ((const char *const[]){ "--misuse", kind, NULL })

Test(units, a_bad_unit_is_refused_naming_it)
{
	expect_ends(MISUSE("bad-name"), NULL, "lt_unit_new(): bad unit name 'layer 0'",
		    "printable characters");
	expect_ends(MISUSE("dup-name"), NULL, "unit 'layer0' is made twice",
		    "give each unit its own name");
	expect_ends(MISUSE("null-first"), NULL, "lt_unit_new('layer0'): first is NULL",
		    "pass parameters lt_param() returned");
	expect_ends(MISUSE("buffer"), NULL, "first 'steps_seen' is a buffer",
		    "a unit holds parameters only");
	expect_ends(MISUSE("reversed"), NULL,
		    "lt_unit_new('reversed'): last parameter 'layer0.w' was registered before first 'layer1.b'",
		    "registration order");
	expect_ends(MISUSE("overlap"), NULL,
		    "lt_unit_new('overlap'): parameter 'layer0.b' is already in unit 'layer0'",
		    "units may not overlap");
	expect_ends(MISUSE("late-new"), NULL, "lt_unit_new('late') after training started",
		    "make every unit in init");
}

Test(units, a_bad_bracket_is_refused_naming_the_unit)
{
	expect_ends(MISUSE("double-begin"), NULL,
		    "lt_unit_begin('layer1', LT_FORWARD): the unit is already begun in this pass",
		    "call lt_unit_end before beginning it again");
	expect_ends(MISUSE("end-no-begin"), NULL,
		    "lt_unit_end('layer2', LT_BACKWARD): the unit was not begun in this pass",
		    "call lt_unit_begin");
	expect_ends(MISUSE("bad-pass"), NULL, "lt_unit_begin('layer0'): unknown pass 7",
		    "give LT_FORWARD or LT_BACKWARD");
	expect_ends(MISUSE("null-unit"), NULL, "lt_unit_begin(NULL)",
		    "pass a unit lt_unit_new() returned");
}

Test(units, the_end_of_a_units_backward_marks_its_gradients_ready)
{
	/* --debug checks that no gradient changes after it was marked: the
	 * model marks none itself, so only lt_unit_end can have marked it */
	expect_ends((const char *const[]){ "--units", "--misuse", "write-after-end", NULL },
		    "--debug", "the gradient of 'layer2.w' (elements [0, 36)) changed after it was marked ready",
		    NULL);
}

#define FABRIC build_path("tests/models/units_fabric.so")

Test(units, fabric_mode_places_the_parameters_at_the_first_begin)
{
	struct run_result r;

	free(train("fabric", (const char *const[]){ "--strategy", "ddp", "--devices", "2", FABRIC,
		   NULL }, 0));
	/* a unit made after the first begin comes after training started */
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", FABRIC, "--", "--late-new",
			       NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 1, "exit status 1, not %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "lt_unit_new('late') after training started"),
		  "the message names the unit:\n%s", r.err);
	run_result_free(&r);
}
