/*
 * store_client.c - the embedded TCP store's client, and the job token.
 *
 * Blocking, one request at a time, every wait bounded by poll().  GET and
 * WAIT carry their timeout to the server, which answers TIMEOUT when it
 * passes; the client itself only gives up when the server stays silent
 * ANSWER_GRACE_MS beyond that.  Connecting retries with exponential
 * backoff and jitter while the server is not up yet; a refused token, and
 * a server that cannot prove it holds the token, fail at once.  Messages name this client (`who`), what it was doing and the
 * server's address.  After a broken or timed-out exchange the connection
 * is dropped: every later request fails saying so.
 */
#include "core/buf.h"
#include "core/clock.h"
#include "rdzv/store.h"
#include "core/sha256.h"
#include "rdzv/store_proto.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Beyond a request's own timeout, how long the server may take to answer. */
#define ANSWER_GRACE_MS 30000
#define BACKOFF_FIRST_MS 10
#define CHALLENGE_SLACK_MS 1000
#define BACKOFF_MAX_MS 2000
/* Answers carry at most two fields (CAS: swapped, current value). */
#define MAX_REPLY_FIELDS 2

struct lt_store {
	int fd; /* -1 once the connection broke */
	char who[64];
	char addr[300]; /* "host:port", as messages show it */
	uint8_t *buf;   /* the last message sent or received */
	size_t cap;
	struct lt_store_field fields[MAX_REPLY_FIELDS];
	struct lt_store_msg reply; /* points into buf */
	int grace_ms;   /* ANSWER_GRACE_MS, or lt_store_set_answer_grace's */
	enum lt_store_failure failure; /* why the last request failed */
};

enum io { IO_OK, IO_TIMEOUT, IO_LOST, IO_MALFORMED };

/* poll()'s timeout for waiting until deadline (lt_now_ms() clock). */
static int ms_until(double deadline)
{
	double left = deadline - lt_now_ms();

	return left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
}

/* "300 s", "0.2 s": a timeout as messages show it. */
static void format_seconds(int ms, char *buf, size_t len)
{
	snprintf(buf, len, "%g s", ms / 1000.0);
}

/* ---------------------------------------------------------------- token */

int lt_store_token_new(char hex[LT_STORE_TOKEN_HEX], struct lt_err *err)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t raw[LT_STORE_TOKEN_BYTES];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot make a store token: getrandom: %s",
				  strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[2 * sizeof(raw)] = '\0';
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int lt_store_token_parse(const char *hex, const char *what,
			 uint8_t token[LT_STORE_TOKEN_BYTES], struct lt_err *err)
{
	size_t len = strlen(hex), bad = 0;
	char why[64];

	while (bad < len && hex_digit(hex[bad]) >= 0)
		bad++;
	if (len != 2 * LT_STORE_TOKEN_BYTES)
		snprintf(why, sizeof(why), "it has %zu characters", len);
	else if (bad < len)
		snprintf(why, sizeof(why), "character %zu is not a hexadecimal digit", bad + 1);
	else
		why[0] = '\0';
	if (why[0])
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid %s: a store token is %d hexadecimal digits and %s: make one with: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n'",
				  what, 2 * LT_STORE_TOKEN_BYTES, why);
	for (size_t i = 0; i < LT_STORE_TOKEN_BYTES; i++)
		token[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
	return 0;
}

/* ------------------------------------------------------------------ I/O */

/* Sends or receives exactly n bytes before deadline (lt_now_ms() clock). */
static enum io transfer(int fd, void *p, size_t n, bool out, double deadline)
{
	uint8_t *b = p;

	while (n) {
		struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
		ssize_t k;
		int rc;

		if (lt_now_ms() >= deadline)
			return IO_TIMEOUT;
		rc = poll(&pfd, 1, ms_until(deadline));
		if (rc <= 0)
			continue; /* EINTR, or time to check the deadline */
		k = out ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k <= 0)
			return IO_LOST;
		b += k;
		n -= (size_t)k;
	}
	return IO_OK;
}

static int reserve(struct lt_store *st, size_t size)
{
	return lt_array_reserve(&st->buf, &st->cap, size, 1, size);
}

static enum io send_msg(struct lt_store *st, uint8_t code, const struct lt_store_field *fields,
			size_t n, double deadline)
{
	size_t size = lt_store_msg_size(fields, n);

	if (reserve(st, size))
		return IO_LOST;
	lt_store_msg_write(st->buf, code, fields, n);
	return transfer(st->fd, st->buf, size, true, deadline);
}

/* Receives one message into st->reply. */
static enum io receive_msg(struct lt_store *st, size_t max_payload, double deadline)
{
	enum io rc;

	st->reply = (struct lt_store_msg){ .field = st->fields, .max_fields = MAX_REPLY_FIELDS };
	if (reserve(st, LT_STORE_HEADER_BYTES))
		return IO_LOST;
	rc = transfer(st->fd, st->buf, LT_STORE_HEADER_BYTES, false, deadline);
	if (rc != IO_OK)
		return rc;
	if (lt_store_msg_parse(st->buf, LT_STORE_HEADER_BYTES, max_payload, &st->reply) ==
	    LT_STORE_MALFORMED)
		return IO_MALFORMED;
	if (reserve(st, st->reply.size))
		return IO_LOST;
	rc = transfer(st->fd, st->buf + LT_STORE_HEADER_BYTES,
		      st->reply.size - LT_STORE_HEADER_BYTES, false, deadline);
	if (rc != IO_OK)
		return rc;
	if (lt_store_msg_parse(st->buf, st->reply.size, max_payload, &st->reply) !=
	    LT_STORE_COMPLETE)
		return IO_MALFORMED;
	return IO_OK;
}

/* Closes the connection with a reset (SO_LINGER 0): every request sent
 * was answered, or has failed and is dropped, so nothing is lost, and no
 * TIME_WAIT holds the port for a minute: a host whose ranks (re)connect
 * by thousands would run short of ephemeral ports, and each connect()
 * would search longer for one. */
static void drop_connection(struct lt_store *st)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };

	if (st->fd >= 0)
		setsockopt(st->fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

/* Fills err for a failed exchange, `doing` what ("getting key 'x'"). */
static int exchange_failed(struct lt_store *st, enum io rc, const char *doing,
			   struct lt_err *err)
{
	drop_connection(st);
	st->failure = rc == IO_TIMEOUT ? LT_STORE_FAILED_SILENT
		      : rc == IO_LOST ? LT_STORE_FAILED_CLOSED : LT_STORE_FAILED_OTHER;
	if (rc == IO_TIMEOUT)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s did not answer while %s: is the process hosting it (node 0's agent, or rank 0) stuck?",
				  st->who, st->addr, doing);
	if (rc == IO_MALFORMED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s sent a malformed answer while %s: is it another version of ltrun?",
				  st->who, st->addr, doing);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: lost the store at %s while %s: the process hosting it (node 0's agent, or rank 0) has ended",
			  st->who, st->addr, doing);
}

/* Sends a request and receives its answer into st->reply.  wait_ms is how
 * long the server may hold it.  Returns LT_STORE_OK or LT_STORE_TIMEOUT,
 * or -1 with err set. */
static int request(struct lt_store *st, uint8_t op, const struct lt_store_field *fields,
		   size_t n, int wait_ms, const char *doing, struct lt_err *err)
{
	double deadline = lt_now_ms() + wait_ms + st->grace_ms;
	enum io rc;

	st->failure = LT_STORE_FAILED_OTHER;
	if (st->fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: cannot reach the store at %s while %s: the connection broke earlier",
				  st->who, st->addr, doing);
	rc = send_msg(st, op, fields, n, deadline);
	if (rc == IO_OK)
		rc = receive_msg(st, LT_STORE_MAX_PAYLOAD, deadline);
	if (rc != IO_OK)
		return exchange_failed(st, rc, doing, err);
	switch (st->reply.code) {
	case LT_STORE_OK:
	case LT_STORE_TIMEOUT:
		return st->reply.code;
	case LT_STORE_ERROR:
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store at %s refused %s: %.*s",
				  st->who, st->addr, doing,
				  st->reply.nfields ? (int)st->fields[0].len : 0,
				  st->reply.nfields ? (const char *)st->fields[0].p : "");
	default:
		return exchange_failed(st, IO_MALFORMED, doing, err);
	}
}

/* Checks that the answer has n fields of the given lengths (-1: any). */
static int expect_fields(struct lt_store *st, size_t n, const int *lens, const char *doing,
			 struct lt_err *err)
{
	bool ok = st->reply.nfields == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = lens[i] < 0 || st->fields[i].len == (uint32_t)lens[i];
	return ok ? 0 : exchange_failed(st, IO_MALFORMED, doing, err);
}

/* ------------------------------------------------------------- connect */

/* One nonblocking connect, bounded by deadline.  Returns the socket, or
 * -1 with errno set. */
static int connect_once(const struct addrinfo *a, double deadline)
{
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int soerr = 0, one = 1, rc;
	socklen_t len = sizeof(soerr);
	struct pollfd pfd;

	if (fd < 0)
		return -1;
	if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS)
		goto out_close;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	do
		rc = poll(&pfd, 1, ms_until(deadline));
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		errno = ETIMEDOUT;
	if (rc <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		goto out_close;
	if (soerr) {
		errno = soerr;
		goto out_close;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
out_close:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

/* Tries each address of host:port once.  Returns 0 with st->fd set, or -1
 * with *why describing the last failure. */
static int connect_any(struct lt_store *st, const char *host, const char *service,
		       double deadline, char *why, size_t why_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int rc = getaddrinfo(host, service, &hints, &res);

	if (rc) {
		snprintf(why, why_len, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = res; a && st->fd < 0; a = a->ai_next) {
		st->fd = connect_once(a, deadline);
		if (st->fd < 0)
			snprintf(why, why_len, "%s", strerror(errno));
	}
	freeaddrinfo(res);
	return st->fd < 0 ? -1 : 0;
}

/* Checks the server's answer to AUTH: OK with its proof of the token over
 * both nonces.  Returns 0, or -1 with err set. */
static int check_server(struct lt_store *st, const uint8_t token[LT_STORE_TOKEN_BYTES],
			const uint8_t *server_nonce, const uint8_t *client_nonce,
			struct lt_err *err)
{
	uint8_t want[LT_STORE_PROOF_BYTES];

	if (st->reply.code == LT_STORE_REFUSED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s refused this process: wrong token (every process of a job needs the same token: the same LTRUN_STORE_TOKEN, or the same secret file on every node; see SECURITY in ltrun(1))",
				  st->who, st->addr);
	lt_store_proof(token, LT_STORE_SERVER_SIDE, server_nonce, client_nonce, want);
	if (st->reply.code != LT_STORE_OK || st->reply.nfields != 1 ||
	    st->fields[0].len != sizeof(want) ||
	    lt_memcmp_const(want, st->fields[0].p, sizeof(want)))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s could not prove the job's token: another program is listening there (a stale job, or another user's program); not trusting it",
				  st->who, st->addr);
	return 0;
}

/* Proves the token to the server and checks its proof in turn.  Returns
 * 0; -1 with err set when the server is not a store of ours, refuses the
 * token or cannot prove it; or 1 when the connection failed (worth
 * another try). */
static int handshake(struct lt_store *st, const uint8_t token[LT_STORE_TOKEN_BYTES],
		     double deadline, struct lt_err *err)
{
	uint8_t server_nonce[LT_STORE_CHALLENGE_BYTES], client_nonce[LT_STORE_CHALLENGE_BYTES];
	uint8_t proof[LT_STORE_PROOF_BYTES];
	struct lt_store_field f[2] = { { client_nonce, sizeof(client_nonce) },
				       { proof, sizeof(proof) } };
	/* A server sends its challenge as soon as it accepts: one that has
	 * not in a login deadline never saw this connection (its handshake
	 * was dropped from a full listen queue while this side counted it
	 * made), so a new connection is tried instead of waiting it out. */
	double first = lt_now_ms() + LT_STORE_LOGIN_MS + CHALLENGE_SLACK_MS;
	enum io rc = receive_msg(st, LT_STORE_AUTH_PAYLOAD, first < deadline ? first : deadline);

	if (rc == IO_OK && (st->reply.code != LT_STORE_CHALLENGE || st->reply.nfields != 1 ||
			    st->fields[0].len != LT_STORE_CHALLENGE_BYTES))
		rc = IO_MALFORMED;
	if (rc == IO_MALFORMED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: %s is not an ltrun store of this version: is another program using that port?",
				  st->who, st->addr);
	if (rc != IO_OK)
		return 1;
	memcpy(server_nonce, st->fields[0].p, sizeof(server_nonce));
	if (getrandom(client_nonce, sizeof(client_nonce), 0) != (ssize_t)sizeof(client_nonce))
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: cannot make a nonce: getrandom: %s",
				  st->who, strerror(errno));
	lt_store_proof(token, LT_STORE_CLIENT_SIDE, server_nonce, client_nonce, proof);
	rc = send_msg(st, LT_STORE_AUTH, f, 2, deadline);
	if (rc == IO_OK)
		rc = receive_msg(st, LT_STORE_AUTH_PAYLOAD, deadline);
	if (rc == IO_MALFORMED)
		st->reply.code = 0; /* whatever came, it proves nothing */
	else if (rc != IO_OK)
		return 1;
	return check_server(st, token, server_nonce, client_nonce, err);
}

/* Sleeps about backoff_ms (0.5x to 1.5x, so that thousands of processes
 * do not retry in step), never past deadline. */
static void back_off(double backoff_ms, double deadline)
{
	uint32_t r = 0;
	double ms, left = deadline - lt_now_ms();
	struct timespec t;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)lt_now_ms();
	ms = backoff_ms * (0.5 + (r % 1024) / 1024.0);
	if (ms > left)
		ms = left;
	if (ms <= 0)
		return;
	t.tv_sec = (time_t)(ms / 1000);
	t.tv_nsec = (long)((ms - (double)t.tv_sec * 1000) * 1e6);
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/* lt_store_connect(), and with refused_ends, lt_store_connect_live(). */
static int connect_store(const char *host, int port, const uint8_t token[LT_STORE_TOKEN_BYTES],
			 const char *who, int timeout_ms, bool refused_ends, struct lt_store **out,
			 struct lt_err *err)
{
	double deadline = lt_now_ms() + timeout_ms, backoff = BACKOFF_FIRST_MS;
	struct lt_store *st = calloc(1, sizeof(*st));
	char service[16], why[256] = "timed out", waited[32];

	if (!st)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: cannot connect to the store: out of memory",
				  who);
	st->fd = -1;
	st->grace_ms = ANSWER_GRACE_MS;
	snprintf(st->who, sizeof(st->who), "%s", who);
	snprintf(st->addr, sizeof(st->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	snprintf(service, sizeof(service), "%d", port);
	for (;;) {
		if (!connect_any(st, host, service, deadline, why, sizeof(why))) {
			int rc = handshake(st, token, deadline, err);

			if (rc == 0) {
				*out = st;
				return 0;
			}
			drop_connection(st);
			if (rc < 0) {
				lt_store_close(st);
				return -1;
			}
			snprintf(why, sizeof(why),
				 "the connection broke during the handshake (a store with too many connections waiting to log in closes new ones: its log says so)");
		} else if (refused_ends && !strcmp(why, strerror(ECONNREFUSED))) {
			break;
		}
		if (lt_now_ms() >= deadline)
			break;
		back_off(backoff, deadline);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	format_seconds(timeout_ms, waited, sizeof(waited));
	lt_err_set(err, LT_EXIT_FAILURE,
		   "%s: cannot reach the store at %s after %s: %s: is node 0's ltrun up, and is the address right?",
		   st->who, st->addr, waited, why);
	lt_store_close(st);
	return -1;
}

int lt_store_connect(const char *host, int port,
		     const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
		     int timeout_ms, struct lt_store **out, struct lt_err *err)
{
	return connect_store(host, port, token, who, timeout_ms, false, out, err);
}

int lt_store_connect_live(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
			  int timeout_ms, struct lt_store **out, struct lt_err *err)
{
	return connect_store(host, port, token, who, timeout_ms, true, out, err);
}

void lt_store_set_answer_grace(struct lt_store *st, int grace_ms)
{
	st->grace_ms = grace_ms;
}

enum lt_store_failure lt_store_last_failure(const struct lt_store *st)
{
	return st->failure;
}

void lt_store_close(struct lt_store *st)
{
	if (!st)
		return;
	drop_connection(st);
	free(st->buf);
	free(st);
}

/* ------------------------------------------------------------ requests */

static struct lt_store_field text_field(const char *s)
{
	return (struct lt_store_field){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

/* What messages say a request was doing: "VERB key 'KEY'". */
#define DOING_MAX (LT_QUOTE_MAX + 64)

static void describe(char doing[DOING_MAX], const char *verb, const char *key)
{
	char q[LT_QUOTE_MAX];

	snprintf(doing, DOING_MAX, "%s key '%s'", verb, lt_quote(q, sizeof(q), key));
}

static int check_key(const struct lt_store *st, const char *key, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	size_t n = strlen(key);

	if (n >= 1 && n <= LT_STORE_MAX_KEY)
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: invalid store key '%s' (%zu bytes): keys are 1 to %d bytes", st->who,
			  lt_quote(q, sizeof(q), key), n, LT_STORE_MAX_KEY);
}

static int check_value(const struct lt_store *st, const char *key, size_t len,
		       struct lt_err *err)
{
	char q[LT_QUOTE_MAX];

	if (len <= LT_STORE_MAX_VALUE)
		return 0;
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: the value for store key '%s' is %zu bytes: values are at most %u bytes",
			  st->who, lt_quote(q, sizeof(q), key), len, (unsigned)LT_STORE_MAX_VALUE);
}

/* Returns a malloc'ed copy of field, NUL-terminated, or NULL. */
static void *copy_field(const struct lt_store_field *f)
{
	char *copy = malloc((size_t)f->len + 1);

	if (!copy)
		return NULL;
	if (f->len)
		memcpy(copy, f->p, f->len);
	copy[f->len] = '\0';
	return copy;
}

static uint32_t wire_timeout(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : (uint32_t)timeout_ms;
}

static int timed_out(struct lt_store *st, int timeout_ms, const char *what,
		     const char *from, struct lt_err *err)
{
	char secs[32];

	st->failure = LT_STORE_FAILED_TIMEOUT;
	format_seconds(timeout_ms, secs, sizeof(secs));
	return lt_err_set(err, LT_EXIT_FAILURE, "%s: timed out after %s waiting for %s%s%s at %s",
			  st->who, secs, what, from ? " from " : "", from ? from : "", st->addr);
}

/* "key 'a'", or "keys 'a' and 2 more": the keys still missing. */
static void describe_missing(const char *const *keys, size_t n, char *buf, size_t len,
			     const struct lt_store *st)
{
	uint32_t first = 0, missing = 1;
	char q[LT_QUOTE_MAX];

	if (st->reply.nfields == 2 && st->fields[0].len == 4 && st->fields[1].len == 4) {
		first = lt_store_get_u32(st->fields[0].p);
		missing = lt_store_get_u32(st->fields[1].p);
	}
	if (first >= n)
		first = 0;
	lt_quote(q, sizeof(q), keys[first]);
	if (missing <= 1)
		snprintf(buf, len, "key '%s'", q);
	else
		snprintf(buf, len, "keys '%s' and %u more", q, missing - 1);
}

/* SET or HOLD (`verb` for the messages): key to value. */
static int put(struct lt_store *st, uint8_t op, const char *verb, const char *key,
	       const void *value, size_t len, struct lt_err *err)
{
	struct lt_store_field f[2] = { text_field(key), { value, (uint32_t)len } };
	char doing[DOING_MAX];

	if (check_key(st, key, err) || check_value(st, key, len, err))
		return -1;
	describe(doing, verb, key);
	if (request(st, op, f, 2, 0, doing, err) < 0)
		return -1;
	return expect_fields(st, 0, NULL, doing, err);
}

int lt_store_set(struct lt_store *st, const char *key, const void *value,
		 size_t len, struct lt_err *err)
{
	return put(st, LT_STORE_SET, "setting", key, value, len, err);
}

int lt_store_hold(struct lt_store *st, const char *key, const void *value, size_t len,
		  struct lt_err *err)
{
	return put(st, LT_STORE_HOLD, "holding", key, value, len, err);
}

int lt_store_get(struct lt_store *st, const char *key, int timeout_ms,
		 const char *from, void **value, size_t *len, struct lt_err *err)
{
	uint8_t wait[4];
	struct lt_store_field f[2] = { text_field(key), { wait, 4 } };
	char doing[DOING_MAX], what[DOING_MAX];
	int rc;

	if (check_key(st, key, err))
		return -1;
	describe(doing, "waiting for", key);
	lt_store_put_u32(wait, wire_timeout(timeout_ms));
	rc = request(st, LT_STORE_GET, f, 2, timeout_ms, doing, err);
	if (rc < 0)
		return -1;
	if (rc == LT_STORE_TIMEOUT) {
		describe_missing(&key, 1, what, sizeof(what), st);
		return timed_out(st, timeout_ms, what, from, err);
	}
	if (expect_fields(st, 1, (const int[]){ -1 }, doing, err))
		return -1;
	*value = copy_field(&st->fields[0]);
	if (!*value)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: out of memory %s", st->who, doing);
	*len = st->fields[0].len;
	return 0;
}

int lt_store_add(struct lt_store *st, const char *key, int64_t delta,
		 int64_t *result, struct lt_err *err)
{
	uint8_t d[8];
	struct lt_store_field f[2] = { text_field(key), { d, 8 } };
	char doing[DOING_MAX];

	if (check_key(st, key, err))
		return -1;
	describe(doing, "adding to", key);
	lt_store_put_i64(d, delta);
	if (request(st, LT_STORE_ADD, f, 2, 0, doing, err) < 0 ||
	    expect_fields(st, 1, (const int[]){ 8 }, doing, err))
		return -1;
	*result = lt_store_get_i64(st->fields[0].p);
	return 0;
}

int lt_store_wait(struct lt_store *st, const char *const *keys, size_t n,
		  int timeout_ms, const char *from, struct lt_err *err)
{
	struct lt_store_field *f;
	char doing[DOING_MAX], what[DOING_MAX];
	uint8_t wait[4];
	int rc;

	if (n < 1 || n > LT_STORE_MAX_WAIT_KEYS)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: cannot wait for %zu keys at once: 1 to %d allowed", st->who, n,
				  LT_STORE_MAX_WAIT_KEYS);
	for (size_t i = 0; i < n; i++)
		if (check_key(st, keys[i], err))
			return -1;
	describe(doing, "waiting for", keys[0]);
	if (n > 1)
		snprintf(doing + strlen(doing), sizeof(doing) - strlen(doing), " and %zu more", n - 1);
	f = calloc(n + 1, sizeof(*f));
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: out of memory %s", st->who, doing);
	lt_store_put_u32(wait, wire_timeout(timeout_ms));
	f[0] = (struct lt_store_field){ wait, 4 };
	for (size_t i = 0; i < n; i++)
		f[i + 1] = text_field(keys[i]);
	rc = request(st, LT_STORE_WAIT, f, n + 1, timeout_ms, doing, err);
	free(f);
	if (rc < 0)
		return -1;
	if (rc == LT_STORE_TIMEOUT) {
		describe_missing(keys, n, what, sizeof(what), st);
		return timed_out(st, timeout_ms, what, from, err);
	}
	return expect_fields(st, 0, NULL, doing, err);
}

int lt_store_compare_set(struct lt_store *st, const char *key,
			 const void *expected, size_t expected_len,
			 const void *desired, size_t desired_len, int *swapped,
			 void **actual, size_t *actual_len, struct lt_err *err)
{
	struct lt_store_field f[3] = { text_field(key), { expected, (uint32_t)expected_len },
				       { desired, (uint32_t)desired_len } };
	char doing[DOING_MAX];

	if (check_key(st, key, err) || check_value(st, key, expected_len, err) ||
	    check_value(st, key, desired_len, err))
		return -1;
	describe(doing, "comparing and setting", key);
	if (request(st, LT_STORE_CAS, f, 3, 0, doing, err) < 0 ||
	    expect_fields(st, 2, (const int[]){ 1, -1 }, doing, err))
		return -1;
	if (actual) {
		*actual = copy_field(&st->fields[1]);
		if (!*actual)
			return lt_err_set(err, LT_EXIT_FAILURE, "%s: out of memory %s", st->who, doing);
		*actual_len = st->fields[1].len;
	}
	*swapped = st->fields[0].p[0] != 0;
	return 0;
}

int lt_store_delete(struct lt_store *st, const char *key, int *existed,
		    struct lt_err *err)
{
	struct lt_store_field f = text_field(key);
	char doing[DOING_MAX];

	if (check_key(st, key, err))
		return -1;
	describe(doing, "deleting", key);
	if (request(st, LT_STORE_DELETE, &f, 1, 0, doing, err) < 0 ||
	    expect_fields(st, 1, (const int[]){ 1 }, doing, err))
		return -1;
	*existed = st->fields[0].p[0] != 0;
	return 0;
}

int lt_store_num_keys(struct lt_store *st, int64_t *n, struct lt_err *err)
{
	const char *doing = "counting keys";

	if (request(st, LT_STORE_NUM_KEYS, NULL, 0, 0, doing, err) < 0 ||
	    expect_fields(st, 1, (const int[]){ 8 }, doing, err))
		return -1;
	*n = lt_store_get_i64(st->fields[0].p);
	return 0;
}
