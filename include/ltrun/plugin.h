/*
 * ltrun/plugin.h - the ABI for ltrun plugins.
 *
 * A plugin is a shared object loaded with `ltrun --plugin PATH.so`. It exports
 * two symbols, both made by the macros at the end of this file:
 *
 *   const unsigned ltrun_plugin_abi;      equal to LT_PLUGIN_ABI_VERSION
 *   int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err);
 *
 * ltrun refuses a plugin whose ltrun_plugin_abi differs from its own (naming
 * both numbers) or that lacks either symbol.  ltrun_plugin_register() adds its
 * plugins with lt_registry_add(); every descriptor and ops table it passes must
 * live as long as the process (static storage: ltrun never unloads plugins).
 *
 * Each plugin kind has its own ops table below.  A cluster environment is a
 * `struct lt_cluster_ops`: detect() says whether the process runs under that
 * environment, resolve() computes the topology.  See
 * examples/plugins/hostfile_env.c for a complete cluster environment.
 */
#ifndef LTRUN_PLUGIN_H
#define LTRUN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct in this file changes layout or meaning. */
#define LT_PLUGIN_ABI_VERSION 1u

#if defined(__GNUC__)
#define LT_API __attribute__((visibility("default")))
#define LT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LT_API
#define LT_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------- errors */

/* Exit statuses: LT_EXIT_USAGE for a bad flag, LTRUN_* variable or config
 * file value; LT_EXIT_FAILURE for everything else (the cluster's environment,
 * a plugin, a file that cannot be read). */
enum { LT_EXIT_FAILURE = 1, LT_EXIT_USAGE = 2 };

/* One error: a single line naming the bad input and the fix, and the exit
 * status it deserves.  Functions that take a `struct lt_err *` fill it and
 * return -1 on failure; on success they leave it untouched. */
struct lt_err {
	int status;
	char msg[512];
};

/* Formats msg into err (no "ltrun:" prefix, no trailing newline) and
 * returns -1, so that `return lt_err_set(err, ...)` is a one-liner. */
LT_API int lt_err_set(struct lt_err *err, int status, const char *fmt, ...)
	LT_PRINTF(3, 4);

/* ---------------------------------------------------------- environment */

/* A read-only view of an environment: the process's own, or a list of
 * "NAME=value" strings (tests, dry runs for another node).  The hostname is
 * part of it because several cluster environments locate this node by name. */
struct lt_envsrc {
	const char *const *vars; /* NULL-terminated "NAME=value"; NULL: environ */
	const char *hostname;    /* NULL: gethostname() */
};

/* Returns the value of `name`, or NULL when it is unset.  An empty value is
 * returned as "" (set but empty). */
LT_API const char *lt_env_get(const struct lt_envsrc *src, const char *name);

/* Reads `name` as a decimal integer in [min, max].
 * Returns 1 and sets *out when it is set and valid, 0 when it is unset
 * (*out unchanged), -1 with err set (naming the variable and its value)
 * when it is set but not such a number. */
LT_API int lt_env_int(const struct lt_envsrc *src, const char *name,
		      long min, long max, long *out, struct lt_err *err);

/* Copies this node's short host name (up to the first '.'; a host name
 * that is an IP address is kept whole) into buf.  Returns 0, or -1 with
 * err set. */
LT_API int lt_env_hostname(const struct lt_envsrc *src, char *buf, size_t len,
			   struct lt_err *err);

/* ------------------------------------------------------------ topology */

#define LT_AUTO (-1)

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
};

/* ------------------------------------------------------------ plugin kinds */

enum lt_kind {
	LT_KIND_STRATEGY,
	LT_KIND_PRECISION,
	LT_KIND_CKPT_IO,
	LT_KIND_CLUSTER,
	LT_KIND_COMM,
	LT_KIND_ACCELERATOR,
	LT_KIND_COUNT
};

/* Cluster environment.  detect() must never block and must not call into a
 * launcher's library (PMIx, MPI) unless that launcher's variables are set. */
struct lt_cluster_ops {
	/* Probe order: higher first; the first that detects itself wins.  The
	 * built-in order is documented in ltrun(1). */
	int priority;
	/* Returns true when the environment is recognised.  Either way writes a
	 * short reason to why ("SLURM_PROCID and SLURM_STEP_ID are set"). */
	bool (*detect)(const struct lt_envsrc *env, char *why, size_t whylen);
	/* Fills topo from the environment and req.  Returns 0, or -1 with err
	 * set; topo is then unspecified. */
	int (*resolve)(const struct lt_envsrc *env, const struct lt_request *req,
		       struct lt_topology *topo, struct lt_err *err);
};

/* Strategy: what the plan needs to know of it. */
struct lt_strategy_ops {
	const char *launcher; /* "exec" (fork + exec) or "fork" (fork, no exec) */
	bool multi_rank;      /* false: runs one rank only (single_device) */
};

/* Precision: the dtypes it implies. */
struct lt_precision_ops {
	const char *param_dtype;   /* master weights and optimizer state */
	const char *compute_dtype; /* what the model reads and writes */
	bool loss_scaling;
};

/* Communicator: where it can carry collectives. */
struct lt_comm_ops {
	bool intra_node; /* between ranks on one node */
	bool inter_node; /* between nodes */
};

/* Accelerator. */
struct lt_accelerator_ops {
	/* What --devices auto means when ltrun creates the ranks. */
	int (*auto_devices)(void);
};

/* Checkpoint IO. */
struct lt_ckpt_io_ops {
	bool wraps_another; /* async: wraps the IO plugin named by its preset */
};

/* One named plugin.  An alias names another plugin of the same kind
 * (alias_of) and may preset arguments ("launcher=fork"); its ops are the
 * base's and it is listed beside it. */
struct lt_plugin {
	enum lt_kind kind;
	const char *name;             /* [a-z0-9._-]+, unique within its kind */
	const char *description;      /* one sentence */
	const char *recommended_when; /* one phrase */
	const char *alias_of;         /* NULL for a base plugin */
	const char *preset;           /* "key=value,..." for aliases, or NULL */
	const void *ops;              /* struct lt_<kind>_ops; NULL for aliases */
};

struct lt_registry;

/* Adds p (which must outlive the registry).  Returns 0, or -1 with err set
 * when the name is invalid or taken, an alias names an unknown plugin, or
 * ops is missing; the registry is then unchanged. */
LT_API int lt_registry_add(struct lt_registry *reg, const struct lt_plugin *p,
			   struct lt_err *err);

/* ------------------------------------------------------------ entry points */

#define LT_PLUGIN_DECLARE_ABI() \
	LT_API const unsigned ltrun_plugin_abi = LT_PLUGIN_ABI_VERSION

typedef int lt_plugin_register_fn(struct lt_registry *reg, struct lt_err *err);

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_PLUGIN_H */
