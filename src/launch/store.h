/*
 * store.h - the rendezvous store: a key-value store every process of a job
 * reaches, to exchange addresses, count arrivals and wait for each other.
 *
 * The embedded `tcp` store is the default: a server (store_server.c) that
 * the node-0 agent (or, for adopted ranks, rank 0) runs in a thread of its
 * own, and a client (store_client.c).  Only processes that know the job's
 * token get in: the server sends a random challenge, the client answers
 * with HMAC-SHA256(token, challenge), and only then are commands accepted.
 *
 * Keys are byte strings of 1..LT_STORE_MAX_KEY bytes, values 0..
 * LT_STORE_MAX_VALUE bytes.  Counters made by add() are decimal text, as
 * in torch's TCPStore, so get() of a counter reads "3".
 */
#ifndef LT_LAUNCH_STORE_H
#define LT_LAUNCH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define LT_STORE_MAX_KEY 1024
#define LT_STORE_MAX_VALUE (16u << 20)
#define LT_STORE_TOKEN_BYTES 32
/* The token as it travels in the environment: 64 lowercase hex digits. */
#define LT_STORE_TOKEN_HEX (2 * LT_STORE_TOKEN_BYTES + 1)

/* --- the token --- */

/* Fills hex (LT_STORE_TOKEN_HEX bytes) with a new random token from
 * getrandom().  Returns 0, or -1 with err set. */
int lt_store_token_new(char hex[LT_STORE_TOKEN_HEX], struct lt_err *err);
/* Decodes a token given as 64 hex digits; `what` names its source
 * ("LTRUN_STORE_TOKEN") in the error.  Returns 0, or -1 with err set. */
int lt_store_token_parse(const char *hex, const char *what,
			 uint8_t token[LT_STORE_TOKEN_BYTES], struct lt_err *err);

/* --- the server --- */

struct lt_store_server;

/* Binds host:port (port 0: any free port; host NULL: all interfaces),
 * listens, and serves from a new thread until stopped.  *bound_port gets
 * the port actually bound, so a caller publishes only a port it holds.
 * log, when non-NULL, receives one line per refused client ("ltrun: store:
 * refused 10.0.0.5:41234: wrong token").  Returns 0, or -1 with err set
 * (a port in use names the port and says how to pick another). */
int lt_store_server_start(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			  struct lt_store_server **out, int *bound_port,
			  struct lt_err *err);
/* Stops the thread, closes every connection, frees everything. */
void lt_store_server_stop(struct lt_store_server *srv);

/* --- the client --- */

struct lt_store;

/* Connects to host:port and proves the token.  Connection attempts are
 * retried with exponential backoff and jitter (50 ms doubling to 2 s)
 * until timeout_ms has passed: the server may not be up yet.  `who`
 * ("rank 5", "agent on node 1") is how this client names itself in
 * messages, timeouts included.  A refused token fails at once. */
int lt_store_connect(const char *host, int port,
		     const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
		     int timeout_ms, struct lt_store **out, struct lt_err *err);
void lt_store_close(struct lt_store *st);

int lt_store_set(struct lt_store *st, const char *key, const void *value,
		 size_t len, struct lt_err *err);
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
