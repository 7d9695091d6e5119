/*
 * rdzv_etcd.c - the rounds of elastic jobs in etcd (rdzv_etcd.h): every
 * round's state a key "/ltrun/<run id>/elastic/<r>" changed by
 * transactions, and each joining agent's key "/ltrun/<run id>/agents/<id>"
 * on a lease it renews while it waits; an agent whose key expired is dead.
 */
#include "rdzv/rdzv_etcd.h"
#include "core/clock.h"
#include "rdzv/etcd_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The agent's lease: gone this long after the agent stops renewing it. */
#define LEASE_TTL_S 5
/* Renewed at most this often (each read of a round may renew it). */
#define RENEW_S 1.0

struct lt_etcd_rounds {
	struct lt_etcd *etcd;
	char prefix[96];
	int64_t lease;
	double renewed; /* lt_now_s() */
};

static void renew(struct lt_etcd_rounds *r)
{
	struct lt_err ignored;

	if (lt_now_s() - r->renewed < RENEW_S)
		return;
	/* a failure here shows in the next call, which fails too */
	lt_etcd_lease_keepalive(r->etcd, r->lease, &ignored);
	r->renewed = lt_now_s();
}

static int rounds_cas(void *ctx, const char *key, const char *expected, const char *desired,
		      bool *swapped, char **actual, struct lt_err *err)
{
	struct lt_etcd_rounds *r = ctx;
	char full[256];

	renew(r);
	snprintf(full, sizeof(full), "%s%s", r->prefix, key);
	return lt_etcd_cas(r->etcd, full, expected, desired, swapped, actual, err);
}

static bool rounds_alive(void *ctx, const char *id)
{
	struct lt_etcd_rounds *r = ctx;
	struct lt_err ignored;
	char key[256], *v = NULL;
	bool found = true;

	snprintf(key, sizeof(key), "%sagents/%s", r->prefix, id);
	/* an etcd that fails to answer says nothing about the agent */
	if (lt_etcd_get(r->etcd, key, &v, &found, &ignored))
		found = true;
	free(v);
	return found;
}

int lt_etcd_rounds_open(const char *endpoint, const char *run_id, const char *id,
			struct lt_round_kv *kv, struct lt_etcd_rounds **out, struct lt_err *err)
{
	struct lt_etcd_rounds *r = calloc(1, sizeof(*r));
	char key[256];

	if (!r)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	snprintf(r->prefix, sizeof(r->prefix), "/ltrun/%s/", run_id);
	snprintf(key, sizeof(key), "%sagents/%s", r->prefix, id);
	if (lt_etcd_open(endpoint, &r->etcd, err) ||
	    lt_etcd_lease_grant(r->etcd, LEASE_TTL_S, &r->lease, err) ||
	    lt_etcd_put(r->etcd, key, "joining", r->lease, err)) {
		lt_etcd_rounds_close(r);
		return -1;
	}
	r->renewed = lt_now_s();
	*kv = (struct lt_round_kv){ .ctx = r, .cas = rounds_cas, .alive = rounds_alive };
	*out = r;
	return 0;
}

void lt_etcd_rounds_close(struct lt_etcd_rounds *r)
{
	struct lt_err ignored;

	if (!r)
		return;
	if (r->etcd && r->lease)
		lt_etcd_lease_revoke(r->etcd, r->lease, &ignored);
	lt_etcd_close(r->etcd);
	free(r);
}
