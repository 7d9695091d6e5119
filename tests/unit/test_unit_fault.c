/*
 * test_unit_fault.c - the handler naming a parameter used outside its
 * unit (src/runtime/unit_fault.c): a page of the values (or master)
 * arena guarded through the cpu accelerator's guard op, touched in a
 * forked child, ends the child with exit status 1, the one-line message
 * naming the parameter, its unit and the strategy on stderr and in the
 * error file; a fault anywhere else, or after the handler is removed,
 * still kills the child with SIGSEGV.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel/accel.h"
#include "core/registry.h"
#include "runtime/ctx.h"
#include "runtime/unit_fault.h"

#define NP 3

static const struct lt_accelerator_ops *cpu;
static struct lt_registry *reg;
static struct lt_arena values, masters;
static struct lt_ctx ctx;
static struct lt_tensor tensors[NP];
static struct lt_tensor *params[NP];
static struct lt_unit unit1 = { .name = "block1", .index = 0, .first = 1, .count = 1 };
static struct lt_unit *units[1] = { &unit1 };
static char errfile[64];

/* Three f32 parameters: "embed.w" (16 elements, page 0, in no unit),
 * "block1.w" (two whole pages from page 1, unit "block1") and "head.w"
 * (16 elements, page 3), in arenas of values and master weights. */
static void setup(void)
{
	struct lt_err err = { 0 };
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	static const char *const names[NP] = { "embed.w", "block1.w", "head.w" };
	const int64_t numel[NP] = { 16, (int64_t)(2 * page / 4), 16 };
	const size_t at[NP] = { 0, page, 3 * page };

	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
	cpu = (const struct lt_accelerator_ops *)lt_registry_find(reg, LT_KIND_ACCELERATOR, "cpu")->ops;
	cr_assert_eq(cpu->reserve(&values, 1 << 20, &err), 0, "%s", err.msg);
	cr_assert_eq(cpu->reserve(&masters, 1 << 20, &err), 0, "%s", err.msg);
	cr_assert_not_null(cpu->alloc(&values, 4 * page, &err), "%s", err.msg);
	cr_assert_not_null(cpu->alloc(&masters, 4 * page, &err), "%s", err.msg);
	for (int i = 0; i < NP; i++) {
		snprintf(tensors[i].name, sizeof(tensors[i].name), "%s", names[i]);
		tensors[i].index = (size_t)i;
		tensors[i].numel = numel[i];
		tensors[i].data = values.base + at[i];
		tensors[i].master = (float *)(masters.base + at[i]);
		tensors[i].unit = i == 1 ? 0 : -1;
		params[i] = &tensors[i];
	}
	snprintf(errfile, sizeof(errfile), "/tmp/ltrun-unit-fault-%ld.json", (long)getpid());
	ctx.info.rank = 3;
	snprintf(ctx.info.error_file, sizeof(ctx.info.error_file), "%s", errfile);
	snprintf(ctx.host, sizeof(ctx.host), "testhost");
	ctx.strategy_name = "fsdp";
	ctx.dtype = LT_F32;
	ctx.params = params;
	ctx.nparams = NP;
	ctx.units = units;
	ctx.nunits = 1;
}

static void teardown(void)
{
	cpu->release(&values);
	cpu->release(&masters);
	lt_registry_free(reg);
	unlink(errfile);
}

TestSuite(unit_fault, .init = setup, .fini = teardown, .timeout = 30);

/* Forks a child that installs the handler (unless !install) with
 * SIGSEGV's default action behind it and reads *p; returns its wait
 * status and its stderr in out. */
static int touch_in_child(volatile const float *p, bool install, char *out, size_t len)
{
	struct lt_err err = { 0 };
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		dup2(fds[1], STDERR_FILENO);
		if (lt_unit_fault_install(&ctx, &err))
			_exit(7);
		if (!install)
			lt_unit_fault_remove();
		_exit((int)*p == 12345 ? 5 : 6);
	}
	close(fds[1]);
	while ((size_t)got < len - 1 && (n = read(fds[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_named(int status, const char *out, const char *param, const char *unit)
{
	char want[512], file[2048] = "";
	FILE *f;

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "the child did not exit 1 (status %#x): %s", status, out);
	snprintf(want, sizeof(want),
		 "ltrun: rank 3: parameter '%s' (%s) was used outside lt_unit_begin/lt_unit_end under strategy 'fsdp': bracket every use of a unit's parameters\n",
		 param, unit);
	cr_expect_str_eq(out, want);
	f = fopen(errfile, "r");
	cr_assert_not_null(f, "no error file %s", errfile);
	cr_assert_not_null(fgets(file, sizeof(file), f));
	fclose(f);
	want[strlen(want) - 1] = '\0';
	cr_expect(strstr(file, "\"rank\": 3") && strstr(file, "\"host\": \"testhost\""),
		  "error file: %s", file);
	cr_expect(strstr(file, want + strlen("ltrun: rank 3: ")), "error file: %s", file);
}

Test(unit_fault, a_guarded_value_page_names_the_parameter_its_unit_and_the_strategy)
{
	struct lt_err err = { 0 };
	char out[1024];
	const float *p = (const float *)tensors[1].data + 1000;

	cr_assert_eq(cpu->guard(tensors[1].data, 8 * (size_t)tensors[1].numel / 2, true, &err), 0,
		     "%s", err.msg);
	expect_named(touch_in_child(p, true, out, sizeof(out)), out, "block1.w", "unit 'block1'");
}

Test(unit_fault, a_guarded_master_page_names_its_parameter)
{
	struct lt_err err = { 0 };
	char out[1024];

	cr_assert_eq(cpu->guard(masters.base, 4 * (size_t)sysconf(_SC_PAGESIZE), true, &err), 0,
		     "%s", err.msg);
	expect_named(touch_in_child(tensors[2].master + 3, true, out, sizeof(out)), out, "head.w",
		     "in no unit");
}

Test(unit_fault, a_fault_outside_the_parameters_still_kills_with_sigsegv)
{
	struct lt_err err = { 0 };
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char out[1024];
	int status;

	/* page 3 past head.w's 16 elements: in the arena, in no parameter */
	cr_assert_eq(cpu->guard(values.base + 3 * page, page, true, &err), 0, "%s", err.msg);
	status = touch_in_child((const float *)(values.base + 3 * page) + 100, true, out,
				sizeof(out));
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		  "status %#x, stderr: %s", status, out);
	cr_expect_str_empty(out);
}

Test(unit_fault, after_remove_a_guarded_parameter_kills_with_sigsegv)
{
	struct lt_err err = { 0 };
	char out[1024];
	int status;

	cr_assert_eq(cpu->guard(tensors[1].data, 2 * (size_t)sysconf(_SC_PAGESIZE), true, &err),
		     0, "%s", err.msg);
	status = touch_in_child((const float *)tensors[1].data, false, out, sizeof(out));
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		  "status %#x, stderr: %s", status, out);
}

Test(unit_fault, an_unguarded_parameter_reads_normally)
{
	char out[1024];
	int status;

	((float *)tensors[1].data)[7] = 12345.0f;
	status = touch_in_child((const float *)tensors[1].data + 7, true, out, sizeof(out));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 5, "status %#x: %s", status, out);
}
