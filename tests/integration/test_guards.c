/*
 * test_guards.c - the guards against a model's silent gradient mistakes,
 * through the real ltrun and tests/models/views_linreg.c making each
 * mistake on request: a train_step that never reads lt_loss_scale() gets
 * one warning (and the MLP example none); under --debug a gradient
 * changed after it was marked ready (a tied weight) stops a 2-rank ddp
 * run, which without --debug still runs; under --debug a model that
 * zeroes its gradients under accumulation is stopped, while the MLP
 * trains with --debug exactly as without.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "training.h"

TestSuite(guards, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define VIEWS build_path("tests/models/views_linreg.so")
#define MLP build_path("examples/mlp/mlp.so")

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(guards, a_train_step_that_never_reads_the_loss_scale_is_warned_once)
{
	char *err = train("forgetful", (const char *const[]){ "--devices", "2", "--max-epochs", "2",
			  VIEWS, "--", "--forget-scale", NULL }, 1);

	cr_expect_eq(count_of(err, "never read lt_loss_scale()"), 1,
		     "one warning, from rank 0, on the first step:\n%s", err);
	cr_expect(strstr(err, "model 'views_linreg'") && strstr(err, "summed over the ranks"),
		  "it names the model and what goes wrong:\n%s", err);
	free(err);
	err = train("mlp", (const char *const[]){ "--devices", "2", "--max-epochs", "1", MLP, NULL },
		    1);
	cr_expect(!strstr(err, "lt_loss_scale"), "the MLP reads it: no warning:\n%s", err);
	free(err);
	err = train("views", (const char *const[]){ "--max-epochs", "1", VIEWS, NULL }, 1);
	cr_expect(!strstr(err, "lt_loss_scale"), "the views model reads it: no warning:\n%s", err);
	free(err);
}

/* Runs ltrun with args; expects it to fail with every needle in its
 * stderr. */
static void expect_stopped(const char *what, const char *const *args, const char *const *needles)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "%s: cannot start ltrun", what);
	cr_expect_neq(r.status, 0, "%s: the run is stopped", what);
	for (; *needles; needles++)
		cr_expect(strstr(r.err, *needles), "%s: the message says '%s':\n%s", what, *needles,
			  r.err);
	run_result_free(&r);
}

Test(guards, debug_stops_a_gradient_changed_after_it_was_marked_ready)
{
	expect_stopped("tied weight marked early, --debug",
		       (const char *const[]){ "--devices", "2", "--strategy", "ddp", "--debug",
		       "--batch-size", "4", "--max-epochs", "1", VIEWS, "--", "--early-ready", NULL },
		       (const char *const[]){ "--debug: the gradient of 'layers.weight'",
		       "changed after it was marked ready, at step 0",
		       "mark a tensor ready after its last gradient is added", NULL });
	/* What the issue saw: without --debug nothing stops it. */
	free(train("tied weight marked early", (const char *const[]){ "--devices", "2",
		   "--strategy", "ddp", "--batch-size", "4", "--max-epochs", "1", VIEWS, "--",
		   "--early-ready", NULL }, 0));
}

Test(guards, debug_stops_a_model_that_zeroes_its_gradients_under_accumulation)
{
	static const char *const precisions[] = { "32-true", "bf16-mixed" };

	for (size_t p = 0; p < 2; p++)
		expect_stopped(precisions[p], (const char *const[]){ "--devices", "2", "--debug",
			       "--precision", precisions[p], "--accumulate-grad-batches", "2",
			       "--batch-size", "4", "--max-epochs", "1", VIEWS, "--", "--zero-grads",
			       NULL },
			       (const char *const[]){ "model 'views_linreg' overwrote the gradient of 'layers.",
			       "--accumulate-grad-batches 2", "never zero them", NULL });
	/* f32 views that add, with marks, pass the probe */
	free(train("views --debug", (const char *const[]){ "--devices", "2", "--debug",
		   "--precision", "bf16-mixed", "--accumulate-grad-batches", "2", "--batch-size", "4",
		   "--max-epochs", "1", VIEWS, "--", "--mark", "layers", NULL }, 0));
}

Test(guards, the_mlp_trains_under_debug_exactly_as_without)
{
	char plain[512], debug[512];
	double big;

	path_in_tmp(plain, sizeof(plain), "plain.txt");
	path_in_tmp(debug, sizeof(debug), "debug.txt");
	free(train("mlp", (const char *const[]){ "--devices", "2", "--accumulate-grad-batches", "2",
		   "--max-epochs", "1", MLP, "--", "--dump", plain, NULL }, 0));
	free(train("mlp --debug", (const char *const[]){ "--devices", "2", "--debug",
		   "--accumulate-grad-batches", "2", "--max-epochs", "1", MLP, "--", "--dump", debug,
		   NULL }, 0));
	cr_expect_eq(dump_max_diff(plain, debug, &big), 0.0,
		     "--debug's probe leaves the training as it was");
}
