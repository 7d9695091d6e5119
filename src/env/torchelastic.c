/*
 * torchelastic.c - the `torchelastic` cluster environment: ranks started by
 * torchrun (torch.distributed.run, formerly torch.distributed.launch with
 * --use-env), recognised by TORCHELASTIC_RUN_ID.
 *
 * torchrun created the ranks, so ltrun adopts what it exported: RANK,
 * LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK (the node's index),
 * MASTER_ADDR and MASTER_PORT are all required.  The node count is
 * GROUP_WORLD_SIZE when set, else WORLD_SIZE / LOCAL_WORLD_SIZE.  It has the
 * highest priority because torchrun is always the innermost launcher: it
 * may run inside srun or a Kubeflow pod, whose variables are then stale.
 */
#include "env/env.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

/* More ranks than this is a typo, not a job (as in topology.c). */
#define TE_MAX_RANKS (1L << 24)

static const char te_source[] = "RANK/LOCAL_RANK/WORLD_SIZE/LOCAL_WORLD_SIZE from torchrun";

static bool te_detect(const struct lt_envsrc *env, const struct lt_params *params,
		      char *why, size_t whylen)
{
	const char *id = lt_env_get(env, "TORCHELASTIC_RUN_ID");

	(void)params; /* no parameters */
	if (!id) {
		snprintf(why, whylen, "TORCHELASTIC_RUN_ID is not set");
		return false;
	}
	snprintf(why, whylen, "TORCHELASTIC_RUN_ID is set (torchrun)");
	return true;
}

static int te_missing(const struct lt_envsrc *env, const char *name,
		      struct lt_err *err)
{
	if (!lt_env_get(env, "TORCHELASTIC_RUN_ID"))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s is not set: torchrun did not start this process (no TORCHELASTIC_RUN_ID); start ltrun with torchrun, or pick another environment with --cluster",
				  name);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s is not set, yet TORCHELASTIC_RUN_ID is: torchrun sets both; start ltrun with torchrun, or unset TORCHELASTIC_RUN_ID",
			  name);
}

/* Reads a variable torchrun always sets.  Returns 0, or -1 with err naming
 * it when it is missing or not a number in [min, TE_MAX_RANKS]. */
static int te_required(const struct lt_envsrc *env, const char *name, long min,
		       int *out, struct lt_err *err)
{
	long v;
	int rc = lt_env_int(env, name, min, TE_MAX_RANKS, &v, err);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return te_missing(env, name, err);
	*out = (int)v;
	return 0;
}

/* GROUP_WORLD_SIZE, else WORLD_SIZE / LOCAL_WORLD_SIZE when it divides. */
static int te_num_nodes(const struct lt_envsrc *env, struct lt_topology *t,
			struct lt_err *err)
{
	long v;
	int rc = lt_env_int(env, "GROUP_WORLD_SIZE", 1, TE_MAX_RANKS, &v, err);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		t->num_nodes = (int)v;
		return 0;
	}
	if (t->world_size % t->local_world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot tell the number of nodes: WORLD_SIZE=%d is not a multiple of LOCAL_WORLD_SIZE=%d and GROUP_WORLD_SIZE is not set; set GROUP_WORLD_SIZE",
				  t->world_size, t->local_world_size);
	t->num_nodes = t->world_size / t->local_world_size;
	return 0;
}

/* Reads what torchrun exported into t.  Returns 0, or -1 with err set. */
static int te_read(const struct lt_envsrc *env, struct lt_topology *t,
		   struct lt_err *err)
{
	if (te_required(env, "RANK", 0, &t->rank, err) ||
	    te_required(env, "LOCAL_RANK", 0, &t->local_rank, err) ||
	    te_required(env, "WORLD_SIZE", 1, &t->world_size, err) ||
	    te_required(env, "LOCAL_WORLD_SIZE", 1, &t->local_world_size, err) ||
	    te_required(env, "GROUP_RANK", 0, &t->node_rank, err))
		return -1;
	if (!lt_env_get(env, "MASTER_ADDR"))
		return te_missing(env, "MASTER_ADDR", err);
	if (!lt_env_get(env, "MASTER_PORT"))
		return te_missing(env, "MASTER_PORT", err);
	return te_num_nodes(env, t, err);
}

static int te_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		      const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	(void)params; /* no parameters */
	lt_topology_init(t);
	t->external = true;
	snprintf(t->launcher, sizeof(t->launcher), "torchrun");
	snprintf(t->job_id, sizeof(t->job_id), "%s",
		 lt_env_get(env, "TORCHELASTIC_RUN_ID"));
	if (te_read(env, t, err) ||
	    lt_topology_check_adopted(t, req, te_source, err))
		return -1;
	if (t->rank < t->local_rank)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "torchrun gave RANK=%d below LOCAL_RANK=%d: a rank cannot be below its local rank",
				  t->rank, t->local_rank);
	t->first_rank = t->rank - t->local_rank;
	if (lt_topology_main_addr(t, env, req, "", "", err))
		return -1;
	return lt_topology_main_port(t, env, req, 0, "", err);
}

static const struct lt_cluster_ops te_ops = {
	.priority = LT_PRIO_TORCHELASTIC,
	.detect = te_detect,
	.resolve = te_resolve,
};

const struct lt_plugin lt_env_torchelastic = {
	.kind = LT_KIND_CLUSTER,
	.name = "torchelastic",
	.description = "ranks started by torchrun (TorchElastic), adopted from RANK, LOCAL_RANK, WORLD_SIZE and GROUP_RANK",
	.recommended_when = "you start ltrun with torchrun --nproc-per-node N",
	.ops = &te_ops,
};
