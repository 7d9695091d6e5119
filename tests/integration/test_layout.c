/*
 * test_layout.c - the source layout's rule that no #include circle joins two
 * directories of src/ (or two files), checked by tests/scripts/include-cycles
 * on the tree under test and, to show the check itself works, on a small
 * tree made with a circle.  Known circles on their way out are listed in
 * tests/scripts/include-cycles.allow, which must end empty.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define SCRIPT "tests/scripts/include-cycles"
#define PYTHON "/usr/bin/python3"

static void need_python(void)
{
	if (access(PYTHON, X_OK))
		cr_skip_test("%s is missing: " SCRIPT " needs it", PYTHON);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(layout, no_include_cycles)
{
	const char *argv[] = { PYTHON, SCRIPT, ".", NULL };
	struct run_result r;

	need_python();
	cr_assert_eq(run_command(argv, NULL, 60, &r), 0, "cannot run " SCRIPT);
	cr_expect_eq(r.status, 0, SCRIPT " found include cycles:\n%s%s", r.out, r.err);
	run_result_free(&r);
}

Test(layout, include_cycle_is_found)
{
	char dir[] = "/tmp/ltrun-layout-XXXXXX", cmd[700];
	const char *argv[] = { PYTHON, SCRIPT, dir, NULL };
	struct run_result r;

	need_python();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/src/a' '%s/src/b' '%s/cmd'", dir, dir, dir);
	cr_assert_eq(system(cmd), 0);
	write_file(dir, "src/a/x.h", "#include \"b/y.h\"\n");
	write_file(dir, "src/a/x.c", "#include \"x.h\"\n#include <stdio.h>\n");
	write_file(dir, "src/b/y.h", "/* no includes */\n");
	write_file(dir, "src/b/y.c", "#include \"b/y.h\"\n  #  include \"a/x.h\"\n");
	cr_assert_eq(run_command(argv, NULL, 60, &r), 0, "cannot run " SCRIPT);
	cr_expect_eq(r.status, 1, "a cycle passed:\n%s%s", r.out, r.err);
	cr_expect_not_null(strstr(r.out, "directories: src/a -> src/b -> src/a"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "src/b/y.c:2 includes \"a/x.h\""), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "modules: src/a/x -> src/b/y -> src/a/x"), "%s", r.out);
	run_result_free(&r);

	/* An allowed cycle passes; an allowed one that is gone fails. */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/tests/scripts'", dir);
	cr_assert_eq(system(cmd), 0);
	write_file(dir, "tests/scripts/include-cycles.allow",
		   "# must end empty\nsrc/b src/a\nsrc/a/x src/b/y\n");
	cr_assert_eq(run_command(argv, NULL, 60, &r), 0);
	cr_expect_eq(r.status, 0, "allowed cycles failed:\n%s%s", r.out, r.err);
	cr_expect_not_null(strstr(r.out, "known include cycle"), "%s", r.out);
	run_result_free(&r);
	write_file(dir, "src/b/y.c", "#include \"b/y.h\"\n");
	cr_assert_eq(run_command(argv, NULL, 60, &r), 0);
	cr_expect_eq(r.status, 1, "a stale allowed cycle passed:\n%s", r.out);
	cr_expect_not_null(strstr(r.out, "no longer a cycle: remove the line"), "%s", r.out);
	run_result_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}
