/*
 * rdzv_etcd.h - the `etcd` rendezvous: the agents of an elastic job keep
 * their rounds (round.h) in etcd v3 at --rdzv-endpoint, under
 * "/ltrun/<run id>/", each agent's liveness a leased key; the ranks then
 * meet through the embedded store as with `tcp` (lt_rdzv_lookup gives
 * them tcp's ops).  A build without libcurl (./configure --without-curl)
 * leaves out rdzv_etcd.c and etcd_client.c: the registry then refuses
 * --rdzv etcd before anything starts, and the functions below only say so.
 */
#ifndef LT_RDZV_RDZV_ETCD_H
#define LT_RDZV_RDZV_ETCD_H

#include "core/built.h"
#include "core/error.h"
#include "rdzv/round.h"

struct lt_etcd_rounds;

#if LT_HAVE_CURL

/* Connects to endpoint and leases this agent's key (named by id) for the
 * rounds of run `run_id`; *kv then reads and writes them.  Returns 0, or
 * -1 with err (etcd unreachable: one line naming the endpoint). */
int lt_etcd_rounds_open(const char *endpoint, const char *run_id, const char *id,
			struct lt_round_kv *kv, struct lt_etcd_rounds **out, struct lt_err *err);
/* Revokes the lease (the agent's key goes) and disconnects. */
void lt_etcd_rounds_close(struct lt_etcd_rounds *r);
#else
static inline int lt_etcd_rounds_open(const char *endpoint, const char *run_id, const char *id,
				      struct lt_round_kv *kv, struct lt_etcd_rounds **out,
				      struct lt_err *err)
{
	(void)endpoint, (void)run_id, (void)id, (void)kv;
	*out = NULL;
	return lt_err_set(err, LT_EXIT_USAGE, "rendezvous 'etcd' needs " LT_LEFT_OUT(LT_DEP_CURL));
}

static inline void lt_etcd_rounds_close(struct lt_etcd_rounds *r)
{
	(void)r;
}
#endif

#endif
