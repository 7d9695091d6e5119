/*
 * plan.h - what a run will do, resolved from the settings, the registry and
 * the cluster's environment: the environment chosen and why, the topology,
 * the launcher, every plugin with its preset arguments, and the
 * environment each local rank will see.  `--dry-run` prints it; the agent
 * (launch) executes it.
 */
#ifndef LT_LAUNCH_PLAN_H
#define LT_LAUNCH_PLAN_H

#include <stdio.h>

#include "core/config.h"
#include "launch/bind.h"
#include "core/registry.h"
#include "ltrun/cluster.h"

struct cJSON;

/* The thread-count variables of the libraries a model may use (OpenMP,
 * OpenBLAS, MKL): unset, each defaults to the cores per rank in the ranks
 * ltrun starts, so that the ranks' threads do not fight over the cores. */
#define LT_THREAD_VARS 3
extern const char *const lt_thread_vars[LT_THREAD_VARS];

struct lt_plan {
	const struct lt_plugin *cluster; /* choice[LT_KIND_CLUSTER].base */
	char cluster_why[256];
	struct lt_topology topo;
	/* The plugin of each kind the run uses, as the user named it (a
	 * preset stays a preset), its base, and its resolved parameters;
	 * indexed by kind (rdzv: none yet).  lt_plan_free() frees them. */
	struct lt_choice choice[LT_KIND_COUNT];
	const char *launcher;    /* "external", "exec" or "fork" */
	int cores;               /* CPUs in this process's affinity mask */
	int threads;             /* cores per local rank, at least 1 */
	/* the user's value of each lt_thread_vars[i]; "": unset (or empty),
	 * and the ranks ltrun starts get `threads` */
	char thread_user[LT_THREAD_VARS][64];
	/* --cpu-bind: each local rank's CPUs, cores, threads and NUMA node
	 * (mode none: nothing to apply, as for ranks a launcher started) */
	struct lt_binding bind;
	const char *model;       /* path, or NULL for a dry run without one */
	char *const *model_argv; /* model_argc arguments after the model */
	int model_argc;
};

/* Resolves everything.  env is the cluster's environment (NULL: this
 * process's); log, when non-NULL, receives --verbose probe lines.
 * Returns 0, or -1 with err set (its status says usage or failure) and
 * nothing to free.  Free a plan made with lt_plan_free(). */
int lt_plan_make(struct lt_plan *plan, const struct lt_config *cfg,
		 const struct lt_registry *reg, const struct lt_envsrc *env,
		 FILE *log, struct lt_err *err);
/* Frees what lt_plan_make() resolved (not plan itself). */
void lt_plan_free(struct lt_plan *plan);

/* Threads per rank: cores / local_ranks, at least 1. */
int lt_threads_per_rank(int cores, int local_ranks);

/* The value of the lt_thread_vars the ranks ltrun starts get, unless the
 * user set them: its binding's threads when bound, else plan->threads. */
int lt_plan_rank_threads(const struct lt_plan *plan, int local);

/* Checks that path is a readable ELF shared object.  Returns 0, or -1
 * with err naming the file and the fix. */
int lt_model_check(const char *path, struct lt_err *err);

/* Writes the environment variable `i` (0-based, in a fixed order) of local
 * rank `local` into name/value; returns false past the last variable. */
bool lt_plan_rank_var(const struct lt_plan *plan, int local, int i,
		      const char **name, char *value, size_t len);

void lt_plan_print(const struct lt_plan *plan, const struct lt_config *cfg,
		   const struct lt_registry *reg, FILE *out);
/* NULL on allocation failure; caller frees with cJSON_Delete(). */
struct cJSON *lt_plan_json(const struct lt_plan *plan, const struct lt_config *cfg,
			   const struct lt_registry *reg);

#endif
