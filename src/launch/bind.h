/*
 * bind.h - --cpu-bind: the CPUs each local rank that ltrun starts may run
 * on (what mpirun --bind-to and srun --cpu-bind do), planned once in the
 * agent from this machine's hwloc topology and applied by the rank's own
 * child between fork and exec, with sched_setaffinity only.
 *
 *   none        no binding
 *   cores       disjoint contiguous blocks of cores, as even as possible,
 *               each inside one NUMA node (then package) where the counts
 *               allow; more ranks than cores share them round-robin
 *   numa        local rank i gets NUMA node i * nnuma / nranks
 *   list:S:S..  local rank i gets SET[i % nsets], each a Linux cpulist
 *               such as 0-3,8,10-11
 *
 * Everything is restricted to this process's affinity mask (taskset, a
 * Slurm or container cgroup).
 */
#ifndef LT_LAUNCH_BIND_H
#define LT_LAUNCH_BIND_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

struct lt_err;
struct hwloc_topology;

/* The OS index of the NUMA node a bound rank's CPUs lie in, when they lie
 * in one (comm/shm.c places the rank's part of its segment there). */
#define LT_ENV_NUMA_NODE "LTRUN_NUMA_NODE"

enum lt_bind_mode { LT_BIND_NONE, LT_BIND_CORES, LT_BIND_NUMA, LT_BIND_LIST };

/* A parsed --cpu-bind value.  Free with lt_bind_spec_free(). */
struct lt_bind_spec {
	enum lt_bind_mode mode;
	char *text;        /* the value as given, for messages */
	int nsets;         /* list: how many SETs */
	cpu_set_t *set;    /* list: nsets sets */
	int *beyond;       /* list: per set, a CPU named >= CPU_SETSIZE, or -1 */
};

/* One local rank's binding. */
struct lt_bind_rank {
	cpu_set_t cpus;
	int cores;   /* cores with a CPU in cpus, at least 1 */
	int threads; /* cores / the ranks bound to the same cpus, at least 1 */
	int numa;    /* OS index of the NUMA node that holds all of cpus, or -1 */
};

/* What lt_bind_plan() decided.  Free with lt_bind_free(). */
struct lt_binding {
	enum lt_bind_mode mode;    /* LT_BIND_NONE: nothing to apply */
	int n;                     /* entries in rank[]: the local ranks */
	struct lt_bind_rank *rank; /* NULL when mode is none */
	char what[192];            /* one line: what was decided and why */
	char warning[160];         /* "" or a line to print once */
};

/* Parses text (source names where it came from: "--cpu-bind",
 * "LTRUN_CPU_BIND", ...).  Returns 0, or -1 with err (usage) naming
 * source and the fix, and nothing to free. */
int lt_bind_parse(struct lt_bind_spec *spec, const char *text, const char *source,
		  struct lt_err *err);
void lt_bind_spec_free(struct lt_bind_spec *spec);

/* Plans spec for nranks local ranks on topo (loaded; NULL only for none
 * and list, which then count each CPU as a core and know no NUMA node),
 * restricted to the CPUs in allowed.  Returns 0, or -1 with err (a list
 * CPU that does not exist or is not allowed: usage) and b untouched. */
int lt_bind_plan_topology(struct lt_binding *b, const struct lt_bind_spec *spec,
			  struct hwloc_topology *topo, const cpu_set_t *allowed, int nranks,
			  const char *source, struct lt_err *err);

/* lt_bind_plan_topology() on this machine: its topology (loaded only for
 * cores, numa and list, without I/O devices) and this process's affinity
 * mask.  Returns 0, or -1 with err and b untouched. */
int lt_bind_plan(struct lt_binding *b, const struct lt_bind_spec *spec, int nranks,
		 const char *source, struct lt_err *err);

/* A binding that leaves the ranks to the launcher that started them
 * ("srun"; "" for an unnamed one); spec says what the user asked for. */
void lt_bind_external(struct lt_binding *b, const struct lt_bind_spec *spec,
		      const char *launcher, const char *source);

void lt_bind_free(struct lt_binding *b);

/* Binds the calling process to local rank `local`'s CPUs, if any; only
 * sched_setaffinity, so a child may call it between fork and exec.
 * Returns 0, or -1 with errno set. */
int lt_bind_apply(const struct lt_binding *b, int local);

/* The rank's entry, or NULL when b binds nothing. */
const struct lt_bind_rank *lt_bind_rank_of(const struct lt_binding *b, int local);

const char *lt_bind_mode_name(enum lt_bind_mode mode);

/* Writes set as a cpulist ("0-3,8") into buf (of len > 0, truncated with
 * "..." when too small).  Returns buf. */
char *lt_cpulist(const cpu_set_t *set, char *buf, size_t len);

#endif
