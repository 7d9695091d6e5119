/*
 * store_client.c - the embedded TCP store's client, and the job token.
 *
 * Blocking, one request at a time, every wait bounded by poll().  Connect
 * retries with exponential backoff and jitter while the server is not up
 * yet; a wrong token fails at once.  Messages name this client (`who`),
 * what it waited for and the server's address.
 */
#include "launch/store.h"
#include "launch/store_proto.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
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

/* Beyond a request's own timeout, how long an answer may take. */
#define ANSWER_GRACE_MS 30000

struct lt_store {
	int fd;
	char host[256];
	int port;
	char who[64];
	uint8_t *buf;
	size_t cap;
	struct lt_store_frame frame;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- token */

int lt_store_token_new(char hex[LT_STORE_TOKEN_HEX], struct lt_err *err)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t raw[LT_STORE_TOKEN_BYTES];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot make a token: getrandom: %s",
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
	if (strlen(hex) != 2 * LT_STORE_TOKEN_BYTES)
		goto bad;
	for (size_t i = 0; i < LT_STORE_TOKEN_BYTES; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		token[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
bad:
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "invalid %s: expected %d hexadecimal digits (make one with: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n')",
			  what, 2 * LT_STORE_TOKEN_BYTES);
}

/* ------------------------------------------------------------------ I/O */

/* Reads or writes exactly n bytes before deadline (ms, now_ms() clock).
 * Returns 0, -1 on timeout, -2 when the connection is gone. */
static int transfer(int fd, void *p, size_t n, bool out, double deadline)
{
	uint8_t *b = p;

	while (n) {
		struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
		double left = deadline - now_ms();
		ssize_t k;
		int rc;

		if (left <= 0)
			return -1;
		rc = poll(&pfd, 1, left > 1e9 ? -1 : (int)left + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			continue; /* the loop checks the deadline */
		k = out ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return -2;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void describe_seconds(int ms, char *buf, size_t len)
{
	snprintf(buf, len, "%g s", ms / 1000.0);
}

static int lost(const struct lt_store *st, const char *doing, struct lt_err *err)
{
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: lost the store at %s:%d while %s: the process hosting it (node 0's agent, or rank 0) has ended",
			  st->who, st->host, st->port, doing);
}

/* Sends a request and reads its answer into st->frame.  wait_ms is the
 * request's own timeout on the server.  Returns the status, or -1. */
static int request(struct lt_store *st, uint8_t op, const struct lt_store_field *fields,
		   size_t n, int wait_ms, const char *doing, struct lt_err *err)
{
	size_t size = lt_store_frame_size(fields, n);
	double deadline = now_ms() + wait_ms + ANSWER_GRACE_MS;
	uint8_t header[LT_STORE_HEADER_BYTES];
	uint32_t payload;
	int rc;

	if (size - LT_STORE_HEADER_BYTES > LT_STORE_MAX_PAYLOAD)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: a store request over %u bytes", st->who,
				  (unsigned)LT_STORE_MAX_PAYLOAD);
	if (size > st->cap) {
		uint8_t *grown = realloc(st->buf, size);
		if (!grown)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		st->buf = grown;
		st->cap = size;
	}
	lt_store_frame_build(st->buf, st->cap, op, fields, n);
	rc = transfer(st->fd, st->buf, size, true, deadline);
	if (!rc)
		rc = transfer(st->fd, header, sizeof(header), false, deadline);
	if (rc == -1)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s:%d did not answer within %d s while %s",
				  st->who, st->host, st->port, (wait_ms + ANSWER_GRACE_MS) / 1000, doing);
	if (rc < 0)
		return lost(st, doing, err);
	payload = lt_get_u32(header + 2);
	if (header[0] != LT_STORE_VERSION || payload > LT_STORE_MAX_PAYLOAD)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store at %s:%d sent a malformed answer",
				  st->who, st->host, st->port);
	if (LT_STORE_HEADER_BYTES + (size_t)payload > st->cap) {
		uint8_t *grown = realloc(st->buf, LT_STORE_HEADER_BYTES + (size_t)payload);
		if (!grown)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		st->buf = grown;
		st->cap = LT_STORE_HEADER_BYTES + (size_t)payload;
	}
	memcpy(st->buf, header, sizeof(header));
	rc = transfer(st->fd, st->buf + LT_STORE_HEADER_BYTES, payload, false, deadline);
	if (rc < 0)
		return lost(st, doing, err);
	if (lt_store_frame_parse(st->buf, LT_STORE_HEADER_BYTES + payload, &st->frame) != 1)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store at %s:%d sent a malformed answer",
				  st->who, st->host, st->port);
	if (st->frame.code == LT_STORE_ERROR) {
		const struct lt_store_field *m = &st->frame.field[0];
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store refused %s: %.*s", st->who,
				  doing, st->frame.nfields ? (int)m->len : 0,
				  st->frame.nfields ? (const char *)m->p : "");
	}
	return st->frame.code;
}

static struct lt_store_field text_field(const char *s)
{
	return (struct lt_store_field){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

static int check_key(const struct lt_store *st, const char *key, struct lt_err *err)
{
	size_t n = strlen(key);

	if (n < 1 || n > LT_STORE_MAX_KEY)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: a store key of %zu bytes (1 to %d allowed)",
				  st->who, n, LT_STORE_MAX_KEY);
	return 0;
}

/* ------------------------------------------------------------- connect */

static int connect_once(const struct addrinfo *a, double deadline)
{
	int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd pfd;
	int soerr = 0, one = 1;
	socklen_t len = sizeof(soerr);

	if (fd < 0)
		return -1;
	if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, (int)(deadline - now_ms()) + 1) <= 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		errno = soerr ? soerr : ETIMEDOUT;
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

/* Answers the server's challenge.  Returns 0, -1 (err set) when refused
 * or broken, -2 when the connection went away (worth another try). */
static int handshake(struct lt_store *st, const uint8_t token[LT_STORE_TOKEN_BYTES],
		     double deadline, struct lt_err *err)
{
	uint8_t hello[LT_STORE_HELLO_BYTES], answer[LT_STORE_ANSWER_BYTES], verdict;
	int rc = transfer(st->fd, hello, sizeof(hello), false, deadline);

	if (rc)
		return -2;
	if (memcmp(hello, LT_STORE_MAGIC, 4) || hello[4] != LT_STORE_VERSION)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: %s:%d is not an ltrun store of this version (protocol %d): is another program on that port?",
				  st->who, st->host, st->port, LT_STORE_VERSION);
	answer[0] = LT_STORE_VERSION;
	lt_hmac_sha256(token, LT_STORE_TOKEN_BYTES, hello + 5, LT_STORE_CHALLENGE_BYTES, answer + 1);
	if (transfer(st->fd, answer, sizeof(answer), true, deadline) ||
	    transfer(st->fd, &verdict, 1, false, deadline))
		return -2;
	if (verdict)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: the store at %s:%d refused this process's token: it belongs to another job (check LTRUN_STORE_TOKEN)",
				  st->who, st->host, st->port);
	return 0;
}

int lt_store_connect(const char *host, int port,
		     const uint8_t token[LT_STORE_TOKEN_BYTES], const char *who,
		     int timeout_ms, struct lt_store **out, struct lt_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	double start = now_ms(), deadline = start + timeout_ms, backoff = 50;
	struct lt_store *st = calloc(1, sizeof(*st));
	char portstr[8], waited[32];
	int last = 0;

	if (!st)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	st->fd = -1;
	snprintf(st->host, sizeof(st->host), "%s", host);
	snprintf(st->who, sizeof(st->who), "%s", who);
	st->port = port;
	snprintf(portstr, sizeof(portstr), "%d", port);
	for (;;) {
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(host, portstr, &hints, &res);
		if (rc == 0) {
			for (struct addrinfo *a = res; a && st->fd < 0; a = a->ai_next) {
				st->fd = connect_once(a, deadline);
				last = errno;
			}
			freeaddrinfo(res);
			if (st->fd >= 0) {
				rc = handshake(st, token, deadline, err);
				if (rc == 0) {
					*out = st;
					return 0;
				}
				close(st->fd);
				st->fd = -1;
				if (rc == -1) {
					free(st);
					return -1;
				}
				last = ECONNRESET;
			}
		} else if (rc != EAI_AGAIN) {
			free(st);
			return lt_err_set(err, LT_EXIT_FAILURE, "%s: cannot resolve the store's host '%s': %s",
					  who, host, gai_strerror(rc));
		}
		if (now_ms() + backoff > deadline)
			break;
		/* Backoff with jitter, so that thousands of ranks do not retry
		 * in step. */
		{
			uint32_t r;
			if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
				r = (uint32_t)now_ms();
			usleep((useconds_t)(backoff * (0.5 + (r % 1000) / 1000.0) * 1000));
		}
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	free(st);
	describe_seconds(timeout_ms, waited, sizeof(waited));
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s: cannot reach the store at %s:%d after %s (%s): is node 0 up, and is the address right?",
			  who, host, port, waited, strerror(last ? last : ETIMEDOUT));
}

void lt_store_close(struct lt_store *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	free(st->buf);
	free(st);
}

/* ------------------------------------------------------------ commands */

int lt_store_set(struct lt_store *st, const char *key, const void *value,
		 size_t len, struct lt_err *err)
{
	struct lt_store_field f[2] = { text_field(key), { value, (uint32_t)len } };

	if (check_key(st, key, err))
		return -1;
	if (len > LT_STORE_MAX_VALUE)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: a value of %zu bytes for key '%s' (at most %u)",
				  st->who, len, key, (unsigned)LT_STORE_MAX_VALUE);
	return request(st, LT_STORE_SET, f, 2, 0, "setting a key", err) < 0 ? -1 : 0;
}

static int timed_out(const struct lt_store *st, int timeout_ms, const char *what,
		     const char *from, struct lt_err *err)
{
	char secs[32];

	describe_seconds(timeout_ms, secs, sizeof(secs));
	return lt_err_set(err, LT_EXIT_FAILURE, "%s: timed out after %s waiting for %s%s%s at %s:%d",
			  st->who, secs, what, from ? " from " : "", from ? from : "", st->host,
			  st->port);
}

int lt_store_get(struct lt_store *st, const char *key, int timeout_ms,
		 const char *from, void **value, size_t *len, struct lt_err *err)
{
	uint8_t t[4];
	struct lt_store_field f[2] = { text_field(key), { t, 4 } };
	char what[LT_STORE_MAX_KEY + 16];
	int rc;
	char *copy;

	if (check_key(st, key, err))
		return -1;
	lt_put_u32(t, (uint32_t)(timeout_ms < 0 ? 0 : timeout_ms));
	rc = request(st, LT_STORE_GET, f, 2, timeout_ms, "waiting for a key", err);
	if (rc < 0)
		return -1;
	snprintf(what, sizeof(what), "key '%s'", key);
	if (rc == LT_STORE_TIMEOUT)
		return timed_out(st, timeout_ms, what, from, err);
	if (st->frame.nfields != 1)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store sent a malformed answer", st->who);
	copy = malloc(st->frame.field[0].len + 1);
	if (!copy)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	memcpy(copy, st->frame.field[0].p, st->frame.field[0].len);
	copy[st->frame.field[0].len] = '\0';
	*value = copy;
	*len = st->frame.field[0].len;
	return 0;
}

int lt_store_add(struct lt_store *st, const char *key, int64_t delta,
		 int64_t *result, struct lt_err *err)
{
	uint8_t d[8];
	struct lt_store_field f[2] = { text_field(key), { d, 8 } };

	if (check_key(st, key, err))
		return -1;
	lt_put_i64(d, delta);
	if (request(st, LT_STORE_ADD, f, 2, 0, "adding to a counter", err) < 0)
		return -1;
	if (st->frame.nfields != 1 || st->frame.field[0].len != 8)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store sent a malformed answer", st->who);
	*result = lt_get_i64(st->frame.field[0].p);
	return 0;
}

int lt_store_wait(struct lt_store *st, const char *const *keys, size_t n,
		  int timeout_ms, const char *from, struct lt_err *err)
{
	struct lt_store_field *f = calloc(n + 1, sizeof(*f));
	char what[LT_STORE_MAX_KEY + 64];
	uint8_t t[4];
	int rc;

	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (!n || n >= LT_STORE_MAX_FIELDS) {
		free(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: waiting for %zu keys (1 to %d allowed)",
				  st->who, n, LT_STORE_MAX_FIELDS - 1);
	}
	lt_put_u32(t, (uint32_t)(timeout_ms < 0 ? 0 : timeout_ms));
	f[0] = (struct lt_store_field){ t, 4 };
	for (size_t i = 0; i < n; i++) {
		if (check_key(st, keys[i], err)) {
			free(f);
			return -1;
		}
		f[i + 1] = text_field(keys[i]);
	}
	rc = request(st, LT_STORE_WAIT, f, n + 1, timeout_ms, "waiting for keys", err);
	free(f);
	if (rc < 0)
		return -1;
	if (rc == LT_STORE_TIMEOUT) {
		if (n == 1)
			snprintf(what, sizeof(what), "key '%s'", keys[0]);
		else
			snprintf(what, sizeof(what), "keys '%s' and %zu more", keys[0], n - 1);
		return timed_out(st, timeout_ms, what, from, err);
	}
	return 0;
}

int lt_store_compare_set(struct lt_store *st, const char *key,
			 const void *expected, size_t expected_len,
			 const void *desired, size_t desired_len, int *swapped,
			 void **actual, size_t *actual_len, struct lt_err *err)
{
	struct lt_store_field f[3] = { text_field(key), { expected, (uint32_t)expected_len },
				       { desired, (uint32_t)desired_len } };
	const struct lt_store_field *cur;

	if (check_key(st, key, err))
		return -1;
	if (expected_len > LT_STORE_MAX_VALUE || desired_len > LT_STORE_MAX_VALUE)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: a value over %u bytes for key '%s'",
				  st->who, (unsigned)LT_STORE_MAX_VALUE, key);
	if (request(st, LT_STORE_CAS, f, 3, 0, "comparing and setting a key", err) < 0)
		return -1;
	if (st->frame.nfields != 2 || st->frame.field[0].len != 1)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store sent a malformed answer", st->who);
	*swapped = st->frame.field[0].p[0];
	cur = &st->frame.field[1];
	if (actual) {
		char *copy = malloc(cur->len + 1);
		if (!copy)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		memcpy(copy, cur->p, cur->len);
		copy[cur->len] = '\0';
		*actual = copy;
		*actual_len = cur->len;
	}
	return 0;
}

int lt_store_delete(struct lt_store *st, const char *key, int *existed,
		    struct lt_err *err)
{
	struct lt_store_field f = text_field(key);

	if (check_key(st, key, err))
		return -1;
	if (request(st, LT_STORE_DELETE, &f, 1, 0, "deleting a key", err) < 0)
		return -1;
	if (st->frame.nfields != 1 || st->frame.field[0].len != 1)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store sent a malformed answer", st->who);
	*existed = st->frame.field[0].p[0];
	return 0;
}

int lt_store_num_keys(struct lt_store *st, int64_t *n, struct lt_err *err)
{
	if (request(st, LT_STORE_NUM_KEYS, NULL, 0, 0, "counting keys", err) < 0)
		return -1;
	if (st->frame.nfields != 1 || st->frame.field[0].len != 8)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: the store sent a malformed answer", st->who);
	*n = lt_get_i64(st->frame.field[0].p);
	return 0;
}
