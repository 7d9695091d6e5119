/*
 * rdzv.h - how the ranks of a job meet: named barriers and small values
 * published by one rank for the others, over one of several backends.
 *
 *   tcp   the embedded store (store.h), hosted by node 0's agent or by
 *         rank 0 of adopted ranks: the default
 *   etcd  elastic jobs' rendezvous rounds (round.h) in etcd
 *         (rdzv_etcd.h); the ranks then meet as with tcp
 *   file  a directory every rank can reach (a shared filesystem), given by
 *         LTRUN_RDZV_DIR
 *   pmix  the PMIx server of the launcher (mpirun, srun --mpi=pmix)
 *   auto  pmix for ranks a PMIx launcher created, else tcp
 *
 * Each is an entry of the registry (kind rdzv, `ltrun --list rdzv`;
 * catalog.c), its ops a struct lt_rdzv_ops; lt_rdzv_lookup is the one
 * way from a name (--rdzv, LTRUN_RDZV) to them.
 *
 * Every name is scoped to one attempt of the job (its restart count), so a
 * restarted job never meets its predecessor's values.
 */
#ifndef LT_RDZV_RDZV_H
#define LT_RDZV_RDZV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/registry.h"

struct lt_rank_info;

struct lt_rdzv;

struct lt_rdzv_ops {
	/* Meets through the embedded store (store.h), which node 0's agent
	 * (or rank 0 of adopted ranks) hosts. */
	bool store;
	/* Set only for auto: the backend it stands for, for ranks a launcher
	 * created (adopted) or not; the other ops are then NULL. */
	const struct lt_rdzv_ops *(*pick)(bool adopted);
	/* Joins; `who` ("rank 5") names this process in messages. */
	int (*open)(struct lt_rdzv *rz, const struct lt_rank_info *info,
		    const char *who, struct lt_err *err);
	/* Returns when all world_size ranks have entered barrier `name`. */
	int (*barrier)(struct lt_rdzv *rz, const char *name, struct lt_err *err);
	/* Publishes key = value for every rank. */
	int (*put)(struct lt_rdzv *rz, const char *key, const void *value, size_t len,
		   struct lt_err *err);
	/* Waits for key, published by rank `from`; *value is malloc'ed and
	 * NUL-terminated beyond *len. */
	int (*get)(struct lt_rdzv *rz, const char *key, int from, void **value,
		   size_t *len, struct lt_err *err);
	/* Leaves; a host (rank 0 of adopted ranks, on tcp) waits until every
	 * rank has left before it stops serving. */
	int (*close)(struct lt_rdzv *rz, struct lt_err *err);
};

struct lt_rdzv {
	const struct lt_rdzv_ops *ops;
	const struct lt_rank_info *info;
	int timeout_ms;
	char who[32];
	void *state; /* the backend's */
};

extern const struct lt_rdzv_ops lt_rdzv_tcp;
extern const struct lt_rdzv_ops lt_rdzv_file;
extern const struct lt_rdzv_ops lt_rdzv_pmix;

/* The ops of backend `name` in reg, auto's pick made for ranks adopted or
 * not (pmix for adopted ranks with PMIX_RANK set and a PMIx client, else
 * tcp).  Returns 0, or -1 with err (usage) naming the valid ones. */
int lt_rdzv_lookup(const struct lt_registry *reg, const char *name, bool adopted,
		   const struct lt_rdzv_ops **out, struct lt_err *err);

/* Whether ranks (adopted or not) meeting through built-in backend `name`
 * (checked already) need the embedded store: the agent's question. */
bool lt_rdzv_uses_store(const char *name, bool adopted);

#endif
