/*
 * store_server.c - the embedded TCP store's server: one thread, nonblocking
 * sockets, epoll, no fixed connection cap.
 *
 * Each connection first proves the job's token (store_proto.h); until then
 * nothing it sends is read as a command.  GET and WAIT on keys that do not
 * exist yet are parked, with their deadline, and answered when a SET, ADD
 * or CAS makes them exist, or with TIMEOUT.  A malformed or oversized
 * frame closes that connection only.
 */
#include "launch/store.h"
#include "launch/store_proto.h"
#include "core/sha256.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024
#define READ_CHUNK 65536

struct entry {
	struct entry *next;
	uint8_t *key, *value;
	uint32_t key_len, value_len;
};

struct conn;

/* A GET or WAIT whose keys do not all exist yet. */
struct waiter {
	struct waiter *prev, *next;
	struct conn *c;
	uint8_t op;
	double deadline;
	size_t nkeys;
	struct lt_store_field *keys; /* copies, owned */
};

struct conn {
	struct conn *prev, *next;
	int fd;
	bool authed, closing, want_out;
	uint8_t challenge[LT_STORE_CHALLENGE_BYTES];
	uint8_t *in, *out;
	size_t in_len, in_cap, out_len, out_off, out_cap;
	struct waiter *parked;
	char peer[INET6_ADDRSTRLEN + 8];
};

struct lt_store_server {
	int listen_fd, epoll_fd, wake_fd;
	pthread_t thread;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	FILE *log;
	struct entry **buckets;
	size_t nbuckets, nkeys;
	struct conn *conns;
	struct waiter *waiters;
	struct lt_store_frame frame; /* scratch, 64 KiB: not on the stack */
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ the table */

static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

static struct entry **slot(struct lt_store_server *s, const uint8_t *key, uint32_t len)
{
	struct entry **e = &s->buckets[hash(key, len) & (s->nbuckets - 1)];

	while (*e && ((*e)->key_len != len || memcmp((*e)->key, key, len)))
		e = &(*e)->next;
	return e;
}

static struct entry *lookup(struct lt_store_server *s, const struct lt_store_field *k)
{
	return *slot(s, k->p, k->len);
}

static void grow_table(struct lt_store_server *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct entry *e = s->buckets[i], *next; e; e = next) {
			size_t j = hash(e->key, e->key_len) & (n - 1);
			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

/* Sets key to value.  Returns 0, or -1 when out of memory. */
static int put(struct lt_store_server *s, const struct lt_store_field *k, const void *value,
	       uint32_t len)
{
	struct entry **e = slot(s, k->p, k->len);
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -1;
	memcpy(copy, value, len);
	if (!*e) {
		struct entry *n = calloc(1, sizeof(*n));
		if (!n || !(n->key = malloc(k->len))) {
			free(n);
			free(copy);
			return -1;
		}
		memcpy(n->key, k->p, k->len);
		n->key_len = k->len;
		*e = n;
		if (++s->nkeys > s->nbuckets)
			grow_table(s);
		e = slot(s, k->p, k->len);
	}
	free((*e)->value);
	(*e)->value = copy;
	(*e)->value_len = len;
	return 0;
}

static bool remove_key(struct lt_store_server *s, const struct lt_store_field *k)
{
	struct entry **e = slot(s, k->p, k->len), *gone = *e;

	if (!gone)
		return false;
	*e = gone->next;
	free(gone->key);
	free(gone->value);
	free(gone);
	s->nkeys--;
	return true;
}

/* -------------------------------------------------------------- output */

static void watch(struct lt_store_server *s, struct conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out != out && !epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev))
		c->want_out = out;
}

static void flush(struct lt_store_server *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->closing = true;
			c->out_len = c->out_off = 0;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_len = c->out_off = 0;
	watch(s, c, c->out_len > 0);
}

static void send_bytes(struct lt_store_server *s, struct conn *c, const void *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = (c->out_len + n) * 2;
		uint8_t *grown = realloc(c->out, cap);
		if (!grown) {
			c->closing = true;
			return;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	flush(s, c);
}

static void respond(struct lt_store_server *s, struct conn *c, uint8_t status,
		    const struct lt_store_field *fields, size_t n)
{
	size_t size = lt_store_frame_size(fields, n);
	uint8_t small[256], *buf = size <= sizeof(small) ? small : malloc(size);

	if (!buf) {
		c->closing = true;
		return;
	}
	lt_store_frame_build(buf, size, status, fields, n);
	send_bytes(s, c, buf, size);
	if (buf != small)
		free(buf);
}

static void respond_error(struct lt_store_server *s, struct conn *c, const char *msg)
{
	struct lt_store_field f = { (const uint8_t *)msg, (uint32_t)strlen(msg) };

	respond(s, c, LT_STORE_ERROR, &f, 1);
}

/* ------------------------------------------------------------- waiters */

static bool all_exist(struct lt_store_server *s, const struct waiter *w)
{
	for (size_t i = 0; i < w->nkeys; i++)
		if (!lookup(s, &w->keys[i]))
			return false;
	return true;
}

static void free_waiter(struct lt_store_server *s, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->c->parked = NULL;
	for (size_t i = 0; i < w->nkeys; i++)
		free((void *)w->keys[i].p);
	free(w->keys);
	free(w);
}

/* Answers a parked request whose keys now all exist. */
static void answer_waiter(struct lt_store_server *s, struct waiter *w)
{
	struct conn *c = w->c;

	if (w->op == LT_STORE_GET) {
		struct entry *e = lookup(s, &w->keys[0]);
		struct lt_store_field v = { e->value, e->value_len };
		respond(s, c, LT_STORE_OK, &v, 1);
	} else {
		respond(s, c, LT_STORE_OK, NULL, 0);
	}
	free_waiter(s, w);
}

static void process_input(struct lt_store_server *s, struct conn *c);

/* After keys changed: answers every parked request now complete, then
 * lets their connections go on with what they sent meanwhile. */
static void wake_waiters(struct lt_store_server *s)
{
	struct waiter *w = s->waiters, *next;
	struct conn *woken[64];
	size_t n = 0;

	for (; w; w = next) {
		next = w->next;
		if (all_exist(s, w)) {
			struct conn *c = w->c;
			answer_waiter(s, w);
			if (n < sizeof(woken) / sizeof(woken[0]))
				woken[n++] = c;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (woken[i]->in_len)
			process_input(s, woken[i]);
}

static int park(struct lt_store_server *s, struct conn *c, uint8_t op, uint32_t timeout_ms,
		const struct lt_store_field *keys, size_t nkeys)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w || !(w->keys = calloc(nkeys, sizeof(*w->keys)))) {
		free(w);
		return -1;
	}
	for (size_t i = 0; i < nkeys; i++) {
		uint8_t *copy = malloc(keys[i].len);
		if (!copy) {
			w->nkeys = i;
			w->c = c;
			w->next = NULL;
			for (size_t j = 0; j < i; j++)
				free((void *)w->keys[j].p);
			free(w->keys);
			free(w);
			return -1;
		}
		memcpy(copy, keys[i].p, keys[i].len);
		w->keys[i] = (struct lt_store_field){ copy, keys[i].len };
	}
	w->nkeys = nkeys;
	w->c = c;
	w->op = op;
	w->deadline = now_s() + timeout_ms / 1000.0;
	w->next = s->waiters;
	if (s->waiters)
		s->waiters->prev = w;
	s->waiters = w;
	c->parked = w;
	return 0;
}

static void expire_waiters(struct lt_store_server *s)
{
	double now = now_s();

	for (struct waiter *w = s->waiters, *next; w; w = next) {
		next = w->next;
		if (w->deadline <= now) {
			struct conn *c = w->c;
			respond(s, c, LT_STORE_TIMEOUT, NULL, 0);
			free_waiter(s, w);
			if (c->in_len)
				process_input(s, c);
		}
	}
}

static int next_timeout_ms(const struct lt_store_server *s)
{
	double first = -1, now = now_s();

	for (const struct waiter *w = s->waiters; w; w = w->next)
		if (first < 0 || w->deadline < first)
			first = w->deadline;
	if (first < 0)
		return -1;
	return first <= now ? 0 : (int)((first - now) * 1000) + 1;
}

/* ------------------------------------------------------------ commands */

static bool parse_counter(const struct entry *e, int64_t *out)
{
	char text[32], *end;

	if (!e->value_len || e->value_len >= sizeof(text))
		return false;
	memcpy(text, e->value, e->value_len);
	text[e->value_len] = '\0';
	errno = 0;
	*out = strtoll(text, &end, 10);
	return !errno && *end == '\0';
}

/* Runs one request.  Returns true when the keys may have changed. */
static bool run(struct lt_store_server *s, struct conn *c, const struct lt_store_frame *f)
{
	const struct lt_store_field *x = f->field;
	uint8_t num[8], flag;

	switch (f->code) {
	case LT_STORE_SET:
		if (put(s, &x[0], x[1].p, x[1].len))
			return respond_error(s, c, "the store is out of memory"), false;
		respond(s, c, LT_STORE_OK, NULL, 0);
		return true;
	case LT_STORE_GET: {
		struct entry *e = lookup(s, &x[0]);
		uint32_t timeout = lt_get_u32(x[1].p);
		if (e) {
			struct lt_store_field v = { e->value, e->value_len };
			respond(s, c, LT_STORE_OK, &v, 1);
		} else if (!timeout) {
			respond(s, c, LT_STORE_TIMEOUT, NULL, 0);
		} else if (park(s, c, LT_STORE_GET, timeout, &x[0], 1)) {
			respond_error(s, c, "the store is out of memory");
		}
		return false;
	}
	case LT_STORE_ADD: {
		struct entry *e = lookup(s, &x[0]);
		int64_t value = 0, delta = lt_get_i64(x[1].p);
		char text[32];
		if (e && !parse_counter(e, &value))
			return respond_error(s, c, "the key holds a value that is not a counter"), false;
		if ((delta > 0 && value > INT64_MAX - delta) || (delta < 0 && value < INT64_MIN - delta))
			return respond_error(s, c, "the counter would overflow"), false;
		value += delta;
		snprintf(text, sizeof(text), "%" PRId64, value);
		if (put(s, &x[0], text, (uint32_t)strlen(text)))
			return respond_error(s, c, "the store is out of memory"), false;
		lt_put_i64(num, value);
		respond(s, c, LT_STORE_OK, &(struct lt_store_field){ num, 8 }, 1);
		return true;
	}
	case LT_STORE_WAIT: {
		struct waiter probe = { .keys = (struct lt_store_field *)&x[1], .nkeys = f->nfields - 1 };
		uint32_t timeout = lt_get_u32(x[0].p);
		if (all_exist(s, &probe))
			respond(s, c, LT_STORE_OK, NULL, 0);
		else if (!timeout)
			respond(s, c, LT_STORE_TIMEOUT, NULL, 0);
		else if (park(s, c, LT_STORE_WAIT, timeout, &x[1], f->nfields - 1))
			respond_error(s, c, "the store is out of memory");
		return false;
	}
	case LT_STORE_CAS: {
		struct entry *e = lookup(s, &x[0]);
		bool match = e ? e->value_len == x[1].len && !memcmp(e->value, x[1].p, x[1].len)
			       : x[1].len == 0;
		struct lt_store_field out[2];
		if (match && put(s, &x[0], x[2].p, x[2].len))
			return respond_error(s, c, "the store is out of memory"), false;
		e = lookup(s, &x[0]);
		flag = match;
		out[0] = (struct lt_store_field){ &flag, 1 };
		out[1] = (struct lt_store_field){ e ? e->value : NULL, e ? e->value_len : 0 };
		respond(s, c, LT_STORE_OK, out, 2);
		return match;
	}
	case LT_STORE_DELETE:
		flag = remove_key(s, &x[0]);
		respond(s, c, LT_STORE_OK, &(struct lt_store_field){ &flag, 1 }, 1);
		return false;
	case LT_STORE_NUM_KEYS:
		lt_put_i64(num, (int64_t)s->nkeys);
		respond(s, c, LT_STORE_OK, &(struct lt_store_field){ num, 8 }, 1);
		return false;
	}
	return false;
}

static void authenticate(struct lt_store_server *s, struct conn *c)
{
	uint8_t want[LT_SHA256_BYTES], verdict;
	bool same_version = c->in[0] == LT_STORE_VERSION;

	lt_hmac_sha256(s->token, sizeof(s->token), c->challenge, sizeof(c->challenge), want);
	verdict = same_version && !lt_memcmp_const(want, c->in + 1, sizeof(want)) ? 0 : 1;
	memmove(c->in, c->in + LT_STORE_ANSWER_BYTES, c->in_len - LT_STORE_ANSWER_BYTES);
	c->in_len -= LT_STORE_ANSWER_BYTES;
	send_bytes(s, c, &verdict, 1);
	if (verdict) {
		if (s->log)
			fprintf(s->log, "ltrun: store: refused %s: %s\n", c->peer,
				same_version ? "wrong token" : "another protocol version");
		c->closing = true;
		return;
	}
	c->authed = true;
}

static void process_input(struct lt_store_server *s, struct conn *c)
{
	if (!c->authed) {
		if (c->in_len < LT_STORE_ANSWER_BYTES)
			return;
		authenticate(s, c);
		if (!c->authed)
			return;
	}
	while (!c->parked && !c->closing) {
		int rc = lt_store_frame_parse(c->in, c->in_len, &s->frame);
		bool changed;
		if (rc == 0)
			return;
		if (rc < 0 || lt_store_request_check(&s->frame)) {
			c->closing = true;
			return;
		}
		changed = run(s, c, &s->frame);
		memmove(c->in, c->in + s->frame.size, c->in_len - s->frame.size);
		c->in_len -= s->frame.size;
		if (changed)
			wake_waiters(s);
	}
}

/* --------------------------------------------------------- connections */

static void close_conn(struct lt_store_server *s, struct conn *c)
{
	if (c->parked)
		free_waiter(s, c->parked);
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in);
	free(c->out);
	free(c);
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage a;
	socklen_t alen = sizeof(a);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(fd, (struct sockaddr *)&a, &alen) ||
	    getnameinfo((struct sockaddr *)&a, alen, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(buf, len, "an unknown peer");
	else
		snprintf(buf, len, "%s:%s", host, port);
}

static void accept_all(struct lt_store_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		uint8_t hello[LT_STORE_HELLO_BYTES];
		struct epoll_event ev;
		struct conn *c;

		if (fd < 0)
			return; /* EAGAIN, or out of descriptors until one closes */
		c = calloc(1, sizeof(*c));
		if (!c || getrandom(c->challenge, sizeof(c->challenge), 0) != sizeof(c->challenge)) {
			free(c);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		peer_name(fd, c->peer, sizeof(c->peer));
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c);
			close(fd);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		memcpy(hello, LT_STORE_MAGIC, 4);
		hello[4] = LT_STORE_VERSION;
		memcpy(hello + 5, c->challenge, sizeof(c->challenge));
		send_bytes(s, c, hello, sizeof(hello));
	}
}

static void read_conn(struct lt_store_server *s, struct conn *c)
{
	for (;;) {
		ssize_t n;
		if (c->in_cap - c->in_len < READ_CHUNK) {
			size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK * 2;
			uint8_t *grown;
			if (cap > LT_STORE_MAX_PAYLOAD + 2 * READ_CHUNK) {
				c->closing = true; /* more than one frame can hold */
				return;
			}
			grown = realloc(c->in, cap);
			if (!grown) {
				c->closing = true;
				return;
			}
			c->in = grown;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->closing = true;
			return;
		}
		c->in_len += (size_t)n;
		if (c->in_len > LT_STORE_MAX_PAYLOAD + LT_STORE_HEADER_BYTES + READ_CHUNK) {
			c->closing = true;
			return;
		}
	}
	process_input(s, c);
}

static void *serve(void *arg)
{
	struct lt_store_server *s = arg;
	struct epoll_event ev[256];

	for (;;) {
		int n = epoll_wait(s->epoll_fd, ev, 256, next_timeout_ms(s));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			if (!c)
				return NULL; /* the wake-up: stop */
			if ((void *)c == (void *)s) {
				accept_all(s);
				continue;
			}
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				read_conn(s, c);
			if ((ev[i].events & EPOLLOUT) && !c->closing)
				flush(s, c);
			if (c->closing && (c->out_len == 0 || (ev[i].events & (EPOLLHUP | EPOLLERR))))
				close_conn(s, c);
			else if (c->closing)
				shutdown(c->fd, SHUT_RD);
		}
		expire_waiters(s);
		/* Connections marked closing by a wake-up elsewhere. */
		for (struct conn *c = s->conns, *next; c; c = next) {
			next = c->next;
			if (c->closing && c->out_len == 0)
				close_conn(s, c);
		}
	}
	return NULL;
}

/* --------------------------------------------------------------- setup */

static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int listen_on(const char *host, int port, int *bound, struct lt_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *a;
	char portstr[8];
	int fd = -1, rc, one = 1, saved = 0;

	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot listen on %s:%d: %s",
				  host ? host : "*", port, gai_strerror(rc));
	for (a = res; a; a = a->ai_next) {
		int zero = 0;
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ai_family == AF_INET6) /* IPv4 too, on an IPv6 address */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(fd, a->ai_addr, a->ai_addrlen) && !listen(fd, 4096))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot listen on %s:%d: %s: pick another port with --main-port",
				  host ? host : "*", port, strerror(saved ? saved : EADDRNOTAVAIL));
	{
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		*bound = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
							: ((struct sockaddr_in *)&sa)->sin_port);
	}
	return fd;
}

int lt_store_server_start(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			  struct lt_store_server **out, int *bound_port,
			  struct lt_err *err)
{
	struct lt_store_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev;

	if (!s || !(s->buckets = calloc(INITIAL_BUCKETS, sizeof(*s->buckets)))) {
		free(s);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory starting the store");
	}
	s->nbuckets = INITIAL_BUCKETS;
	s->listen_fd = s->epoll_fd = s->wake_fd = -1;
	memcpy(s->token, token, sizeof(s->token));
	s->log = log;
	raise_fd_limit();
	s->listen_fd = listen_on(host, port, bound_port, err);
	if (s->listen_fd < 0)
		goto fail;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->wake_fd < 0) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: %s", strerror(errno));
		goto fail;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = s };
	epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev);
	if (pthread_create(&s->thread, NULL, serve, s)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store's thread");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->buckets);
	free(s);
	return -1;
}

void lt_store_server_stop(struct lt_store_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
		pthread_cancel(s->thread);
	pthread_join(s->thread, NULL);
	while (s->conns)
		close_conn(s, s->conns);
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct entry *e = s->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	free(s->buckets);
	close(s->listen_fd);
	close(s->epoll_fd);
	close(s->wake_fd);
	free(s);
}
