/*
 * test_ops.c - operations (issue 15, item 8): the thread variables each
 * rank gets and what the plan says of them, the failure report's tails of
 * stdout and stderr, each failure message printed once, --version's two
 * ABIs, the entry-point messages (a model built with -fvisibility=hidden,
 * a table of the wrong size), and options a mode ignores refused.  The
 * models are tests/models/ops_fabric.c and ops_small_table.c.
 */
#include <criterion/criterion.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ltrun.h"
#include "ltrun/plugin.h"
#include "run.h"

static char tmpdir[] = "/tmp/ltrun-ops-XXXXXX";

static void make_tmp(void)
{
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp");
}

static void remove_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(ops, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static const char *model(void)
{
	return build_path("tests/models/ops_fabric.so");
}

/* The CPUs ltrun's agent will count: this process's (it inherits them). */
static int my_cores(void)
{
	cpu_set_t set;

	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return CPU_COUNT(&set);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Occurrences of `what` in everything ltrun printed. */
static int printed(const struct run_result *r, const char *what)
{
	return count_of(r->out, what) + count_of(r->err, what);
}

static void run(const char *const *args, const char *const *env, struct run_result *r)
{
	cr_assert_eq(run_ltrun(args, env, r), 0, "cannot start ltrun");
}

/* --- threads --- */

/* The value rank `rank` printed for variable `name`, into buf. */
static const char *rank_var(const char *out, int rank, const char *name, char *buf, size_t len)
{
	char head[64], key[64];
	const char *p, *v;

	snprintf(head, sizeof(head), "threads rank=%d ", rank);
	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(out, head);
	cr_assert_not_null(p, "rank %d printed no threads line:\n%s", rank, out);
	v = strstr(p, key);
	cr_assert_not_null(v, "no %s in rank %d's line:\n%s", name, rank, out);
	v += strlen(key);
	snprintf(buf, len, "%.*s", (int)strcspn(v, " \n"), v);
	return buf;
}

Test(ops, each_rank_gets_its_share_of_the_cores_as_thread_counts)
{
	static const char *const names[] = { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
					     "MKL_NUM_THREADS" };
	int cores = my_cores();

	for (int devices = 1; devices <= 2; devices++) {
		char dev[8], want[16], got[64];
		struct run_result r;

		snprintf(dev, sizeof(dev), "%d", devices);
		snprintf(want, sizeof(want), "%d", cores / devices > 1 ? cores / devices : 1);
		run((const char *const[]){ "--devices", dev, model(), NULL }, NULL, &r);
		cr_assert_eq(r.status, 0, "status %d:\n%s%s", r.status, r.out, r.err);
		for (int rank = 0; rank < devices; rank++)
			for (int i = 0; i < 3; i++)
				cr_expect_str_eq(rank_var(r.out, rank, names[i], got, sizeof(got)), want,
						 "--devices %d, rank %d: %s=%s, want %s (%d cores)", devices,
						 rank, names[i], got, want, cores);
		run_result_free(&r);
	}
}

Test(ops, a_thread_count_the_user_set_is_kept)
{
	struct run_result r;
	char got[64], per[16];
	int cores = my_cores();

	snprintf(per, sizeof(per), "%d", cores / 2 > 1 ? cores / 2 : 1);
	run((const char *const[]){ "--devices", "2", model(), NULL },
	    (const char *const[]){ "OMP_NUM_THREADS=7", "MKL_NUM_THREADS=5", NULL }, &r);
	cr_assert_eq(r.status, 0, "status %d:\n%s%s", r.status, r.out, r.err);
	for (int rank = 0; rank < 2; rank++) {
		cr_expect_str_eq(rank_var(r.out, rank, "OMP_NUM_THREADS", got, sizeof(got)), "7");
		cr_expect_str_eq(rank_var(r.out, rank, "MKL_NUM_THREADS", got, sizeof(got)), "5");
		/* each variable on its own: the one left unset gets the share */
		cr_expect_str_eq(rank_var(r.out, rank, "OPENBLAS_NUM_THREADS", got, sizeof(got)), per);
	}
	run_result_free(&r);
}

Test(ops, the_plan_says_who_sets_the_thread_counts)
{
	char want[128];
	struct run_result r;
	int cores = my_cores(), per = cores / 2 > 1 ? cores / 2 : 1;

	run((const char *const[]){ "--devices", "2", "--dry-run", NULL },
	    (const char *const[]){ "MKL_NUM_THREADS=5", NULL }, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(want, sizeof(want), "threads      OMP_NUM_THREADS=%d per rank (%d core%s / 2 local ranks)\n",
		 per, cores, cores == 1 ? "" : "s");
	cr_expect(strstr(r.out, want) != NULL, "no '%s' in:\n%s", want, r.out);
	cr_expect(strstr(r.out, "MKL_NUM_THREADS=5 (set by the user)\n") != NULL, "%s", r.out);
	run_result_free(&r);

	run((const char *const[]){ "--devices", "2", "--dry-run", "--json", NULL },
	    (const char *const[]){ "OMP_NUM_THREADS=3", NULL }, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(want, sizeof(want), "\"per_rank\":\t%d", per);
	cr_expect(strstr(r.out, want) != NULL, "no '%s' in:\n%s", want, r.out);
	cr_expect(strstr(r.out, "\"OMP_NUM_THREADS\":\t{\n\t\t\t\t\"value\":\t\"3\",\n\t\t\t\t\"set_by\":\t\"user\"") != NULL,
		  "%s", r.out);
	run_result_free(&r);
}

/* --- the failure report --- */

Test(ops, the_report_shows_the_tail_of_stdout)
{
	struct run_result r;

	run((const char *const[]){ "--devices", "2", "--log-dir", tmpdir, model(), "--", "--exit",
				   "1", NULL }, NULL, &r);
	cr_expect_eq(r.status, 3, "status %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "ltrun:   last lines of its stdout:\n"
				"ltrun:     threads rank=1 ") != NULL &&
		  strstr(r.err, "ltrun:     ops: stdout of rank 1 before failing\n") != NULL,
		  "the report lacks rank 1's stdout:\n%s", r.err);
	run_result_free(&r);
}

/* lt_set_stream: NULL (the default stream) is fine on the cpu, a stream
 * is refused, naming the accelerator. */
Test(ops, a_stream_on_the_cpu_is_refused)
{
	struct run_result r;

	run((const char *const[]){ "--devices", "1", model(), "--", "--stream", "0", NULL }, NULL,
	    &r);
	cr_expect_neq(r.status, 0, "a stream on the cpu was taken:\n%s", r.err);
	cr_expect(strstr(r.out, "stream NULL taken") != NULL, "lt_set_stream(NULL) failed:\n%s%s",
		  r.out, r.err);
	cr_expect(strstr(r.err, "lt_set_stream() with --accelerator cpu: there is no device stream") != NULL,
		  "%s", r.err);
	run_result_free(&r);
}

/* A message lt_fatal() printed reaches the terminal once: the report's,
 * whatever the rank count and with or without --tee. */
Test(ops, each_failure_message_is_printed_once)
{
	static const struct { const char *devices, *rank; bool tee; } cases[] = {
		{ "1", "0", false }, { "2", "0", false }, { "2", "1", false },
		{ "1", "0", true },  { "2", "1", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[10] = { "--devices", cases[i].devices };
		struct run_result r;
		char msg[64], error[96];
		int n = 2;

		if (cases[i].tee) {
			args[n++] = "--log-dir";
			args[n++] = tmpdir;
			args[n++] = "--tee";
		}
		args[n++] = model();
		args[n++] = "--";
		args[n++] = "--fatal";
		args[n++] = cases[i].rank;
		run(args, NULL, &r);
		snprintf(msg, sizeof(msg), "ops: rank %s gives up", cases[i].rank);
		snprintf(error, sizeof(error), "ltrun:   error: %s\n", msg);
		cr_expect_eq(r.status, 1, "case %zu: status %d", i, r.status);
		cr_expect_eq(printed(&r, msg), 1, "case %zu: '%s' printed %d times:\n%s%s", i, msg,
			     printed(&r, msg), r.out, r.err);
		cr_expect(strstr(r.err, error) != NULL, "case %zu: the report lacks it:\n%s", i, r.err);
		run_result_free(&r);
	}
}

/* The message of a rank that failed after the reported one still reaches
 * the terminal, once, with its rank's prefix. */
Test(ops, a_message_no_report_shows_is_relayed)
{
	struct run_result r;

	run((const char *const[]){ "--devices", "2", model(), "--", "--exit", "0", "--late-fatal",
				   "1", NULL }, NULL, &r);
	cr_expect_eq(r.status, 3, "status %d:\n%s", r.status, r.err);
	cr_expect_eq(printed(&r, "ops: late rank 1 gives up"), 1, "printed %d times:\n%s",
		     printed(&r, "ops: late rank 1 gives up"), r.err);
	cr_expect(strstr(r.err, "[rank 1] ltrun: rank 1: ops: late rank 1 gives up\n") != NULL,
		  "%s", r.err);
	run_result_free(&r);
}

/* --- --version --- */

Test(ops, version_prints_both_abis)
{
	char want[128];
	struct run_result r;

	run((const char *const[]){ "--version", NULL }, NULL, &r);
	cr_assert_eq(r.status, 0);
	snprintf(want, sizeof(want), "(model ABI %u, plugin ABI %u)\n", (unsigned)LT_ABI_VERSION,
		 (unsigned)LT_PLUGIN_ABI_VERSION);
	cr_expect(strstr(r.out, want) != NULL, "no '%s' in '%s'", want, r.out);
	run_result_free(&r);
}

/* --- the entry points --- */

Test(ops, a_model_built_with_hidden_visibility_gets_a_hint)
{
	char so[600], cmd[1200];
	struct run_result r;

	snprintf(so, sizeof(so), "%s/ops_hidden.so", tmpdir);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -fvisibility=hidden -Iinclude tests/models/ops_fabric.c -o '%s'",
		 so);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", cmd, NULL }, NULL, 60, &r), 0);
	if (r.status == 127)
		cr_skip_test("no cc to build the model with: %s", r.err);
	cr_assert_eq(r.status, 0, "%s: %s", cmd, r.err);
	run_result_free(&r);
	run((const char *const[]){ "--devices", "1", so, NULL }, NULL, &r);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "exports neither lt_module_v1() (Trainer mode) nor lt_main()") &&
		  strstr(r.err, "__attribute__((visibility(\"default\")))") &&
		  strstr(r.err, "nm -D "), "no hint at the visibility:\n%s", r.err);
	cr_expect_eq(printed(&r, "exports neither"), 1, "%s", r.err);
	run_result_free(&r);
}

Test(ops, a_table_of_the_wrong_size_says_which_size_was_expected)
{
	char want[256];
	struct run_result r;

	run((const char *const[]){ "--devices", "1", build_path("tests/models/ops_small_table.so"),
				   NULL }, NULL, &r);
	cr_expect_eq(r.status, 1);
	snprintf(want, sizeof(want),
		 "table has size %zu, but struct lt_module of ltrun ABI %u has %zu bytes: set .size = sizeof(struct lt_module)",
		 sizeof(struct lt_module) - 3 * sizeof(void *), (unsigned)LT_ABI_VERSION,
		 sizeof(struct lt_module));
	cr_expect(strstr(r.err, want) != NULL, "no '%s' in:\n%s", want, r.err);
	run_result_free(&r);
}

/* --- options a mode ignores --- */

Test(ops, fabric_mode_refuses_max_epochs)
{
	static const char line[] =
		"--max-epochs has no effect in Fabric mode (model '%s' exports lt_main, which runs its own loop): remove it";
	char want[1024];
	struct run_result r;

	snprintf(want, sizeof(want), line, model());
	run((const char *const[]){ "--devices", "2", "--max-epochs", "3", model(), NULL }, NULL, &r);
	cr_expect_eq(r.status, 2, "status %d:\n%s", r.status, r.err);
	cr_expect_eq(printed(&r, want), 1, "'%s' printed %d times:\n%s", want, printed(&r, want),
		     r.err);
	cr_expect_eq(count_of(r.out, "bye rank="), 0, "the model ran:\n%s", r.out);
	run_result_free(&r);

	/* the Fabric example alike */
	snprintf(want, sizeof(want), line, build_path("examples/fabric/fabric.so"));
	run((const char *const[]){ "--devices", "1", "--max-epochs", "3",
				   build_path("examples/fabric/fabric.so"), NULL }, NULL, &r);
	cr_expect_eq(r.status, 2, "status %d:\n%s", r.status, r.err);
	cr_expect_eq(printed(&r, want), 1, "'%s' printed %d times:\n%s", want, printed(&r, want),
		     r.err);
	run_result_free(&r);

	/* from the environment too; several at once are named together */
	run((const char *const[]){ "--devices", "1", "--log-every-n-steps", "5", model(), NULL },
	    (const char *const[]){ "LTRUN_VAL_EVERY_N_STEPS=2", NULL }, &r);
	cr_expect_eq(r.status, 2, "status %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "--val-every-n-steps, --log-every-n-steps have no effect in Fabric mode") != NULL,
		  "%s", r.err);
	run_result_free(&r);

	/* without them, and with options Fabric mode reads, it runs */
	run((const char *const[]){ "--devices", "2", "--max-steps", "3", "--lr", "0.5",
				   "--batch-size", "4", "--seed", "1", model(), NULL }, NULL, &r);
	cr_expect_eq(r.status, 0, "status %d:\n%s", r.status, r.err);
	cr_expect_eq(count_of(r.out, "bye rank="), 2, "%s", r.out);
	run_result_free(&r);
}

Test(ops, trainer_mode_takes_every_training_option)
{
	struct run_result r;

	run((const char *const[]){ "--devices", "1", "--max-epochs", "2", "--val-every-n-steps", "2",
				   "--log-every-n-steps", "1", "--max-steps", "3",
				   build_path("tests/models/linreg.so"), NULL }, NULL, &r);
	cr_expect_eq(r.status, 0, "status %d:\n%s", r.status, r.err);
	run_result_free(&r);
}
