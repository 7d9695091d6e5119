/*
 * ltrun/cluster.h - the cluster environment plugin kind: detect() says whether
 * the process runs under that environment (Slurm, LSF, torchelastic...),
 * resolve() computes where every rank is.  See
 * examples/plugins/hostfile_env.c for a complete one.
 */
#ifndef LTRUN_CLUSTER_H
#define LTRUN_CLUSTER_H

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ topology */

/* What the user asked for; LT_AUTO (or NULL / 0) where they said nothing. */
struct lt_request {
	int devices;           /* ranks per node, or LT_AUTO */
	int num_nodes;         /* or LT_AUTO */
	int node_rank;         /* or LT_AUTO */
	const char *main_addr; /* or NULL */
	int main_port;         /* or 0 */
	int auto_devices;      /* what --devices auto means for the accelerator */
};

/* Where everyone is.  resolve() fills every field. */
struct lt_topology {
	int world_size;       /* ranks in the job */
	int num_nodes;        /* nodes in the job */
	int node_rank;        /* this node's index, 0..num_nodes-1 */
	int local_world_size; /* ranks on this node */
	int first_rank;       /* global rank of this node's local rank 0 */
	bool external;        /* ranks were created by another launcher */
	int rank;             /* external only: this process's global rank, else -1 */
	int local_rank;       /* external only: this process's local rank, else -1 */
	char launcher[32];    /* external only: "srun", "mpirun", "torchrun"... */
	char main_addr[256];  /* host of global rank 0's node */
	int main_port;
	char port_from[96];   /* where main_port came from, in words */
	char addr_from[96];   /* where main_addr came from, in words */
	char job_id[64];      /* the cluster's job id, or "" */
	int min_nodes;        /* elastic jobs (--num-nodes MIN:MAX): MIN, with
			       * num_nodes MAX; 0 otherwise */
};


/* Cluster environment.  detect() must never block and must not call into a
 * launcher's library (PMIx, MPI) unless that launcher's variables are set. */
struct lt_cluster_ops {
	/* Probe order: higher first; the first that detects itself wins.  The
	 * built-in order is documented in ltrun(1). */
	int priority;
	/* Both get params, the values of the plugin's schema (struct
	 * lt_plugin.params) for this run: its defaults, then a preset's, then
	 * the inline `--cluster NAME:key=value`; read them with
	 * lt_params_str() and its siblings.  An environment without a schema
	 * ignores them. */
	/* Returns true when the environment is recognised.  Either way writes a
	 * short reason to why ("SLURM_PROCID and SLURM_STEP_ID are set"). */
	bool (*detect)(const struct lt_envsrc *env, const struct lt_params *params,
		       char *why, size_t whylen);
	/* Fills topo from the environment, params and req.  Returns 0, or -1
	 * with err set; topo is then unspecified. */
	int (*resolve)(const struct lt_envsrc *env, const struct lt_params *params,
		       const struct lt_request *req, struct lt_topology *topo,
		       struct lt_err *err);
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_CLUSTER_H */
