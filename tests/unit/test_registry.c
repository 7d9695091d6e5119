/*
 * test_registry.c - the registry: built-ins, lookups with "did you mean",
 * names known but not built, aliases and their presets, refusals of bad
 * plugins, listing as text and JSON, and selection of the cluster
 * environment by priority.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "env/env.h"
#include "ltrun/strategy.h"

static struct lt_registry *reg;
static struct lt_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "lt_registry_new: %s", err.msg);
}

static void teardown(void)
{
	lt_registry_free(reg);
}

TestSuite(registry, .init = setup, .fini = teardown);

Test(registry, every_builtin_is_found)
{
	static const struct { enum lt_kind kind; const char *name; } want[] = {
		{ LT_KIND_STRATEGY, "ddp" }, { LT_KIND_STRATEGY, "single_device" },
		{ LT_KIND_STRATEGY, "ddp_spawn" }, { LT_KIND_PRECISION, "bf16-mixed" },
		{ LT_KIND_PRECISION, "16" }, { LT_KIND_CKPT_IO, "async" },
		{ LT_KIND_CLUSTER, "slurm" }, { LT_KIND_CLUSTER, "lsf" },
		{ LT_KIND_CLUSTER, "kubeflow" }, { LT_KIND_CLUSTER, "torchelastic" },
		{ LT_KIND_CLUSTER, "mpi" }, { LT_KIND_CLUSTER, "lightning" },
		{ LT_KIND_COMM, "shm" }, { LT_KIND_ACCELERATOR, "cpu" },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct lt_plugin *p = lt_registry_find(reg, want[i].kind, want[i].name);
		cr_expect_not_null(p, "%s '%s' is not registered", lt_kind_name(want[i].kind),
				   want[i].name);
		if (p) {
			cr_expect(strlen(p->description) > 0);
			cr_expect(strlen(p->recommended_when) > 0);
		}
	}
}

Test(registry, suggests_the_closest_name)
{
	const struct lt_plugin *p = NULL;

	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_PRECISION, "bf16-mix", &p, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(strstr(err.msg, "did you mean 'bf16-mixed'?") != NULL, "%s", err.msg);
	cr_expect(strstr(err.msg, "valid: 64-true, 32-true") != NULL, "%s", err.msg);
	cr_expect_null(p);
}

Test(registry, far_names_get_no_suggestion)
{
	const struct lt_plugin *p;

	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_STRATEGY, "zzzzzzzzzz", &p, &err), -1);
	cr_expect_null(strstr(err.msg, "did you mean"), "%s", err.msg);
	cr_expect(strstr(err.msg, "unknown strategy 'zzzzzzzzzz'") != NULL, "%s", err.msg);
}

Test(registry, absent_names_say_not_built)
{
	const struct lt_plugin *p;

	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_STRATEGY, "deepspeed_stage_3_offload", &p, &err), -1);
	cr_expect(strstr(err.msg, "strategy 'deepspeed_stage_3_offload' is not built in this version") != NULL,
		  "%s", err.msg);
	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_COMM, "nccl", &p, &err), -1);
	cr_expect(strstr(err.msg, "not built") != NULL, "%s", err.msg);
}

Test(registry, aliases_resolve_to_their_base)
{
	const struct lt_plugin *p = lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_fork");

	cr_assert_not_null(p);
	cr_expect_str_eq(p->alias_of, "ddp");
	cr_expect_str_eq(p->preset, "launcher=fork");
	cr_expect_str_eq(lt_registry_base(reg, p)->name, "ddp");
	p = lt_registry_find(reg, LT_KIND_PRECISION, "32");
	cr_expect_str_eq(lt_registry_base(reg, p)->name, "32-true");
}

static const struct lt_strategy_ops test_ops = { .launcher = "exec", .multi_rank = true };

Test(registry, refuses_bad_plugins_and_stays_unchanged)
{
	static const struct lt_plugin dup = { .kind = LT_KIND_STRATEGY, .name = "ddp", .description = "d", .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = &test_ops };
	static const struct lt_plugin badname = { .kind = LT_KIND_STRATEGY, .name = "My DDP", .description = "d", .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = &test_ops };
	static const struct lt_plugin noops = { .kind = LT_KIND_STRATEGY, .name = "noops", .description = "d", .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = NULL };
	static const struct lt_plugin orphan = { .kind = LT_KIND_STRATEGY, .name = "orphan", .description = "d", .recommended_when = "r", .alias_of = "nothing", .preset = "a=b", .ops = NULL };
	static const struct lt_plugin nodesc = { .kind = LT_KIND_STRATEGY, .name = "nodesc", .description = NULL, .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = &test_ops };
	static const struct lt_plugin badkind = { .kind = (enum lt_kind)99, .name = "x", .description = "d", .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = &test_ops };
	static const struct lt_plugin good = { .kind = LT_KIND_STRATEGY, .name = "my_ddp", .description = "d", .recommended_when = "r", .alias_of = "ddp", .preset = "bucket_mb=50", .ops = NULL };
	size_t before = lt_registry_count(reg, LT_KIND_STRATEGY);

	cr_expect_eq(lt_registry_add(reg, &dup, &err), -1);
	cr_expect(strstr(err.msg, "duplicate strategy 'ddp'") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add(reg, &badname, &err), -1);
	cr_expect(strstr(err.msg, "invalid strategy name 'My DDP'") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add(reg, &noops, &err), -1);
	cr_expect(strstr(err.msg, "no ops table") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add(reg, &orphan, &err), -1);
	cr_expect(strstr(err.msg, "'nothing', which is not registered") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add(reg, &nodesc, &err), -1);
	cr_expect_eq(lt_registry_add(reg, &badkind, &err), -1);
	cr_expect_eq(lt_registry_count(reg, LT_KIND_STRATEGY), before);

	cr_assert_eq(lt_registry_add(reg, &good, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_registry_count(reg, LT_KIND_STRATEGY), before + 1);
	cr_expect_eq(lt_registry_find(reg, LT_KIND_STRATEGY, "my_ddp"), &good);
}

Test(registry, json_lists_presets_as_objects)
{
	cJSON *json = lt_registry_json(reg, LT_KIND_STRATEGY);
	const cJSON *item, *preset = NULL;
	char *text;

	cr_assert_not_null(json);
	cr_expect_null(cJSON_GetObjectItem(json, "precision"));
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(json, "strategy"))
		if (!strcmp(cJSON_GetObjectItem(item, "name")->valuestring, "ddp_spawn"))
			preset = cJSON_GetObjectItem(item, "preset");
	cr_assert_not_null(preset);
	cr_expect_str_eq(cJSON_GetObjectItem(preset, "launcher")->valuestring, "fork");
	text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	json = cJSON_Parse(text);
	cr_expect_not_null(json, "the JSON round-trips");
	free(text);
	cJSON_Delete(json);
}

Test(registry, text_listing_groups_by_kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	lt_registry_print(reg, f, -1);
	fclose(f);
	cr_expect(strstr(buf, "strategy:\n") && strstr(buf, "\ncluster:\n"), "%s", buf);
	cr_expect(strstr(buf, "not built in this version: dp, ddp_sharded, fsdp") != NULL, "%s", buf);
	cr_expect(strstr(buf, "alias of 16-mixed") != NULL, "%s", buf);
	free(buf);
}

Test(registry, kind_names_parse)
{
	enum lt_kind k;

	cr_expect_eq(lt_kind_parse("ckpt-io", &k, &err), 0);
	cr_expect_eq(k, LT_KIND_CKPT_IO);
	cr_expect_eq(lt_kind_parse("clustr", &k, &err), -1);
	cr_expect(strstr(err.msg, "did you mean 'cluster'?") != NULL, "%s", err.msg);
}

/* ------------------------------------------------ cluster selection */

static bool yes(const struct lt_envsrc *env, char *why, size_t len)
{
	(void)env;
	snprintf(why, len, "always");
	return true;
}

static int no_resolve(const struct lt_envsrc *env, const struct lt_request *req,
		      struct lt_topology *t, struct lt_err *e)
{
	(void)env;
	(void)req;
	(void)t;
	return lt_err_set(e, 1, "unused");
}

Test(registry, cluster_probe_order_follows_priority)
{
	static const char *const srun[] = { "SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_PROCID=0",
					    "SLURM_NTASKS=1", NULL };
	static const char *const torchrun_in_slurm[] = { "SLURM_JOB_ID=1", "SLURM_NTASKS=1",
							 "TORCHELASTIC_RUN_ID=x", NULL };
	static const char *const bare[] = { NULL };
	static const struct lt_cluster_ops top_ops = { 1000, yes, no_resolve };
	static const struct lt_plugin top = { .kind = LT_KIND_CLUSTER, .name = "top", .description = "d", .recommended_when = "r", .alias_of = NULL, .preset = NULL, .ops = &top_ops };
	struct lt_envsrc env = { .vars = srun };
	const struct lt_plugin *p;
	char why[256];

	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &p, why, sizeof(why), &err), 0, "%s", err.msg);
	cr_expect_str_eq(p->name, "slurm");
	env.vars = torchrun_in_slurm;
	cr_assert_eq(lt_cluster_select(reg, &env, "auto", NULL, &p, why, sizeof(why), &err), 0);
	cr_expect_str_eq(p->name, "torchelastic", "the innermost launcher wins");
	env.vars = bare;
	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &p, why, sizeof(why), &err), 0);
	cr_expect_str_eq(p->name, "lightning");
	env.vars = torchrun_in_slurm;
	cr_assert_eq(lt_cluster_select(reg, &env, "slurm", NULL, &p, why, sizeof(why), &err), 0);
	cr_expect_str_eq(p->name, "slurm", "a forced environment wins over higher priorities");
	cr_expect_str_eq(why, "forced by --cluster slurm");
	env.vars = bare;
	cr_expect_eq(lt_cluster_select(reg, &env, "slurmm", NULL, &p, why, sizeof(why), &err), -1);
	cr_expect(strstr(err.msg, "did you mean 'slurm'?") != NULL, "%s", err.msg);

	cr_assert_eq(lt_registry_add(reg, &top, &err), 0);
	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &p, why, sizeof(why), &err), 0);
	cr_expect_str_eq(p->name, "top", "a plugin's priority places it in the probe order");
}

/* A forced environment must still recognise the process: --cluster lsf
 * outside an LSF job fails, naming the variable and the fix, rather than
 * planning a job from defaults. */
Test(registry, forced_cluster_without_its_variables_fails)
{
	static const char *const bare[] = { NULL };
	static const char *const lsf[] = { "LSB_JOBID=7", "LSB_HOSTS=h1", NULL };
	static const struct { const char *name, *missing; } cases[] = {
		{ "lsf", "LSB_JOBID is not set" },
		{ "slurm", "SLURM_JOB_ID" },
		{ "kubeflow", "KUBERNETES_PORT" },
		{ "torchelastic", "TORCHELASTIC_RUN_ID is not set" },
		{ "mpi", "OMPI_COMM_WORLD_SIZE" },
	};
	struct lt_envsrc env = { .vars = bare };
	const struct lt_plugin *p;
	char why[256], want[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(lt_cluster_select(reg, &env, cases[i].name, NULL, &p, why,
					       sizeof(why), &err), -1, "%s", cases[i].name);
		snprintf(want, sizeof(want), "--cluster %s: ", cases[i].name);
		cr_expect(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
		cr_expect(strstr(err.msg, cases[i].missing) != NULL, "%s", err.msg);
		cr_expect(strstr(err.msg, "or drop --cluster") != NULL, "%s", err.msg);
		cr_expect_eq(err.status, LT_EXIT_FAILURE);
	}
	cr_assert_eq(lt_cluster_select(reg, &env, "lightning", NULL, &p, why, sizeof(why), &err),
		     0, "the bare node needs nothing: %s", err.msg);
	env.vars = lsf;
	cr_assert_eq(lt_cluster_select(reg, &env, "lsf", NULL, &p, why, sizeof(why), &err), 0,
		     "%s", err.msg);
	cr_expect_str_eq(p->name, "lsf");
	cr_expect_str_eq(why, "forced by --cluster lsf");
}

Test(registry, verbose_probe_log_says_why)
{
	static const char *const bare[] = { NULL };
	struct lt_envsrc env = { .vars = bare };
	const struct lt_plugin *p;
	char why[256], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(lt_cluster_select(reg, &env, NULL, f, &p, why, sizeof(why), &err), 0);
	fclose(f);
	cr_expect(strstr(buf, "cluster 'slurm' (priority 70) skipped: ") != NULL, "%s", buf);
	cr_expect(strstr(buf, "cluster 'lightning' (priority 0) detected: ") != NULL, "%s", buf);
	free(buf);
}
