/*
 * test_registry.c - the registry: built-ins, lookups with "did you mean",
 * names known but not built, aliases and their presets, refusals of bad
 * plugins, listing as text and JSON, and selection of the cluster
 * environment by priority; presets (checked when registered, chained,
 * overridden inline, from a config file), discovery of plugin directories
 * and the origin of every entry.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/built.h"
#include "core/config.h"
#include "core/params.h"
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

	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_STRATEGY, "horovod", &p, &err), -1);
	cr_expect(strstr(err.msg, "strategy 'horovod' is not built in this version") != NULL,
		  "%s", err.msg);
#if LT_HAVE_CUDA
	/* built against CUDA's headers: known and built */
	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_COMM, "nccl", &p, &err), 0, "%s", err.msg);
#else
	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_COMM, "nccl", &p, &err), -1);
	cr_expect(strstr(err.msg, "not built") != NULL, "%s", err.msg);
#endif
}

/* A name not written yet keeps the short message, on one line. */
Test(registry, absent_message_without_a_flag_is_short)
{
	const struct lt_plugin *p;

	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_STRATEGY, "horovod", &p, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_str_eq(err.msg,
			 "strategy 'horovod' is not built in this version (see 'ltrun --list strategy')");
}

/* A plugin ./configure left out (--without-X) is refused naming what it
 * needs, the flag that left it out and the package that brings it back;
 * --list and --list --json say the same.  The default build leaves nothing
 * out, so these entries are made up. */
static const struct lt_absent made_up[] = {
	LT_ABSENT_LEFT_OUT("webdav", LT_DEP_CURL),
	{ .name = "tape" },
	{ .name = NULL },
};

Test(registry, left_out_refusal_names_the_configure_flag)
{
	const struct lt_plugin *p = NULL;

	lt_registry_mark_absent(reg, LT_KIND_CKPT_IO, made_up);
	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_CKPT_IO, "webdav", &p, &err), -1);
	cr_expect_null(p);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_str_eq(err.msg,
			 "ckpt-io 'webdav' is not built in this version: it needs libcurl, left out of this build (./configure --without-curl); rebuild with libcurl4-openssl-dev installed (see 'ltrun --list ckpt-io')");
	cr_assert_eq(lt_registry_lookup(reg, LT_KIND_CKPT_IO, "tape", &p, &err), -1);
	cr_expect_str_eq(err.msg,
			 "ckpt-io 'tape' is not built in this version (see 'ltrun --list ckpt-io')");
}

Test(registry, left_out_entries_are_listed_with_their_flag)
{
	const cJSON *item, *webdav = NULL, *tape = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cJSON *json;

	lt_registry_mark_absent(reg, LT_KIND_CKPT_IO, made_up);
	cr_assert_not_null(f);
	lt_registry_print(reg, f, LT_KIND_CKPT_IO);
	fclose(f);
	cr_expect(strstr(buf, "  not built in this version: webdav (./configure --without-curl), tape\n"),
		  "%s", buf);
	free(buf);
	json = lt_registry_json(reg, LT_KIND_CKPT_IO);
	cr_assert_not_null(json);
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(json, "ckpt-io")) {
		const char *name = cJSON_GetObjectItem(item, "name")->valuestring;
		if (!strcmp(name, "webdav"))
			webdav = item;
		else if (!strcmp(name, "tape"))
			tape = item;
	}
	cr_assert_not_null(webdav);
	cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(webdav, "built")));
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(webdav, "left_out_by")),
			 "--without-curl");
	cr_expect(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(webdav, "reason")),
			 "(./configure --without-curl); rebuild with libcurl4-openssl-dev installed"));
	cr_assert_not_null(tape);
	cr_expect_null(cJSON_GetObjectItem(tape, "left_out_by"), "not written yet: no flag");
	cJSON_Delete(json);
}

/* The built-in absent lists agree with what ./configure built: an entry
 * names a --without flag only when that dependency is left out, and each
 * plugin a left-out dependency provides is named. */
Test(registry, absent_entries_match_the_build)
{
	static const struct {
		enum lt_kind kind;
		const char *name, *flag;
		bool built;
	} deps[] = {
		{ LT_KIND_COMM, "gloo", "--without-gloo", LT_HAVE_GLOO },
		{ LT_KIND_COMM, "mpi", "--without-mpi", LT_HAVE_MPI },
		{ LT_KIND_CKPT_IO, "http", "--without-curl", LT_HAVE_CURL },
		{ LT_KIND_RDZV, "etcd", "--without-curl", LT_HAVE_CURL },
		{ LT_KIND_RDZV, "pmix", "--without-pmix", LT_HAVE_PMIX },
	};
	const struct lt_absent *a;
	size_t i, named;

	for (i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		named = 0;
		for (a = lt_registry_absent(reg, deps[i].kind); a && a->name; a++)
			if (!strcmp(a->name, deps[i].name)) {
				named++;
				cr_expect_str_eq(a->flag, deps[i].flag);
			}
		cr_expect_eq(named, deps[i].built ? 0 : 1, "%s '%s': %s, absent %zu times",
			     lt_kind_name(deps[i].kind), deps[i].name,
			     deps[i].built ? "built" : "left out", named);
		cr_expect_eq(lt_registry_find(reg, deps[i].kind, deps[i].name) != NULL, deps[i].built,
			     "%s '%s' is %sregistered", lt_kind_name(deps[i].kind), deps[i].name,
			     deps[i].built ? "not " : "");
	}
	for (i = 0; i < LT_KIND_COUNT; i++)
		for (a = lt_registry_absent(reg, (enum lt_kind)i); a && a->name; a++)
			cr_expect(!a->flag || (a->lib && a->package),
				  "%s '%s': a flag without its library and package", lt_kind_name((enum lt_kind)i),
				  a->name);
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
	cr_expect(strstr(err.msg, "strategy 'ddp' from ltrun (built-in) is already registered by ltrun (built-in)") != NULL,
		  "%s", err.msg);
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
	cr_expect(strstr(buf, "not built in this version: dp, ") != NULL, "%s", buf);
	cr_expect(strstr(buf, "preset of 16-mixed") != NULL, "%s", buf);
	cr_expect(strstr(buf, "from built-in") != NULL, "%s", buf);
	cr_expect(strstr(buf, "launcher=exec|fork, default exec: how ltrun starts") != NULL,
		  "ddp's parameters are listed: %s", buf);
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

static bool yes(const struct lt_envsrc *env, const struct lt_params *params, char *why,
		size_t len)
{
	(void)env;
	(void)params;
	snprintf(why, len, "always");
	return true;
}

static int no_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		      const struct lt_request *req, struct lt_topology *t, struct lt_err *e)
{
	(void)env;
	(void)params;
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
	struct lt_choice c;
	char why[256];

	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &c, why, sizeof(why), &err), 0, "%s", err.msg);
	cr_expect_str_eq(c.base->name, "slurm");
	lt_choice_free(&c);
	env.vars = torchrun_in_slurm;
	cr_assert_eq(lt_cluster_select(reg, &env, "auto", NULL, &c, why, sizeof(why), &err), 0);
	cr_expect_str_eq(c.base->name, "torchelastic", "the innermost launcher wins");
	lt_choice_free(&c);
	env.vars = bare;
	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &c, why, sizeof(why), &err), 0);
	cr_expect_str_eq(c.base->name, "lightning");
	lt_choice_free(&c);
	env.vars = torchrun_in_slurm;
	cr_assert_eq(lt_cluster_select(reg, &env, "slurm", NULL, &c, why, sizeof(why), &err), 0);
	cr_expect_str_eq(c.base->name, "slurm", "a forced environment wins over higher priorities");
	lt_choice_free(&c);
	cr_expect_str_eq(why, "forced by --cluster slurm");
	env.vars = bare;
	cr_expect_eq(lt_cluster_select(reg, &env, "slurmm", NULL, &c, why, sizeof(why), &err), -1);
	cr_expect(strstr(err.msg, "did you mean 'slurm'?") != NULL, "%s", err.msg);

	cr_assert_eq(lt_registry_add(reg, &top, &err), 0);
	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &c, why, sizeof(why), &err), 0);
	cr_expect_str_eq(c.base->name, "top", "a plugin's priority places it in the probe order");
	lt_choice_free(&c);
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
	struct lt_choice c;
	char why[256], want[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(lt_cluster_select(reg, &env, cases[i].name, NULL, &c, why,
					       sizeof(why), &err), -1, "%s", cases[i].name);
		snprintf(want, sizeof(want), "--cluster %s: ", cases[i].name);
		cr_expect(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
		cr_expect(strstr(err.msg, cases[i].missing) != NULL, "%s", err.msg);
		cr_expect(strstr(err.msg, "or drop --cluster") != NULL, "%s", err.msg);
		cr_expect_eq(err.status, LT_EXIT_FAILURE);
	}
	cr_assert_eq(lt_cluster_select(reg, &env, "lightning", NULL, &c, why, sizeof(why), &err),
		     0, "the bare node needs nothing: %s", err.msg);
	lt_choice_free(&c);
	env.vars = lsf;
	cr_assert_eq(lt_cluster_select(reg, &env, "lsf", NULL, &c, why, sizeof(why), &err), 0,
		     "%s", err.msg);
	cr_expect_str_eq(c.base->name, "lsf");
	lt_choice_free(&c);
	cr_expect_str_eq(why, "forced by --cluster lsf");
}

Test(registry, verbose_probe_log_says_why)
{
	static const char *const bare[] = { NULL };
	struct lt_envsrc env = { .vars = bare };
	struct lt_choice c;
	char why[256], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(lt_cluster_select(reg, &env, NULL, f, &c, why, sizeof(why), &err), 0);
	lt_choice_free(&c);
	fclose(f);
	cr_expect(strstr(buf, "cluster 'slurm' (priority 70) skipped: ") != NULL, "%s", buf);
	cr_expect(strstr(buf, "cluster 'lightning' (priority 0) detected: ") != NULL, "%s", buf);
	free(buf);
}

/* ------------------------------------------------------------ presets */

/* The value of parameter name in a choice, as text (NULL: unset). */
static const char *param(const struct lt_choice *c, const char *name)
{
	for (size_t i = 0; i < lt_params_count(c->params); i++)
		if (!strcmp(lt_params_spec(c->params, i)->name, name))
			return lt_params_text(c->params, i);
	return NULL;
}

Test(registry, preset_keys_are_checked_when_registered)
{
	static const struct lt_plugin typo = { .kind = LT_KIND_STRATEGY, .name = "typo", .description = "d", .recommended_when = "r", .alias_of = "ddp", .preset = "bukcet_mb=1" };
	static const struct lt_plugin bad = { .kind = LT_KIND_STRATEGY, .name = "bad", .description = "d", .recommended_when = "r", .alias_of = "ddp_fork", .preset = "launcher=spawn" };
	size_t before = lt_registry_count(reg, LT_KIND_STRATEGY);

	cr_assert_eq(lt_registry_set_origin(reg, "/plugins/typo.so"), 0);
	cr_expect_eq(lt_registry_add(reg, &typo, &err), -1);
	cr_expect(strstr(err.msg, "strategy preset 'typo' from /plugins/typo.so: ") != NULL, "%s", err.msg);
	cr_expect(strstr(err.msg, "did you mean 'bucket_mb'?") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add(reg, &bad, &err), -1);
	cr_expect(strstr(err.msg, "launcher=spawn") && strstr(err.msg, "exec|fork"), "%s", err.msg);
	lt_registry_set_origin(reg, NULL);
	cr_expect_eq(lt_registry_count(reg, LT_KIND_STRATEGY), before, "nothing half-added");
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "typo"));
}

/* defaults <- each preset from the base outwards <- the inline form */
Test(registry, resolve_applies_preset_chains_then_inline)
{
	static const struct lt_plugin big = { .kind = LT_KIND_STRATEGY, .name = "ddp_big", .description = "d", .recommended_when = "r", .alias_of = "ddp_fork", .preset = "bucket_mb=100" };
	struct lt_choice c;

	cr_assert_eq(lt_registry_add(reg, &big, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "ddp_big", &c, &err), 0, "%s", err.msg);
	cr_expect_str_eq(c.named->name, "ddp_big");
	cr_expect_str_eq(c.base->name, "ddp");
	cr_expect_str_eq(param(&c, "launcher"), "fork", "from ddp_fork");
	cr_expect_str_eq(param(&c, "bucket_mb"), "100", "from ddp_big");
	lt_choice_free(&c);

	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "ddp_big:launcher=exec,bucket_mb=7",
					 &c, &err), 0, "%s", err.msg);
	cr_expect_str_eq(param(&c, "launcher"), "exec", "inline beats the presets");
	cr_expect_float_eq(lt_params_float(c.params, "bucket_mb"), 7.0, 1e-12);
	cr_expect(lt_params_given(c.params, "bucket_mb"));
	lt_choice_free(&c);

	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "ddp", &c, &err), 0);
	cr_expect_str_eq(param(&c, "launcher"), "exec", "the schema's default");
	cr_expect_null(param(&c, "bucket_mb"));
	lt_choice_free(&c);

	cr_expect_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "ddp:bucket_mb=-1", &c, &err), -1);
	cr_expect(strstr(err.msg, "bucket_mb=-1") != NULL, "%s", err.msg);
	cr_expect_null(c.params, "a failed resolve leaves nothing to free");
	cr_expect_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "horovod:x=1", &c, &err), -1);
	cr_expect(strstr(err.msg, "not built in this version") != NULL, "%s", err.msg);
}

Test(registry, config_presets_are_registered_with_their_origin)
{
	static const char json[] =
		"{\"strategy\": {\"ddp_big\": {\"base\": \"ddp\", \"bucket_mb\": 100, \"launcher\": \"fork\","
		" \"description\": \"Big buckets.\"}, \"ddp_bigger\": {\"base\": \"ddp_big\", \"bucket_mb\": 200.5}},"
		" \"precision\": {\"half\": {\"base\": \"16-mixed\"}}}";
	struct lt_choice c;
	size_t n = lt_registry_count(reg, LT_KIND_STRATEGY);

	cr_assert_eq(lt_registry_add_presets_json(reg, json, "/etc/run.json", &err), 0, "%s", err.msg);
	cr_expect_str_eq(lt_registry_origin_at(reg, LT_KIND_STRATEGY, n), "/etc/run.json");
	cr_expect_str_eq(lt_registry_at(reg, LT_KIND_STRATEGY, n)->description, "Big buckets.");
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_STRATEGY, "ddp_bigger", &c, &err), 0, "%s", err.msg);
	cr_expect_str_eq(param(&c, "bucket_mb"), "200.5");
	cr_expect_str_eq(param(&c, "launcher"), "fork");
	lt_choice_free(&c);
	cr_expect_not_null(lt_registry_find(reg, LT_KIND_PRECISION, "half"));

	cr_expect_eq(lt_registry_add_presets_json(reg, "{\"strategy\": {\"x\": {\"base\": \"ddp\", \"bucket_mb\": [1]}}}",
						  "c.json", &err), -1);
	cr_expect(strstr(err.msg, "'bucket_mb' must be a string, number or boolean") != NULL, "%s", err.msg);
	cr_expect_eq(lt_registry_add_presets_json(reg, "{\"strategy\": {\"y\": {\"base\": \"ddq\"}}}",
						  "c.json", &err), -1);
	cr_expect(strstr(err.msg, "did you mean 'ddp'?") != NULL, "%s", err.msg);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_eq(lt_registry_add_presets_json(reg, "[1]", "c.json", &err), -1);
	/* fuzz/config: a number beyond long long was cast to it (undefined);
	 * it is written as a double and refused by the schema instead. */
	cr_expect_eq(lt_registry_add_presets_json(reg, "{\"strategy\": {\"z\": {\"base\": \"ddp\", \"bucket_mb\": 1e120}}}",
						  "c.json", &err), -1);
	cr_expect(strstr(err.msg, "bucket_mb") != NULL, "%s", err.msg);
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "z"));
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "x"));
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "y"));
}

/* --list --json: what is not built is said, with the reason; a plugin's
 * parameters and a preset's base are shown. */
Test(registry, json_shows_unbuilt_entries_and_parameters)
{
	cJSON *json = lt_registry_json(reg, -1);
	const cJSON *item, *fsdp = NULL, *ddp = NULL, *spawn = NULL, *nccl = NULL, *prm;

	cr_assert_not_null(json);
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(json, "strategy")) {
		const char *name = cJSON_GetObjectItem(item, "name")->valuestring;
		if (!strcmp(name, "horovod"))
			fsdp = item;
		else if (!strcmp(name, "ddp"))
			ddp = item;
		else if (!strcmp(name, "ddp_spawn"))
			spawn = item;
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(json, "comm"))
		if (!strcmp(cJSON_GetObjectItem(item, "name")->valuestring, "nccl"))
			nccl = item;
	cr_assert_not_null(fsdp, "horovod is listed");
	cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(fsdp, "built")));
	cr_expect(strstr(cJSON_GetObjectItem(fsdp, "reason")->valuestring, "not built in this version"));
	cr_assert_not_null(nccl, "nccl is listed");
	cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(nccl, "built")) == !LT_HAVE_CUDA);
	cr_assert_not_null(ddp);
	cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(ddp, "built")));
	cr_expect_str_eq(cJSON_GetObjectItem(ddp, "origin")->valuestring, "built-in");
	prm = cJSON_GetArrayItem(cJSON_GetObjectItem(ddp, "params"), 0);
	cr_assert_not_null(prm);
	cr_expect_str_eq(cJSON_GetObjectItem(prm, "name")->valuestring, "launcher");
	cr_expect_str_eq(cJSON_GetObjectItem(prm, "type")->valuestring, "choice");
	cr_expect_str_eq(cJSON_GetObjectItem(prm, "default")->valuestring, "exec");
	cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(prm, "choices"), 1)->valuestring, "fork");
	prm = cJSON_GetArrayItem(cJSON_GetObjectItem(ddp, "params"), 1);
	cr_expect_float_eq(cJSON_GetObjectItem(prm, "max")->valuedouble, 65536, 1e-9);
	cr_assert_not_null(spawn);
	cr_expect_str_eq(cJSON_GetObjectItem(spawn, "base")->valuestring, "ddp");
	cJSON_Delete(json);
}

/* ddp_spawn says what it is: fork without exec, as ddp_fork (not spawn). */
Test(registry, ddp_spawn_is_ddp_fork)
{
	const struct lt_plugin *spawn = lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_spawn");
	const struct lt_plugin *fork = lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_fork");

	cr_assert(spawn && fork);
	cr_expect_str_eq(spawn->preset, fork->preset);
	cr_expect(strstr(spawn->description, "exactly as ddp_fork") != NULL, "%s", spawn->description);
}

/* ---------------------------------------------------------- discovery */

static char dir_a[64], dir_b[64];

/* A fresh private directory holding copies of the test plugins named. */
static void plugin_dir(char *dir, const char *const *names)
{
	const char *b = getenv("LTRUN_BUILD") ? getenv("LTRUN_BUILD") : "build/check";
	char cmd[1024];

	snprintf(dir, 64, "/tmp/ltrun-plugdir-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (; *names; names++) {
		snprintf(cmd, sizeof(cmd), "cp %s/tests/plugins/%s %s/", b, *names, dir);
		cr_assert_eq(system(cmd), 0, "%s (build the test plugins first)", cmd);
	}
}

static void remove_dirs(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir_a[0] ? dir_a : "", dir_b[0] ? dir_b : "");
	if (dir_a[0] || dir_b[0])
		cr_expect_eq(system(cmd), 0);
	dir_a[0] = dir_b[0] = '\0';
}

Test(registry, plugin_path_dirs_are_scanned, .fini = remove_dirs)
{
	char list[200], so[128];

	plugin_dir(dir_a, (const char *const[]){ "preset_ok.so", NULL });
	snprintf(list, sizeof(list), "/nonexistent/ltrun-plugins:%s", dir_a);
	cr_assert_eq(lt_plugin_scan_dirs(reg, list, &err), 0, "a missing directory is skipped: %s",
		     err.msg);
	cr_assert_not_null(lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_bigbucket"));
	snprintf(so, sizeof(so), "%s/preset_ok.so", dir_a);
	cr_expect_str_eq(lt_registry_origin_at(reg, LT_KIND_STRATEGY,
					       lt_registry_count(reg, LT_KIND_STRATEGY) - 1), so);
	lt_registry_free(reg);

	/* lt_registry_load() reads LTRUN_PLUGIN_PATH: what ltrun and every rank call */
	struct lt_config cfg;
	cr_assert_eq(lt_config_init(&cfg, &err), 0);
	setenv("LTRUN_PLUGIN_PATH", dir_a, 1);
	reg = lt_registry_load(&cfg, &err);
	unsetenv("LTRUN_PLUGIN_PATH");
	lt_config_free(&cfg);
	cr_assert_not_null(reg, "%s", err.msg);
	cr_expect_not_null(lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_bigbucket"));
}

Test(registry, a_dir_others_may_write_is_refused, .fini = remove_dirs)
{
	plugin_dir(dir_a, (const char *const[]){ "preset_ok.so", NULL });
	cr_assert_eq(chmod(dir_a, 0777), 0);
	cr_expect_eq(lt_plugin_scan_dirs(reg, dir_a, &err), -1);
	cr_expect(strstr(err.msg, "refusing plugin directory") && strstr(err.msg, dir_a) &&
		  strstr(err.msg, "every user may write it (mode 777)"), "%s", err.msg);
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_bigbucket"));

	cr_assert_eq(chmod(dir_a, 0700), 0);
	cr_assert_eq(chown(dir_a, 65534, 65534), 0, "the tests run as root");
	cr_expect_eq(lt_plugin_scan_dirs(reg, dir_a, &err), -1);
	cr_expect(strstr(err.msg, "it belongs to uid 65534") != NULL, "%s", err.msg);

	cr_assert_eq(chown(dir_a, geteuid(), getegid()), 0);
	char so[128];
	snprintf(so, sizeof(so), "%s/preset_ok.so", dir_a);
	cr_assert_eq(chmod(so, 0666), 0);
	cr_expect_eq(lt_plugin_scan_dirs(reg, dir_a, &err), -1);
	cr_expect(strstr(err.msg, "refusing plugin file") && strstr(err.msg, so), "%s", err.msg);
	cr_expect_null(lt_registry_find(reg, LT_KIND_STRATEGY, "ddp_bigbucket"));
}

Test(registry, one_name_in_two_files_names_both, .fini = remove_dirs)
{
	char list[200];

	plugin_dir(dir_a, (const char *const[]){ "twin_a.so", NULL });
	plugin_dir(dir_b, (const char *const[]){ "twin_b.so", NULL });
	snprintf(list, sizeof(list), "%s:%s", dir_a, dir_b);
	cr_expect_eq(lt_plugin_scan_dirs(reg, list, &err), -1);
	cr_expect(strstr(err.msg, "strategy 'twin' from ") && strstr(err.msg, "/twin_b.so is already registered by ") &&
		  strstr(err.msg, "/twin_a.so"), "%s", err.msg);
	cr_expect_null(strchr(err.msg, '\n'));
}

/* The presets of the config file reach every rank through LTRUN_PRESETS,
 * and lt_registry_load() registers them. */
static int capture(const char *name, const char *value, void *arg)
{
	if (!strcmp(name, LT_PRESETS_ENV))
		snprintf(arg, 480, "%s", value);
	return 0;
}

Test(registry, config_presets_travel_to_the_ranks)
{
	static const char text[] =
		"{\"presets\": {\"strategy\": {\"ddp_big\": {\"base\": \"ddp\", \"bucket_mb\": 100}}}}";
	struct lt_config launcher, rank;
	char exported[512] = "";
	const char *vars[] = { exported, NULL };
	struct lt_envsrc env = { .vars = vars };
	struct lt_registry *r;

	cr_assert_eq(lt_config_init(&launcher, &err), 0);
	cr_assert_eq(lt_config_load_text(&launcher, "run.json", text, strlen(text), &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_export(&launcher, capture, exported + strlen("LTRUN_PRESETS=")), 0);
	memcpy(exported, "LTRUN_PRESETS=", strlen("LTRUN_PRESETS="));
	cr_assert_eq(lt_config_init(&rank, &err), 0);
	cr_assert_eq(lt_config_load_env(&rank, &env, &err), 0, "%s", err.msg);
	r = lt_registry_load(&rank, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_not_null(lt_registry_find(r, LT_KIND_STRATEGY, "ddp_big"));
	lt_registry_free(r);
	lt_config_free(&launcher);
	lt_config_free(&rank);
}

/* The one rule the plan and every rank resolve `auto` by. */
Test(registry, auto_names_one_plugin_per_kind)
{
	cr_expect_str_eq(lt_registry_auto(reg, LT_KIND_STRATEGY, "auto", 1), "single_device");
	cr_expect_str_eq(lt_registry_auto(reg, LT_KIND_STRATEGY, "auto", 4), "ddp");
	cr_expect_str_eq(lt_registry_auto(reg, LT_KIND_STRATEGY, "ddp_spawn", 1), "ddp_spawn");
	cr_expect_str_eq(lt_registry_auto(reg, LT_KIND_ACCELERATOR, "auto", 8), "cpu");
	cr_expect_str_eq(lt_registry_auto(reg, LT_KIND_COMM, "auto", 8), "auto");
}
