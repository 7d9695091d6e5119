/*
 * catalog.c - registers the six built-in cluster environments.  Their probe
 * order is their priority (env.h), not the order here.
 */
#include "core/registry.h"
#include "env/env.h"

int lt_cluster_catalog(struct lt_registry *reg, struct lt_err *err)
{
	static const struct lt_plugin *const envs[] = {
		&lt_env_lightning, &lt_env_slurm,        &lt_env_lsf,
		&lt_env_kubeflow,  &lt_env_torchelastic, &lt_env_mpi,
	};
	size_t i;

	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (lt_registry_add(reg, envs[i], err))
			return -1;
	return 0;
}
