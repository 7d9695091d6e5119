/*
 * test_bind.c - --cpu-bind (src/launch/bind.c): the parser and its
 * messages, cpulists, and the plan on hwloc synthetic topologies (2
 * packages x 2 NUMA nodes x 8 cores x 2 PUs: CPUs 0-63, node n holds
 * 16n to 16n+15) for 1 to 40 ranks, with restricted affinity masks and
 * lists naming CPUs that are not there; then the plan on this machine and
 * what lt_plan_make() makes of it.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <hwloc.h>
#include <string.h>

#include "core/config.h"
#include "core/registry.h"
#include "launch/bind.h"
#include "launch/plan.h"

#define BIG "pack:2 numa:2 core:8 pu:2"

static hwloc_topology_t topo;
static struct lt_bind_spec spec;
static struct lt_binding b;
static struct lt_err err;

static void teardown(void)
{
	lt_bind_free(&b);
	lt_bind_spec_free(&spec);
	if (topo)
		hwloc_topology_destroy(topo);
	topo = NULL;
}

TestSuite(bind, .fini = teardown);

static void load(const char *synthetic)
{
	cr_assert_eq(hwloc_topology_init(&topo), 0);
	cr_assert_eq(hwloc_topology_set_synthetic(topo, synthetic), 0, "%s", synthetic);
	cr_assert_eq(hwloc_topology_load(topo), 0);
}

static cpu_set_t range(int lo, int hi)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	for (int c = lo; c <= hi; c++)
		CPU_SET(c, &s);
	return s;
}

static const char *list_of(const cpu_set_t *s)
{
	static char buf[8][256];
	static int next;

	return lt_cpulist(s, buf[next++ % 8], sizeof(buf[0]));
}

/* Plans text for nranks on topo with the allowed CPUs; must succeed. */
static void plan(const char *text, const cpu_set_t *allowed, int nranks)
{
	memset(&err, 0, sizeof(err));
	lt_bind_free(&b);
	lt_bind_spec_free(&spec);
	cr_assert_eq(lt_bind_parse(&spec, text, "--cpu-bind", &err), 0, "%s", err.msg);
	cr_assert_eq(lt_bind_plan_topology(&b, &spec, topo, allowed, nranks, "--cpu-bind", &err),
		     0, "%s: %s", text, err.msg);
	cr_assert_eq(b.n, nranks);
	cr_assert_not_null(b.rank);
}

static void expect_disjoint(void)
{
	for (int i = 0; i < b.n; i++)
		for (int j = i + 1; j < b.n; j++) {
			cpu_set_t both;
			CPU_AND(&both, &b.rank[i].cpus, &b.rank[j].cpus);
			cr_expect_eq(CPU_COUNT(&both), 0, "ranks %d (%s) and %d (%s) overlap", i,
				     list_of(&b.rank[i].cpus), j, list_of(&b.rank[j].cpus));
		}
}

static void expect_rank(int i, const char *cpus, int cores, int numa, int threads)
{
	cr_expect_str_eq(list_of(&b.rank[i].cpus), cpus, "rank %d of %d", i, b.n);
	cr_expect_eq(b.rank[i].cores, cores, "rank %d of %d: cores", i, b.n);
	cr_expect_eq(b.rank[i].numa, numa, "rank %d of %d: NUMA node", i, b.n);
	cr_expect_eq(b.rank[i].threads, threads, "rank %d of %d: threads", i, b.n);
}

/* ------------------------------------------------------------- parser */

Test(bind, parses_the_modes_and_lists)
{
	cr_assert_eq(lt_bind_parse(&spec, "none", "--cpu-bind", &err), 0);
	cr_expect_eq(spec.mode, LT_BIND_NONE);
	lt_bind_spec_free(&spec);
	cr_assert_eq(lt_bind_parse(&spec, "cores", "--cpu-bind", &err), 0);
	cr_expect_eq(spec.mode, LT_BIND_CORES);
	lt_bind_spec_free(&spec);
	cr_assert_eq(lt_bind_parse(&spec, "numa", "--cpu-bind", &err), 0);
	cr_expect_eq(spec.mode, LT_BIND_NUMA);
	lt_bind_spec_free(&spec);

	cr_assert_eq(lt_bind_parse(&spec, "list:0-3:4-7", "--cpu-bind", &err), 0, "%s", err.msg);
	cr_expect_eq(spec.mode, LT_BIND_LIST);
	cr_assert_eq(spec.nsets, 2);
	cr_expect_str_eq(list_of(&spec.set[0]), "0-3");
	cr_expect_str_eq(list_of(&spec.set[1]), "4-7");
	cr_expect_eq(spec.beyond[0], -1);
	lt_bind_spec_free(&spec);

	cr_assert_eq(lt_bind_parse(&spec, "list:10-11,0-3,8", "--cpu-bind", &err), 0, "%s", err.msg);
	cr_assert_eq(spec.nsets, 1);
	cr_expect_str_eq(list_of(&spec.set[0]), "0-3,8,10-11");
	lt_bind_spec_free(&spec);

	/* beyond cpu_set_t: parsed, refused by the plan (it names the CPU) */
	cr_assert_eq(lt_bind_parse(&spec, "list:0:4095", "--cpu-bind", &err), 0, "%s", err.msg);
	cr_expect_eq(spec.beyond[0], -1);
	cr_expect_eq(spec.beyond[1], 4095);
	cr_expect_eq(CPU_COUNT(&spec.set[1]), 0);
}

Test(bind, bad_specs_say_what_to_write)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "", "use none, cores, numa or list:SET:SET..." },
		{ "core", "use none, cores, numa or list:SET:SET..." },
		{ "Cores", "use none, cores, numa or list:SET:SET..." },
		{ "list", "use none, cores, numa or list:SET:SET..." },
		{ "socket", "use none, cores, numa or list:SET:SET..." },
		{ "list:", "SET 1 '' is not a CPU list" },
		{ "list:a", "SET 1 'a' is not a CPU list" },
		{ "list:1-", "SET 1 '1-' is not a CPU list" },
		{ "list:3-1", "SET 1 '3-1' is not a CPU list" },
		{ "list:0::1", "SET 2 '' is not a CPU list" },
		{ "list:0,", "SET 1 '0,' is not a CPU list" },
		{ "list:-1", "SET 1 '-1' is not a CPU list" },
		{ "list:0 ", "SET 1 '0 ' is not a CPU list" },
		{ "list:0:1:+2", "SET 3 '+2' is not a CPU list" },
		{ "list:99999999", "is not a CPU list" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_assert_eq(lt_bind_parse(&spec, bad[i].text, "LTRUN_CPU_BIND", &err), -1,
			     "'%s' parsed", bad[i].text);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "'%s'", bad[i].text);
		cr_expect(strstr(err.msg, "invalid LTRUN_CPU_BIND '") != NULL, "%s", err.msg);
		cr_expect(strstr(err.msg, bad[i].want) != NULL, "'%s': %s", bad[i].text, err.msg);
		cr_expect_null(strchr(err.msg, '\n'), "%s", err.msg);
		cr_expect_null(spec.text, "nothing to free after a failure");
	}
}

Test(bind, cpulists)
{
	cpu_set_t s = range(0, 3);
	char small[8];

	CPU_SET(8, &s);
	CPU_SET(10, &s);
	CPU_SET(11, &s);
	cr_expect_str_eq(list_of(&s), "0-3,8,10-11");
	CPU_ZERO(&s);
	cr_expect_str_eq(list_of(&s), "");
	s = range(0, 63);
	cr_expect_str_eq(list_of(&s), "0-63");
	for (int c = 0; c < 20; c += 2)
		CPU_SET(c + 100, &s);
	cr_expect_str_eq(lt_cpulist(&s, small, sizeof(small)), "0-63...");
}

/* --------------------------------------------------------------- cores */

Test(bind, cores_one_rank_gets_the_machine)
{
	cpu_set_t all = range(0, 63);

	load(BIG);
	plan("cores", &all, 1);
	expect_rank(0, "0-63", 32, -1, 32);
	cr_expect_str_eq(b.warning, "");
}

Test(bind, cores_two_ranks_a_package_each)
{
	cpu_set_t all = range(0, 63);

	load(BIG);
	plan("cores", &all, 2);
	expect_disjoint();
	expect_rank(0, "0-31", 16, -1, 16);
	expect_rank(1, "32-63", 16, -1, 16);
}

Test(bind, cores_four_ranks_a_numa_node_each)
{
	cpu_set_t all = range(0, 63);
	char want[32];

	load(BIG);
	plan("cores", &all, 4);
	expect_disjoint();
	for (int i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "%d-%d", 16 * i, 16 * i + 15);
		expect_rank(i, want, 8, i, 8);
	}
	cr_expect_str_eq(b.what, "cores: 4 ranks on 32 cores, 8 cores each");
}

Test(bind, cores_eight_ranks_two_a_numa_node)
{
	cpu_set_t all = range(0, 63);
	char want[32];

	load(BIG);
	plan("cores", &all, 8);
	expect_disjoint();
	for (int i = 0; i < 8; i++) {
		snprintf(want, sizeof(want), "%d-%d", 8 * i, 8 * i + 7);
		expect_rank(i, want, 4, i / 2, 4);
	}
}

Test(bind, cores_thirty_two_ranks_a_core_each)
{
	cpu_set_t all = range(0, 63);
	char want[32];

	load(BIG);
	plan("cores", &all, 32);
	expect_disjoint();
	for (int i = 0; i < 32; i++) {
		snprintf(want, sizeof(want), "%d-%d", 2 * i, 2 * i + 1);
		expect_rank(i, want, 1, i / 8, 1);
	}
	cr_expect_str_eq(b.warning, "");
}

Test(bind, cores_oversubscribed_share_round_robin_and_warn)
{
	cpu_set_t all = range(0, 63);
	char want[32];

	load(BIG);
	plan("cores", &all, 40);
	for (int i = 0; i < 40; i++) {
		snprintf(want, sizeof(want), "%d-%d", 2 * (i % 32), 2 * (i % 32) + 1);
		expect_rank(i, want, 1, (i % 32) / 8, 1);
	}
	cr_expect_str_eq(b.warning, "--cpu-bind cores: 40 ranks on 32 cores, up to 2 ranks a core");
	cr_expect_str_eq(b.what, "cores: 40 ranks on 32 cores, up to 2 ranks a core");
}

Test(bind, cores_uneven_split_is_as_even_as_it_gets)
{
	cpu_set_t all = range(0, 63), seen;
	int total = 0;

	load(BIG);
	plan("cores", &all, 3);
	expect_disjoint();
	CPU_ZERO(&seen);
	for (int i = 0; i < 3; i++) {
		cr_expect(b.rank[i].cores == 10 || b.rank[i].cores == 11, "rank %d: %d cores", i,
			  b.rank[i].cores);
		total += b.rank[i].cores;
		CPU_OR(&seen, &seen, &b.rank[i].cpus);
	}
	cr_expect_eq(total, 32);
	cr_expect_eq(CPU_COUNT(&seen), 64, "every CPU used");
	cr_expect_str_eq(b.what, "cores: 3 ranks on 32 cores, 10 or 11 cores each");
}

/* 4 + 7 allowed cores in two nodes, 3 ranks: 4, 3 and 4 cores, none
 * across the nodes (a plain split, 3 + 4 + 4, would cross). */
Test(bind, cores_blocks_stay_in_a_node_when_the_counts_allow)
{
	cpu_set_t allowed = range(0, 3), tail = range(8, 14);

	CPU_OR(&allowed, &allowed, &tail);
	load("numa:2 core:8 pu:1");
	plan("cores", &allowed, 3);
	expect_disjoint();
	expect_rank(0, "0-3", 4, 0, 4);
	expect_rank(1, "8-10", 3, 1, 3);
	expect_rank(2, "11-14", 4, 1, 4);
}

Test(bind, cores_follow_a_restricted_mask)
{
	cpu_set_t allowed = range(16, 47), evens;

	load(BIG);
	plan("cores", &allowed, 2);
	expect_disjoint();
	expect_rank(0, "16-31", 8, 1, 8);
	expect_rank(1, "32-47", 8, 2, 8);

	/* one hyperthread of each core: a rank's set is the PUs it may use */
	CPU_ZERO(&evens);
	for (int c = 0; c < 64; c += 2)
		CPU_SET(c, &evens);
	plan("cores", &evens, 4);
	expect_disjoint();
	cr_expect_str_eq(list_of(&b.rank[1].cpus), "16,18,20,22,24,26,28,30");
	cr_expect_eq(b.rank[1].cores, 8);
	cr_expect_eq(b.rank[1].numa, 1);
}

Test(bind, cores_count_pus_on_a_machine_without_cores)
{
	cpu_set_t all = range(0, 7);

	load("numa:2 pu:4");
	plan("cores", &all, 2);
	expect_rank(0, "0-3", 4, 0, 4);
	expect_rank(1, "4-7", 4, 1, 4);
}

/* ---------------------------------------------------------------- numa */

Test(bind, numa_block_distribution)
{
	static const int counts[] = { 1, 2, 4, 8, 32, 40 };
	cpu_set_t all = range(0, 63);
	char want[32];

	load(BIG);
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		int n = counts[k];
		plan("numa", &all, n);
		if (n <= 4)
			expect_disjoint();
		for (int i = 0; i < n; i++) {
			int node = i * 4 / n, share = n <= 4 ? 1 : n / 4;
			snprintf(want, sizeof(want), "%d-%d", 16 * node, 16 * node + 15);
			expect_rank(i, want, 8, node, 8 / share > 1 ? 8 / share : 1);
		}
	}
	plan("numa", &all, 2);
	cr_expect_eq(b.rank[1].numa, 2, "2 ranks on 4 nodes: nodes 0 and 2");
	cr_expect_str_eq(b.warning, "");
}

Test(bind, numa_skips_nodes_outside_the_mask)
{
	cpu_set_t allowed = range(20, 40);

	load(BIG);
	plan("numa", &allowed, 2);
	expect_rank(0, "20-31", 6, 1, 6);
	expect_rank(1, "32-40", 5, 2, 5);
	cr_expect_str_eq(b.what, "numa: 2 ranks on 2 NUMA nodes, a node each");
}

Test(bind, numa_on_a_machine_without_numa_is_one_node)
{
	cpu_set_t all = range(0, 7);

	load("pack:1 core:4 pu:2");
	plan("numa", &all, 2);
	expect_rank(0, "0-7", 4, 0, 2);
	expect_rank(1, "0-7", 4, 0, 2);
}

/* ---------------------------------------------------------------- list */

Test(bind, list_as_given_round_robin)
{
	cpu_set_t all = range(0, 63);

	load(BIG);
	plan("list:0-3:16-19,32", &all, 3);
	expect_rank(0, "0-3", 2, 0, 1);
	expect_rank(1, "16-19,32", 3, -1, 3);
	expect_rank(2, "0-3", 2, 0, 1);
	cr_expect_str_eq(b.what, "list: 2 CPU lists for 3 ranks");
}

Test(bind, list_without_a_topology)
{
	cpu_set_t all = range(0, 7);

	cr_assert_eq(lt_bind_parse(&spec, "list:0-2:5", "--cpu-bind", &err), 0);
	cr_assert_eq(lt_bind_plan_topology(&b, &spec, NULL, &all, 2, "--cpu-bind", &err), 0,
		     "%s", err.msg);
	expect_rank(0, "0-2", 3, -1, 3);
	expect_rank(1, "5", 1, -1, 1);
}

Test(bind, list_names_a_missing_cpu)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "list:0:40", "CPU 40 is outside this process's CPUs (0-31, its affinity mask)" },
		{ "list:0-3,31-33", "CPU 32 is outside this process's CPUs (0-31" },
		{ "list:0:100", "CPU 100 does not exist on this machine: name CPUs this process may use (0-31)" },
		{ "list:0:4095", "CPU 4095 does not exist on this machine" },
	};
	cpu_set_t allowed = range(0, 31);

	load(BIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		lt_bind_spec_free(&spec);
		cr_assert_eq(lt_bind_parse(&spec, bad[i].text, "--cpu-bind", &err), 0, "%s", err.msg);
		cr_assert_eq(lt_bind_plan_topology(&b, &spec, topo, &allowed, 2, "--cpu-bind", &err),
			     -1, "%s planned", bad[i].text);
		cr_expect_eq(err.status, LT_EXIT_USAGE);
		cr_expect(strstr(err.msg, bad[i].want) != NULL, "%s: %s", bad[i].text, err.msg);
		cr_expect(strstr(err.msg, "invalid --cpu-bind '") != NULL, "%s", err.msg);
		cr_expect_null(strchr(err.msg, '\n'), "%s", err.msg);
		cr_expect_null(b.rank, "nothing planned");
	}
}

/* -------------------------------------------------------- none, external */

Test(bind, none_binds_nothing)
{
	cr_assert_eq(lt_bind_parse(&spec, "none", "--cpu-bind", &err), 0);
	cr_assert_eq(lt_bind_plan(&b, &spec, 4, "--cpu-bind", &err), 0, "%s", err.msg);
	cr_expect_eq(b.mode, LT_BIND_NONE);
	cr_expect_null(b.rank);
	cr_expect_null(lt_bind_rank_of(&b, 0));
	cr_expect_eq(lt_bind_apply(&b, 0), 0);
	cr_expect_str_eq(b.what, "none (--cpu-bind cores or numa to bind)");
}

Test(bind, external_ranks_are_the_launchers)
{
	cr_assert_eq(lt_bind_parse(&spec, "cores", "--cpu-bind", &err), 0);
	lt_bind_external(&b, &spec, "srun", "--cpu-bind");
	cr_expect_eq(b.mode, LT_BIND_NONE);
	cr_expect_null(lt_bind_rank_of(&b, 0));
	cr_expect_str_eq(b.what, "left to srun (it binds its tasks itself); --cpu-bind cores is not applied");
	lt_bind_spec_free(&spec);
	cr_assert_eq(lt_bind_parse(&spec, "none", "--cpu-bind", &err), 0);
	lt_bind_external(&b, &spec, "", "--cpu-bind");
	cr_expect_str_eq(b.what, "left to the launcher (it binds its tasks itself)");
}

/* ------------------------------------------------------ this machine */

Test(bind, this_machine_within_the_affinity_mask)
{
	cpu_set_t mine, seen;
	int n;

	cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
	n = CPU_COUNT(&mine);
	cr_assert_eq(lt_bind_parse(&spec, "cores", "--cpu-bind", &err), 0);
	cr_assert_eq(lt_bind_plan(&b, &spec, n, "--cpu-bind", &err), 0, "%s", err.msg);
	CPU_ZERO(&seen);
	for (int i = 0; i < n; i++) {
		cpu_set_t out;
		cr_expect_gt(CPU_COUNT(&b.rank[i].cpus), 0, "rank %d", i);
		CPU_OR(&seen, &seen, &b.rank[i].cpus);
		CPU_XOR(&out, &b.rank[i].cpus, &mine);
		CPU_AND(&out, &out, &b.rank[i].cpus);
		cr_expect_eq(CPU_COUNT(&out), 0, "rank %d outside the mask", i);
		cr_expect_geq(b.rank[i].numa, 0, "one CPU's rank is in one node");
	}
	cr_expect(CPU_EQUAL(&seen, &mine), "all of %s used: %s", list_of(&mine), list_of(&seen));
	lt_bind_free(&b);
	lt_bind_spec_free(&spec);
	cr_assert_eq(lt_bind_parse(&spec, "numa", "--cpu-bind", &err), 0);
	cr_assert_eq(lt_bind_plan(&b, &spec, 2, "--cpu-bind", &err), 0, "%s", err.msg);
	cr_expect_geq(b.rank[1].numa, 0);
}

/* ------------------------------------------------------------ the plan */

static int plan_make(struct lt_plan *p, const char *bind, const char *const *vars,
		     struct lt_config *cfg, struct lt_registry **reg)
{
	struct lt_envsrc env = { .vars = vars, .hostname = "node1" };

	*reg = lt_registry_new(&err);
	cr_assert_not_null(*reg, "%s", err.msg);
	cr_assert_eq(lt_config_init(cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(cfg, lt_option_find("devices"), "2", LT_SRC_FLAG, "--devices",
				   &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(cfg, lt_option_find("cpu-bind"), bind, LT_SRC_FLAG,
				   "--cpu-bind", &err), 0, "%s", err.msg);
	return lt_plan_make(p, cfg, *reg, &env, NULL, &err);
}

Test(bind, the_plan_binds_and_sets_the_numa_node)
{
	static const char *const none[] = { NULL };
	struct lt_registry *reg;
	struct lt_config cfg;
	struct lt_plan p;
	const char *name;
	char value[64];
	cJSON *json, *r;

	cr_assert_eq(plan_make(&p, "list:0:0", none, &cfg, &reg), 0, "%s", err.msg);
	cr_expect_eq(p.bind.mode, LT_BIND_LIST);
	cr_assert(lt_plan_rank_var(&p, 1, 7, &name, value, sizeof(value)));
	cr_expect_str_eq(name, "LTRUN_NUMA_NODE");
	cr_expect_not(lt_plan_rank_var(&p, 1, 8, &name, value, sizeof(value)));
	cr_expect_eq(lt_plan_rank_threads(&p, 1), 1, "two ranks on one CPU");
	json = lt_plan_json(&p, &cfg, reg);
	r = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "binding"), "ranks"), 1);
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "cpus")), "0");
	cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "binding"),
								  "mode")), "list");
	cJSON_Delete(json);
	lt_plan_free(&p);
	lt_config_free(&cfg);
	lt_registry_free(reg);
}

Test(bind, the_plan_leaves_srun_tasks_alone)
{
	static const char *const srun[] = {
		"SLURM_JOB_ID=42", "SLURM_STEP_ID=0", "SLURM_NTASKS=2", "SLURM_NTASKS_PER_NODE=2",
		"SLURM_PROCID=1", "SLURM_LOCALID=1", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1",
		"SLURM_STEP_NUM_NODES=1", "SLURM_JOB_NODELIST=node1", "SLURM_STEP_NODELIST=node1",
		NULL
	};
	struct lt_registry *reg;
	struct lt_config cfg;
	struct lt_plan p;
	const char *name;
	char value[64];

	cr_assert_eq(plan_make(&p, "cores", srun, &cfg, &reg), 0, "%s", err.msg);
	cr_expect(p.topo.external);
	cr_expect_eq(p.bind.mode, LT_BIND_NONE);
	cr_expect(strstr(p.bind.what, "left to srun") != NULL, "%s", p.bind.what);
	cr_expect_not(lt_plan_rank_var(&p, 1, 7, &name, value, sizeof(value)));
	lt_plan_free(&p);
	lt_config_free(&cfg);
	lt_registry_free(reg);
}

Test(bind, the_plan_refuses_a_missing_cpu)
{
	static const char *const none[] = { NULL };
	struct lt_registry *reg;
	struct lt_config cfg;
	struct lt_plan p;

	cr_assert_eq(plan_make(&p, "list:0:4095", none, &cfg, &reg), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(strstr(err.msg, "CPU 4095") != NULL, "%s", err.msg);
	lt_config_free(&cfg);
	lt_registry_free(reg);
}
