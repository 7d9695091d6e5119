/*
 * test_dryrun.c - `ltrun --dry-run --json` through the real binary under
 * each cluster environment's variables (as srun, jsrun, a PyTorchJob pod,
 * torchrun and mpirun set them) and under the example hostfile plugin:
 * the chosen environment and every topology number must be right.  Also
 * `--list --json` and the flag > LTRUN_* > config file > default order.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "run.h"

#define NARGS 8
#define NENV 16

struct plan_case {
	const char *name;
	const char *args[NARGS];
	const char *env[NENV];
	const char *cluster;
	int world_size, num_nodes, node_rank, local_world_size, first_rank;
	int external, rank, local_rank;
	const char *main_addr;
	int main_port;       /* 0: any port */
	const char *launcher;
};

static struct plan_case cases[] = {
	{ "bare node, 4 devices", { "--devices", "4" }, {0},
	  "lightning", 4, 1, 0, 4, 0, 0, -1, -1, "127.0.0.1", 0, "exec" },
	{ "bare node, second of two nodes", { "--devices", "2", "--num-nodes", "2", "--node-rank", "1",
					      "--main-addr", "10.1.0.1" }, {0},
	  "lightning", 4, 2, 1, 2, 2, 0, -1, -1, "10.1.0.1", 29500, "exec" },
	{ "ddp_spawn forks", { "--devices", "3", "--strategy", "ddp_spawn" }, { "MASTER_PORT=31000" },
	  "lightning", 3, 1, 0, 3, 0, 0, -1, -1, "127.0.0.1", 31000, "fork" },
	{ "srun, 2 nodes x 4 tasks, rank 5", {0},
	  { "SLURM_JOB_ID=4242", "SLURM_STEP_ID=0", "SLURM_NTASKS=8", "SLURM_NTASKS_PER_NODE=4",
	    "SLURM_PROCID=5", "SLURM_LOCALID=1", "SLURM_NODEID=1", "SLURM_JOB_NUM_NODES=2",
	    "SLURM_STEP_NUM_NODES=2", "SLURM_JOB_NODELIST=gpu-node[001-002]",
	    "SLURM_STEP_NODELIST=gpu-node[001-002]", "MASTER_PORT=29555" },
	  "slurm", 8, 2, 1, 4, 4, 1, 5, 1, "gpu-node001", 29555, "external" },
	{ "sbatch script on the first of 2 nodes", { "--devices", "2" },
	  { "SLURM_JOB_ID=99", "SLURM_NTASKS=2", "SLURM_JOB_NUM_NODES=2", "SLURM_NODEID=0",
	    "SLURM_JOB_NODELIST=a[1],b[2]", "SLURM_JOB_NAME=train" },
	  "slurm", 4, 2, 0, 2, 0, 0, -1, -1, "a1", 0, "exec" },
	{ "jsrun on LSF", {0},
	  { "LSB_JOBID=31", "LSB_MCPU_HOSTS=batch1 1 h1 2 h2 2", "JSM_NAMESPACE_RANK=3",
	    "JSM_NAMESPACE_SIZE=4", "JSM_NAMESPACE_LOCAL_RANK=1", "JSM_NAMESPACE_LOCAL_SIZE=2" },
	  "lsf", 4, 2, 1, 2, 2, 1, 3, 1, "h1", 0, "external" },
	{ "PyTorchJob pod 1 of 2 with 4 devices", { "--devices", "4" },
	  { "KUBERNETES_PORT=tcp://10.96.0.1:443", "MASTER_ADDR=job-master-0", "MASTER_PORT=23456",
	    "WORLD_SIZE=2", "RANK=1" },
	  "kubeflow", 8, 2, 1, 4, 4, 0, -1, -1, "job-master-0", 23456, "exec" },
	{ "torchrun, 2 nodes x 2", {0},
	  { "TORCHELASTIC_RUN_ID=abc", "RANK=3", "LOCAL_RANK=1", "WORLD_SIZE=4", "LOCAL_WORLD_SIZE=2",
	    "GROUP_RANK=1", "MASTER_ADDR=node0", "MASTER_PORT=29400" },
	  "torchelastic", 4, 2, 1, 2, 2, 1, 3, 1, "node0", 29400, "external" },
	{ "mpirun without PMIx, 1 node", {0},
	  { "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_LOCAL_RANK=2",
	    "OMPI_COMM_WORLD_LOCAL_SIZE=4", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=29501" },
	  "mpi", 4, 1, 0, 4, 0, 1, 2, 2, "127.0.0.1", 29501, "external" },
	{ "sbatch script, node list with spaces", {0},
	  { "SLURM_JOB_ID=99", "SLURM_JOB_NUM_NODES=7", "SLURM_NODEID=6",
	    "SLURM_JOB_NODELIST=alpha, host[5-9],\tgamma" },
	  "slurm", 7, 7, 6, 1, 6, 0, -1, -1, "alpha", 22391, "exec" },
	{ "manual multi-node: LOCAL_RANK and NODE_RANK, --devices x --num-nodes",
	  { "--devices", "2", "--num-nodes", "2" },
	  { "LOCAL_RANK=1", "NODE_RANK=1", "MASTER_ADDR=10.1.0.1" },
	  "lightning", 4, 2, 1, 2, 2, 1, 3, 1, "10.1.0.1", 29500, "external" },
	{ "forced cluster wins over detection", { "--cluster", "lightning", "--devices", "2" },
	  { "SLURM_JOB_ID=5", "SLURM_JOB_NUM_NODES=3", "SLURM_JOB_NODELIST=n[1-3]", "SLURM_NODEID=2" },
	  "lightning", 2, 1, 0, 2, 0, 0, -1, -1, "127.0.0.1", 0, "exec" },
};

ParameterizedTestParameters(dryrun, topology)
{
	return LT_TABLE_PARAMS(cases);
}

static cJSON *run_json(const char *const *args, const char *const *env)
{
	struct run_result r;
	cJSON *json;

	cr_assert_eq(run_ltrun(args, env, &r), 0, "cannot start ltrun");
	cr_assert_eq(r.status, 0, "ltrun failed (%d): %s", r.status, r.err);
	json = cJSON_Parse(r.out);
	cr_assert_not_null(json, "ltrun printed invalid JSON: %s", r.out);
	run_result_free(&r);
	return json;
}

static int num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	cr_assert(cJSON_IsNumber(v), "'%s' is missing or not a number", key);
	return v->valueint;
}

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	cr_assert(cJSON_IsString(v), "'%s' is missing or not a string", key);
	return v->valuestring;
}

ParameterizedTest(size_t *idx, dryrun, topology)
{
	const struct plan_case *c = &cases[*idx];
	const char *args[NARGS + 3] = { "--dry-run", "--json" };
	const cJSON *topo, *ranks;
	cJSON *plan;
	int i;

	for (i = 0; i < NARGS && c->args[i]; i++)
		args[i + 2] = c->args[i];
	plan = run_json(args, c->env);
	cr_expect_str_eq(str(cJSON_GetObjectItem(plan, "cluster"), "name"), c->cluster, "%s", c->name);
	topo = cJSON_GetObjectItem(plan, "topology");
	cr_expect_eq(num(topo, "world_size"), c->world_size, "%s: world_size", c->name);
	cr_expect_eq(num(topo, "num_nodes"), c->num_nodes, "%s: num_nodes", c->name);
	cr_expect_eq(num(topo, "node_rank"), c->node_rank, "%s: node_rank", c->name);
	cr_expect_eq(num(topo, "local_world_size"), c->local_world_size, "%s: local_world_size", c->name);
	cr_expect_eq(num(topo, "first_rank"), c->first_rank, "%s: first_rank", c->name);
	cr_expect_eq(cJSON_IsTrue(cJSON_GetObjectItem(topo, "external")), c->external, "%s: external", c->name);
	if (c->external) {
		cr_expect_eq(num(topo, "rank"), c->rank, "%s: rank", c->name);
		cr_expect_eq(num(topo, "local_rank"), c->local_rank, "%s: local_rank", c->name);
	}
	cr_expect_str_eq(str(topo, "main_addr"), c->main_addr, "%s: main_addr", c->name);
	if (c->main_port)
		cr_expect_eq(num(topo, "main_port"), c->main_port, "%s: main_port", c->name);
	else
		cr_expect(num(topo, "main_port") > 0 && num(topo, "main_port") < 65536, "%s: port", c->name);
	cr_expect_str_eq(str(plan, "launcher"), c->launcher, "%s: launcher", c->name);

	/* One environment per rank this node runs (or this process, if adopted),
	 * each with the global rank the topology promises. */
	ranks = cJSON_GetObjectItem(plan, "ranks");
	cr_assert_eq(cJSON_GetArraySize(ranks), c->external ? 1 : c->local_world_size, "%s", c->name);
	for (i = 0; i < cJSON_GetArraySize(ranks); i++) {
		const cJSON *env = cJSON_GetArrayItem(ranks, i);
		char want[16];

		snprintf(want, sizeof(want), "%d", c->external ? c->rank : c->first_rank + i);
		cr_expect_str_eq(str(env, "RANK"), want, "%s: RANK of entry %d", c->name, i);
		snprintf(want, sizeof(want), "%d", c->world_size);
		cr_expect_str_eq(str(env, "WORLD_SIZE"), want, "%s", c->name);
		cr_expect_str_eq(str(env, "MASTER_ADDR"), c->main_addr, "%s", c->name);
	}
	cJSON_Delete(plan);
}

Test(dryrun, hostfile_plugin)
{
	char hosts[] = "/tmp/ltrun-hosts-XXXXXX";
	const char *text = "# two nodes\nalpha slots=2\nbeta slots=2\n";
	const char *args[] = { "--dry-run", "--json", "--plugin",
			       build_path("examples/plugins/hostfile_env.so"), "--node-rank", "1", NULL };
	char var[64];
	const char *env[] = { var, NULL };
	const cJSON *topo;
	cJSON *plan;
	int fd = mkstemp(hosts);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(var, sizeof(var), "HOSTFILE_ENV_FILE=%s", hosts);
	plan = run_json(args, env);
	unlink(hosts);
	cr_expect_str_eq(str(cJSON_GetObjectItem(plan, "cluster"), "name"), "hostfile");
	topo = cJSON_GetObjectItem(plan, "topology");
	cr_expect_eq(num(topo, "world_size"), 4);
	cr_expect_eq(num(topo, "num_nodes"), 2);
	cr_expect_eq(num(topo, "node_rank"), 1);
	cr_expect_eq(num(topo, "first_rank"), 2);
	cr_expect_str_eq(str(topo, "main_addr"), "alpha");
	cJSON_Delete(plan);
}

/* LSF finds this host in its list by the whole name, then by short names
 * on both sides, never shortening an IP.  The host name is set in a UTS
 * namespace of its own (unshare -u, as root). */
Test(dryrun, lsf_finds_dotted_host_names)
{
	static const struct {
		const char *hostname, *hosts, *main_addr;
	} hosts[] = {
		{ "10.10.10.3", "LSB_MCPU_HOSTS=10.10.10.1 1 10.10.10.2 2 10.10.10.3 2", "10.10.10.2" },
		{ "h2", "LSB_MCPU_HOSTS=b.example.org 1 h1.example.org 2 h2.example.org 2",
		  "h1.example.org" },
		{ "h2.example.org", "LSB_MCPU_HOSTS=b 1 h1 2 h2 2", "h1" },
	};
	const char *ltrun = build_path("ltrun");
	struct run_result r;
	char script[512];
	size_t i;

	if (geteuid() != 0 || access("/usr/bin/unshare", X_OK))
		cr_skip_test("needs root and unshare(1) to set a host name in a UTS namespace");
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const char *env[] = { "LSB_JOBID=1234", hosts[i].hosts, NULL };
		const cJSON *topo;
		cJSON *plan;

		snprintf(script, sizeof(script), "hostname %s && exec %s --dry-run --json",
			 hosts[i].hostname, ltrun);
		cr_assert_eq(run_command((const char *[]){ "unshare", "-u", "sh", "-c", script, NULL },
					 env, 30, &r), 0);
		cr_assert_eq(r.status, 0, "host %s: ltrun failed (%d): %s", hosts[i].hostname,
			     r.status, r.err);
		plan = cJSON_Parse(r.out);
		cr_assert_not_null(plan, "invalid JSON: %s", r.out);
		topo = cJSON_GetObjectItem(plan, "topology");
		cr_expect_str_eq(str(cJSON_GetObjectItem(plan, "cluster"), "name"), "lsf");
		cr_expect_eq(num(topo, "num_nodes"), 2, "host %s", hosts[i].hostname);
		cr_expect_eq(num(topo, "node_rank"), 1, "host %s", hosts[i].hostname);
		cr_expect_str_eq(str(topo, "main_addr"), hosts[i].main_addr);
		cr_expect_eq(num(topo, "main_port"), 20061, "the port derived from LSB_JOBID=1234");
		cJSON_Delete(plan);
		run_result_free(&r);
	}
}

Test(dryrun, list_json_has_every_environment)
{
	static const char *const envs[] = { "lightning", "slurm", "lsf", "kubeflow",
					    "torchelastic", "mpi" };
	const char *args[] = { "--list", "--json", NULL };
	const cJSON *clusters, *item;
	cJSON *list = run_json(args, NULL);
	size_t i;

	clusters = cJSON_GetObjectItem(list, "cluster");
	cr_assert(cJSON_IsArray(clusters));
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		bool found = false;
		cJSON_ArrayForEach(item, clusters)
			found |= !strcmp(str(item, "name"), envs[i]) &&
				 strlen(str(item, "description")) > 0 &&
				 strlen(str(item, "recommended_when")) > 0;
		cr_expect(found, "cluster '%s' missing from --list --json", envs[i]);
	}
	cr_expect_not_null(cJSON_GetObjectItem(list, "strategy"));
	cr_expect_not_null(cJSON_GetObjectItem(list, "precision"));
	cJSON_Delete(list);
}

Test(dryrun, list_one_kind_with_aliases)
{
	const char *args[] = { "--list", "precision", "--json", NULL };
	const cJSON *item;
	cJSON *list = run_json(args, NULL);
	bool alias = false;

	cr_expect_null(cJSON_GetObjectItem(list, "strategy"), "--list precision lists only precisions");
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(list, "precision"))
		if (!strcmp(str(item, "name"), "bf16"))
			alias = !strcmp(str(item, "alias_of"), "bf16-mixed");
	cr_expect(alias, "bf16 is listed as an alias of bf16-mixed");
	cJSON_Delete(list);
}

/* flag > LTRUN_* > config file > default, observed in the plan's settings. */
Test(dryrun, precedence)
{
	char path[] = "/tmp/ltrun-cfg-XXXXXX";
	const char *cfg = "{\"devices\": 2, \"precision\": \"bf16-mixed\", \"max-restarts\": 3,"
			  " \"strategy\": \"ddp\"}";
	const char *args[] = { "--dry-run", "--json", "--config", path, "--devices", "4", NULL };
	const char *env[] = { "LTRUN_DEVICES=3", "LTRUN_PRECISION=16-mixed", NULL };
	const cJSON *set;
	cJSON *plan;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
	plan = run_json(args, env);
	unlink(path);
	set = cJSON_GetObjectItem(plan, "settings");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "devices"), "value"), "4");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "devices"), "source"), "command line");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "precision"), "value"), "16-mixed");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "precision"), "source"), "environment");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "max-restarts"), "value"), "3");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "max-restarts"), "source"), "config file");
	cr_expect_str_eq(str(cJSON_GetObjectItem(set, "ckpt-io"), "source"), "default");
	cr_expect_eq(num(cJSON_GetObjectItem(plan, "topology"), "local_world_size"), 4);
	cJSON_Delete(plan);
}

Test(dryrun, text_plan_names_everything)
{
	const char *args[] = { "--dry-run", "--devices", "2", "--precision", "bf16", NULL };
	struct run_result r;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "cluster      lightning") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "world size 2") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "bf16 (preset of bf16-mixed)") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "local 1: RANK=1 LOCAL_RANK=1 WORLD_SIZE=2") != NULL, "%s", r.out);
	cr_expect_str_empty(r.err);
	run_result_free(&r);
}

/* Each plugin of the plan with its resolved parameters: a config file's
 * preset, then the inline form; the launcher follows the strategy's
 * launcher parameter. */
Test(dryrun, plan_shows_resolved_parameters)
{
	char path[] = "/tmp/ltrun-cfg-XXXXXX";
	const char *cfg = "{\"presets\": {\"strategy\": {\"ddp_big\": {\"base\": \"ddp_fork\", \"bucket_mb\": 100}}}}";
	const char *args[] = { "--dry-run", "--json", "--devices", "2", "--config", path,
			       "--strategy", "ddp_big:bucket_mb=7", NULL };
	const cJSON *s, *params;
	cJSON *plan;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
	plan = run_json(args, NULL);
	unlink(path);
	s = cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "plugins"), "strategy");
	cr_expect_str_eq(str(s, "name"), "ddp_big");
	cr_expect_str_eq(str(s, "base"), "ddp");
	params = cJSON_GetObjectItem(s, "params");
	cr_expect_str_eq(str(params, "launcher"), "fork", "from ddp_fork, ddp_big's base");
	cr_expect_str_eq(str(params, "bucket_mb"), "7", "the inline form beats the preset");
	cr_expect_str_eq(str(plan, "launcher"), "fork");
	cJSON_Delete(plan);
}

/* A plugin's preset, and the text plan with its parameters. */
Test(dryrun, plugin_preset_in_the_text_plan)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *[]){ "--dry-run", "--devices", "2", "--plugin",
						 build_path("tests/plugins/preset_ok.so"), "--strategy",
						 "ddp_bigbucket:launcher=fork", NULL }, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "strategy     ddp_bigbucket (preset of ddp)") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "parameters: launcher=fork, bucket_mb=100") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "launcher     fork:") != NULL, "%s", r.out);
	run_result_free(&r);
	cr_assert_eq(run_ltrun((const char *[]){ "--list", "strategy", "--plugin",
						 build_path("tests/plugins/preset_ok.so"), NULL }, NULL, &r), 0);
	cr_expect(strstr(r.out, "preset of ddp with bucket_mb=100") != NULL, "%s", r.out);
	cr_expect(strstr(r.out, "from ") && strstr(r.out, "tests/plugins/preset_ok.so"), "%s", r.out);
	run_result_free(&r);
}
