/*
 * store_server.c - the embedded TCP store's server: one thread, nonblocking
 * sockets, epoll.
 *
 * A connection first proves the job's token, and the server proves it in
 * turn (store_proto.h); until then nothing it sends is read as a command.
 * Before that login, what a stranger can take is bounded (store.h's
 * lt_store_limits): the login deadline, and a cap on connections waiting
 * to log in, in all (beyond it the store stops accepting: they wait in the
 * listen backlog, and the log says so once) and per source address
 * (store_sources.c: all loopback is one source; beyond it a connection is
 * closed at once).  Both caps sit above what a job's own burst reaches:
 * every rank connects before the first has logged in, so one host's
 * ranks all wait at once.  A connection costs the server its descriptor
 * and its struct conn: buffers are held only while a message is partly
 * read or sent.  Logged-in clients are trusted with the table, up to its
 * memory cap.  Requests are answered in order,
 * one at a time per connection; a GET or WAIT whose keys are missing parks
 * its connection in the table (store_table.c) until a SET, ADD or CAS makes
 * them exist, or its deadline passes and it is answered TIMEOUT.  Nothing
 * here blocks.  A malformed or oversized message closes that connection
 * only.
 *
 * Connections are closed in two steps: kill() releases the socket and the
 * parked request at once, and the memory goes at the end of the loop's
 * turn, so that events already fetched for it stay harmless.
 */
#include "core/buf.h"
#include "core/clock.h"
#include "rdzv/store.h"
#include "core/parse.h"
#include "core/sha256.h"
#include "core/thread.h"
#include "rdzv/store_proto.h"
#include "rdzv/store_sources.h"
#include "rdzv/store_table.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The kernel takes the smaller of this and net.core.somaxconn. */
#define LISTEN_BACKLOG 65535
#define MAX_EVENTS 512
/* Bytes read at once; also what a connection may buffer beyond one whole
 * message before it is thought to flood. */
#define READ_CHUNK 65536
/* A connection with this much unsent output is not served until its
 * client reads. */
#define OUT_HIGH_WATER (1u << 20)
/* While out of descriptors, how often to try accepting again. */
#define ACCEPT_RETRY_MS 100

_Static_assert(sizeof(long) == sizeof(int64_t), "counters are parsed with lt_parse_long");

struct buffer {
	uint8_t *data;
	size_t off, len, cap; /* data[off..len) is pending */
};

struct conn {
	struct conn *prev, *next; /* every connection */
	struct conn *next_queued, *next_doomed;
	int fd;
	bool authed;
	bool closing; /* close once the output is sent */
	bool dead;    /* socket closed; memory freed at the end of the turn */
	bool queued;  /* has input to look at again */
	bool want_out;
	bool pending; /* on the list of connections waiting to log in */
	struct conn *prev_pending, *next_pending;
	double login_deadline;
	uint8_t challenge[LT_STORE_CHALLENGE_BYTES]; /* the server's nonce */
	struct buffer in, out;
	struct lt_store_waiter *parked;
	uint8_t parked_op;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct held {               /* the keys it HOLDs: deleted when it closes */
		uint8_t *key;
		uint32_t len;
	} held[LT_STORE_MAX_HELD];
	int nheld;
};

struct lt_store_server {
	int listen_fd, epoll_fd, wake_fd;
	bool accepting;
	bool out_of_fds; /* paused by accept(): try again every ACCEPT_RETRY_MS */
	pthread_t thread;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	struct lt_store_limits limits;
	/* Connections waiting to log in, oldest (earliest deadline) first. */
	struct conn *pending_head, *pending_tail;
	int npending;
	struct lt_store_sources *sources; /* their count per source address */
	int nconns;                       /* open connections, for the log */
	FILE *log;
	double last_log;          /* when the last refusal line went out */
	unsigned long suppressed; /* refusal lines not written since */
	bool pause_shown;         /* the log says it stopped accepting */
	double last_pause_log;
	unsigned long pauses_unshown;
	struct lt_store_table *table;
	struct conn *conns, *queue, *doomed;
	struct lt_store_field fields[LT_STORE_MAX_FIELDS]; /* the message being run */
};

static size_t pending(const struct buffer *b)
{
	return b->len - b->off;
}

/* Makes room for n more bytes after the pending ones.  Returns 0, or -1
 * when out of memory. */
static int reserve(struct buffer *b, size_t n)
{
	if (b->off && b->cap - b->len < n) {
		memmove(b->data, b->data + b->off, pending(b));
		b->len -= b->off;
		b->off = 0;
	}
	return lt_array_reserve(&b->data, &b->cap, b->len + n, 1, 4096);
}

/* After consuming: frees an empty buffer, so that an idle connection
 * (most of them, parked or between requests) holds none. */
static void settle(struct buffer *b)
{
	if (pending(b))
		return;
	free(b->data);
	*b = (struct buffer){ 0 };
}

static void describe_peer(const struct conn *c, char *buf, size_t len)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)&c->peer, c->peer_len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(buf, len, "an unknown peer");
	else if (strchr(host, ':'))
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
}

/* Writes a line to the log, unless one went out less than log_interval_ms
 * ago: then it only counts it, and the next line written says how many it
 * stands for. */
__attribute__((format(printf, 2, 3))) static void log_limited(struct lt_store_server *s,
							       const char *fmt, ...)
{
	double now = lt_now_s();
	va_list ap;

	if (!s->log)
		return;
	if (s->last_log > 0 && now - s->last_log < s->limits.log_interval_ms / 1000.0) {
		s->suppressed++;
		return;
	}
	s->last_log = now;
	fputs("ltrun: store: ", s->log);
	va_start(ap, fmt);
	vfprintf(s->log, fmt, ap);
	va_end(ap);
	if (s->suppressed)
		fprintf(s->log, " (and %lu more lines like it not shown)", s->suppressed);
	fputc('\n', s->log);
	fflush(s->log);
	s->suppressed = 0;
}

static void log_refusal(struct lt_store_server *s, const struct conn *c, const char *why)
{
	char peer[NI_MAXHOST + NI_MAXSERV + 4];

	if (!s->log)
		return;
	describe_peer(c, peer, sizeof(peer));
	log_limited(s, "refused %s: %s", peer, why);
}

/* ---------------------------------------------------- waiting to log in */

/* Returns 0, or -1 when out of memory (c is not added). */
static int add_pending(struct lt_store_server *s, struct conn *c)
{
	if (lt_store_sources_add(s->sources, &c->peer))
		return -1;
	c->pending = true;
	c->login_deadline = lt_now_s() + s->limits.login_ms / 1000.0;
	c->prev_pending = s->pending_tail;
	c->next_pending = NULL;
	if (s->pending_tail)
		s->pending_tail->next_pending = c;
	else
		s->pending_head = c;
	s->pending_tail = c;
	s->npending++;
	return 0;
}

static void remove_pending(struct lt_store_server *s, struct conn *c)
{
	if (!c->pending)
		return;
	c->pending = false;
	lt_store_sources_remove(s->sources, &c->peer);
	if (c->prev_pending)
		c->prev_pending->next_pending = c->next_pending;
	else
		s->pending_head = c->next_pending;
	if (c->next_pending)
		c->next_pending->prev_pending = c->prev_pending;
	else
		s->pending_tail = c->prev_pending;
	s->npending--;
}

/* ------------------------------------------------------ connection state */

static void kill_conn(struct lt_store_server *s, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	remove_pending(s, c);
	if (c->parked)
		lt_store_table_unpark(s->table, c->parked);
	c->parked = NULL;
	for (int i = 0; i < c->nheld; i++) {
		lt_store_table_delete(s->table, &(struct lt_store_field){ c->held[i].key,
									   c->held[i].len });
		free(c->held[i].key);
	}
	c->nheld = 0;
	close(c->fd); /* also leaves the epoll set */
	s->nconns--;
	c->next_doomed = s->doomed;
	s->doomed = c;
}

static void free_doomed(struct lt_store_server *s)
{
	while (s->doomed) {
		struct conn *c = s->doomed;

		s->doomed = c->next_doomed;
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c->in.data);
		free(c->out.data);
		free(c);
	}
}

/* Puts c on the queue of connections whose input is looked at again. */
static void enqueue(struct lt_store_server *s, struct conn *c)
{
	if (c->queued || c->dead)
		return;
	c->queued = true;
	c->next_queued = s->queue;
	s->queue = c;
}

static void watch_output(struct lt_store_server *s, struct conn *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out != want && !epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev))
		c->want_out = want;
}

static void flush(struct lt_store_server *s, struct conn *c)
{
	while (pending(&c->out)) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, pending(&c->out), MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch_output(s, c, true);
			return;
		}
		if (n <= 0) {
			kill_conn(s, c);
			return;
		}
		c->out.off += (size_t)n;
	}
	settle(&c->out);
	watch_output(s, c, false);
	if (c->closing)
		kill_conn(s, c);
	else if (pending(&c->in))
		enqueue(s, c);
}

static void respond(struct lt_store_server *s, struct conn *c, uint8_t code,
		    const struct lt_store_field *fields, size_t n)
{
	size_t size = lt_store_msg_size(fields, n);

	if (c->dead)
		return;
	if (reserve(&c->out, size)) {
		kill_conn(s, c);
		return;
	}
	lt_store_msg_write(c->out.data + c->out.len, code, fields, n);
	c->out.len += size;
	flush(s, c);
}

static void respond_text(struct lt_store_server *s, struct conn *c, uint8_t code,
			 const char *text)
{
	struct lt_store_field f = { (const uint8_t *)text, (uint32_t)strlen(text) };

	respond(s, c, code, &f, 1);
}

/* ------------------------------------------------------ parked requests */

/* Ends c's parked request (if answering it did not kill c) and looks at
 * what c sent next. */
static void unpark(struct lt_store_server *s, struct conn *c)
{
	if (c->parked)
		lt_store_table_unpark(s->table, c->parked);
	c->parked = NULL;
	enqueue(s, c);
}

/* Answers every parked request whose keys all exist now. */
static void answer_ready(struct lt_store_server *s)
{
	struct lt_store_waiter *w;

	while ((w = lt_store_table_take_ready(s->table)) != NULL) {
		struct conn *c = w->owner;

		if (c->parked_op == LT_STORE_GET) {
			struct lt_store_field value = lt_store_waiter_value(w, 0);
			respond(s, c, LT_STORE_OK, &value, 1);
		} else {
			respond(s, c, LT_STORE_OK, NULL, 0);
		}
		unpark(s, c);
	}
}

/* Answers TIMEOUT to every parked request past its deadline. */
static void answer_expired(struct lt_store_server *s)
{
	struct lt_store_waiter *w;
	double now = lt_now_s();

	while ((w = lt_store_table_take_expired(s->table, now)) != NULL) {
		struct conn *c = w->owner;
		uint8_t first[4], missing[4];
		size_t at, n = lt_store_waiter_missing(w, &at);
		struct lt_store_field f[2] = { { first, 4 }, { missing, 4 } };

		lt_store_put_u32(first, (uint32_t)at);
		lt_store_put_u32(missing, (uint32_t)n);
		respond(s, c, LT_STORE_TIMEOUT, f, c->parked_op == LT_STORE_WAIT ? 2 : 0);
		unpark(s, c);
	}
}

static int ms_until_next_deadline(const struct lt_store_server *s)
{
	double next = lt_store_table_next_deadline(s->table), ms;

	if (s->pending_head && (next < 0 || s->pending_head->login_deadline < next))
		next = s->pending_head->login_deadline;
	if (next < 0)
		return s->out_of_fds ? ACCEPT_RETRY_MS : -1;
	ms = (next - lt_now_s()) * 1000 + 1; /* + 1: never wake before it */
	if (ms < 0)
		ms = 0;
	if (s->out_of_fds && ms > ACCEPT_RETRY_MS)
		ms = ACCEPT_RETRY_MS;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Drops the connections that have not logged in by their deadline. */
static void drop_late_logins(struct lt_store_server *s)
{
	double now = lt_now_s();
	char why[64];

	while (s->pending_head && s->pending_head->login_deadline <= now) {
		snprintf(why, sizeof(why), "did not log in within %g s",
			 s->limits.login_ms / 1000.0);
		log_refusal(s, s->pending_head, why);
		kill_conn(s, s->pending_head);
	}
}

static void park(struct lt_store_server *s, struct conn *c, uint8_t op,
		 const struct lt_store_field *keys, size_t n, uint32_t timeout_ms)
{
	c->parked = lt_store_table_park(s->table, keys, n, lt_now_s() + timeout_ms / 1000.0, c);
	c->parked_op = op;
	if (!c->parked)
		respond_text(s, c, LT_STORE_ERROR, "the store is out of memory");
}

/* ------------------------------------------------------------- commands */

/* Answers ERROR for a table_set() that failed with rc.  Returns whether
 * it did. */
static bool refuse_set(struct lt_store_server *s, struct conn *c, int rc)
{
	char text[160];

	if (rc == 0)
		return false;
	if (rc == LT_STORE_TABLE_FULL)
		snprintf(text, sizeof(text),
			 "the store is full: it holds %zu bytes of keys and values, and its limit is %zu",
			 lt_store_table_bytes(s->table), s->limits.max_bytes);
	else
		snprintf(text, sizeof(text), "the store is out of memory");
	respond_text(s, c, LT_STORE_ERROR, text);
	return true;
}

/* Reads a counter's decimal text.  Returns true, or false when the value
 * is not one. */
static bool parse_counter(const struct lt_store_field *v, long *out)
{
	char text[32];

	if (v->len == 0 || v->len >= sizeof(text))
		return false;
	memcpy(text, v->p, v->len);
	text[v->len] = '\0';
	return lt_parse_long(text, LONG_MIN, LONG_MAX, out) == 0;
}

static void add(struct lt_store_server *s, struct conn *c, const struct lt_store_field *f)
{
	int64_t delta = lt_store_get_i64(f[1].p);
	long value = 0;
	struct lt_store_field cur;
	char text[32];
	uint8_t result[8];

	if (lt_store_table_get(s->table, &f[0], &cur) && !parse_counter(&cur, &value)) {
		respond_text(s, c, LT_STORE_ERROR, "the key holds a value that is not a counter");
		return;
	}
	if ((delta > 0 && value > INT64_MAX - delta) || (delta < 0 && value < INT64_MIN - delta)) {
		respond_text(s, c, LT_STORE_ERROR, "the counter would overflow 64 bits");
		return;
	}
	value += delta;
	snprintf(text, sizeof(text), "%ld", value);
	cur = (struct lt_store_field){ (const uint8_t *)text, (uint32_t)strlen(text) };
	if (refuse_set(s, c, lt_store_table_set(s->table, &f[0], &cur)))
		return;
	lt_store_put_i64(result, value);
	respond(s, c, LT_STORE_OK, &(struct lt_store_field){ result, 8 }, 1);
}

static void compare_set(struct lt_store_server *s, struct conn *c, const struct lt_store_field *f)
{
	struct lt_store_field cur = { NULL, 0 }, out[2];
	bool exists = lt_store_table_get(s->table, &f[0], &cur);
	bool match = exists ? cur.len == f[1].len && !memcmp(cur.p, f[1].p, cur.len) : !f[1].len;
	uint8_t swapped = match;

	if (match && refuse_set(s, c, lt_store_table_set(s->table, &f[0], &f[2])))
		return;
	if (!lt_store_table_get(s->table, &f[0], &cur))
		cur = (struct lt_store_field){ NULL, 0 };
	out[0] = (struct lt_store_field){ &swapped, 1 };
	out[1] = cur;
	respond(s, c, LT_STORE_OK, out, 2);
}

/* SET, and the key goes when c closes. */
static void hold(struct lt_store_server *s, struct conn *c, const struct lt_store_field *f)
{
	int i = 0;

	while (i < c->nheld && !(c->held[i].len == f[0].len &&
				 !memcmp(c->held[i].key, f[0].p, f[0].len)))
		i++;
	if (i == LT_STORE_MAX_HELD) {
		respond_text(s, c, LT_STORE_ERROR, "a connection holds at most 8 keys");
		return;
	}
	if (i == c->nheld) {
		if (!(c->held[i].key = malloc(f[0].len ? f[0].len : 1))) {
			respond_text(s, c, LT_STORE_ERROR, "the store is out of memory");
			return;
		}
		memcpy(c->held[i].key, f[0].p, f[0].len);
		c->held[i].len = f[0].len;
		c->nheld++;
	}
	if (!refuse_set(s, c, lt_store_table_set(s->table, &f[0], &f[1])))
		respond(s, c, LT_STORE_OK, NULL, 0);
}

/* Runs one checked request. */
static void run(struct lt_store_server *s, struct conn *c, const struct lt_store_msg *m)
{
	const struct lt_store_field *f = m->field;
	struct lt_store_field value;
	uint8_t word[8];

	switch (m->code) {
	case LT_STORE_SET:
		if (!refuse_set(s, c, lt_store_table_set(s->table, &f[0], &f[1])))
			respond(s, c, LT_STORE_OK, NULL, 0);
		break;
	case LT_STORE_GET:
		if (lt_store_table_get(s->table, &f[0], &value))
			respond(s, c, LT_STORE_OK, &value, 1);
		else
			park(s, c, LT_STORE_GET, &f[0], 1, lt_store_get_u32(f[1].p));
		break;
	case LT_STORE_ADD:
		add(s, c, f);
		break;
	case LT_STORE_WAIT:
		park(s, c, LT_STORE_WAIT, &f[1], m->nfields - 1, lt_store_get_u32(f[0].p));
		break;
	case LT_STORE_CAS:
		compare_set(s, c, f);
		break;
	case LT_STORE_DELETE:
		word[0] = lt_store_table_delete(s->table, &f[0]);
		respond(s, c, LT_STORE_OK, &(struct lt_store_field){ word, 1 }, 1);
		break;
	case LT_STORE_NUM_KEYS:
		lt_store_put_i64(word, (int64_t)lt_store_table_count(s->table));
		respond(s, c, LT_STORE_OK, &(struct lt_store_field){ word, 8 }, 1);
		break;
	case LT_STORE_HOLD:
		hold(s, c, f);
		break;
	}
}

/* Checks the client's proof of the token and answers with the server's. */
static void authenticate(struct lt_store_server *s, struct conn *c, const struct lt_store_msg *m)
{
	uint8_t want[LT_STORE_PROOF_BYTES], mine[LT_STORE_PROOF_BYTES];
	const uint8_t *nonce;

	if (m->code != LT_STORE_AUTH || m->nfields != 2 ||
	    m->field[0].len != LT_STORE_CHALLENGE_BYTES || m->field[1].len != sizeof(want)) {
		log_refusal(s, c, "not an ltrun store client of this version");
		kill_conn(s, c);
		return;
	}
	nonce = m->field[0].p;
	lt_store_proof(s->token, LT_STORE_CLIENT_SIDE, c->challenge, nonce, want);
	remove_pending(s, c);
	if (lt_memcmp_const(want, m->field[1].p, sizeof(want))) {
		log_refusal(s, c, "wrong token");
		c->closing = true;
		respond_text(s, c, LT_STORE_REFUSED, "wrong token");
		return;
	}
	c->authed = true;
	lt_store_proof(s->token, LT_STORE_SERVER_SIDE, c->challenge, nonce, mine);
	respond(s, c, LT_STORE_OK, &(struct lt_store_field){ mine, sizeof(mine) }, 1);
}

/* Runs the requests buffered on c, up to one that parks it. */
static void process(struct lt_store_server *s, struct conn *c)
{
	while (!c->dead && !c->closing && !c->parked && pending(&c->out) < OUT_HIGH_WATER) {
		struct lt_store_msg m = { .field = s->fields, .max_fields = LT_STORE_MAX_FIELDS };
		enum lt_store_parse rc = lt_store_msg_parse(c->in.data + c->in.off, pending(&c->in),
							    c->authed ? LT_STORE_MAX_PAYLOAD
								      : LT_STORE_AUTH_PAYLOAD,
							    &m);

		if (rc == LT_STORE_NEED_MORE)
			break;
		if (rc == LT_STORE_MALFORMED && !c->authed)
			log_refusal(s, c, "not an ltrun store client of this version");
		if (rc == LT_STORE_MALFORMED || (c->authed && lt_store_request_check(&m))) {
			kill_conn(s, c);
			break;
		}
		if (c->authed)
			run(s, c, &m);
		else
			authenticate(s, c, &m);
		c->in.off += m.size;
		answer_ready(s);
	}
	if (!c->dead)
		settle(&c->in);
}

/* ---------------------------------------------------------- connections */

static void read_input(struct lt_store_server *s, struct conn *c)
{
	size_t limit = c->authed ? LT_STORE_MAX_MESSAGE + READ_CHUNK : READ_CHUNK;

	for (;;) {
		size_t room;
		ssize_t n;

		if (reserve(&c->in, 4096)) {
			kill_conn(s, c);
			return;
		}
		room = c->in.cap - c->in.len;
		n = recv(c->fd, c->in.data + c->in.len, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0 || pending(&c->in) + (size_t)n > limit) {
			kill_conn(s, c); /* gone, broken, or flooding */
			return;
		}
		c->in.len += (size_t)n;
		if ((size_t)n < room)
			return; /* drained the socket */
	}
}

static void on_event(struct lt_store_server *s, struct conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & EPOLLOUT)
		flush(s, c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		read_input(s, c);
		if (!c->dead)
			process(s, c);
	}
}

/* Stops accepting connections (they wait in the listen backlog).  The log
 * says so once, until a connection is accepted again (accepted()), and at
 * most once per log_interval_ms: it counts the pauses it does not show. */
static void pause_accepting(struct lt_store_server *s, const char *why)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &s->listen_fd };
	double now = lt_now_s();

	if (!s->accepting)
		return;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
	s->accepting = false;
	if (!s->log || s->pause_shown)
		return;
	if (s->last_pause_log > 0 && now - s->last_pause_log < s->limits.log_interval_ms / 1000.0) {
		s->pauses_unshown++;
		return;
	}
	fprintf(s->log, "ltrun: store: not accepting connections for now: %s", why);
	if (s->pauses_unshown)
		fprintf(s->log, " (and %lu shorter pauses not shown)", s->pauses_unshown);
	fputc('\n', s->log);
	fflush(s->log);
	s->pause_shown = true;
	s->last_pause_log = now;
	s->pauses_unshown = 0;
}

static void resume_accepting(struct lt_store_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->listen_fd };

	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
	s->accepting = true;
	s->out_of_fds = false;
}

/* A connection was accepted: the log says so if it said it stopped. */
static void accepted(struct lt_store_server *s)
{
	if (!s->pause_shown)
		return;
	s->pause_shown = false;
	fprintf(s->log, "ltrun: store: accepting connections again\n");
	fflush(s->log);
}

/* Pauses accepting while max_pending connections wait to log in.
 * Returns whether it is paused. */
static bool too_many_pending(struct lt_store_server *s)
{
	char why[160];

	if (s->npending < s->limits.max_pending)
		return false;
	snprintf(why, sizeof(why),
		 "%d connections are waiting to log in, the most allowed; they have %g s each",
		 s->npending, s->limits.login_ms / 1000.0);
	pause_accepting(s, why);
	return true;
}

static void out_of_fds(struct lt_store_server *s, int e)
{
	struct rlimit r = { 0 };
	char why[320];

	if ((e == EMFILE || e == ENFILE) && !getrlimit(RLIMIT_NOFILE, &r))
		snprintf(why, sizeof(why),
			 "%s: %d connections are open and this process may open %llu descriptors (ulimit -n, raised to the hard limit already); to serve more clients raise the hard limit (ulimit -Hn as root, LimitNOFILE= for a service) or fs.file-max (trying again every %d ms)",
			 strerror(e), s->nconns, (unsigned long long)r.rlim_cur, ACCEPT_RETRY_MS);
	else
		snprintf(why, sizeof(why), "%s (trying again every %d ms)", strerror(e),
			 ACCEPT_RETRY_MS);
	pause_accepting(s, why);
	s->out_of_fds = true;
}

/* Sends a new connection its challenge.  Returns 0, or -1. */
static int greet(struct lt_store_server *s, struct conn *c)
{
	struct lt_store_field f = { c->challenge, sizeof(c->challenge) };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	if (getrandom(c->challenge, sizeof(c->challenge), 0) != sizeof(c->challenge) ||
	    add_pending(s, c))
		return -1;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev)) {
		remove_pending(s, c);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	respond(s, c, LT_STORE_CHALLENGE, &f, 1);
	return 0;
}

static void accept_all(struct lt_store_server *s)
{
	while (!too_many_pending(s)) {
		struct conn *c = calloc(1, sizeof(*c));
		char why[64];

		if (!c) {
			out_of_fds(s, ENOMEM);
			return;
		}
		c->peer_len = sizeof(c->peer);
		c->fd = accept4(s->listen_fd, (struct sockaddr *)&c->peer, &c->peer_len,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c->fd < 0) {
			int e = errno;

			free(c);
			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
				out_of_fds(s, e); /* until a connection closes */
			return;
		}
		if (lt_store_sources_count(s->sources, &c->peer) >=
		    (uint32_t)s->limits.max_pending_per_peer) {
			snprintf(why, sizeof(why), "%d connections from there wait to log in already",
				 s->limits.max_pending_per_peer);
			log_refusal(s, c, why);
			close(c->fd);
			free(c);
			continue;
		}
		if (greet(s, c)) {
			close(c->fd);
			free(c);
		} else {
			accepted(s);
		}
	}
}

static void *serve(void *arg)
{
	struct lt_store_server *s = arg;
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		int n;

		/* Paused for the cap: resume as soon as there is room. */
		if (!s->accepting && !s->out_of_fds && s->npending < s->limits.max_pending)
			resume_accepting(s);
		n = epoll_wait(s->epoll_fd, ev, MAX_EVENTS, ms_until_next_deadline(s));
		if (n < 0 && errno != EINTR)
			break;
		/* Out of descriptors: try again after ACCEPT_RETRY_MS. */
		if (s->out_of_fds && s->npending < s->limits.max_pending)
			resume_accepting(s);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &s->wake_fd)
				return NULL;
			if (ev[i].data.ptr == &s->listen_fd)
				accept_all(s);
			else
				on_event(s, ev[i].data.ptr, ev[i].events);
		}
		answer_expired(s);
		drop_late_logins(s);
		while (s->queue) {
			struct conn *c = s->queue;

			s->queue = c->next_queued;
			c->queued = false;
			if (!c->dead)
				process(s, c);
		}
		free_doomed(s);
	}
	if (s->log)
		fprintf(s->log, "ltrun: store: stopped serving: epoll_wait: %s\n", strerror(errno));
	return NULL;
}

/* ---------------------------------------------------------------- setup */

/* Each client needs a descriptor: take what the hard limit allows (the
 * log says what to raise when even that runs out: out_of_fds()). */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static const char *listen_hint(int e)
{
	switch (e) {
	case EADDRINUSE:
	case EACCES:
		return ": pick another with --main-port";
	case EADDRNOTAVAIL:
		return ": is that an address of this machine?";
	default:
		return "";
	}
}

static int bound_port_of(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	if (sa.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

/* Opens a listening socket on host:port.  Returns it, or -1 with err set. */
static int listen_on(const char *host, int port, struct lt_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *a;
	const char *shown = host ? host : "*";
	char service[16];
	int fd = -1, rc, e = EADDRNOTAVAIL;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot listen on %s:%d: %s", shown, port,
				  gai_strerror(rc));
	for (a = res; a && fd < 0; a = a->ai_next) {
		int one = 1, zero = 0;

		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ai_family == AF_INET6) /* serve IPv4 too */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot listen on %s:%d: %s%s", shown, port,
				  strerror(e), listen_hint(e));
	return fd;
}

static int start_thread(struct lt_store_server *s)
{
	/* Signals are for the process's other threads to handle. */
	return lt_thread_start(&s->thread, serve, s);
}

static void free_server(struct lt_store_server *s)
{
	if (s->log && s->suppressed) {
		fprintf(s->log, "ltrun: store: %lu more refusals were not shown (at most one line per %g s)\n",
			s->suppressed, s->limits.log_interval_ms / 1000.0);
		fflush(s->log);
	}
	while (s->conns) {
		kill_conn(s, s->conns);
		free_doomed(s);
	}
	lt_store_table_free(s->table);
	lt_store_sources_free(s->sources);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s);
}

int lt_store_server_start(const char *host, int port,
			  const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			  struct lt_store_server **out, int *bound_port,
			  struct lt_err *err)
{
	struct lt_store_limits limits = LT_STORE_LIMITS_DEFAULT;

	return lt_store_server_start_with(host, port, token, log, &limits, out, bound_port, err);
}

int lt_store_server_start_with(const char *host, int port,
			       const uint8_t token[LT_STORE_TOKEN_BYTES], FILE *log,
			       const struct lt_store_limits *limits,
			       struct lt_store_server **out, int *bound_port,
			       struct lt_err *err)
{
	struct lt_store_server *s = calloc(1, sizeof(*s));
	struct epoll_event listen_ev, wake_ev;

	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: out of memory");
	s->listen_fd = s->epoll_fd = s->wake_fd = -1;
	s->accepting = true;
	memcpy(s->token, token, sizeof(s->token));
	s->limits = *limits;
	s->log = log;
	raise_fd_limit();
	s->table = lt_store_table_new(limits->max_bytes);
	s->sources = lt_store_sources_new();
	if (!s->table || !s->sources) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: out of memory");
		goto out_free;
	}
	s->listen_fd = listen_on(host, port, err);
	if (s->listen_fd < 0)
		goto out_free;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	listen_ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->listen_fd };
	wake_ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->wake_fd };
	if (s->epoll_fd < 0 || s->wake_fd < 0 ||
	    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &listen_ev) ||
	    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &wake_ev)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: %s", strerror(errno));
		goto out_free;
	}
	if (start_thread(s)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store's thread");
		goto out_free;
	}
	*bound_port = bound_port_of(s->listen_fd);
	*out = s;
	return 0;
out_free:
	free_server(s);
	return -1;
}

void lt_store_server_stop(struct lt_store_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	while (write(s->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	free_server(s);
}

long lt_store_listen_cap(const char *somaxconn_path)
{
	FILE *f = fopen(somaxconn_path ? somaxconn_path : "/proc/sys/net/core/somaxconn", "r");
	long cap = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &cap) != 1 || cap < 0)
		cap = 0;
	fclose(f);
	return cap;
}

bool lt_store_warn_listen_cap(long clients, long cap, FILE *log)
{
	/* the store asks for LISTEN_BACKLOG: more is not taken */
	long want = clients < LISTEN_BACKLOG ? clients : LISTEN_BACKLOG;

	if (cap <= 0 || cap >= want)
		return false;
	fprintf(log,
		"ltrun: store: %ld ranks and agents may connect at once, but net.core.somaxconn caps its listen queue at %ld: "
		"handshakes beyond it are dropped and each costs its rank a second or more; on node 0, as root: sysctl -w net.core.somaxconn=%ld\n",
		clients, cap, want);
	fflush(log);
	return true;
}
