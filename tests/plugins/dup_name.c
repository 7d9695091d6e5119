/* dup_name.c - tries to register a cluster environment named "slurm",
 * a name the built-ins already use. */
#include <ltrun/cluster.h>

static bool never(const struct lt_envsrc *env, const struct lt_params *params, char *why,
		  size_t len)
{
	(void)env;
	(void)params;
	(void)why;
	(void)len;
	return false;
}

static int nothing(const struct lt_envsrc *env, const struct lt_params *params,
		   const struct lt_request *req, struct lt_topology *topo, struct lt_err *err)
{
	(void)env;
	(void)params;
	(void)req;
	(void)topo;
	return lt_err_set(err, 1, "dup_name cannot resolve");
}

static const struct lt_cluster_ops ops = { 1, never, nothing };

static const struct lt_plugin dup = {
	.kind = LT_KIND_CLUSTER,
	.name = "slurm",
	.description = "A second slurm.",
	.recommended_when = "never",
	.ops = &ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &dup, err);
}
