/*
 * env.h - what the built-in cluster environments share: their descriptors
 * (one per file, named after the alias) and the topology arithmetic every one
 * of them needs, so each file holds only what its launcher does differently.
 */
#ifndef LT_ENV_ENV_H
#define LT_ENV_ENV_H

#include <stdbool.h>
#include <stdio.h>

#include "ltrun/cluster.h"

struct lt_choice;
struct lt_registry;

/* Built-in probe order (highest priority first); documented in ltrun(1). */
enum {
	LT_PRIO_TORCHELASTIC = 90, /* innermost launcher: torchrun inside srun/sbatch */
	LT_PRIO_MPI = 80,          /* mpirun inside an allocation sets SLURM_* for its daemons */
	LT_PRIO_SLURM = 70,
	LT_PRIO_LSF = 60,
	LT_PRIO_KUBEFLOW = 50,
	LT_PRIO_LIGHTNING = 0,     /* always detects: the bare node */
};

extern const struct lt_plugin lt_env_torchelastic;
extern const struct lt_plugin lt_env_mpi;
extern const struct lt_plugin lt_env_slurm;
extern const struct lt_plugin lt_env_lsf;
extern const struct lt_plugin lt_env_kubeflow;

struct lt_config;
/* Kubeflow's (and torchrun's) elastic variables, for the options the
 * user left at their defaults: PET_RDZV_BACKEND (c10d or static: tcp;
 * etcd or etcd-v2: etcd) sets --rdzv, and PET_RDZV_ENDPOINT (HOST:PORT)
 * --rdzv-endpoint for etcd, else --main-addr and --main-port (c10d's
 * store) where MASTER_ADDR is unset.  env NULL: this process's.  Returns 0, or -1 with err naming
 * the variable. */
int lt_kubeflow_rdzv_vars(struct lt_config *cfg, const struct lt_envsrc *env,
			  struct lt_err *err);
extern const struct lt_plugin lt_env_lightning;

/* Sets every field to "unknown": counts 0, rank/local_rank -1, strings "". */
void lt_topology_init(struct lt_topology *t);

/* ltrun creates the ranks: req->devices per node (auto: req->auto_devices),
 * num_nodes nodes, this node being node_rank.  Sets world_size,
 * local_world_size, first_rank, num_nodes, node_rank, external=false.
 * Returns 0, or -1 with err set (node_rank out of range, too many ranks). */
int lt_topology_own_ranks(struct lt_topology *t, const struct lt_request *req,
			  int num_nodes, int node_rank, struct lt_err *err);

/* The launcher created the ranks and t already holds what it said.  Checks
 * that --devices and --num-nodes, when given, agree with it, and that the
 * numbers are consistent (rank < world_size, local_rank < local_world_size,
 * node_rank < num_nodes).  `source` names the launcher's variables for the
 * message ("SLURM_NTASKS_PER_NODE").  Returns 0, or -1 with err naming
 * both numbers. */
int lt_topology_check_adopted(const struct lt_topology *t,
			      const struct lt_request *req, const char *source,
			      struct lt_err *err);

/* Fills main_addr/addr_from: --main-addr, else MASTER_ADDR, else fallback
 * (described by fallback_from).  Refuses a value that is not a host name
 * or address.  Returns 0, or -1 with err set. */
int lt_topology_main_addr(struct lt_topology *t, const struct lt_envsrc *env,
			  const struct lt_request *req, const char *fallback,
			  const char *fallback_from, struct lt_err *err);

/* Fills main_port/port_from: --main-port, else MASTER_PORT, else `derived`
 * when > 0 (described by derived_from), else a port free on this host now.
 * Returns 0, or -1 with err set. */
int lt_topology_main_port(struct lt_topology *t, const struct lt_envsrc *env,
			  const struct lt_request *req, int derived,
			  const char *derived_from, struct lt_err *err);

/* A default main port derived from a job id, in [20000, 32768): the same on
 * every node of the job, different for most pairs of jobs.  0 for "". */
int lt_port_from_job_id(const char *job_id);

/* Picks the cluster environment: `forced` by name (--cluster
 * NAME[:key=value,...], a preset or a plugin; "auto" or NULL means
 * probe), else the first plugin, by descending priority, whose detect()
 * says yes with its default parameters.  A forced environment must detect
 * itself too: it only wins over those of higher priority.  With log
 * non-NULL, writes one line per probe saying why it was taken or skipped.
 * Sets *out (what was named, its base, the base's parameters; free it with
 * lt_choice_free()) and why.  Returns 0, or -1 with err set (unknown
 * forced name or bad parameter; forced environment whose variables are
 * missing, naming them and the fix) and *out empty. */
int lt_cluster_select(const struct lt_registry *reg, const struct lt_envsrc *env,
		      const char *forced, FILE *log, struct lt_choice *out,
		      char *why, size_t whylen, struct lt_err *err);

#endif
