/*
 * test_threads.c - the thread counts the plan gives the ranks ltrun starts
 * (src/launch/plan.c): cores per local rank, at least 1, and a value the
 * user set kept; a launcher's ranks are left as the launcher made them.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"
#include "core/registry.h"
#include "launch/plan.h"

Test(threads, per_rank_is_the_cores_shared_by_the_local_ranks)
{
	cr_expect_eq(lt_threads_per_rank(8, 4), 2);
	cr_expect_eq(lt_threads_per_rank(8, 3), 2);
	cr_expect_eq(lt_threads_per_rank(7, 1), 7);
	cr_expect_eq(lt_threads_per_rank(2, 4), 1, "never 0");
	cr_expect_eq(lt_threads_per_rank(0, 1), 1, "never 0");
	cr_expect_eq(lt_threads_per_rank(16, 0), 16, "no division by 0");
}

/* The plan of `devices` local ranks in environment vars: its JSON. */
static cJSON *plan_json(const char *devices, const char *const *vars, struct lt_plan *plan)
{
	struct lt_envsrc env = { .vars = vars, .hostname = "node1" };
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_config cfg;
	cJSON *json;

	cr_assert_not_null(reg, "%s", err.msg);
	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(&cfg, lt_option_find("devices"), devices, LT_SRC_FLAG,
				   "--devices", &err), 0, "%s", err.msg);
	cr_assert_eq(lt_plan_make(plan, &cfg, reg, &env, NULL, &err), 0, "%s", err.msg);
	json = lt_plan_json(plan, &cfg, reg);
	cr_assert_not_null(json);
	lt_plan_free(plan);
	lt_config_free(&cfg);
	lt_registry_free(reg);
	return json;
}

static const char *var_field(const cJSON *json, const char *name, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, "threads");

	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "vars"), name);
	v = cJSON_GetObjectItemCaseSensitive(v, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

Test(threads, the_plan_keeps_what_the_user_set)
{
	struct lt_plan plan;
	cJSON *json = plan_json("2", (const char *const[]){ "OPENBLAS_NUM_THREADS=9", NULL }, &plan);
	char per[16];

	snprintf(per, sizeof(per), "%d", lt_threads_per_rank(plan.cores, 2));
	cr_expect_str_eq(var_field(json, "OMP_NUM_THREADS", "value"), per);
	cr_expect_str_eq(var_field(json, "OMP_NUM_THREADS", "set_by"), "ltrun");
	cr_expect_str_eq(var_field(json, "MKL_NUM_THREADS", "set_by"), "ltrun");
	cr_expect_str_eq(var_field(json, "OPENBLAS_NUM_THREADS", "value"), "9");
	cr_expect_str_eq(var_field(json, "OPENBLAS_NUM_THREADS", "set_by"), "user");
	cJSON_Delete(json);
}

Test(threads, a_launchers_ranks_are_left_alone)
{
	struct lt_plan plan;
	cJSON *json = plan_json("auto", (const char *const[]){
		"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=2",
		"OMPI_COMM_WORLD_LOCAL_SIZE=4", "OMPI_COMM_WORLD_NODE_RANK=2",
		"OMPI_MCA_ess_base_jobid=12345", "MKL_NUM_THREADS=1", NULL }, &plan);

	cr_expect_null(var_field(json, "OMP_NUM_THREADS", "value"));
	cr_expect_str_eq(var_field(json, "OMP_NUM_THREADS", "set_by"), "launcher");
	cr_expect_str_eq(var_field(json, "MKL_NUM_THREADS", "set_by"), "user");
	cJSON_Delete(json);
}
