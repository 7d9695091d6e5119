/*
 * tb_python.c - TensorBoard's own reader for the tests (tb_python.h).
 */
#include "tb_python.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* The virtual environment's python, or skips the test saying why. */
void tb_python(char *python, size_t size)
{
	char venv[512];
	struct run_result r;
	int rc;

	snprintf(venv, sizeof(venv), "%s", build_path("tb-venv"));
	rc = run_command((const char *const[]){ "tests/scripts/py-venv", venv, "tensorboard", NULL },
			 NULL, 650, &r);
	if (rc || r.status) {
		char why[300];

		snprintf(why, sizeof(why), "%s", rc ? "cannot run tests/scripts/py-venv" : r.err);
		why[strcspn(why, "\n")] = '\0';
		if (!rc)
			run_result_free(&r);
		cr_skip_test("no Python tensorboard: %s", why);
	}
	snprintf(python, size, "%s", r.out);
	python[strcspn(python, "\n")] = '\0';
	run_result_free(&r);
}

/* What tb_read.py prints for dir (its stdout; the caller frees it). */
char *tb_read(const char *python, const char *dir)
{
	struct run_result r;

	cr_assert_eq(run_command((const char *const[]){ python, "tests/scripts/tb_read.py", dir,
							NULL },
				 NULL, 120, &r),
		     0);
	cr_assert_eq(r.status, 0, "tb_read.py: %s", r.err);
	free(r.err);
	return r.out;
}
