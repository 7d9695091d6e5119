/*
 * tcp.c - the `tcp` communicator: ltrun's own ring over TCP sockets, the
 * backend `auto` puts between nodes when mpirun did not start the ranks.
 *
 * Why not libgloo there (figures: bench/README.md, "Two hosts"): between
 * two network-namespace hosts libgloo's ring took 0.7-1.1 ms for a 1 MB
 * all-reduce at its best (its loop thread in the idle class, the sync
 * mesh on) against Open MPI's 0.18 ms, because every segment is handed to
 * and from libgloo's network thread after a ready/notify exchange; its
 * sync mode, which the rank's own thread drives, blocks in write() and so
 * is bounded to messages that fit a socket buffer (256 KiB under
 * net.core.wmem_max).  Here the rank's own thread moves the bytes: two
 * non-blocking sockets a rank, one to the next rank of the ring (sent on)
 * and one from the previous (read from), driven together, reducing what
 * has arrived while the rest is still on the wire.
 *
 * Open: each rank listens on its node's address (lt_comm_args.host, an
 * ephemeral port), publishes "<address> <port> <token>" under
 * "<scope>/tcp/<rank>" in the rendezvous (the token: 32 random bytes, made
 * and read as the store's are),
 * connects to the next rank and sends it a hello naming itself and
 * quoting the next rank's token; accepts the previous rank's connection,
 * checks its hello (a connection with a wrong token, from another user or
 * anything else, is closed and the rank waits on) and answers with the
 * previous rank's token, which the connecting side checks in turn.  Only
 * a member of the job can read the tokens, so both ends know who they
 * talk to.
 *
 * Algorithms (every rank ends with bit-identical results: each element is
 * reduced in one order, the same for every rank):
 *   all_reduce   2 ranks from 512 KiB: each rank owns a half, sends the
 *                other, reduces its own as its peer's copy arrives and
 *                sends it back reduced, streamed (pair_all_reduce); 2 ranks
 *                below that, or n x bytes <= 256 KiB: every rank's buffer
 *                goes around the ring and each rank reduces them in rank
 *                order (1 step at 2 ranks, n-1 else); larger: the ring's
 *                reduce-scatter then all-gather, 2(n-1) steps of 1/n
 *   reduce_scatter(_v), all_gather   the ring's halves of that
 *   broadcast    a chain from the root along the ring, forwarded as it
 *                arrives
 *   barrier      n-1 steps of one byte around the ring
 * A waiting rank polls its sockets for a while, yielding its cpu at each
 * turn (spin_policy: 200 us with a cpu for each of its node's ranks, 20 us
 * otherwise), then sleeps in poll(2) until data comes or --timeout passes.
 */
#include "comm/comm.h"
#include "comm/reduce.h"
#include "core/parse.h"
#include "core/clock.h"
#include "rdzv/rdzv.h"
#include "rdzv/store.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOKEN_BYTES LT_STORE_TOKEN_BYTES /* the store's tokens: its maker and parser */
#define GATHER_MAX (256u << 10) /* n x bytes up to this: gather, then reduce */
/* 2 ranks: one exchange below this, pair_all_reduce from it.  Measured
 * between two network-namespace hosts: 1 MB 0.21-0.23 ms split against
 * 0.24-0.26 exchanged, 64 MB 25-27 against 27-31; 512 KiB the same either
 * way; 256 KiB and less the exchange is faster (16 KiB 0.006 against
 * 0.009-0.011: one dependent round trip instead of two). */
#define PAIR_SPLIT_MIN ((size_t)512 << 10)
/* pair_all_reduce's ring for the raw half that arrives: a 32nd of the half,
 * within these.  Against the whole half in scratch (median ms, 3 runs):
 * 1 MB 0.222-0.224 against 0.229-0.230, 4 MB 1.01 against 1.08-1.09,
 * 16 MB 4.10-4.15 against 4.65-4.77, 64 MB 21.9-23.2 against 25.7-26.8;
 * 128 KiB for every size made 64 MB slower (27-29: reading stopped too
 * often). */
#define PAIR_RING_MIN ((size_t)128 << 10)
#define PAIR_RING_MAX ((size_t)2 << 20)
#define FOLD_BYTES (64u << 10)  /* reduce arrived data in pieces of this */
/* Bytes handed to one send(): the kernel then moves them while this
 * thread reads and reduces.  Measured between two network-namespace hosts
 * (1 MB all-reduce, 2 ranks): the whole buffer in one send() 0.6-0.9 ms;
 * 16 KiB 0.37, 32 KiB 0.29, 60 KiB 0.24, exactly 64 KiB 0.67 (a full
 * 64 KiB payload does not fit one GSO packet with its headers), 120 KiB
 * 0.40; 16 MB 12 ms whole, 4.8 ms in 60 KiB pieces. */
#define SEND_BYTES (60u << 10)
#define SPIN_US 200
#define OVERSUB_SPIN_US 20
#define HELLO_WAIT_MS 10000     /* at most, for one connection's hello */

static const char hello_magic[8] = { 'l', 't', 'r', 'u', 'n', 't', 'c', '1' };

/* The first message on each connection, both ways. */
struct hello {
	char magic[8];
	uint32_t rank, size;             /* the sender's, network order */
	unsigned char token[TOKEN_BYTES]; /* the receiver's */
};

struct tcp {
	int next_fd, prev_fd;  /* to rank + 1 (we send), from rank - 1 (we read) */
	int next, prev;        /* their group ranks */
	int timeout_ms;        /* <= 0: wait forever */
	long spin_ns;
	char *tmp;             /* scratch, grown on demand */
	size_t tmp_cap;
};

static struct tcp *state_of(struct lt_comm *c)
{
	return c->state;
}

static int global_of(struct lt_comm *c, int r)
{
	return c->global ? c->global[r] : r;
}

static char *scratch(struct lt_comm *c, size_t n, struct lt_err *err)
{
	struct tcp *s = state_of(c);
	char *p;

	if (n <= s->tmp_cap && s->tmp)
		return s->tmp;
	p = realloc(s->tmp, n ? n : 1);
	if (!p) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "comm 'tcp' in '%s': cannot allocate %zu bytes of scratch: reduce the bucket size",
			   c->scope, n);
		return NULL;
	}
	s->tmp = p;
	s->tmp_cap = n;
	return p;
}

/* ------------------------------------------------------------ waiting */

/* How long a waiting rank polls its sockets before it sleeps in poll(2):
 * 200 us while its node's ranks have a cpu each (LOCAL_WORLD_SIZE against
 * this rank's cpus), 20 us otherwise; LTRUN_TCP_SPIN_US overrides.  It
 * yields its cpu at every turn: a send and a receive are syscalls anyway,
 * and a peer that shares the cpu (hosts that are namespaces of one
 * machine, more ranks than cpus) then runs at once.  Without the yield,
 * 2 hosts x 2 ranks on 2 cpus took 0.22 ms for a 4 KB all-reduce (the
 * spin), with it 0.015. */
static void spin_policy(struct tcp *s)
{
	cpu_set_t set;
	int cpus = 1;
	long local = lt_env_long_or("LOCAL_WORLD_SIZE", 1, 1, 1 << 20);

	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	s->spin_ns = lt_env_long_or("LTRUN_TCP_SPIN_US", local > cpus ? OVERSUB_SPIN_US : SPIN_US, 0,
			      1000000) * 1000;
}

/* ------------------------------------------------------------ moving bytes */

/* What arrives in `in` is reduced as it comes: dst = a op in, element by
 * element (dst may be a; a NULL `a` means dst itself), in rank order
 * (`in` first when it comes from a lower rank).  When dst is also what
 * is being sent, only the part already sent may be reduced: guard. */
struct fold {
	char *dst;
	const char *a;
	enum lt_dtype dt;
	enum lt_op op;
	bool in_first;
	bool guard;
	size_t done; /* bytes of in reduced */
};

static void fold_some(struct fold *f, const char *in, size_t avail, size_t total)
{
	size_t es = lt_dtype_size(f->dt), upto = avail - avail % es;
	const char *a;

	if (upto <= f->done || (upto - f->done < FOLD_BYTES && upto != total))
		return;
	a = (f->a ? f->a : f->dst) + f->done;
	if (f->in_first)
		lt_reduce3(f->dst + f->done, in + f->done, a, (upto - f->done) / es, f->dt, f->op);
	else
		lt_reduce3(f->dst + f->done, a, in + f->done, (upto - f->done) / es, f->dt, f->op);
	f->done = upto;
}

static int broken(struct lt_comm *c, const char *what, int peer, const char *why,
		  struct lt_err *err)
{
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "comm 'tcp' in '%s' (rank %d of %d): %s rank %d failed: %s; check that "
			  "every rank runs the same collectives and that rank %d is still running",
			  c->scope, c->rank, c->size, what, global_of(c, peer), why,
			  global_of(c, peer));
}

/* Sends up to SEND_BYTES of p[0, len) to the next rank: bytes sent (0 when
 * its socket is full), -1 with err set. */
static ssize_t send_some(struct lt_comm *c, const char *p, size_t len, struct lt_err *err)
{
	struct tcp *s = state_of(c);
	ssize_t n = send(s->next_fd, p, len < SEND_BYTES ? len : SEND_BYTES,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return broken(c, "sending to", s->next, strerror(errno), err);
}

/* Reads what has arrived from the previous rank into p[0, len): bytes read
 * (0 when none yet), -1 with err set. */
static ssize_t recv_some(struct lt_comm *c, char *p, size_t len, struct lt_err *err)
{
	struct tcp *s = state_of(c);
	ssize_t n = recv(s->prev_fd, p, len, MSG_DONTWAIT);

	if (n > 0)
		return n;
	if (n == 0)
		return broken(c, "reading from", s->prev,
			      "it closed the connection (it ended or was killed)", err);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return broken(c, "reading from", s->prev, strerror(errno), err);
}

/* What a step still waits for, at the end of a turn. */
struct waiting {
	bool sending;  /* bytes are left to send */
	bool can_send; /* ... and some of them may go now */
	bool reading;  /* bytes are left to read */
	int64_t since; /* when the step last moved (0: it just did) */
};

/*
 * The end of a turn of a step's loop.  One that moved bytes: the next turn
 * at once.  One that moved nothing: yields the cpu while the spin lasts
 * (from w->since), then sleeps in poll(2) until a socket the step waits on
 * is ready or the collective timeout, counted from the last progress,
 * passes.  0: take another turn; -1 with err set.
 */
static int end_turn(struct lt_comm *c, struct waiting *w, bool moved, struct lt_err *err)
{
	struct tcp *s = state_of(c);
	struct pollfd p[2];
	int wait_ms = -1;
	int64_t now;
	ssize_t n;
	char byte;

	if (moved) {
		w->since = 0;
		return 0;
	}
	now = lt_now_ns();
	if (!w->since)
		w->since = now;
	if (now - w->since < s->spin_ns) {
		sched_yield();
		return 0;
	}
	/* next_fd never carries data this way: while this step still sends
	 * to the next rank, its being readable means that rank is gone (one
	 * that finished its part may have ended: not then) */
	p[0] = (struct pollfd){ .fd = s->next_fd,
				.events = (short)(w->sending ? POLLIN : 0) |
					  (short)(w->can_send ? POLLOUT : 0) };
	p[1] = (struct pollfd){ .fd = s->prev_fd, .events = w->reading ? POLLIN : 0 };
	for (int i = 0; i < 2; i++)
		if (!p[i].events)
			p[i].fd = -1; /* else its hang-up would still wake us */
	if (p[0].fd < 0 && p[1].fd < 0)
		return 0;
	if (s->timeout_ms > 0) {
		int64_t deadline = w->since + (int64_t)s->timeout_ms * 1000000;
		if (now >= deadline) {
			char why[96];
			snprintf(why, sizeof(why),
				 "nothing moved for %.1f s, the collective timeout (--timeout)",
				 s->timeout_ms / 1000.0);
			return broken(c, w->reading ? "waiting for" : "sending to",
				      w->reading ? s->prev : s->next, why, err);
		}
		wait_ms = (int)((deadline - now) / 1000000) + 1;
	}
	if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
		return broken(c, "waiting for", s->prev, strerror(errno), err);
	if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	n = recv(s->next_fd, &byte, 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return broken(c, "sending to", s->next,
			      n == 0 ? "it closed the connection (it ended or was killed)"
				     : strerror(errno), err);
	if (n > 0)
		return broken(c, "sending to", s->next,
			      "it sent data the wrong way (not an ltrun rank of this job?)", err);
	return 0;
}

/*
 * One step of the ring: sends out_len bytes of out to the next rank while
 * it reads in_len bytes from the previous one into in, reducing them with
 * f (or not: NULL).  `relay`: out is in, and only what has arrived is
 * sent on (broadcast).  Either length may be 0.
 */
static int move(struct lt_comm *c, const char *out, size_t out_len, char *in, size_t in_len,
		bool relay, struct fold *f, struct lt_err *err)
{
	size_t sent = 0, got = 0;
	struct waiting w = { 0 };

	for (;;) {
		size_t can_send = relay ? got : out_len;
		bool moved = false;
		ssize_t n;

		if (sent < can_send) {
			if ((n = send_some(c, out + sent, can_send - sent, err)) < 0)
				return -1;
			sent += (size_t)n;
			moved = n > 0;
		}
		if (got < in_len) {
			if ((n = recv_some(c, in + got, in_len - got, err)) < 0)
				return -1;
			got += (size_t)n;
			moved = moved || n > 0;
		}
		if (f) {
			size_t before = f->done;
			fold_some(f, in, f->guard && sent < got ? sent : got, in_len);
			moved = moved || f->done != before;
		}
		if (sent == out_len && got == in_len && (!f || f->done == in_len))
			return 0;
		w.sending = sent < out_len;
		w.can_send = sent < can_send;
		w.reading = got < in_len;
		if (end_turn(c, &w, moved, err))
			return -1;
	}
}

/* ------------------------------------------------------------ algorithms */

static int mod(int a, int n)
{
	return ((a % n) + n) % n;
}

/* Blocks of the ring: block b is counts[b] elements at offsets[b]. */
struct blocks {
	const size_t *count;
	size_t *offset;
};

/* Ring reduce-scatter in place on buf: afterwards block `rank` of buf is
 * reduced over the group (the other blocks hold partial sums). */
static int ring_reduce_scatter(struct lt_comm *c, char *buf, const struct blocks *b,
			       enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), most = 0;
	int n = c->size, r = c->rank;
	char *in;

	for (int i = 0; i < n; i++)
		most = b->count[i] > most ? b->count[i] : most;
	in = scratch(c, most * es, err);
	if (!in)
		return -1;
	for (int step = 0; step < n - 1; step++) {
		int sb = mod(r - step - 1, n), rb = mod(r - step - 2, n);
		struct fold f = { .dst = buf + b->offset[rb] * es, .dt = dt, .op = op,
				  .in_first = true };

		/* dst = (the partial sum that arrives) op (this rank's part):
		 * each block is reduced once, along its own chain, and its
		 * owner's result is what the all-gather hands to every rank */
		if (move(c, buf + b->offset[sb] * es, b->count[sb] * es, in, b->count[rb] * es,
			 false, &f, err))
			return -1;
	}
	return 0;
}

/* Ring all-gather in place on buf: block `rank` is this rank's, and
 * afterwards every block is its owner's. */
static int ring_all_gather(struct lt_comm *c, char *buf, const struct blocks *b, size_t es,
			   struct lt_err *err)
{
	int n = c->size, r = c->rank;

	for (int step = 0; step < n - 1; step++) {
		int sb = mod(r - step, n), rb = mod(r - step - 1, n);

		if (move(c, buf + b->offset[sb] * es, b->count[sb] * es, buf + b->offset[rb] * es,
			 b->count[rb] * es, false, NULL, err))
			return -1;
	}
	return 0;
}

static int with_offsets(struct blocks *b, const size_t *count, int n, struct lt_err *err)
{
	size_t at = 0;

	b->count = count;
	b->offset = malloc(sizeof(size_t) * (size_t)n);
	if (!b->offset)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < n; i++) {
		b->offset[i] = at;
		at += count[i];
	}
	return 0;
}

/* Every rank's buf goes around the ring into scratch, then each rank
 * reduces them in rank order.  Two ranks: one exchange, reduced as it
 * arrives. */
static int gather_reduce(struct lt_comm *c, char *buf, size_t count, enum lt_dtype dt,
			 enum lt_op op, struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt);
	int n = c->size, r = c->rank;
	char *all;

	if (n == 2) {
		struct fold f = { .dst = buf, .dt = dt, .op = op, .in_first = r == 1, .guard = true };
		char *in = scratch(c, bytes, err);

		return in ? move(c, buf, bytes, in, bytes, false, &f, err) : -1;
	}
	all = scratch(c, bytes * (size_t)n, err);
	if (!all)
		return -1;
	memcpy(all + bytes * (size_t)r, buf, bytes);
	for (int step = 0; step < n - 1; step++) {
		int sb = mod(r - step, n), rb = mod(r - step - 1, n);

		if (move(c, all + bytes * (size_t)sb, bytes, all + bytes * (size_t)rb, bytes, false,
			 NULL, err))
			return -1;
	}
	memcpy(buf, all, bytes);
	for (int i = 1; i < n; i++)
		lt_reduce_into(buf, all + bytes * (size_t)i, count, dt, op);
	return 0;
}

/* Reduces what has arrived of the peer's copy of this rank's half (got
 * bytes, kept in a ring of `ring` bytes) into mine, from *done on, in rank
 * order; a piece never crosses the ring's end (ring is a multiple of every
 * element size). */
static void pair_fold(char *mine, const char *in, size_t ring, size_t got, size_t *done,
		      enum lt_dtype dt, enum lt_op op, bool in_first)
{
	size_t es = lt_dtype_size(dt), upto = got - got % es;

	while (*done < upto) {
		size_t at = *done % ring, piece = upto - *done;
		char *d = mine + *done;

		piece = piece < ring - at ? piece : ring - at;
		if (in_first)
			lt_reduce3(d, in + at, d, piece / es, dt, op);
		else
			lt_reduce3(d, d, in + at, piece / es, dt, op);
		*done += piece;
	}
}

/*
 * Two ranks, from PAIR_SPLIT_MIN bytes: each owns a half of buf (rank 0
 * the first).  A rank sends its peer's half as it is, reduces its peer's
 * copy of its own half as that arrives, and sends each reduced piece back
 * at once; the peer's reduced half arrives straight into buf.  Each
 * connection carries a raw half, then a reduced one: the bytes of one
 * exchange, but each rank reduces half the buffer, not all of it.  Each
 * element is reduced once, by its owner, in rank order, so both ranks end
 * with the same bits.  The reduced half lands where the raw half was sent
 * from, which is safe: the peer reduces only what it has received of it.
 * The raw copy arrives into a ring of a 32nd of the half (PAIR_RING_MIN to
 * _MAX), reduced from there while it is still in the cache: reading stops
 * while the ring is full.
 */
static int pair_all_reduce(struct lt_comm *c, char *buf, size_t count, enum lt_dtype dt,
			   enum lt_op op, struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), bytes = count * es, first = count / 2 * es;
	size_t mine_at = c->rank ? first : 0, mine = c->rank ? bytes - first : first;
	size_t theirs_at = c->rank ? 0 : first, theirs = bytes - mine;
	size_t ring = mine / 32, sent = 0, got = 0, done = 0; /* done: bytes of mine reduced */
	struct waiting w = { 0 };
	char *in;

	ring = ring < PAIR_RING_MIN ? PAIR_RING_MIN : ring > PAIR_RING_MAX ? PAIR_RING_MAX : ring;
	ring -= ring % 64; /* a multiple of every element size */
	if (ring > mine)
		ring = mine; /* whole elements: mine is */
	in = scratch(c, ring, err);
	if (!in)
		return -1;
	for (;;) {
		size_t can_send = theirs + done, before = done; /* then mine, as reduced */
		ssize_t out = 0, in_n = 0;

		if (sent < can_send)
			out = sent < theirs ? send_some(c, buf + theirs_at + sent, theirs - sent, err)
					    : send_some(c, buf + mine_at + (sent - theirs),
							can_send - sent, err);
		if (out < 0)
			return -1;
		if (got < mine) {
			size_t at = got % ring, len = ring - at, room = ring - (got - done);

			len = len < room ? len : room;
			len = len < mine - got ? len : mine - got;
			in_n = len ? recv_some(c, in + at, len, err) : 0;
		} else if (got < bytes) {
			in_n = recv_some(c, buf + theirs_at + (got - mine), bytes - got, err);
		}
		if (in_n < 0)
			return -1;
		sent += (size_t)out;
		got += (size_t)in_n;
		pair_fold(buf + mine_at, in, ring, got < mine ? got : mine, &done, dt, op,
			  c->rank == 1);
		if (sent == bytes && got == bytes)
			return 0; /* all of mine was sent: reduced */
		w.sending = sent < bytes;
		w.can_send = sent < can_send;
		w.reading = got < bytes;
		if (end_turn(c, &w, out > 0 || in_n > 0 || done != before, err))
			return -1;
	}
}

static int tcp_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			  enum lt_op op, struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt), *counts;
	int n = c->size, rc;
	struct blocks b;

	if (n == 1 || !count)
		return 0;
	if (n == 2 && bytes >= PAIR_SPLIT_MIN)
		return pair_all_reduce(c, buf, count, dt, op, err);
	if (n == 2 || bytes * (size_t)n <= GATHER_MAX || count < (size_t)n)
		return gather_reduce(c, buf, count, dt, op, err);
	counts = malloc(sizeof(size_t) * (size_t)n);
	if (!counts)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < n; i++)
		counts[i] = count / (size_t)n + ((size_t)i < count % (size_t)n);
	rc = with_offsets(&b, counts, n, err);
	if (!rc)
		rc = ring_reduce_scatter(c, buf, &b, dt, op, err) ||
		     ring_all_gather(c, buf, &b, lt_dtype_size(dt), err) ? -1 : 0;
	free(b.offset);
	free(counts);
	return rc;
}

static int tcp_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
				const size_t *counts, enum lt_dtype dt, enum lt_op op,
				struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), total = 0;
	struct blocks b;
	char *work;
	int rc;

	if (with_offsets(&b, counts, c->size, err))
		return -1;
	for (int i = 0; i < c->size; i++)
		total += counts[i];
	work = (char *)send;
	if (c->size > 1 && (char *)recv != work + b.offset[c->rank] * es) {
		/* not in place: reduce in a copy (the scratch is the ring's) */
		work = malloc(total > 0 ? total * es : 1);
		if (!work) {
			free(b.offset);
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "comm 'tcp' in '%s': cannot allocate %zu bytes for reduce_scatter",
					  c->scope, total * es);
		}
		memcpy(work, send, total * es);
	}
	rc = c->size > 1 ? ring_reduce_scatter(c, work, &b, dt, op, err) : 0;
	if (!rc && (char *)recv != work + b.offset[c->rank] * es)
		memmove(recv, work + b.offset[c->rank] * es, counts[c->rank] * es);
	if (work != send)
		free(work);
	free(b.offset);
	return rc;
}

static int tcp_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			      enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	size_t *counts = malloc(sizeof(size_t) * (size_t)c->size);
	int rc;

	if (!counts)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < c->size; i++)
		counts[i] = count;
	rc = tcp_reduce_scatter_v(c, send, recv, counts, dt, op, err);
	free(counts);
	return rc;
}

static int tcp_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			  enum lt_dtype dt, struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), *counts;
	struct blocks b;
	int rc;

	if (send != (char *)recv + count * es * (size_t)c->rank)
		memmove((char *)recv + count * es * (size_t)c->rank, send, count * es);
	if (c->size == 1 || !count)
		return 0;
	counts = malloc(sizeof(size_t) * (size_t)c->size);
	if (!counts)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < c->size; i++)
		counts[i] = count;
	rc = with_offsets(&b, counts, c->size, err);
	if (!rc)
		rc = ring_all_gather(c, recv, &b, es, err);
	free(b.offset);
	free(counts);
	return rc;
}

/* A chain from the root along the ring: each rank forwards what has
 * arrived; the root's previous rank is the chain's end. */
static int tcp_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt, int root,
			 struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt);
	int at = mod(c->rank - root, c->size);

	if (c->size == 1 || !bytes)
		return 0;
	if (at == 0)
		return move(c, buf, bytes, NULL, 0, false, NULL, err);
	if (at == c->size - 1)
		return move(c, NULL, 0, buf, bytes, false, NULL, err);
	return move(c, buf, bytes, buf, bytes, true, NULL, err);
}

/* n-1 steps of one byte around the ring: after step k a rank has heard,
 * through its previous rank, from the k+1 ranks before it. */
static int tcp_barrier(struct lt_comm *c, struct lt_err *err)
{
	char out = 1, in;

	for (int step = 0; step < c->size - 1; step++)
		if (move(c, &out, 1, &in, 1, false, NULL, err))
			return -1;
	return 0;
}

/* ------------------------------------------------------------ open */

/* Waits until fd is ready for events or deadline (ns) passes: 1, 0 on
 * timeout, -1 on error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - lt_now_ns();
		struct pollfd p = { .fd = fd, .events = events };
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)(left / 1000000) + 1);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Reads or writes exactly len bytes of a non-blocking fd before deadline. */
static int full_io(int fd, void *buf, size_t len, bool writing, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
				    : recv(fd, (char *)buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		int w = wait_fd(fd, writing ? POLLOUT : POLLIN, deadline);
		if (w <= 0) {
			if (!w)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static void fill_hello(struct hello *h, int rank, int size, const unsigned char *token)
{
	memcpy(h->magic, hello_magic, sizeof(h->magic));
	h->rank = htonl((uint32_t)rank);
	h->size = htonl((uint32_t)size);
	memcpy(h->token, token, TOKEN_BYTES);
}

static bool hello_is(const struct hello *h, int rank, int size, const unsigned char *token)
{
	unsigned char diff = 0;

	for (size_t i = 0; i < TOKEN_BYTES; i++)
		diff |= (unsigned char)(h->token[i] ^ token[i]);
	return !memcmp(h->magic, hello_magic, sizeof(h->magic)) && ntohl(h->rank) == (uint32_t)rank &&
	       ntohl(h->size) == (uint32_t)size && !diff;
}

/* A peer's record: where it listens and its token. */
struct peer {
	char addr[INET6_ADDRSTRLEN + 1];
	char port[8];
	unsigned char token[TOKEN_BYTES];
};

static int get_peer(struct lt_comm *c, const struct lt_comm_args *a, int r, struct peer *p,
		    struct lt_err *err)
{
	char key[160], tok[LT_STORE_TOKEN_HEX];
	struct lt_err why = { 0 }; /* the parser's: the record is what is bad */
	void *v = NULL;
	size_t len = 0;

	snprintf(key, sizeof(key), "%s/tcp/%d", a->scope, r);
	if (a->rz->ops->get(a->rz, key, global_of(c, r), &v, &len, err))
		return -1;
	if (sscanf(v, "%46s %7s %64s", p->addr, p->port, tok) != 3 ||
	    lt_store_token_parse(tok, "token", p->token, &why)) {
		free(v);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'tcp' in '%s': rank %d published a bad address record under "
				  "'%s': every rank must run the same ltrun",
				  a->scope, global_of(c, r), key);
	}
	free(v);
	return 0;
}

/* Listens on host (an ephemeral port); *me gets the numeric address and
 * port to publish. */
static int listen_on(struct lt_comm *c, const char *host, struct peer *me, struct lt_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, rc = getaddrinfo(host, "0", &hints, &res);

	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'tcp' in '%s': cannot resolve this node's address '%s': %s; "
				  "it is the address this host reaches the rendezvous from",
				  c->scope, host, gai_strerror(rc));
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, me->addr, sizeof(me->addr), me->port,
			sizeof(me->port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'tcp' in '%s': cannot listen on this node's address '%s': %s; "
				  "check that it is an address of this host",
				  c->scope, host, strerror(e));
	}
	return fd;
}

static int connect_to(const struct peer *p, int64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int fd = -1;

	if (getaddrinfo(p->addr, p->port, &hints, &res))
		return -1;
	while (fd < 0 && lt_now_ns() < deadline) {
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			break;
		if (!connect(fd, res->ai_addr, res->ai_addrlen))
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) > 0) {
			int e = 0;
			socklen_t el = sizeof(e);
			if (!getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) && !e)
				break;
			errno = e ? e : ETIMEDOUT;
		}
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
		if (e != ECONNREFUSED && e != EINTR)
			break;
		usleep(20000);
	}
	freeaddrinfo(res);
	return fd;
}

/* Accepts connections until one carries the previous rank's hello with
 * our token: another process's are closed. */
static int accept_prev(struct lt_comm *c, int lfd, const unsigned char *mine, int64_t deadline,
		       int *rejected)
{
	for (;;) {
		struct hello h;
		int w = wait_fd(lfd, POLLIN, deadline), fd;

		if (w <= 0)
			return -1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		int64_t hello_by = lt_now_ns() + (int64_t)HELLO_WAIT_MS * 1000000;
		if (!full_io(fd, &h, sizeof(h), false, hello_by < deadline ? hello_by : deadline) &&
		    hello_is(&h, state_of(c)->prev, c->size, mine))
			return fd;
		(*rejected)++;
		close(fd);
	}
}

/* No Nagle: a step's last piece goes at once.  The buffers are left to
 * the kernel's autotuning (a set size turns it off; 1 and 4 MB measured
 * no better). */
static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_open(struct lt_comm *c, const struct lt_comm_args *a, struct lt_err *err)
{
	struct tcp *s = calloc(1, sizeof(*s));
	struct peer me, next, prev;
	unsigned char mine[TOKEN_BYTES];
	char key[160], value[160], tok[LT_STORE_TOKEN_HEX];
	struct hello h;
	int lfd, rejected = 0;
	int64_t deadline;

	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	c->state = s;
	s->next_fd = s->prev_fd = -1;
	s->timeout_ms = a->timeout_ms;
	spin_policy(s);
	if (a->size == 1)
		return 0;
	if (!a->rz)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'tcp' in '%s' needs a rendezvous to meet its %d ranks: "
				  "open it from a rank process (or set LTRUN_RDZV_DIR)",
				  a->scope, a->size);
	s->next = mod(a->rank + 1, a->size);
	s->prev = mod(a->rank - 1, a->size);
	if (lt_store_token_new(tok, err) || lt_store_token_parse(tok, "token", mine, err))
		return -1;
	lfd = listen_on(c, a->host && *a->host ? a->host : "127.0.0.1", &me, err);
	if (lfd < 0)
		return -1;
	snprintf(key, sizeof(key), "%s/tcp/%d", a->scope, a->rank);
	snprintf(value, sizeof(value), "%s %s %s", me.addr, me.port, tok);
	if (a->rz->ops->put(a->rz, key, value, strlen(value), err) ||
	    get_peer(c, a, s->next, &next, err) || get_peer(c, a, s->prev, &prev, err))
		goto fail;
	/* the peers have published: they listen; give them the timeout to
	 * come to their accept (5 minutes without one) */
	deadline = lt_now_ns() + (int64_t)(a->timeout_ms > 0 ? a->timeout_ms : 300000) * 1000000;
	s->next_fd = connect_to(&next, deadline);
	if (s->next_fd < 0) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "comm 'tcp' in '%s': rank %d cannot connect to rank %d at %s port %s: %s; "
			   "check that the nodes reach each other on that address and "
			   "that no firewall drops the port",
			   a->scope, global_of(c, a->rank), global_of(c, s->next), next.addr, next.port,
			   strerror(errno));
		goto fail;
	}
	fill_hello(&h, a->rank, a->size, next.token);
	if (full_io(s->next_fd, &h, sizeof(h), true, deadline)) {
		lt_err_set(err, LT_EXIT_FAILURE, "comm 'tcp' in '%s': rank %d cannot greet rank %d: %s",
			   a->scope, global_of(c, a->rank), global_of(c, s->next), strerror(errno));
		goto fail;
	}
	s->prev_fd = accept_prev(c, lfd, mine, deadline, &rejected);
	if (s->prev_fd < 0) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "comm 'tcp' in '%s': rank %d waited in vain for rank %d to connect to %s port "
			   "%s (%d other connection%s refused: wrong token); check that rank %d started "
			   "and can reach this node",
			   a->scope, global_of(c, a->rank), global_of(c, s->prev), me.addr, me.port,
			   rejected, rejected == 1 ? "" : "s", global_of(c, s->prev));
		goto fail;
	}
	fill_hello(&h, a->rank, a->size, prev.token);
	if (full_io(s->prev_fd, &h, sizeof(h), true, deadline) ||
	    full_io(s->next_fd, &h, sizeof(h), false, deadline) ||
	    !hello_is(&h, s->next, a->size, mine)) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "comm 'tcp' in '%s': rank %d got no valid answer from rank %d at %s port %s; "
			   "check that every rank runs the same ltrun",
			   a->scope, global_of(c, a->rank), global_of(c, s->next), next.addr, next.port);
		goto fail;
	}
	close(lfd);
	tune(s->next_fd);
	tune(s->prev_fd);
	return 0;
fail:
	close(lfd);
	return -1;
}

static void tcp_close(struct lt_comm *c)
{
	struct tcp *s = state_of(c);

	if (!s)
		return;
	if (s->next_fd >= 0)
		close(s->next_fd);
	if (s->prev_fd >= 0)
		close(s->prev_fd);
	free(s->tmp);
	free(s);
	c->state = NULL;
}

const struct lt_comm_ops lt_comm_tcp = {
	.intra_node = true,
	.inter_node = true,
	.open = tcp_open,
	.barrier = tcp_barrier,
	.broadcast = tcp_broadcast,
	.all_reduce = tcp_all_reduce,
	.all_gather = tcp_all_gather,
	.reduce_scatter = tcp_reduce_scatter,
	.reduce_scatter_v = tcp_reduce_scatter_v,
	.close = tcp_close,
};
