/*
 * zero_units.c - zero's stage 3 (zero_units.h): the units' values outside
 * a rank's shard are released (accel->discard gives their pages back,
 * accel->guard makes them inaccessible: a model touching them faults and
 * runtime/unit_fault.c names the parameter) and gathered again from their
 * owners (one broadcast per owner of a part of the unit's range) while
 * the model uses them.
 *
 * Prefetch.  Every rank records the order of its lt_unit_begin events
 * (unit, pass) until the first step; from then on a cursor follows that
 * order, and at each begin, once the unit is resident, the next
 * `prefetch` units of the order that are not in use are gathered ahead:
 * their pages unguarded, then their broadcasts queued on the shard's
 * communicator (lt_comm_start: the worker thread runs them, in order,
 * while the model computes).  Beginning a unit whose gather is in flight
 * waits for it.  The end of a unit keeps it when it is among the next
 * `prefetch` units (the last layer's forward, then its backward) and
 * releases it otherwise.  A begin the order did not foresee (a model that
 * branches) moves the cursor to that event's next occurrence (or none)
 * and is gathered synchronously; units gathered ahead and no longer
 * foreseen are released (their requests waited first), at the latest at
 * the step, whose update makes them stale.  Every decision follows the
 * recorded order and the events, never timing, so every rank queues the
 * same collectives in the same order.
 *
 * reshard_after_forward=false (FSDP's SHARD_GRAD_OP): the end of a unit's
 * forward keeps it until the end of its backward (or the step, without
 * one: Fabric mode), one gather less a step for more memory.
 *
 * The unit of work of one gather is gather_unit(), for hooks that bring
 * the values from elsewhere.
 *
 * Direct reads.  When every rank of the shard is a process of this node
 * that this one may read (same user, same pid namespace: checked once at
 * open by reading each peer's cookie with process_vm_readv), a gather
 * reads each owner's part straight out of the owner's arena: one copy,
 * made by the rank that needs it, and nothing for the owner to do (a
 * broadcast through the shm segment is two copies and needs both ranks'
 * workers on a cpu at once).  It is then synchronous: a gather ahead is
 * a read ahead.  The owner's values change only in its step (and when a
 * resume writes them), so the first gather after either waits on a
 * barrier of the shard: every owner has finished writing.  Nothing is
 * read between an owner's last read by a peer and its step, since the
 * step follows the reduce-scatters that every peer's backward ends with.
 * And no rank leaves while a peer may still read it: teardown waits on
 * a barrier of the shard (zero.c).  LTRUN_ZERO_GATHER=broadcast keeps
 * the broadcasts.  Values in files (offload_params=nvme: the owned part
 * is not resident): each owner lends a read-only descriptor of its file
 * of values (pidfd_getfd; the file's pages are the arena's, zero_files.c),
 * each rank maps the others' whole pages of the units from those files
 * (private, released, as shared pages below) and a gather reads the rest
 * of their parts with pread (share_files, map_peer_files; with
 * LTRUN_ZERO_GATHER=read all of them), the same barriers around them:
 * an owner's step writes its file with pwrite, which the mappings see.
 *
 * Shared pages (share_pages, unless LTRUN_ZERO_GATHER=read).  On top of
 * direct reads, every rank moves the whole pages of its shard into a
 * memfd mapped where they were, and each peer maps them (MAP_PRIVATE,
 * from a read-only descriptor taken with pidfd_getfd: the same ptrace
 * check as process_vm_readv) over its own released copy of them.  Then
 * a gather is the guard lifted (the model reads the owner's pages: no
 * copy, nothing zeroed) and a direct read of the few bytes of a part
 * outside its whole pages; a release gives the mapping's pages back as
 * before.  A rank writing there gets its own copy (copy on write), so an
 * owner's values change in its own step only, and the barrier above
 * keeps a gather from seeing them half-written.  The resident bytes are
 * those of the copies (the mapped pages count in each reader's RSS).
 */
#include "strategy/zero_units.h"
#include "comm/comm.h"
#include "strategy/zero_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/uio.h>
#include <unistd.h>

/* Recorded begins beyond this many are not kept: the model never steps
 * (or begins without end) and prefetching stays off. */
#define ORDER_MAX ((size_t)1 << 20)

struct begin_event {
	uint32_t unit;
	uint8_t pass;
};

struct zero_units {
	const struct zero_part *part;
	struct lt_comm *shard;
	int ssize;
	size_t nunits;
	struct zero_units_opts o;
	int *inuse;               /* begins not yet ended, per unit */
	bool *held;               /* values gathered (or in flight) */
	bool *kept;               /* keep_forward: forward ended, backward not */
	struct lt_comm_req **req; /* per unit, ssize gathers in flight */
	struct begin_event *order;
	size_t norder, order_cap;
	bool recorded;            /* the first step came: the order is fixed */
	size_t pos;               /* the next begin the order expects */
	bool release_pending;     /* a resume made every value resident */
	size_t gathers, ahead;    /* units gathered, and of them ahead of use */
	struct zero_files *files; /* offload_params=nvme: the owned values (NULL) */
	struct peer *peer;        /* direct reads: each shard rank's (NULL: broadcasts) */
	bool sync_pending;        /* direct: a barrier before the next read */
	uint64_t cookie;          /* direct: what peers read to check they can */
	bool shared;              /* direct: the owners' whole pages are mapped */
	int *peer_fd;             /* direct, values in files: each owner's file (-1) */
	int own_fd, own_ro_fd;    /* shared: the memfd of this rank's pages (-1) */
};

/* What a rank of the shard tells the others for direct reads; shared
 * pages: fd, the read-only descriptor of its memfd (-1: none), holds
 * the bytes of its data arena from offset at on. */
struct peer {
	uint64_t pid, base, cookie_at, cookie; /* base: its data arena */
	int64_t fd, at;
};

/* The flat range [*lo, *hi) of unit u's parameters. */
static void unit_range(const struct lt_ctx *ctx, size_t u, size_t *lo, size_t *hi)
{
	const struct lt_unit *un = ctx->units[u];
	const struct lt_tensor *last = ctx->params[un->first + un->count - 1];

	*lo = ctx->params[un->first]->offset;
	*hi = last->offset + (size_t)last->numel;
}

size_t zero_units_largest(const struct lt_ctx *ctx)
{
	size_t most = 0;

	for (size_t u = 0; u < ctx->nunits; u++) {
		size_t lo, hi;

		unit_range(ctx, u, &lo, &hi);
		most = hi - lo > most ? hi - lo : most;
	}
	return most;
}

size_t zero_units_total(const struct lt_ctx *ctx)
{
	size_t sum = 0;

	for (size_t u = 0; u < ctx->nunits; u++) {
		size_t lo, hi;

		unit_range(ctx, u, &lo, &hi);
		sum += hi - lo;
	}
	return sum;
}

/* Discards and guards (release) or unguards (!release) the values of flat
 * [lo, hi) outside this rank's shard. */
static int unowned_values(struct lt_ctx *ctx, const struct zero_units *zu, size_t lo, size_t hi,
			  bool release, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), own_lo = zu->part->offset;
	size_t own_hi = own_lo + zu->part->numel;
	size_t cut[2][2] = { { lo, own_lo < hi ? own_lo : hi }, { own_hi > lo ? own_hi : lo, hi } };

	for (int k = 0; k < 2; k++) {
		char *p = ctx->data_arena.base + cut[k][0] * esz;
		size_t bytes = cut[k][1] > cut[k][0] ? (cut[k][1] - cut[k][0]) * esz : 0;

		if (!bytes)
			continue;
		if (!release) {
			if (ctx->accel->guard(p, bytes, false, err))
				return -1;
			continue;
		}
		ctx->accel->discard(p, bytes);
		if (ctx->accel->guard(p, bytes, true, err))
			return -1;
	}
	return 0;
}

/* Shard rank r's part [*a, *b) of flat [lo, hi); false when it has none. */
static bool owner_part(const struct zero_units *zu, int r, size_t lo, size_t hi, size_t *a,
		       size_t *b)
{
	size_t s = zu->part->shard;

	*a = (size_t)r * s > lo ? (size_t)r * s : lo;
	*b = (size_t)r * s + s < hi ? (size_t)r * s + s : hi;
	return s && *b > *a;
}

/* Every rank gets the values of flat [lo, hi): each owner broadcasts its
 * part of it, blocking (req NULL) or queued (req[r] the request of owner
 * r's part, NULL where it has none). */
static int broadcast_owned(struct lt_ctx *ctx, const struct zero_units *zu, size_t lo, size_t hi,
			   struct lt_comm_req **req, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), a, b;

	if (zu->ssize == 1) /* parameters in files on one rank: nothing to send */
		return 0;
	for (int r = 0; r < zu->ssize; r++) {
		char *p = ctx->data_arena.base;

		if (!owner_part(zu, r, lo, hi, &a, &b))
			continue;
		p += a * esz;
		if (!req) {
			if (lt_comm_broadcast(zu->shard, p, b - a, ctx->dtype, r, err))
				return -1;
			continue;
		}
		req[r] = lt_comm_start(zu->shard, LT_COLL_BROADCAST, NULL, p, b - a, ctx->dtype,
				       LT_SUM, r, err);
		if (!req[r])
			return -1;
	}
	return 0;
}

/* The whole pages of bytes [lo, hi) of the data arena: [*a, *b), false
 * when none. */
static bool whole_pages(size_t lo, size_t hi, size_t *a, size_t *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	*a = (lo + page - 1) / page * page;
	*b = hi / page * page;
	return *b > *a;
}

/* Reads bytes [off, off + len) of the data arena from shard rank r's, in
 * place. */
static int read_peer(struct lt_ctx *ctx, const struct zero_units *zu, int r, size_t off,
		     size_t len, struct lt_err *err)
{
	while (len) {
		struct iovec here = { ctx->data_arena.base + off, len };
		struct iovec there = { (void *)(uintptr_t)(zu->peer[r].base + off), len };
		ssize_t n = process_vm_readv((pid_t)zu->peer[r].pid, &here, 1, &there, 1, 0);

		if (n <= 0)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "zero: cannot read rank %d's values (pid %d) for a gather: %s: did it die? see its own error",
					  zu->shard->global[r], (int)zu->peer[r].pid,
					  n ? strerror(errno) : "nothing read");
		off += (size_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads bytes [off, off + len) of the data arena from shard rank r's
 * file of values (parameters in files), in place. */
static int read_peer_file(struct lt_ctx *ctx, const struct zero_units *zu, int r, size_t off,
			  size_t len, struct lt_err *err)
{
	while (len) {
		ssize_t n = pread(zu->peer_fd[r], ctx->data_arena.base + off, len,
				  (off_t)(off - (size_t)zu->peer[r].at));

		if (n <= 0)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "zero: cannot read rank %d's file of values for a gather: %s",
					  zu->shard->global[r], n ? strerror(errno) : "end of file");
		off += (size_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Direct reads of every owner's part of flat [lo, hi) but this rank's
 * (from its file where the values are in files), after the barrier a
 * step or a resume asks for.  With shared pages only the bytes outside
 * the part's whole pages are read: those pages are the owner's, mapped
 * (share_pages, map_peer_files). */
static int read_owned(struct lt_ctx *ctx, struct zero_units *zu, size_t lo, size_t hi,
		      struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), a, b, pa, pb;

	if (zu->sync_pending) {
		if (lt_comm_barrier(zu->shard, err))
			return -1;
		zu->sync_pending = false;
	}
	for (int r = 0; r < zu->ssize; r++) {
		if (r == zu->shard->rank || !owner_part(zu, r, lo, hi, &a, &b))
			continue;
		a *= esz;
		b *= esz;
		if (!zu->shared || !whole_pages(a, b, &pa, &pb))
			pa = pb = b;
		if (zu->peer_fd ? read_peer_file(ctx, zu, r, a, pa - a, err) ||
					  read_peer_file(ctx, zu, r, pb, b - pb, err)
				: read_peer(ctx, zu, r, a, pa - a, err) ||
					  read_peer(ctx, zu, r, pb, b - pb, err))
			return -1;
	}
	return 0;
}

/* Waits for unit u's gather, if one is in flight. */
static int wait_unit(struct zero_units *zu, size_t u, struct lt_err *err)
{
	struct lt_comm_req **req = zu->req + u * (size_t)zu->ssize;
	int rc = 0;

	for (int r = 0; r < zu->ssize; r++) {
		struct lt_err ignored;

		if (req[r] && lt_comm_wait(req[r], rc ? &ignored : err))
			rc = -1;
		req[r] = NULL;
	}
	return rc;
}

/* Makes unit u's values resident: unguards what this rank does not own
 * and queues each owner's broadcast of its part; wait: returns when they
 * have arrived. */
static int gather_unit(struct lt_ctx *ctx, struct zero_units *zu, size_t u, bool wait,
		       struct lt_err *err)
{
	size_t lo, hi;

	unit_range(ctx, u, &lo, &hi);
	zu->held[u] = true;
	zu->gathers++;
	zu->ahead += !wait;
	if (unowned_values(ctx, zu, lo, hi, false, err))
		return -1;
	if (zu->peer) /* the owned part from its file, if there, then the others' */
		return zero_files_begin(ctx, zu->files, lo, hi, err) ||
		       read_owned(ctx, zu, lo, hi, err) ? -1 : 0;
	if (zero_files_begin(ctx, zu->files, lo, hi, err) || /* the owned part, from its file */
	    broadcast_owned(ctx, zu, lo, hi, zu->req + u * (size_t)zu->ssize, err))
		return -1;
	return wait ? wait_unit(zu, u, err) : 0;
}

/* Gives unit u's values outside the shard back, its gather waited first. */
static int release_unit(struct lt_ctx *ctx, struct zero_units *zu, size_t u, struct lt_err *err)
{
	size_t lo, hi;

	if (wait_unit(zu, u, err))
		return -1;
	unit_range(ctx, u, &lo, &hi);
	zu->held[u] = false;
	return unowned_values(ctx, zu, lo, hi, true, err) ||
	       zero_files_end(ctx, zu->files, lo, hi, err) ? -1 : 0;
}

/* The values outside the shard of every unit not held go (release), or
 * come back (!release: a resume). */
static int units_values(struct lt_ctx *ctx, struct zero_units *zu, bool release,
			struct lt_err *err)
{
	for (size_t u = 0; u < ctx->nunits; u++) {
		size_t lo, hi;

		if (zu->inuse[u] || zu->held[u])
			continue;
		unit_range(ctx, u, &lo, &hi);
		if (unowned_values(ctx, zu, lo, hi, release, err))
			return -1;
	}
	zu->release_pending = false;
	return 0;
}

static bool alloc_state(struct lt_ctx *ctx, struct zero_units *zu)
{
	size_t n = ctx->nunits ? ctx->nunits : 1;

	zu->inuse = calloc(n, sizeof(*zu->inuse));
	zu->held = calloc(n, sizeof(*zu->held));
	zu->kept = calloc(n, sizeof(*zu->kept));
	zu->req = calloc(n * (size_t)zu->ssize, sizeof(*zu->req));
	return zu->inuse && zu->held && zu->kept && zu->req;
}

struct zero_units *zero_units_open(struct lt_ctx *ctx, const struct zero_part *part,
				   struct lt_comm *shard, const struct zero_units_opts *o,
				   struct lt_err *err)
{
	struct zero_units *zu = calloc(1, sizeof(*zu));

	if (!zu) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu units", ctx->nunits);
		return NULL;
	}
	zu->part = part;
	zu->shard = shard;
	zu->ssize = shard ? shard->size : 1;
	zu->nunits = ctx->nunits;
	zu->o = *o;
	zu->own_fd = zu->own_ro_fd = -1;
	if (!alloc_state(ctx, zu)) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu units", ctx->nunits);
		zero_units_close(zu);
		return NULL;
	}
	if (units_values(ctx, zu, true, err)) {
		zero_units_close(zu);
		return NULL;
	}
	return zu;
}

/* --- the order of begins --- */

/* Before the first step: appends (unit, pass); too many and the order is
 * dropped (no prefetch). */
static void record(struct zero_units *zu, size_t unit, enum lt_pass pass)
{
	if (zu->norder == zu->order_cap) {
		size_t cap = zu->order_cap ? 2 * zu->order_cap : 64;
		struct begin_event *p = cap <= ORDER_MAX ? realloc(zu->order, cap * sizeof(*p))
							 : NULL;

		if (!p) {
			free(zu->order);
			zu->order = NULL;
			zu->norder = zu->order_cap = 0;
			zu->recorded = true;
			return;
		}
		zu->order = p;
		zu->order_cap = cap;
	}
	zu->order[zu->norder++] = (struct begin_event){ (uint32_t)unit, (uint8_t)pass };
}

static bool is_event(const struct zero_units *zu, size_t i, size_t unit, enum lt_pass pass)
{
	return zu->order[i].unit == unit && zu->order[i].pass == (uint8_t)pass;
}

/* The cursor after a begin of (unit, pass): past the order's next
 * occurrence of it (from the cursor on, else from the start), or at the
 * end when the order has none. */
static void follow(struct zero_units *zu, size_t unit, enum lt_pass pass)
{
	size_t i;

	for (i = zu->pos; i < zu->norder && !is_event(zu, i, unit, pass); i++)
		;
	if (i == zu->norder)
		for (i = 0; i < zu->pos && !is_event(zu, i, unit, pass); i++)
			;
	zu->pos = i < zu->norder && is_event(zu, i, unit, pass) ? i + 1 : zu->norder;
}

/* The next o.prefetch distinct units the order expects that are not in
 * use (nor kept) into ahead; returns how many. */
static int window(const struct zero_units *zu, size_t *ahead)
{
	int n = 0;

	for (size_t i = zu->pos; i < zu->norder && n < zu->o.prefetch; i++) {
		size_t u = zu->order[i].unit;
		bool seen = zu->inuse[u] || zu->kept[u];

		for (int k = 0; k < n && !seen; k++)
			seen = ahead[k] == u;
		if (!seen)
			ahead[n++] = u;
	}
	return n;
}

static bool in_window(const size_t *ahead, int n, size_t u)
{
	for (int k = 0; k < n; k++)
		if (ahead[k] == u)
			return true;
	return false;
}

/* After a begin: releases the units gathered ahead the order no longer
 * expects soon, and starts gathering those it does. */
static int prefetch(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err)
{
	size_t ahead[4];
	int n = window(zu, ahead);

	for (size_t u = 0; u < ctx->nunits; u++)
		if (zu->held[u] && !zu->inuse[u] && !zu->kept[u] && !in_window(ahead, n, u) &&
		    release_unit(ctx, zu, u, err))
			return -1;
	for (int k = 0; k < n; k++)
		if (!zu->held[ahead[k]] && gather_unit(ctx, zu, ahead[k], false, err))
			return -1;
	return 0;
}

/* --- events --- */

static int begin(struct lt_ctx *ctx, struct zero_units *zu, const struct lt_unit_event *ev,
		 struct lt_err *err)
{
	size_t u = ev->unit;

	if (!zu->recorded)
		record(zu, u, ev->pass);
	else
		follow(zu, u, ev->pass);
	if (zu->inuse[u]++)
		return 0;
	if (zu->held[u] ? wait_unit(zu, u, err) : gather_unit(ctx, zu, u, true, err))
		return -1;
	return zu->recorded ? prefetch(ctx, zu, err) : 0;
}

static int end(struct lt_ctx *ctx, struct zero_units *zu, const struct lt_unit_event *ev,
	       struct lt_err *err)
{
	size_t u = ev->unit, ahead[4];

	if (zu->inuse[u] > 0 && --zu->inuse[u])
		return 0;
	if (zu->o.keep_forward && ev->pass == LT_FORWARD) {
		zu->kept[u] = true;
		return 0;
	}
	zu->kept[u] = false;
	if (zu->recorded && in_window(ahead, window(zu, ahead), u))
		return 0;
	return release_unit(ctx, zu, u, err);
}

int zero_units_event(struct lt_ctx *ctx, struct zero_units *zu, const struct lt_unit_event *ev,
		     struct lt_err *err)
{
	/* after a checkpoint: the owned values back to their files first */
	if (zero_files_unpin(ctx, zu->files, zu->held, err) ||
	    (zu->release_pending && units_values(ctx, zu, true, err)))
		return -1;
	return ev->begin ? begin(ctx, zu, ev, err) : end(ctx, zu, ev, err);
}

int zero_units_step(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err)
{
	zu->recorded = true;
	zu->pos = 0;
	zu->sync_pending = zu->peer != NULL; /* the update comes next */
	if (zero_files_unpin(ctx, zu->files, zu->held, err))
		return -1;
	for (size_t u = 0; u < ctx->nunits; u++) {
		if (zu->inuse[u])
			continue;
		zu->kept[u] = false;
		if (zu->held[u] && release_unit(ctx, zu, u, err))
			return -1;
	}
	return zu->release_pending ? units_values(ctx, zu, true, err) : 0;
}

int zero_units_broadcast_loose(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err)
{
	size_t i = 0;

	while (i < ctx->nparams) {
		size_t j = i;

		if (ctx->params[i]->unit >= 0) {
			i++;
			continue;
		}
		while (j + 1 < ctx->nparams && ctx->params[j + 1]->unit < 0)
			j++;
		if (broadcast_owned(ctx, zu, ctx->params[i]->offset,
				    ctx->params[j]->offset + (size_t)ctx->params[j]->numel, NULL,
				    err))
			return -1;
		i = j + 1;
	}
	return 0;
}

int zero_units_resident_all(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err)
{
	if (units_values(ctx, zu, false, err))
		return -1;
	zu->release_pending = true;
	return 0;
}

void zero_units_set_files(struct zero_units *zu, struct zero_files *zf)
{
	zu->files = zf;
}

/* Whether this rank can read every peer's cookie (told in all[]). */
static bool can_read_peers(const struct zero_units *zu, const struct peer *all)
{
	for (int r = 0; r < zu->ssize; r++) {
		uint64_t seen = 0;
		struct iovec here = { &seen, sizeof(seen) };
		struct iovec there = { (void *)(uintptr_t)all[r].cookie_at, sizeof(seen) };

		if (r != zu->shard->rank &&
		    (!all[r].cookie ||
		     process_vm_readv((pid_t)all[r].pid, &here, 1, &there, 1, 0) !=
			     (ssize_t)sizeof(seen) ||
		     seen != all[r].cookie))
			return false;
	}
	return true;
}

/* --- shared pages --- */

/* Moves bytes [at, at + len) of the data arena into memfd fd, 64 MiB at
 * a time, each piece given back once in the file (so that the values are
 * never held twice).  1; 0 when the file cannot take them (the pieces
 * moved are read back); -1 when they cannot be read back either. */
static int arena_to_file(char *at, size_t len, int fd)
{
	const size_t piece = (size_t)64 << 20;
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < piece ? len - done : piece;

		if (pwrite(fd, at + done, n, (off_t)done) != (ssize_t)n)
			break;
		(void)madvise(at + done, n, MADV_DONTNEED);
		done += n;
	}
	if (done == len)
		return 1;
	for (size_t back = 0; back < done;) {
		ssize_t r = pread(fd, at + back, done - back, (off_t)back);

		if (r <= 0)
			return -1;
		back += (size_t)r;
	}
	return 0;
}

/* This rank's whole pages of its shard move into a memfd, mapped shared
 * where they were (the model and the optimizer see no difference); me
 * gets the read-only descriptor that peers take (pidfd_getfd) and where
 * the file starts.  *ok false where the kernel will not (the values stay
 * as they were); -1 only when the values could not be mapped back. */
static int share_own_pages(struct lt_ctx *ctx, struct zero_units *zu, struct peer *me, bool *ok,
			   struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), a, b;
	char path[64];
	int fd, moved;

	me->fd = -1;
	me->at = 0;
	*ok = true;
	if (!whole_pages(zu->part->offset * esz, (zu->part->offset + zu->part->numel) * esz, &a, &b))
		return 0;
	*ok = false;
	fd = memfd_create("ltrun-zero-shard", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	moved = ftruncate(fd, (off_t)(b - a)) ? 0 : arena_to_file(ctx->data_arena.base + a, b - a, fd);
	if (moved <= 0) {
		close(fd);
		return moved ? lt_err_set(err, LT_EXIT_FAILURE,
					  "zero: this rank's values were moved to shared pages and cannot be read back: %s",
					  strerror(errno))
			     : 0;
	}
	if (mmap(ctx->data_arena.base + a, b - a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "zero: cannot map this rank's %zu MiB of values back from their shared pages: %s",
			   (b - a) >> 20, strerror(errno));
		close(fd);
		return -1;
	}
	zu->own_fd = fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	zu->own_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	me->fd = zu->own_ro_fd;
	me->at = (int64_t)a;
	*ok = zu->own_ro_fd >= 0;
	return 0;
}

/* Maps (prot PROT_NONE: released) rank r's whole pages of every unit
 * where they are in this rank's arena, from fd (its memfd, which starts
 * at byte at), or (fd < 0) anonymous pages instead: what was there
 * before.  0, or -1 when a range cannot be mapped. */
static int map_units_of(struct lt_ctx *ctx, const struct zero_units *zu, int r, int fd,
			size_t at, struct lt_err *err)
{
	size_t esz = lt_dtype_size(ctx->dtype), lo, hi, a, b, pa, pb;

	for (size_t u = 0; u < ctx->nunits; u++) {
		char *p;
		void *m;

		unit_range(ctx, u, &lo, &hi);
		if (!owner_part(zu, r, lo, hi, &a, &b) || !whole_pages(a * esz, b * esz, &pa, &pb))
			continue;
		p = ctx->data_arena.base + pa;
		m = fd >= 0 ? mmap(p, pb - pa, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd,
				   (off_t)(pa - at))
			    : mmap(p, pb - pa, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "zero: cannot map %zu KiB of rank %d's values: %s (vm.max_map_count?)",
					  (pb - pa) >> 10, zu->shard->global[r], strerror(errno));
		if (fd < 0)
			(void)madvise(p, pb - pa, MADV_HUGEPAGE);
	}
	return 0;
}

/* Every peer's shared pages mapped into this rank's arena; *ok false
 * (nothing left mapped) when one cannot be taken. */
static int map_peers(struct lt_ctx *ctx, const struct zero_units *zu, const struct peer *all,
		     bool *ok, struct lt_err *err)
{
	for (int r = 0; r < zu->ssize && *ok; r++) {
		int pidfd, fd;

		if (r == zu->shard->rank || all[r].fd < 0)
			continue;
		pidfd = pidfd_open((pid_t)all[r].pid, 0);
		fd = pidfd < 0 ? -1 : pidfd_getfd(pidfd, (int)all[r].fd, 0);
		if (pidfd >= 0)
			close(pidfd);
		if (fd < 0) {
			*ok = false;
			break;
		}
		if (map_units_of(ctx, zu, r, fd, (size_t)all[r].at, err)) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Whether every rank of the shard could map its peers' pages (ok this
 * rank's word): zu->shared, or each peer's mapped pages become anonymous
 * released ones again, as they were. */
static int agree_or_unmap(struct lt_ctx *ctx, struct zero_units *zu, bool ok,
			  struct lt_err *err)
{
	int32_t all_ok = ok;

	if (lt_comm_all_reduce(zu->shard, &all_ok, 1, LT_I32, LT_MIN, err))
		return -1;
	zu->shared = all_ok;
	for (int r = 0; r < zu->ssize && !all_ok; r++)
		if (r != zu->shard->rank && map_units_of(ctx, zu, r, -1, 0, err))
			return -1;
	return 0;
}

/* Shared pages: every rank's whole pages of its shard move into a memfd
 * that the other ranks map, private and released, where those values are
 * in their arenas.  A gather then unguards them (the model reads the
 * owner's pages, no copy, nothing to zero) and reads only the bytes at
 * the edges of a part; a release gives back the mapping's pages as
 * before (a private file mapping reads the file again).  Whatever a rank
 * writes there stays its own (copy on write): the owner's values change
 * only in its own step.  Every rank or none. */
static int share_pages(struct lt_ctx *ctx, struct zero_units *zu, struct peer *all,
		       struct lt_err *err)
{
	struct peer me = all[zu->shard->rank];
	bool ok;

	if (share_own_pages(ctx, zu, &me, &ok, err) ||
	    lt_comm_all_gather(zu->shard, &me, all, sizeof(me) / sizeof(int64_t), LT_I64, err) ||
	    (ok && map_peers(ctx, zu, all, &ok, err)))
		return -1;
	if (agree_or_unmap(ctx, zu, ok, err))
		return -1;
	/* every peer has its descriptor now, or never will */
	if (zu->own_ro_fd >= 0)
		close(zu->own_ro_fd);
	zu->own_ro_fd = -1;
	if (zu->own_fd >= 0)
		close(zu->own_fd);
	zu->own_fd = -1;
	return 0;
}

/* Values in files, the descriptors taken: every peer's whole pages of
 * the units mapped from its file where they are in this rank's arena (a
 * gather reads only the edges; the step's writes reach the mappings
 * through the page cache), or none where one cannot be mapped (then
 * gathers read everything from the files). */
static int map_peer_files(struct lt_ctx *ctx, struct zero_units *zu, const struct peer *all,
			  struct lt_err *err)
{
	struct lt_err ignored;
	bool ok = true;

	for (int r = 0; r < zu->ssize && ok; r++)
		if (r != zu->shard->rank &&
		    map_units_of(ctx, zu, r, zu->peer_fd[r], (size_t)all[r].at, &ignored))
			ok = false;
	return agree_or_unmap(ctx, zu, ok, err);
}

/* Values in files: every rank opens its file of values read-only for
 * the others, which take it (pidfd_getfd), map their pages from it
 * (map: map_peer_files) and read the rest with pread: the owner does
 * nothing for a gather, and its file is current outside its step (the
 * step writes before it returns; a resume's values go back at the next
 * unit event, before that event's barrier).  Every rank or none:
 * *agreed false, and the broadcasts stay. */
static int share_files(struct lt_ctx *ctx, struct zero_units *zu, struct peer *all, bool map,
		       bool *agreed, struct lt_err *err)
{
	struct peer me = all[zu->shard->rank];
	char path[64];
	int32_t ok = 1;
	size_t at;
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", zero_files_values_fd(zu->files, &at));
	ro = open(path, O_RDONLY | O_CLOEXEC);
	me.fd = ro;
	me.at = (int64_t)at;
	zu->peer_fd = malloc((size_t)zu->ssize * sizeof(*zu->peer_fd));
	if (!zu->peer_fd || lt_comm_all_gather(zu->shard, &me, all, sizeof(me) / sizeof(int64_t),
					       LT_I64, err)) {
		if (ro >= 0)
			close(ro);
		return zu->peer_fd ? -1 : lt_err_set(err, LT_EXIT_FAILURE, "zero: out of memory");
	}
	for (int r = 0; r < zu->ssize; r++) {
		int pidfd = r == zu->shard->rank || all[r].fd < 0
				    ? -1
				    : pidfd_open((pid_t)all[r].pid, 0);

		zu->peer_fd[r] = pidfd < 0 ? -1 : pidfd_getfd(pidfd, (int)all[r].fd, 0);
		if (pidfd >= 0)
			close(pidfd);
		ok &= r == zu->shard->rank || zu->peer_fd[r] >= 0;
	}
	if (lt_comm_all_reduce(zu->shard, &ok, 1, LT_I32, LT_MIN, err)) {
		if (ro >= 0)
			close(ro);
		return -1;
	}
	if (ro >= 0) /* every peer has it now, or never will */
		close(ro);
	*agreed = ok;
	return ok && map ? map_peer_files(ctx, zu, all, err) : 0;
}

static void close_peer_files(struct zero_units *zu)
{
	for (int r = 0; zu->peer_fd && r < zu->ssize; r++)
		if (zu->peer_fd[r] >= 0)
			close(zu->peer_fd[r]);
	free(zu->peer_fd);
	zu->peer_fd = NULL;
}

int zero_units_direct(struct lt_ctx *ctx, struct zero_units *zu, struct lt_err *err)
{
	const char *how = getenv("LTRUN_ZERO_GATHER");
	struct peer me, *all;
	int32_t ok;

	if (how && *how && strcmp(how, "auto") && strcmp(how, "read") && strcmp(how, "broadcast"))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "LTRUN_ZERO_GATHER='%s': expected auto, read or broadcast (how stage 3 gathers a unit on one node)",
				  how);
	if (zu->ssize < 2 || (how && !strcmp(how, "broadcast")))
		return 0;
	/* no cookie, no proof: then the peers' cookies (0) cannot match either */
	if (getrandom(&zu->cookie, sizeof(zu->cookie), 0) != (ssize_t)sizeof(zu->cookie))
		zu->cookie = 0;
	me = (struct peer){ .pid = (uint64_t)getpid(),
			    .base = (uintptr_t)ctx->data_arena.base,
			    .cookie_at = (uintptr_t)&zu->cookie,
			    .cookie = zu->cookie, .fd = -1 };
	all = calloc((size_t)zu->ssize, sizeof(*all));
	if (!all)
		return lt_err_set(err, LT_EXIT_FAILURE, "zero: out of memory");
	if (lt_comm_all_gather(zu->shard, &me, all, sizeof(me) / sizeof(int64_t), LT_I64, err)) {
		free(all);
		return -1;
	}
	ok = can_read_peers(zu, all);
	/* every rank the same way: a broadcast needs every rank in it */
	if (lt_comm_all_reduce(zu->shard, &ok, 1, LT_I32, LT_MIN, err)) {
		free(all);
		return -1;
	}
	if (!ok) {
		free(all);
		return 0;
	}
	zu->peer = all;
	zu->sync_pending = true;
	if (zu->files) {
		bool agreed = false;

		if (share_files(ctx, zu, all, !(how && !strcmp(how, "read")), &agreed, err))
			return -1;
		if (!agreed) { /* broadcasts */
			close_peer_files(zu);
			zu->peer = NULL;
			zu->sync_pending = false;
			free(all);
		}
		return 0;
	}
	return how && !strcmp(how, "read") ? 0 : share_pages(ctx, zu, all, err);
}

bool zero_units_reads_direct(const struct zero_units *zu)
{
	return zu && zu->peer;
}

const char *zero_units_gather_way(const struct zero_units *zu)
{
	if (!zu || !zu->peer)
		return "broadcasts";
	if (zu->peer_fd)
		return zu->shared ? "the owners' files mapped (and read at their edges)"
				  : "direct reads of the owners' files";
	return zu->shared ? "the owners' shared pages (and direct reads at their edges)"
			  : "direct reads of the owners' values";
}

void zero_units_values_changed(struct zero_units *zu)
{
	if (zu)
		zu->sync_pending = zu->peer != NULL;
}

const bool *zero_units_held(const struct zero_units *zu)
{
	return zu->held;
}

void zero_units_counts(const struct zero_units *zu, size_t *gathers, size_t *ahead)
{
	*gathers = zu->gathers;
	*ahead = zu->ahead;
}

void zero_units_close(struct zero_units *zu)
{
	if (!zu)
		return;
	for (size_t u = 0; zu->req && u < zu->nunits; u++) {
		struct lt_err ignored;

		wait_unit(zu, u, &ignored);
	}
	free(zu->order);
	free(zu->inuse);
	free(zu->held);
	free(zu->kept);
	free(zu->req);
	free(zu->peer);
	close_peer_files(zu);
	if (zu->own_ro_fd >= 0)
		close(zu->own_ro_fd);
	if (zu->own_fd >= 0)
		close(zu->own_fd);
	free(zu);
}
