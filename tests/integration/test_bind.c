/*
 * test_bind.c - --cpu-bind through the real binary on this machine's own
 * topology and affinity mask (whatever they are): the ranks of
 * tests/models/affinity.c must run on the CPUs, with the OMP_NUM_THREADS
 * and LTRUN_NUMA_NODE, that `--dry-run --json` plans for the same command;
 * lists, a list naming a missing CPU, none (the mask is left alone), a
 * user's OMP_NUM_THREADS, the oversubscription warning, and srun's tasks.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

#define MAX_RANKS 16

/* What one rank of affinity.so said. */
struct seen {
	int lines;
	char cpus[256], omp[16], numa[16];
};

static const char *model(void)
{
	return build_path("tests/models/affinity.so");
}

static void cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
		int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		if (e == c)
			n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, e);
		c = e;
	}
}

static cpu_set_t my_mask(void)
{
	cpu_set_t set;

	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return set;
}

static void parse_seen(const char *text, struct seen *s)
{
	memset(s, 0, sizeof(*s) * MAX_RANKS);
	for (const char *p = text; (p = strstr(p, "affinity local=")); p++) {
		struct seen one;
		int local;

		if (sscanf(p, "affinity local=%d cpus=%255s omp=%15s numa=%15s", &local, one.cpus,
			   one.omp, one.numa) != 4 || local < 0 || local >= MAX_RANKS)
			continue;
		one.lines = s[local].lines + 1;
		s[local] = one;
	}
}

/* Runs ltrun with args (then "--" nothing), the model last unless dry. */
static void run(const char *const *args, const char *const *env, bool dry, struct run_result *r)
{
	const char *argv[32];
	int n = 0;

	if (dry) {
		argv[n++] = "--dry-run";
		argv[n++] = "--json";
	}
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	if (!dry)
		argv[n++] = model();
	argv[n] = NULL;
	cr_assert_eq(run_ltrun(argv, env, r), 0);
}

static cJSON *dry_binding(const char *const *args, const char *const *env, cJSON **root)
{
	struct run_result r;
	cJSON *b;

	run(args, env, true, &r);
	cr_assert_eq(r.status, 0, "dry run: %s", r.err);
	*root = cJSON_Parse(r.out);
	cr_assert_not_null(*root, "not JSON: %s", r.out);
	run_result_free(&r);
	b = cJSON_GetObjectItem(*root, "binding");
	cr_assert_not_null(b);
	return b;
}

/* Runs args for real and checks every rank against the dry run's plan. */
static void expect_as_planned(const char *const *args, const char *const *env, int nranks)
{
	struct seen s[MAX_RANKS];
	struct run_result r;
	cJSON *root, *b = dry_binding(args, env, &root), *ranks = cJSON_GetObjectItem(b, "ranks");

	cr_assert_eq(cJSON_GetArraySize(ranks), nranks, "%s", cJSON_PrintUnformatted(b));
	run(args, env, false, &r);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	parse_seen(r.out, s);
	for (int i = 0; i < nranks; i++) {
		cJSON *e = cJSON_GetArrayItem(ranks, i), *numa = cJSON_GetObjectItem(e, "numa_node");
		char want[16];

		cr_expect_eq(s[i].lines, 1, "local rank %d: %s", i, r.out);
		cr_expect_str_eq(s[i].cpus, cJSON_GetStringValue(cJSON_GetObjectItem(e, "cpus")),
				 "local rank %d's CPUs", i);
		snprintf(want, sizeof(want), "%d", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "threads")));
		cr_expect_str_eq(s[i].omp, want, "local rank %d's OMP_NUM_THREADS", i);
		if (cJSON_IsNumber(numa))
			snprintf(want, sizeof(want), "%d", (int)numa->valuedouble);
		else
			snprintf(want, sizeof(want), "-");
		cr_expect_str_eq(s[i].numa, want, "local rank %d's LTRUN_NUMA_NODE", i);
	}
	cJSON_Delete(root);
	run_result_free(&r);
}

Test(bind_run, cores_as_the_dry_run_plans)
{
	const char *args[] = { "--devices", "2", "--cpu-bind", "cores", NULL };

	expect_as_planned(args, NULL, 2);
}

Test(bind_run, numa_as_the_dry_run_plans)
{
	const char *args[] = { "--devices", "2", "--cpu-bind", "numa", NULL };

	expect_as_planned(args, NULL, 2);
}

Test(bind_run, a_list_gives_each_rank_its_cpus)
{
	cpu_set_t mask = my_mask();
	int first = -1, last = -1;
	char spec[64], a[16], b[16];
	const char *args[] = { "--devices", "2", "--cpu-bind", spec, NULL };
	struct seen s[MAX_RANKS];
	struct run_result r;

	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &mask)) {
			if (first < 0)
				first = c;
			last = c;
		}
	snprintf(spec, sizeof(spec), "list:%d:%d", last, first);
	expect_as_planned(args, NULL, 2);
	run(args, NULL, false, &r);
	parse_seen(r.out, s);
	snprintf(a, sizeof(a), "%d", last);
	snprintf(b, sizeof(b), "%d", first);
	cr_expect_str_eq(s[0].cpus, a);
	cr_expect_str_eq(s[1].cpus, b);
	cr_expect_str_eq(s[0].omp, "1");
	run_result_free(&r);
}

Test(bind_run, a_list_naming_a_missing_cpu_is_refused)
{
	cpu_set_t mask = my_mask();
	char spec[64];
	const char *args[] = { "--devices", "2", "--cpu-bind", spec, NULL };
	struct run_result r;
	int first = 0;

	while (!CPU_ISSET(first, &mask))
		first++;
	snprintf(spec, sizeof(spec), "list:%d:4095", first);
	run(args, NULL, false, &r);
	cr_expect_eq(r.status, 2, "%s", r.err);
	cr_expect(strstr(r.err, "CPU 4095") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "--cpu-bind") != NULL, "%s", r.err);
	cr_expect_eq(count_lines(r.err), 1, "%s", r.err);
	cr_expect_null(strstr(r.out, "affinity local="), "no rank started: %s", r.out);
	run_result_free(&r);
}

Test(bind_run, none_leaves_the_mask_as_it_was)
{
	const char *args[] = { "--devices", "2", "--cpu-bind", "none", NULL };
	cpu_set_t mask = my_mask();
	struct seen s[MAX_RANKS];
	struct run_result r;
	char mine[256];
	cJSON *root, *b;

	cpulist(&mask, mine, sizeof(mine));
	run(args, NULL, false, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	parse_seen(r.out, s);
	for (int i = 0; i < 2; i++) {
		cr_expect_str_eq(s[i].cpus, mine, "local rank %d", i);
		cr_expect_str_eq(s[i].numa, "-", "local rank %d", i);
	}
	run_result_free(&r);
	b = dry_binding(args, NULL, &root);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "mode")), "none");
	cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "ranks")), 0);
	cJSON_Delete(root);
}

Test(bind_run, the_users_omp_num_threads_is_kept)
{
	const char *args[] = { "--devices", "2", "--cpu-bind", "cores", NULL };
	const char *env[] = { "OMP_NUM_THREADS=7", NULL };
	struct seen s[MAX_RANKS];
	struct run_result r;

	run(args, env, false, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	parse_seen(r.out, s);
	cr_expect_str_eq(s[0].omp, "7");
	cr_expect_str_eq(s[1].omp, "7");
	run_result_free(&r);
}

/* One rank more than the cores (if that is a handful): one warning. */
Test(bind_run, more_ranks_than_cores_warn_once)
{
	const char *one[] = { "--devices", "1", "--cpu-bind", "cores", NULL };
	char n[16];
	const char *args[] = { "--devices", n, "--cpu-bind", "cores", NULL };
	struct run_result r;
	cJSON *root, *b = dry_binding(one, NULL, &root);
	int cores = (int)cJSON_GetNumberValue(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "ranks"), 0), "cores"));
	const char *w;

	cJSON_Delete(root);
	if (cores + 1 > 8)
		cr_skip_test("%d cores: too many ranks for a test", cores);
	snprintf(n, sizeof(n), "%d", cores + 1);
	run(args, NULL, false, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	w = strstr(r.err, "ltrun: warning: --cpu-bind cores: ");
	cr_expect_not_null(w, "%s", r.err);
	cr_expect(w && !strstr(w + 1, "ltrun: warning: --cpu-bind"), "warned twice: %s", r.err);
	run_result_free(&r);
}

Test(bind_run, dry_run_text_shows_each_rank)
{
	const char *args[] = { "--dry-run", "--devices", "2", "--cpu-bind", "cores", NULL };
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "cpu binding  cores: 2 ranks on ") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "local 1: CPUs ") != NULL, "%s", r.out);
	run_result_free(&r);
}

Test(bind_run, srun_tasks_keep_srun_binding)
{
	const char *args[] = { "--dry-run", "--cpu-bind", "cores", NULL };
	const char *env[] = {
		"SLURM_JOB_ID=42", "SLURM_STEP_ID=0", "SLURM_NTASKS=2", "SLURM_NTASKS_PER_NODE=2",
		"SLURM_PROCID=1", "SLURM_LOCALID=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1",
		"SLURM_STEP_NUM_NODES=1", "SLURM_JOB_NODELIST=n1", "SLURM_STEP_NODELIST=n1", NULL
	};
	struct run_result r;

	cr_assert_eq(run_ltrun(args, env, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "left to srun (it binds its tasks itself); --cpu-bind cores is not applied") != NULL,
		  "%s", r.out);
	cr_expect_null(strstr(r.out, "LTRUN_NUMA_NODE"), "%s", r.out);
	run_result_free(&r);
}
