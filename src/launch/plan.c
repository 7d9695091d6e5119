/*
 * plan.c - resolving a run before anything starts, and printing it for
 * `--dry-run` (text for people, JSON for scripts).
 *
 * Order: accelerator (it says what --devices auto means), cluster
 * environment and topology, then strategy (auto needs the world size),
 * precision, checkpoint IO, communicator, and last the launcher, which
 * follows from the topology (external ranks) or the strategy; then the
 * threads and the CPU binding (bind.h) of the ranks ltrun starts.
 */
#include "launch/plan.h"
#include "accel/accel.h"
#include "ltrun/strategy.h"
#include "core/error.h"
#include "core/params.h"
#include "comm/comm.h"
#include "core/registry.h"
#include "env/env.h"

#include <cjson/cJSON.h>
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Resolves option id's value (name[:key=value,...]) into plan->choice[kind];
 * an error names the option's source when it is not a flag. */
static int choose(struct lt_plan *plan, const struct lt_config *cfg,
		  const struct lt_registry *reg, enum lt_opt_id id, const char *spec,
		  struct lt_err *err)
{
	const struct lt_option *o = &lt_options[id];

	if (!lt_registry_resolve(reg, (enum lt_kind)o->kind, spec, &plan->choice[o->kind], err))
		return 0;
	if (cfg->source[id] != LT_SRC_FLAG) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)", cfg->source_name[id]);
	}
	return -1;
}

/* How ltrun starts the ranks it creates: the strategy's `launcher`
 * parameter when its base declares one (ddp, and its presets ddp_fork and
 * ddp_spawn), else its ops' launcher. */
static const char *choose_launcher(const struct lt_plan *plan)
{
	const struct lt_choice *c = &plan->choice[LT_KIND_STRATEGY];
	const struct lt_strategy_ops *ops = c->base->ops;
	const char *l = NULL;

	if (plan->topo.external)
		return "external";
	for (size_t i = 0; i < lt_params_count(c->params); i++)
		if (!strcmp(lt_params_spec(c->params, i)->name, "launcher"))
			l = lt_params_text(c->params, i);
	if (!l)
		l = ops->launcher;
	return l && !strcmp(l, "fork") ? "fork" : "exec";
}

/* A communicator that moves host memory cannot carry a device
 * accelerator's tensors, nor one that moves GPU memory a host's: refused
 * before any rank starts (auto fits both). */
static int check_comm_fits(const struct lt_plan *plan, struct lt_err *err)
{
	const struct lt_choice *a = &plan->choice[LT_KIND_ACCELERATOR];
	const struct lt_choice *c = &plan->choice[LT_KIND_COMM];
	const struct lt_accelerator_ops *accel = a->base->ops;
	const struct lt_comm_ops *comm = c->base->ops;

	if (!strcmp(c->base->name, "auto") || accel->host_access != comm->device_buffers)
		return 0;
	if (comm->device_buffers)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--comm %s moves GPU memory, but --accelerator %s keeps the tensors in host memory: use --accelerator cuda, or --comm auto",
				  c->named->name, a->named->name);
	return lt_err_set(err, LT_EXIT_USAGE,
			  "--comm %s moves host memory, but --accelerator %s keeps the tensors in device memory: use --comm auto (nccl)",
			  c->named->name, a->named->name);
}

static int resolve_strategy(struct lt_plan *plan, const struct lt_config *cfg,
			    const struct lt_registry *reg, struct lt_err *err)
{
	const char *name = lt_registry_auto(reg, LT_KIND_STRATEGY, cfg->strategy,
					    plan->topo.world_size);
	const struct lt_strategy_ops *ops;
	const struct lt_plugin *p;

	if (choose(plan, cfg, reg, LT_OPT_STRATEGY, name, err))
		return -1;
	p = plan->choice[LT_KIND_STRATEGY].named;
	ops = plan->choice[LT_KIND_STRATEGY].base->ops;
	if (!ops->multi_rank && plan->topo.world_size > 1)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "strategy '%s' runs one rank but this job has %d: use --strategy ddp, or --devices 1 on one node",
				  p->name, plan->topo.world_size);
	return 0;
}

/* ------------------------------------------------------------ threads */

const char *const lt_thread_vars[LT_THREAD_VARS] = {
	"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
};

int lt_threads_per_rank(int cores, int local_ranks)
{
	int n = local_ranks > 0 ? cores / local_ranks : cores;

	return n > 1 ? n : 1;
}

/* The CPUs this process may run on: what Slurm's or a container's cgroup
 * and taskset left it (the online CPUs when the mask cannot be read). */
static int affinity_cores(void)
{
	cpu_set_t set;
	long online;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (int)online : 1;
}

int lt_plan_rank_threads(const struct lt_plan *plan, int local)
{
	const struct lt_bind_rank *r = lt_bind_rank_of(&plan->bind, local);

	return r ? r->threads : plan->threads;
}

/* The binding's threads when every local rank has the same, else 0. */
static int uniform_threads(const struct lt_plan *plan)
{
	int first, n = plan->topo.local_world_size;

	first = lt_plan_rank_threads(plan, 0);
	for (int i = 1; i < n; i++)
		if (lt_plan_rank_threads(plan, i) != first)
			return 0;
	return first;
}

static void resolve_threads(struct lt_plan *plan, const struct lt_envsrc *env)
{
	plan->cores = affinity_cores();
	plan->threads = lt_threads_per_rank(plan->cores, plan->topo.local_world_size);
	for (int i = 0; i < LT_THREAD_VARS; i++) {
		const char *v = lt_env_get(env, lt_thread_vars[i]);
		snprintf(plan->thread_user[i], sizeof(plan->thread_user[i]), "%s", v ? v : "");
	}
}

/* --cpu-bind: checked always, planned (hwloc) only for ranks ltrun starts. */
static int resolve_binding(struct lt_plan *plan, const struct lt_config *cfg,
			   struct lt_err *err)
{
	const char *source = cfg->source_name[LT_OPT_CPU_BIND];
	struct lt_bind_spec spec;
	int rc = 0;

	if (lt_bind_parse(&spec, cfg->cpu_bind ? cfg->cpu_bind : "none", source, err))
		return -1;
	if (plan->topo.external)
		lt_bind_external(&plan->bind, &spec, plan->topo.launcher, source);
	else
		rc = lt_bind_plan(&plan->bind, &spec, plan->topo.local_world_size, source, err);
	lt_bind_spec_free(&spec);
	return rc;
}

void lt_plan_free(struct lt_plan *plan)
{
	lt_bind_free(&plan->bind);
	for (int k = 0; k < LT_KIND_COUNT; k++)
		lt_choice_free(&plan->choice[k]);
}

/* The cluster environment: detected, or forced by --cluster (whose inline
 * parameters, if any, are checked by choose()). */
static int resolve_cluster(struct lt_plan *plan, const struct lt_config *cfg,
			   const struct lt_registry *reg, const struct lt_envsrc *env, FILE *log,
			   struct lt_err *err)
{
	struct lt_choice *c = &plan->choice[LT_KIND_CLUSTER];

	if (lt_cluster_select(reg, env, cfg->cluster, log, c, plan->cluster_why,
			      sizeof(plan->cluster_why), err)) {
		if (cfg->source[LT_OPT_CLUSTER] == LT_SRC_ENV ||
		    cfg->source[LT_OPT_CLUSTER] == LT_SRC_CONFIG) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)",
				 cfg->source_name[LT_OPT_CLUSTER]);
		}
		return -1;
	}
	if (cfg->cluster && strcmp(cfg->cluster, "auto"))
		snprintf(plan->cluster_why, sizeof(plan->cluster_why), "forced by %s",
			 cfg->source_name[LT_OPT_CLUSTER]);
	plan->cluster = c->base;
	return 0;
}

int lt_plan_make(struct lt_plan *plan, const struct lt_config *cfg,
		 const struct lt_registry *reg, const struct lt_envsrc *env,
		 FILE *log, struct lt_err *err)
{
	const struct lt_accelerator_ops *accel;
	const struct lt_cluster_ops *cluster;
	struct lt_request req;
	const char *accel_name = lt_registry_auto(reg, LT_KIND_ACCELERATOR, cfg->accelerator, 1);

	memset(plan, 0, sizeof(*plan));
	if (choose(plan, cfg, reg, LT_OPT_ACCELERATOR, accel_name, err))
		goto fail;
	accel = plan->choice[LT_KIND_ACCELERATOR].base->ops;

	req = (struct lt_request){
		.devices = cfg->devices,
		.num_nodes = cfg->num_nodes,
		.node_rank = cfg->node_rank,
		.main_addr = cfg->main_addr,
		.main_port = cfg->main_port,
		.auto_devices = accel->auto_devices ? accel->auto_devices() : 1,
	};
	if (resolve_cluster(plan, cfg, reg, env, log, err))
		goto fail;
	cluster = plan->cluster->ops;
	lt_topology_init(&plan->topo);
	if (cluster->resolve(env, plan->choice[LT_KIND_CLUSTER].params, &req, &plan->topo, err)) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, " (cluster '%s')", plan->cluster->name);
		goto fail;
	}
	if (!plan->topo.min_nodes && cfg->min_nodes != LT_AUTO && cfg->min_nodes < cfg->num_nodes)
		plan->topo.min_nodes = cfg->min_nodes;
	if (resolve_strategy(plan, cfg, reg, err) ||
	    choose(plan, cfg, reg, LT_OPT_PRECISION, cfg->precision, err) ||
	    choose(plan, cfg, reg, LT_OPT_CKPT_IO, cfg->ckpt_io, err) ||
	    choose(plan, cfg, reg, LT_OPT_COMM, cfg->comm, err) || check_comm_fits(plan, err))
		goto fail;
	plan->launcher = choose_launcher(plan);
	resolve_threads(plan, env);
	if (resolve_binding(plan, cfg, err))
		goto fail;
	return 0;
fail:
	lt_plan_free(plan);
	return -1;
}

int lt_model_check(const char *path, struct lt_err *err)
{
	unsigned char ident[EI_NIDENT + 2];
	char q[LT_QUOTE_MAX];
	uint16_t type;
	size_t got;
	FILE *f;

	lt_quote(q, sizeof(q), path);
	f = fopen(path, "rb");
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot open model '%s': %s", q,
				  strerror(errno));
	got = fread(ident, 1, sizeof(ident), f);
	fclose(f);
	if (got < sizeof(ident) || memcmp(ident, ELFMAG, SELFMAG))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "model '%s' is not an ELF shared object: build it with cc -shared -fPIC",
				  q);
	memcpy(&type, ident + EI_NIDENT, sizeof(type));
	if (type != ET_DYN)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "model '%s' is an ELF file but not a shared object: build it with cc -shared -fPIC",
				  q);
	return 0;
}

/* ----------------------------------------------------------- rank env */

static const char *const rank_vars[] = {
	"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
	"NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
};

bool lt_plan_rank_var(const struct lt_plan *plan, int local, int i,
		      const char **name, char *value, size_t len)
{
	const struct lt_topology *t = &plan->topo;
	const int nums[] = { t->first_rank + local, local, t->world_size,
			     t->local_world_size, t->node_rank };

	const struct lt_bind_rank *r = lt_bind_rank_of(&plan->bind, local);
	const int nvars = (int)(sizeof(rank_vars) / sizeof(rank_vars[0]));

	if (i == nvars && r && r->numa >= 0) { /* bound within one node */
		*name = LT_ENV_NUMA_NODE;
		snprintf(value, len, "%d", r->numa);
		return true;
	}
	if (i < 0 || i >= nvars)
		return false;
	*name = rank_vars[i];
	if (i < 5)
		snprintf(value, len, "%d", nums[i]);
	else if (i == 5)
		snprintf(value, len, "%s", t->main_addr);
	else
		snprintf(value, len, "%d", t->main_port);
	return true;
}

/* The local ranks whose environment the plan shows: all of them when ltrun
 * creates the ranks, only this process when a launcher did. */
static void local_range(const struct lt_plan *plan, int *first, int *end)
{
	if (plan->topo.external) {
		*first = plan->topo.local_rank;
		*end = *first + 1;
	} else {
		*first = 0;
		*end = plan->topo.local_world_size;
	}
}

/* -------------------------------------------------------------- text */

#define TEXT_RANK_LINES 16

/* "KEY=VALUE, ..." of the parameters a choice sets (defaults included). */
static void params_text(const struct lt_params *p, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < lt_params_count(p) && n < len; i++) {
		const char *v = lt_params_text(p, i);
		if (v)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? ", " : "",
					      lt_params_spec(p, i)->name, v);
	}
}

static void print_plugin(FILE *out, const struct lt_plan *plan, const struct lt_config *cfg,
			 enum lt_kind kind, enum lt_opt_id id)
{
	const struct lt_choice *c = &plan->choice[kind];
	char params[512];

	fprintf(out, "%-12s %s", lt_kind_name(kind), c->named->name);
	if (c->named != c->base)
		fprintf(out, " (preset of %s)", c->base->name);
	if (cfg->source[id] != LT_SRC_DEFAULT)
		fprintf(out, "  [from %s]", cfg->source_name[id]);
	fprintf(out, "\n%-12s   %s\n", "", c->named->description);
	params_text(c->params, params, sizeof(params));
	if (params[0])
		fprintf(out, "%-12s   parameters: %s\n", "", params);
}

static void print_topology(FILE *out, const struct lt_plan *plan)
{
	const struct lt_topology *t = &plan->topo;

	fprintf(out, "%-12s %d node%s, %d rank%s on this node, world size %d\n", "topology",
		t->num_nodes, t->num_nodes == 1 ? "" : "s", t->local_world_size,
		t->local_world_size == 1 ? "" : "s", t->world_size);
	if (t->min_nodes > 0 && t->min_nodes < t->num_nodes)
		fprintf(out, "%-12s elastic: %d to %d nodes, node ranks given by the rendezvous\n", "",
			t->min_nodes, t->num_nodes);
	fprintf(out, "%-12s this node is node %d; its global ranks are %d", "",
		t->node_rank, t->first_rank);
	if (t->local_world_size > 1)
		fprintf(out, "-%d", t->first_rank + t->local_world_size - 1);
	fputc('\n', out);
	fprintf(out, "%-12s %s:%d (address: %s; port: %s)\n", "main", t->main_addr,
		t->main_port, t->addr_from, t->port_from);
	if (t->job_id[0])
		fprintf(out, "%-12s %s\n", "job id", t->job_id);
	if (t->external)
		fprintf(out, "%-12s external: %s started the ranks; this process is rank %d (local rank %d)\n",
			"launcher", t->launcher[0] ? t->launcher : "another launcher",
			t->rank, t->local_rank);
	else
		fprintf(out, "%-12s %s: ltrun starts %d rank%s on this node (%s)\n", "launcher",
			plan->launcher, t->local_world_size, t->local_world_size == 1 ? "" : "s",
			!strcmp(plan->launcher, "fork") ? "fork without exec" : "fork + exec");
}

/* Who sets a thread variable in the ranks: the user, or ltrun (the cores
 * per rank), or, for ranks a launcher started, the launcher. */
static void print_threads(FILE *out, const struct lt_plan *plan)
{
	const struct lt_topology *t = &plan->topo;
	const char *by = t->launcher[0] ? t->launcher : "the launcher";

	for (int i = 0; i < LT_THREAD_VARS; i++) {
		const char *name = lt_thread_vars[i], *user = plan->thread_user[i];
		fprintf(out, "%-12s ", i ? "" : "threads");
		if (user[0])
			fprintf(out, "%s=%s (set by the user%s%s)\n", name, user,
				t->external ? " or " : "", t->external ? by : "");
		else if (t->external)
			fprintf(out, "%s unset: ltrun leaves the environment of the ranks %s started as it is\n",
				name, by);
		else if (plan->bind.mode != LT_BIND_NONE && uniform_threads(plan))
			fprintf(out, "%s=%d per rank (the cores of its --cpu-bind CPUs)\n", name,
				uniform_threads(plan));
		else if (plan->bind.mode != LT_BIND_NONE)
			fprintf(out, "%s per rank: the cores of its --cpu-bind CPUs (cpu binding, below)\n",
				name);
		else
			fprintf(out, "%s=%d per rank (%d core%s / %d local rank%s)\n", name,
				plan->threads, plan->cores, plan->cores == 1 ? "" : "s",
				t->local_world_size, t->local_world_size == 1 ? "" : "s");
	}
}

/* The CPUs, cores, NUMA node and threads of each local rank. */
static void print_binding(FILE *out, const struct lt_plan *plan, const struct lt_config *cfg)
{
	const struct lt_binding *b = &plan->bind;
	int first, end;

	fprintf(out, "%-12s %s", "cpu binding", b->what);
	if (cfg->source[LT_OPT_CPU_BIND] != LT_SRC_DEFAULT)
		fprintf(out, "  [from %s]", cfg->source_name[LT_OPT_CPU_BIND]);
	fputc('\n', out);
	local_range(plan, &first, &end);
	for (int local = first; local < end && local < first + TEXT_RANK_LINES; local++) {
		const struct lt_bind_rank *r = lt_bind_rank_of(b, local);
		char cpus[256];

		if (!r)
			break;
		fprintf(out, "%-12s   local %d: CPUs %s (%d core%s, ", "", local,
			lt_cpulist(&r->cpus, cpus, sizeof(cpus)), r->cores, r->cores == 1 ? "" : "s");
		if (r->numa >= 0)
			fprintf(out, "NUMA node %d", r->numa);
		else
			fprintf(out, "several NUMA nodes");
		fprintf(out, "), %d thread%s\n", lt_plan_rank_threads(plan, local),
			lt_plan_rank_threads(plan, local) == 1 ? "" : "s");
		if (local == first + TEXT_RANK_LINES - 1 && end - first > TEXT_RANK_LINES)
			fprintf(out, "%-12s   ... and %d more (--json lists all)\n", "",
				end - first - TEXT_RANK_LINES);
	}
	if (b->warning[0])
		fprintf(out, "%-12s   warning: %s\n", "", b->warning);
}

void lt_plan_print(const struct lt_plan *plan, const struct lt_config *cfg,
		   const struct lt_registry *reg, FILE *out)
{
	int local, first, end, i;

	(void)reg; /* plan->choice holds what is shown */
	fprintf(out, "ltrun %s plan (dry run: nothing was started)\n\n", LT_VERSION);
	fprintf(out, "%-12s %s: %s\n", "cluster", plan->cluster->name, plan->cluster_why);
	print_topology(out, plan);
	print_threads(out, plan);
	print_binding(out, plan, cfg);
	fputc('\n', out);
	print_plugin(out, plan, cfg, LT_KIND_STRATEGY, LT_OPT_STRATEGY);
	print_plugin(out, plan, cfg, LT_KIND_PRECISION, LT_OPT_PRECISION);
	print_plugin(out, plan, cfg, LT_KIND_CKPT_IO, LT_OPT_CKPT_IO);
	print_plugin(out, plan, cfg, LT_KIND_COMM, LT_OPT_COMM);
	print_plugin(out, plan, cfg, LT_KIND_ACCELERATOR, LT_OPT_ACCELERATOR);

	fprintf(out, "\nrank environment%s:\n", plan->topo.external ? " (as the launcher set it)" : "");
	local_range(plan, &first, &end);
	for (local = first; local < end && local < first + TEXT_RANK_LINES; local++) {
		const char *name;
		char value[256];

		fprintf(out, "  local %d:", local);
		for (i = 0; lt_plan_rank_var(plan, local, i, &name, value, sizeof(value)); i++)
			fprintf(out, " %s=%s", name, value);
		fputc('\n', out);
	}
	if (end - first > TEXT_RANK_LINES)
		fprintf(out, "  ... and %d more (--json lists all)\n", end - first - TEXT_RANK_LINES);

	fprintf(out, "\n%-12s %s", "model", plan->model ? plan->model : "(none given)");
	for (i = 0; i < plan->model_argc; i++)
		fprintf(out, "%s %s", i ? "" : " --", plan->model_argv[i]);
	fputc('\n', out);
}

/* -------------------------------------------------------------- JSON */

static cJSON *topology_json(const struct lt_plan *plan)
{
	const struct lt_topology *t = &plan->topo;
	cJSON *o = cJSON_CreateObject(), *ranks;
	int i;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "world_size", t->world_size);
	cJSON_AddNumberToObject(o, "num_nodes", t->num_nodes);
	if (t->min_nodes > 0 && t->min_nodes < t->num_nodes)
		cJSON_AddNumberToObject(o, "min_nodes", t->min_nodes);
	cJSON_AddNumberToObject(o, "node_rank", t->node_rank);
	cJSON_AddNumberToObject(o, "local_world_size", t->local_world_size);
	cJSON_AddNumberToObject(o, "first_rank", t->first_rank);
	ranks = cJSON_AddArrayToObject(o, "global_ranks");
	for (i = 0; ranks && i < t->local_world_size; i++)
		cJSON_AddItemToArray(ranks, cJSON_CreateNumber(t->first_rank + i));
	cJSON_AddBoolToObject(o, "external", t->external);
	if (t->external) {
		cJSON_AddStringToObject(o, "launched_by", t->launcher);
		cJSON_AddNumberToObject(o, "rank", t->rank);
		cJSON_AddNumberToObject(o, "local_rank", t->local_rank);
	}
	cJSON_AddStringToObject(o, "main_addr", t->main_addr);
	cJSON_AddStringToObject(o, "main_addr_from", t->addr_from);
	cJSON_AddNumberToObject(o, "main_port", t->main_port);
	cJSON_AddStringToObject(o, "main_port_from", t->port_from);
	cJSON_AddStringToObject(o, "job_id", t->job_id);
	return o;
}

/* {"name", "base", "preset", "params": {KEY: VALUE}}: values as text, and
 * null for a parameter without a value. */
static cJSON *plugin_choice_json(const struct lt_choice *c)
{
	cJSON *o = cJSON_CreateObject(), *params;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", c->named->name);
	cJSON_AddStringToObject(o, "base", c->base->name);
	cJSON_AddStringToObject(o, "preset", c->named->preset ? c->named->preset : "");
	params = cJSON_AddObjectToObject(o, "params");
	for (size_t i = 0; params && i < lt_params_count(c->params); i++) {
		const char *v = lt_params_text(c->params, i);
		const char *name = lt_params_spec(c->params, i)->name;
		if (v)
			cJSON_AddStringToObject(params, name, v);
		else
			cJSON_AddNullToObject(params, name);
	}
	return o;
}

static cJSON *ranks_json(const struct lt_plan *plan)
{
	cJSON *arr = cJSON_CreateArray();
	int local, first, end, i;

	local_range(plan, &first, &end);
	for (local = first; arr && local < end; local++) {
		cJSON *env = cJSON_CreateObject();
		const char *name;
		char value[256];

		if (!env)
			break;
		for (i = 0; lt_plan_rank_var(plan, local, i, &name, value, sizeof(value)); i++)
			cJSON_AddStringToObject(env, name, value);
		cJSON_AddItemToArray(arr, env);
	}
	return arr;
}

/* {"cores", "local_ranks", "per_rank", "vars": {NAME: {"value", "set_by"}}}:
 * set_by "user", "ltrun" or, for ranks a launcher started, "launcher"
 * (value null: unset). */
static cJSON *threads_json(const struct lt_plan *plan)
{
	cJSON *o = cJSON_CreateObject(), *vars;
	int per_rank = uniform_threads(plan);

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "cores", plan->cores);
	cJSON_AddNumberToObject(o, "local_ranks", plan->topo.local_world_size);
	if (per_rank) /* else each rank's binding says */
		cJSON_AddNumberToObject(o, "per_rank", per_rank);
	else
		cJSON_AddNullToObject(o, "per_rank");
	vars = cJSON_AddObjectToObject(o, "vars");
	for (int i = 0; vars && i < LT_THREAD_VARS; i++) {
		cJSON *v = cJSON_AddObjectToObject(vars, lt_thread_vars[i]);
		const char *user = plan->thread_user[i];
		char n[16];

		if (!v)
			break;
		snprintf(n, sizeof(n), "%d", per_rank);
		if (user[0] || (!plan->topo.external && per_rank))
			cJSON_AddStringToObject(v, "value", user[0] ? user : n);
		else
			cJSON_AddNullToObject(v, "value");
		cJSON_AddStringToObject(v, "set_by", user[0] ? "user"
					: plan->topo.external ? "launcher" : "ltrun");
	}
	return o;
}

/* {"mode", "what", "warning", "left_to", "ranks": [{"local_rank", "cpus",
 * "cores", "numa_node", "threads"}]}: mode "none" and no ranks when
 * nothing is bound; numa_node null when the CPUs span several nodes;
 * left_to, the launcher that binds the ranks it started (else null). */
static cJSON *binding_json(const struct lt_plan *plan)
{
	const struct lt_binding *b = &plan->bind;
	const struct lt_topology *t = &plan->topo;
	cJSON *o = cJSON_CreateObject(), *ranks;
	int first, end;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "mode", lt_bind_mode_name(b->mode));
	cJSON_AddStringToObject(o, "what", b->what);
	if (b->warning[0])
		cJSON_AddStringToObject(o, "warning", b->warning);
	else
		cJSON_AddNullToObject(o, "warning");
	if (t->external)
		cJSON_AddStringToObject(o, "left_to", t->launcher[0] ? t->launcher : "launcher");
	else
		cJSON_AddNullToObject(o, "left_to");
	ranks = cJSON_AddArrayToObject(o, "ranks");
	local_range(plan, &first, &end);
	for (int local = first; ranks && local < end; local++) {
		const struct lt_bind_rank *r = lt_bind_rank_of(b, local);
		cJSON *e;
		char cpus[1024];

		if (!r || !(e = cJSON_CreateObject()))
			break;
		cJSON_AddNumberToObject(e, "local_rank", local);
		cJSON_AddStringToObject(e, "cpus", lt_cpulist(&r->cpus, cpus, sizeof(cpus)));
		cJSON_AddNumberToObject(e, "cores", r->cores);
		if (r->numa >= 0)
			cJSON_AddNumberToObject(e, "numa_node", r->numa);
		else
			cJSON_AddNullToObject(e, "numa_node");
		cJSON_AddNumberToObject(e, "threads", lt_plan_rank_threads(plan, local));
		cJSON_AddItemToArray(ranks, e);
	}
	return o;
}

static cJSON *settings_json(const struct lt_config *cfg)
{
	cJSON *o = cJSON_CreateObject();
	char value[4096];
	int i;

	for (i = 0; o && i < LT_OPT_COUNT; i++) {
		cJSON *s = cJSON_CreateObject();
		if (!s)
			break;
		cJSON_AddStringToObject(s, "value",
					lt_config_value(cfg, &lt_options[i], value, sizeof(value)));
		cJSON_AddStringToObject(s, "source", lt_source_name(cfg->source[i]));
		cJSON_AddStringToObject(s, "from", cfg->source_name[i]);
		cJSON_AddItemToObject(o, lt_options[i].name, s);
	}
	return o;
}

cJSON *lt_plan_json(const struct lt_plan *plan, const struct lt_config *cfg,
		    const struct lt_registry *reg)
{
	cJSON *root = cJSON_CreateObject(), *cluster, *plugins, *model, *args;
	int k, i;

	(void)reg; /* plan->choice holds what is shown */
	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "ltrun", LT_VERSION);
	cluster = cJSON_AddObjectToObject(root, "cluster");
	if (cluster) {
		cJSON_AddStringToObject(cluster, "name", plan->cluster->name);
		cJSON_AddStringToObject(cluster, "why", plan->cluster_why);
	}
	cJSON_AddItemToObject(root, "topology", topology_json(plan));
	cJSON_AddStringToObject(root, "launcher", plan->launcher);
	plugins = cJSON_AddObjectToObject(root, "plugins");
	for (k = 0; plugins && k < LT_KIND_COUNT; k++)
		if (plan->choice[k].named)
			cJSON_AddItemToObject(plugins, lt_kind_name((enum lt_kind)k),
					      plugin_choice_json(&plan->choice[k]));
	cJSON_AddItemToObject(root, "ranks", ranks_json(plan));
	cJSON_AddItemToObject(root, "threads", threads_json(plan));
	cJSON_AddItemToObject(root, "binding", binding_json(plan));
	model = cJSON_AddObjectToObject(root, "model");
	if (model) {
		if (plan->model)
			cJSON_AddStringToObject(model, "path", plan->model);
		else
			cJSON_AddNullToObject(model, "path");
		args = cJSON_AddArrayToObject(model, "args");
		for (i = 0; args && i < plan->model_argc; i++)
			cJSON_AddItemToArray(args, cJSON_CreateString(plan->model_argv[i]));
	}
	cJSON_AddItemToObject(root, "settings", settings_json(cfg));
	return root;
}
