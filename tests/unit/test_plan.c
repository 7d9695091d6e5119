/*
 * test_plan.c - resolving a run before anything starts (src/launch/plan.c):
 * lt_plan_make() with the built-in registry, a fake cluster environment
 * and settings from flags, LTRUN_* variables or defaults; what the plan
 * chooses (strategy auto, the launcher, the accelerator, the cluster and
 * why), what it refuses (one line, the right exit status) and what
 * lt_plan_json() says.  The tests read the plan through its JSON and its
 * exit statuses, the form scripts see, not through struct fields.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/registry.h"
#include "launch/plan.h"

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define BARE ((const char *const[]){ NULL })

/* srun's variables for task 5 of a step of 2 nodes x 4 tasks. */
#define SRUN_TASK5 \
	"SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_NTASKS=8", "SLURM_PROCID=5", \
	"SLURM_LOCALID=1", "SLURM_NODEID=1", "SLURM_STEP_NUM_NODES=2", \
	"SLURM_JOB_NUM_NODES=2", "SLURM_JOB_NODELIST=gpu-node[001-002]", \
	"SLURM_STEP_NODELIST=gpu-node[001-002]", "SLURM_STEP_TASKS_PER_NODE=4(x2)"
/* Open MPI's mpirun -np 4 for rank 2 on one node. */
#define MPIRUN_RANK2 \
	"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=2", \
	"OMPI_COMM_WORLD_LOCAL_SIZE=4", "OMPI_COMM_WORLD_NODE_RANK=2", \
	"OMPI_MCA_ess_base_jobid=12345"

static struct lt_registry *reg;
static struct lt_config cfg;
static struct lt_plan plan;
static struct lt_err err;
static cJSON *json;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "lt_registry_new: %s", err.msg);
	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	json = NULL;
}

static void teardown(void)
{
	cJSON_Delete(json);
	lt_config_free(&cfg);
	lt_registry_free(reg);
}

TestSuite(plan, .init = setup, .fini = teardown);

/* Sets option `name` as the flag --name (or its LTRUN_ variable). */
static void set(const char *name, const char *value, enum lt_source src)
{
	const struct lt_option *o = lt_option_find(name);
	char where[80];

	cr_assert_not_null(o, "no option %s", name);
	if (src == LT_SRC_ENV)
		snprintf(where, sizeof(where), "%s", o->env);
	else
		snprintf(where, sizeof(where), "--%s", name);
	cr_assert_eq(lt_config_set(&cfg, o, value, src, where, &err), 0, "%s: %s", where,
		     err.msg);
}

static int make(const char *const *vars)
{
	struct lt_envsrc env = { .vars = vars, .hostname = "gpu-node002" };

	memset(&err, 0, sizeof(err));
	return lt_plan_make(&plan, &cfg, reg, &env, NULL, &err);
}

/* Makes the plan (which must succeed) and its JSON. */
static void make_ok(const char *const *vars)
{
	cr_assert_eq(make(vars), 0, "lt_plan_make: %s", err.msg);
	json = lt_plan_json(&plan, &cfg, reg);
	cr_assert_not_null(json);
}

/* Makes the plan, which must fail with status and a one-line message
 * holding want. */
static void make_fails(const char *const *vars, int status, const char *want)
{
	cr_assert_eq(make(vars), -1, "planned, but should fail with '%s'", want);
	cr_expect_eq(err.status, status, "status %d: %s", err.status, err.msg);
	cr_expect_not_null(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
	cr_expect_null(strchr(err.msg, '\n'), "not one line: %s", err.msg);
}

/* The string at a path of keys ("plugins", "strategy", "name", NULL). */
static const char *str_at(const char *first, ...)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(json, first);
	const char *key;
	va_list ap;

	va_start(ap, first);
	while (o && (key = va_arg(ap, const char *)))
		o = cJSON_GetObjectItemCaseSensitive(o, key);
	va_end(ap);
	cr_assert(cJSON_IsString(o), "no string at %s...", first);
	return o->valuestring;
}

static double num_at(const char *obj, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(json, obj);

	o = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsNumber(o), "no number at %s.%s", obj, key);
	return o->valuedouble;
}

static bool bool_at(const char *obj, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(json, obj);

	o = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsBool(o), "no bool at %s.%s", obj, key);
	return cJSON_IsTrue(o);
}

/* Plans node 1 of 2 (main 10.0.0.1:29400) with `devices` ranks per node. */
static void plan_node1_of_2(const char *devices)
{
	set("devices", devices, LT_SRC_FLAG);
	set("num-nodes", "2", LT_SRC_FLAG);
	set("node-rank", "1", LT_SRC_FLAG);
	set("main-addr", "10.0.0.1", LT_SRC_FLAG);
	set("main-port", "29400", LT_SRC_FLAG);
	make_ok(BARE);
}

/* ---------------------------------------------------------- strategy */

Test(plan, auto_strategy_is_single_device_for_one_rank)
{
	set("devices", "1", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("plugins", "strategy", "name", NULL), "single_device");
	cr_expect_eq(num_at("topology", "world_size"), 1);
	cr_expect_str_eq(str_at("launcher", NULL), "exec");
}

Test(plan, auto_strategy_is_ddp_for_more_ranks)
{
	set("devices", "3", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("plugins", "strategy", "name", NULL), "ddp");
	cr_expect_str_eq(str_at("plugins", "strategy", "base", NULL), "ddp");
	cr_expect_eq(num_at("topology", "world_size"), 3);
	cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "ranks")), 3);
}

Test(plan, auto_strategy_counts_every_node)
{
	/* One rank on this node, but two nodes: the job has 2 ranks. */
	plan_node1_of_2("1");
	cr_expect_str_eq(str_at("plugins", "strategy", "name", NULL), "ddp");
	cr_expect_eq(num_at("topology", "first_rank"), 1);
}

Test(plan, single_device_with_more_ranks_is_refused)
{
	set("strategy", "single_device", LT_SRC_FLAG);
	set("devices", "4", LT_SRC_FLAG);
	make_fails(BARE, LT_EXIT_USAGE, "strategy 'single_device' runs one rank but this job has 4");
	cr_expect_not_null(strstr(err.msg, "--strategy ddp"), "no fix offered: %s", err.msg);
}

Test(plan, single_device_under_srun_with_8_tasks_is_refused)
{
	set("strategy", "single_device", LT_SRC_FLAG);
	make_fails(ENV(SRUN_TASK5), LT_EXIT_USAGE, "runs one rank but this job has 8");
}

Test(plan, unknown_strategy_names_its_source)
{
	set("strategy", "dpp", LT_SRC_ENV);
	make_fails(BARE, LT_EXIT_USAGE, "'dpp'");
	cr_expect_not_null(strstr(err.msg, "(from LTRUN_STRATEGY)"), "%s", err.msg);
}

/* ---------------------------------------------------------- launcher */

Test(plan, ddp_launches_with_exec)
{
	set("strategy", "ddp", LT_SRC_FLAG);
	set("devices", "2", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("launcher", NULL), "exec");
	cr_expect_eq(bool_at("topology", "external"), false);
}

Test(plan, ddp_spawn_launches_with_fork)
{
	set("strategy", "ddp_spawn", LT_SRC_FLAG);
	set("devices", "2", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("launcher", NULL), "fork");
	cr_expect_str_eq(str_at("plugins", "strategy", "name", NULL), "ddp_spawn");
	cr_expect_str_eq(str_at("plugins", "strategy", "base", NULL), "ddp");
	cr_expect_not_null(strstr(str_at("plugins", "strategy", "preset", NULL), "launcher=fork"));
}

Test(plan, single_device_launches_with_exec)
{
	set("strategy", "single_device", LT_SRC_FLAG);
	set("devices", "1", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("launcher", NULL), "exec");
}

Test(plan, ranks_made_by_srun_are_external)
{
	set("strategy", "ddp_spawn", LT_SRC_FLAG); /* fork loses to srun's ranks */
	make_ok(ENV(SRUN_TASK5));
	cr_expect_str_eq(str_at("launcher", NULL), "external");
	cr_expect_str_eq(str_at("cluster", "name", NULL), "slurm");
	cr_expect_eq(bool_at("topology", "external"), true);
	cr_expect_str_eq(str_at("topology", "launched_by", NULL), "srun");
	cr_expect_eq(num_at("topology", "rank"), 5);
	cr_expect_eq(num_at("topology", "local_rank"), 1);
	cr_expect_eq(num_at("topology", "world_size"), 8);
	/* Only this process's environment is shown. */
	cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "ranks")), 1);
}

Test(plan, ranks_made_by_mpirun_are_external)
{
	make_ok(ENV(MPIRUN_RANK2));
	cr_expect_str_eq(str_at("launcher", NULL), "external");
	cr_expect_str_eq(str_at("cluster", "name", NULL), "mpi");
	cr_expect_str_eq(str_at("plugins", "strategy", "name", NULL), "ddp");
	cr_expect_eq(num_at("topology", "rank"), 2);
}

/* ------------------------------------------------------- accelerator */

Test(plan, accelerator_auto_is_the_first_registered)
{
	const struct lt_plugin *first = lt_registry_at(reg, LT_KIND_ACCELERATOR, 0);

	cr_assert_not_null(first);
	cr_assert_str_eq(cfg.accelerator, "auto", "the default changed");
	make_ok(BARE);
	cr_expect_str_eq(str_at("plugins", "accelerator", "name", NULL), first->name);
	cr_expect_str_eq(str_at("settings", "accelerator", "value", NULL), "auto");
}

Test(plan, unknown_accelerator_is_refused)
{
	set("accelerator", "tpu9", LT_SRC_FLAG);
	make_fails(BARE, LT_EXIT_USAGE, "'tpu9'");
}

/* ----------------------------------------------------------- cluster */

Test(plan, bare_node_is_lightning_and_says_why)
{
	struct lt_envsrc env = { .vars = BARE, .hostname = "gpu-node002" };
	const struct lt_cluster_ops *ops = lt_registry_find(reg, LT_KIND_CLUSTER, "lightning")->ops;
	char why[256] = "";

	make_ok(BARE);
	cr_expect_str_eq(str_at("cluster", "name", NULL), "lightning");
	cr_assert(ops->detect(&env, NULL, why, sizeof(why)));
	cr_expect_str_eq(str_at("cluster", "why", NULL), why, "the why is the detect reason");
	cr_expect_str_eq(str_at("plugins", "cluster", "name", NULL), "lightning");
}

Test(plan, srun_task_is_slurm_and_says_why)
{
	make_ok(ENV(SRUN_TASK5));
	cr_expect_not_null(strstr(str_at("cluster", "why", NULL), "SLURM_"), "%s",
			   str_at("cluster", "why", NULL));
}

Test(plan, forced_cluster_says_who_forced_it)
{
	set("cluster", "slurm", LT_SRC_ENV);
	make_ok(ENV(SRUN_TASK5, "TORCHELASTIC_RUN_ID=x")); /* torchelastic would win */
	cr_expect_str_eq(str_at("cluster", "name", NULL), "slurm");
	cr_expect_str_eq(str_at("cluster", "why", NULL), "forced by LTRUN_CLUSTER");
}

Test(plan, forced_cluster_that_does_not_detect_is_refused)
{
	set("cluster", "lsf", LT_SRC_FLAG);
	make_fails(BARE, LT_EXIT_FAILURE, "--cluster lsf: ");
	cr_expect_not_null(strstr(err.msg, "LSB_JOBID"), "%s", err.msg);
	cr_expect_null(strstr(err.msg, "(from"), "a flag needs no source: %s", err.msg);
}

Test(plan, forced_cluster_from_the_environment_names_it)
{
	set("cluster", "slurm", LT_SRC_ENV);
	make_fails(BARE, LT_EXIT_FAILURE, "(from LTRUN_CLUSTER)");
}

Test(plan, cluster_resolve_failure_names_the_cluster)
{
	/* srun says 8 tasks on 2 nodes; --devices 3 contradicts it. */
	set("devices", "3", LT_SRC_FLAG);
	make_fails(ENV(SRUN_TASK5), LT_EXIT_FAILURE, "(cluster 'slurm')");
}

/* -------------------------------------------------------------- JSON */

Test(plan, json_has_every_field)
{
	static const char *const kinds[] = { "strategy", "precision", "ckpt-io", "comm",
					      "accelerator", "cluster" };
	const cJSON *ranks, *r0;
	size_t i;

	set("devices", "2", LT_SRC_FLAG);
	set("precision", "bf16-mixed", LT_SRC_FLAG);
	set("main-port", "29411", LT_SRC_FLAG);
	make_ok(BARE);
	cr_expect_str_eq(str_at("ltrun", NULL), LT_VERSION);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cr_expect_gt(strlen(str_at("plugins", kinds[i], "name", NULL)), 0, "%s", kinds[i]);
		cr_expect_gt(strlen(str_at("plugins", kinds[i], "base", NULL)), 0, "%s", kinds[i]);
		(void)str_at("plugins", kinds[i], "preset", NULL);
	}
	cr_expect_str_eq(str_at("plugins", "precision", "name", NULL), "bf16-mixed");
	cr_expect_str_eq(str_at("settings", "precision", "source", NULL),
			 lt_source_name(LT_SRC_FLAG));
	cr_expect_str_eq(str_at("settings", "precision", "from", NULL), "--precision");
	cr_expect_eq(num_at("topology", "main_port"), 29411);
	cr_expect_not_null(strstr(str_at("topology", "main_port_from", NULL), "--main-port"));
	(void)str_at("topology", "main_addr", NULL);
	(void)str_at("topology", "job_id", NULL);
	ranks = cJSON_GetObjectItem(json, "ranks");
	cr_assert_eq(cJSON_GetArraySize(ranks), 2);
	r0 = cJSON_GetArrayItem(ranks, 1);
	cr_expect_str_eq(cJSON_GetObjectItem(r0, "RANK")->valuestring, "1");
	cr_expect_str_eq(cJSON_GetObjectItem(r0, "LOCAL_RANK")->valuestring, "1");
	cr_expect_str_eq(cJSON_GetObjectItem(r0, "WORLD_SIZE")->valuestring, "2");
	cr_expect_str_eq(cJSON_GetObjectItem(r0, "MASTER_PORT")->valuestring, "29411");
	cr_expect(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "model"), "path")),
		  "a plan without a model says null");
}

Test(plan, json_lists_the_model_and_its_arguments)
{
	static char *args[] = { "--epochs", "3" };
	const cJSON *a;

	make_ok(BARE);
	plan.model = "/tmp/m.so";
	plan.model_argv = args;
	plan.model_argc = 2;
	cJSON_Delete(json);
	json = lt_plan_json(&plan, &cfg, reg);
	cr_assert_not_null(json);
	cr_expect_str_eq(str_at("model", "path", NULL), "/tmp/m.so");
	a = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "model"), "args");
	cr_assert_eq(cJSON_GetArraySize(a), 2);
	cr_expect_str_eq(cJSON_GetArrayItem(a, 1)->valuestring, "3");
}

Test(plan, rank_vars_follow_the_node)
{
	const char *name;
	char value[64];

	plan_node1_of_2("4");
	cr_assert(lt_plan_rank_var(&plan, 2, 0, &name, value, sizeof(value)));
	cr_expect_str_eq(name, "RANK");
	cr_expect_str_eq(value, "6", "node 1's local rank 2 of 4 is rank 6");
	cr_assert(lt_plan_rank_var(&plan, 2, 5, &name, value, sizeof(value)));
	cr_expect_str_eq(name, "MASTER_ADDR");
	cr_expect_str_eq(value, "10.0.0.1");
	cr_expect_not(lt_plan_rank_var(&plan, 2, 7, &name, value, sizeof(value)));
}

Test(plan, text_plan_says_what_was_chosen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	set("strategy", "ddp_spawn", LT_SRC_FLAG);
	set("devices", "2", LT_SRC_FLAG);
	make_ok(BARE);
	cr_assert_not_null(f);
	lt_plan_print(&plan, &cfg, reg, f);
	fclose(f);
	cr_expect_not_null(strstr(buf, "dry run: nothing was started"), "%s", buf);
	cr_expect_not_null(strstr(buf, "ddp_spawn (preset of ddp"), "%s", buf);
	cr_expect_not_null(strstr(buf, "fork without exec"), "%s", buf);
	cr_expect_not_null(strstr(buf, "[from --strategy]"), "%s", buf);
	free(buf);
}

/* ------------------------------------------------------------- model */

Test(plan, model_check_refuses_what_is_not_a_shared_object)
{
	char path[] = "/tmp/ltrun-plan-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	cr_expect_eq(lt_model_check(path, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_FAILURE);
	cr_expect_not_null(strstr(err.msg, "is not an ELF shared object: build it with cc -shared -fPIC"),
			   "%s", err.msg);
	unlink(path);
	cr_expect_eq(lt_model_check(path, &err), -1);
	cr_expect_not_null(strstr(err.msg, "cannot open model"), "%s", err.msg);
}
