/*
 * detect.c - choosing the cluster environment: forced by --cluster (which
 * must still recognise the process), or the first registered environment,
 * by descending priority, that recognises the process's environment, each
 * asked with its parameters.  `--verbose` shows every probe and its reason
 * (Open MPI's component selection habit).
 */
#include "env/env.h"
#include "core/error.h"
#include "core/registry.h"

#include <stdlib.h>
#include <string.h>

static int cmp_priority(const void *a, const void *b)
{
	const struct lt_plugin *pa = *(const struct lt_plugin *const *)a;
	const struct lt_plugin *pb = *(const struct lt_plugin *const *)b;
	int ra = ((const struct lt_cluster_ops *)pa->ops)->priority;
	int rb = ((const struct lt_cluster_ops *)pb->ops)->priority;

	return (ra < rb) - (ra > rb);
}

/* --cluster NAME[:key=value,...]: that environment (a preset's base), with
 * its parameters, ahead of any with a higher priority, but only when its
 * detect() recognises the process: a forced environment whose variables are
 * missing fails here, naming what is missing, rather than planning a job
 * from defaults (a free local port, one node...). */
static int select_forced(const struct lt_registry *reg, const struct lt_envsrc *env,
			 const char *forced, FILE *log, struct lt_choice *out,
			 char *why, size_t whylen, struct lt_err *err)
{
	const struct lt_plugin *p;
	char reason[256] = "";

	if (lt_registry_resolve(reg, LT_KIND_CLUSTER, forced, out, err))
		return -1;
	p = out->base;
	if (!((const struct lt_cluster_ops *)p->ops)->detect(env, out->params, reason,
							      sizeof(reason))) {
		if (log)
			fprintf(log, "ltrun: cluster '%s' forced by --cluster, but not recognised: %s\n",
				p->name, reason[0] ? reason : "no reason given");
		lt_choice_free(out);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--cluster %s: %s; %s is recommended when %s: start ltrun that way, or drop --cluster",
				  p->name, reason[0] ? reason : "its variables are not set",
				  p->name, p->recommended_when ? p->recommended_when : "its launcher runs ltrun");
	}
	snprintf(why, whylen, "forced by --cluster %s", forced);
	if (log)
		fprintf(log, "ltrun: cluster '%s' forced by --cluster (%s)\n", p->name, reason);
	return 0;
}

/* Asks the plugin `p` (a base) whether it recognises the process, with its
 * default parameters.  Returns 1 with *out holding p, 0 (out empty), or -1
 * with err set (a default the schema refuses). */
static int probe(const struct lt_registry *reg, const struct lt_envsrc *env,
		 const struct lt_plugin *p, FILE *log, struct lt_choice *out,
		 char *why, size_t whylen, struct lt_err *err)
{
	const struct lt_cluster_ops *ops = p->ops;
	char reason[256] = "";
	bool yes;

	if (lt_registry_resolve(reg, LT_KIND_CLUSTER, p->name, out, err))
		return -1;
	yes = ops->detect(env, out->params, reason, sizeof(reason));
	if (log)
		fprintf(log, "ltrun: cluster '%s' (priority %d) %s: %s\n", p->name, ops->priority,
			yes ? "detected" : "skipped", reason[0] ? reason : "no reason given");
	if (!yes) {
		lt_choice_free(out);
		return 0;
	}
	snprintf(why, whylen, "%s", reason);
	return 1;
}

int lt_cluster_select(const struct lt_registry *reg, const struct lt_envsrc *env,
		      const char *forced, FILE *log, struct lt_choice *out,
		      char *why, size_t whylen, struct lt_err *err)
{
	size_t i, n = lt_registry_count(reg, LT_KIND_CLUSTER), m = 0;
	const struct lt_plugin **order;
	const struct lt_plugin *p;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (forced && strcmp(forced, "auto"))
		return select_forced(reg, env, forced, log, out, why, whylen, err);
	order = calloc(n ? n : 1, sizeof(*order));
	if (!order)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (i = 0; i < n; i++) {
		p = lt_registry_at(reg, LT_KIND_CLUSTER, i);
		if (!p->alias_of)
			order[m++] = p;
	}
	/* Stable insertion sort by descending priority: equal priorities keep
	 * registration order (built-ins first, then plugins as loaded). */
	for (i = 1; i < m; i++) {
		size_t j = i;
		while (j > 0 && cmp_priority(&order[j - 1], &order[j]) > 0) {
			const struct lt_plugin *tmp = order[j];
			order[j] = order[j - 1];
			order[j - 1] = tmp;
			j--;
		}
	}
	for (i = 0; i < m && !rc; i++)
		rc = probe(reg, env, order[i], log, out, why, whylen, err);
	free(order);
	if (rc)
		return rc > 0 ? 0 : -1;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "no cluster environment recognised this process: force one with --cluster NAME");
}
