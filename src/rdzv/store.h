/*
 * store.h - the rendezvous store: a key-value store every process of a job
 * reaches, to exchange addresses, count arrivals and wait for each other.
 *
 * The embedded `tcp` store is the default: a server (store_server.c) that
 * the node-0 agent (or, for adopted ranks, rank 0) runs in a thread of its
 * own, and a client (store_client.c).  Only processes that know the job's
 * token get in, and clients talk only to a server that knows it too: both
 * prove it over fresh nonces (store_proto.h) before any command.
 *
 * Keys are byte strings of 1..LT_STORE_MAX_KEY bytes, values 0..
 * LT_STORE_MAX_VALUE bytes.  Counters made by add() are decimal text, as
 * in torch's TCPStore, so get() of a counter reads "3".
 *
 * What a server grants before and after login is bounded (struct
 * lt_store_limits): a client that does not prove the token in time is
 * dropped, connections waiting to log in are capped in all and per
 * source address (all loopback addresses are one source), the keys and
 * values held are capped, and refusals are logged at most once a second
 * with a count of the rest.
 */
#ifndef LT_RDZV_STORE_H
#define LT_RDZV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/contract.h"
#include "core/error.h"

#define LT_STORE_MAX_KEY 1024
/* The largest value: what the store's users put is far smaller (an NCCL
 * unique id is 128 bytes, a failure report a line, gloo's address list
 * for one rank about 136 bytes per rank of the job). */
#define LT_STORE_MAX_VALUE (4u << 20)

/* --- the token --- */

/* Fills hex (LT_STORE_TOKEN_HEX bytes) with a new random token from
 * getrandom().  Returns 0, or -1 with err set. */
int lt_store_token_new(char hex[LT_STORE_TOKEN_HEX], struct lt_err *err);
/* Decodes a token given as 64 hex digits; `what` names its source
 * ("LTRUN_STORE_TOKEN") in the error.  Returns 0, or -1 with err set. */
int lt_store_token_parse(const char *hex, const char *what,
			 uint8_t token[LT_STORE_TOKEN_BYTES], struct lt_err *err);

/* The job's token (store_token.c): LTRUN_STORE_TOKEN if set; a fresh one
 * when fresh_ok; PMIx rank 0's when pmix and a PMIx server is there; else
 * HMAC-SHA256 of identity under the user's secret file, made on first use;
 * else, only when insecure, a hash of identity alone (a warning says so
 * when warn).  identity is what every process of the job knows alike.
 * Returns 0, or -1 with err saying why there is no secret and the ways to
 * get one. */
struct lt_token_job {
	const char *identity; /* "job id:step:main addr:port:world size" */
	bool fresh_ok;        /* this process gives the token to every other */
	bool pmix;            /* a PMIx launcher made this process */
	bool insecure;        /* --insecure-store */
	bool warn;            /* this process speaks for the job (node 0, rank 0) */
};
#define LT_ENV_SECRET_FILE "LTRUN_SECRET_FILE"
int lt_store_job_token(const struct lt_token_job *job, uint8_t token[LT_STORE_TOKEN_BYTES],
		       struct lt_err *err);
/* Reads the user's secret file, making it first if missing.  path gets its
 * name.  Returns 0, or -1 with why ("the secret file '...' may be read by
 * other users") and fix ("chmod 600 '...'") set. */
int lt_store_secret(uint8_t secret[LT_STORE_TOKEN_BYTES], char *path, size_t pathlen,
		    char *why, size_t whylen, char *fix, size_t fixlen);

/* --- the server --- */

struct lt_store_server;

/* What a server grants; lt_store_server_start() uses the defaults below. */
struct lt_store_limits {
	int login_ms;             /* to prove the token, from the connection */
	int max_pending;          /* connections not logged in yet, in all:
				   * beyond it the store stops accepting (new
				   * ones wait in the listen backlog) */
	int max_pending_per_peer; /* ... from one source address (all of
				   * loopback is one): beyond it a new one is
				   * closed at once */
	size_t max_bytes;         /* keys and values held (each entry's
				   * bookkeeping counted too) */
	int log_interval_ms;      /* at most one refusal line per interval */
};

#define LT_STORE_LOGIN_MS 5000
/* A job's ranks all connect before the first of them has logged in, so a
 * host's burst is all of its ranks waiting at once: 16384 on one host, on
 * loopback, get in without a refusal.  A stranger can hold at most half
 * of the slots from one source, each for LT_STORE_LOGIN_MS, and each
 * costs the server a descriptor and about 0.5 KiB (bench/store_scale). */
#define LT_STORE_MAX_PENDING 32768
#define LT_STORE_MAX_PENDING_PER_PEER 16384
#define LT_STORE_MAX_BYTES ((size_t)128 << 20)
#define LT_STORE_LOG_INTERVAL_MS 1000
#define LT_STORE_LIMITS_DEFAULT                                                      \
	((struct lt_store_limits){ .login_ms = LT_STORE_LOGIN_MS,                     \
				   .max_pending = LT_STORE_MAX_PENDING,               \
				   .max_pending_per_peer = LT_STORE_MAX_PENDING_PER_PEER, \
				   .max_bytes = LT_STORE_MAX_BYTES,                   \
				   .log_interval_ms = LT_STORE_LOG_INTERVAL_MS })

/* Binds host:port (port 0: any free port; host NULL: all interfaces),
 * listens, and serves from a new thread until stopped, within the default
 * limits.  *bound_port gets the port actually bound, so a caller publishes
 * only a port it holds.  log, when non-NULL, receives a line per refused
 * client ("ltrun: store: refused 10.0.0.5:41234: wrong token"), at most
 * one per log_interval_ms, and a line when the store stops and resumes
 * accepting connections.  Returns 0, or -1 with err set (a port in use
 * names the port and says how to pick another). */
int lt_store_server_start(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			  struct lt_store_server **out, int *bound_port,
			  struct lt_err *err);
/* The same, within the given limits. */
int lt_store_server_start_with(const char *host, int port,
			       const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			       const struct lt_store_limits *limits,
			       struct lt_store_server **out, int *bound_port,
			       struct lt_err *err);
/* Stops the thread, closes every connection, frees everything. */
void lt_store_server_stop(struct lt_store_server *srv);

/* The kernel's cap on a listen queue (net.core.somaxconn, from
 * somaxconn_path: NULL for /proc's), or 0 when unknown. */
long lt_store_listen_cap(const char *somaxconn_path);

/* A warning line on log when `clients` connecting at once (a job's ranks
 * and agents) may overflow the store's listen queue, whose length the
 * kernel caps at cap (lt_store_listen_cap): each dropped handshake costs
 * its client a retransmission of a second or more.  Returns whether it
 * warned. */
bool lt_store_warn_listen_cap(long clients, long cap, FILE *log);

/* --- the client --- */

struct lt_store;

/* Connects to host:port, proves the token and checks the server's proof.
 * Connection attempts are retried with exponential backoff and jitter
 * (50 ms doubling to 2 s) until timeout_ms has passed: the server may not
 * be up yet.  `who` ("rank 5", "agent on node 1") is how this client names
 * itself in messages, timeouts included.  A refused token, and a server
 * that cannot prove the token, fail at once. */
int lt_store_connect(const char *host, int port,
		     const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
		     int timeout_ms, struct lt_store **out, struct lt_err *err);
/* lt_store_connect() to a store that was up: a refused connection means
 * it has ended, and fails at once instead of being retried. */
int lt_store_connect_live(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
			  int timeout_ms, struct lt_store **out, struct lt_err *err);
void lt_store_close(struct lt_store *st);
/* How long beyond a request's own wait the server may stay silent before
 * the request fails (30 s unless set): a keep-alive's patience. */
void lt_store_set_answer_grace(struct lt_store *st, int grace_ms);
/* Why the last failed request failed, for callers that tell a key that
 * did not come in time from a vanished host or a closed store. */
enum lt_store_failure {
	LT_STORE_FAILED_OTHER,
	LT_STORE_FAILED_TIMEOUT, /* the key did not come within the wait */
	LT_STORE_FAILED_SILENT,  /* the server did not answer (its host gone?) */
	LT_STORE_FAILED_CLOSED,  /* the connection closed (the store ended) */
};
enum lt_store_failure lt_store_last_failure(const struct lt_store *st);

int lt_store_set(struct lt_store *st, const char *key, const void *value,
		 size_t len, struct lt_err *err);
/* Sets key for as long as this connection lives: the store deletes it
 * when the connection closes, however its process ended (a presence). */
int lt_store_hold(struct lt_store *st, const char *key, const void *value, size_t len,
		  struct lt_err *err);
/* Waits up to timeout_ms for key to exist, then returns a malloc'ed copy
 * of its value (NUL-terminated beyond len, for text) in *value.  `from`
 * ("rank 0"), when non-NULL, names who should set it, for the timeout
 * message: "rank 5: timed out after 300 s waiting for key 'nccl_id' from
 * rank 0 at 10.1.0.1:29500". */
int lt_store_get(struct lt_store *st, const char *key, int timeout_ms,
		 const char *from, void **value, size_t *len, struct lt_err *err);
/* Adds delta to the counter key (created as 0) and returns the new value. */
int lt_store_add(struct lt_store *st, const char *key, int64_t delta,
		 int64_t *result, struct lt_err *err);
/* Waits until every key exists. */
int lt_store_wait(struct lt_store *st, const char *const *keys, size_t n,
		  int timeout_ms, const char *from, struct lt_err *err);
/* Sets key to desired if its value is expected (a missing key matches an
 * empty expected value); *swapped says whether it did.  The current value
 * after the operation is returned in *actual when actual is non-NULL. */
int lt_store_compare_set(struct lt_store *st, const char *key,
			 const void *expected, size_t expected_len,
			 const void *desired, size_t desired_len, int *swapped,
			 void **actual, size_t *actual_len, struct lt_err *err);
/* *existed says whether there was a key to delete. */
int lt_store_delete(struct lt_store *st, const char *key, int *existed,
		    struct lt_err *err);
int lt_store_num_keys(struct lt_store *st, int64_t *n, struct lt_err *err);

#endif
