/*
 * etcd_client.h - the few etcd v3 calls the rendezvous needs, through
 * etcd's JSON gateway (POST http://HOST:PORT/v3/...; keys and values
 * base64; int64 values as JSON strings; false and zero fields left out):
 * read a key, compare-and-set one (a transaction), and leases.
 *
 * One struct lt_etcd per thread of use (one curl handle).  Every error
 * names the endpoint, and a connection that fails says curl's reason
 * within a few seconds (LT_ETCD_CONNECT_S).
 */
#ifndef LT_RDZV_ETCD_CLIENT_H
#define LT_RDZV_ETCD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define LT_ETCD_CONNECT_S 3

struct lt_etcd;

/* Connects to endpoint "HOST:PORT" and checks that etcd answers there.
 * Returns 0, or -1 with err ("cannot reach etcd at HOST:PORT: <curl's
 * reason>: start etcd there or fix --rdzv-endpoint"). */
int lt_etcd_open(const char *endpoint, struct lt_etcd **out, struct lt_err *err);
void lt_etcd_close(struct lt_etcd *e);

/* Reads key: *value malloc'ed and NUL-terminated ("" and *found false
 * when absent). */
int lt_etcd_get(struct lt_etcd *e, const char *key, char **value, bool *found,
		struct lt_err *err);
/* Puts key = value, attached to lease (0: none). */
int lt_etcd_put(struct lt_etcd *e, const char *key, const char *value, int64_t lease,
		struct lt_err *err);
/* One transaction: sets key to desired if its value is expected (""
 * matches an absent key: its create_revision is 0); *swapped says whether
 * it did, *actual (malloc'ed) the value after. */
int lt_etcd_cas(struct lt_etcd *e, const char *key, const char *expected, const char *desired,
		bool *swapped, char **actual, struct lt_err *err);

/* A lease of ttl_s seconds: its keys vanish unless it is kept alive. */
int lt_etcd_lease_grant(struct lt_etcd *e, int ttl_s, int64_t *id, struct lt_err *err);
int lt_etcd_lease_keepalive(struct lt_etcd *e, int64_t id, struct lt_err *err);
int lt_etcd_lease_revoke(struct lt_etcd *e, int64_t id, struct lt_err *err);

#endif
