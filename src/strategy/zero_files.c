/*
 * zero_files.c - stage 3's parameters in files (zero_files.h).
 *
 * The files.  One per rank for the owned values (compute dtype) and,
 * under mixed precision, one for the owned f32 master weights: both
 * hold the whole owned flat range [own_lo, own_lo + own_n), element k at
 * (k - own_lo) elements plus lead bytes (the values' file: own_lo's
 * offset in its page of the arena, so that the file's pages are the
 * arena's and can be mapped there, zero_units.c; the masters': none),
 * though only the parameters in units go there
 * (those in no unit stay resident on every rank, as zero.c keeps them).
 * The masters have a file of their own rather than a slot among the
 * optimizer's files (offload_optimizer=nvme): those are the runtime's
 * (optim.c), stepped in a window of chunks of the state range, and
 * exist only with that option.  runtime/offload.c makes the files:
 * private (mode 0600, unlinked at once), preallocated (a full disk is
 * refused at setup).
 *
 * In memory.  A unit's owned values are resident from its first begin
 * to its last end (read with pread into the arena; on one node the
 * other ranks map this file's pages, through a read-only descriptor it
 * lends them, zero_units.c, and elsewhere it broadcasts them), during the optimizer step (streamed a unit at a
 * time: read, stepped by lt_update, written back with pwrite, released),
 * and from a checkpoint's ckpt_shard to the next unit event or step
 * (pin/unpin: a save reads them, a resume writes them; unpin writes them
 * back).
 * Released means discarded (accel->discard: the pages go back) and
 * guarded (accel->guard: a model touching them faults, named by
 * runtime/unit_fault.c); the master weights are discarded only.  So the
 * values resident between uses are those of the parameters in no unit
 * only.
 *
 * The I/O.  The step is double-buffered: one I/O thread (pread/pwrite,
 * as runtime/offload.c and for its reasons) reads the next unit's owned
 * part ahead and writes the previous one back (and releases it) while
 * lt_update steps the current one, so three units' owned parts are
 * resident at most; the jobs run in order, and a step waits for all of
 * them before it returns.  The thread touches only the ranges of its
 * jobs, never the one being stepped.  A unit's begin reads synchronously
 * (it is gathered when begun: no prefetch in this version), and so do
 * the checkpoint's pin and unpin.  The first failure is kept and ends
 * the step, naming the file.
 */
#include "strategy/zero_files.h"
#include "core/error.h"
#include "core/thread.h"
#include "runtime/offload.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { VALUES, MASTERS };

/* The step's I/O thread does these in order: the read of a unit's owned
 * part, or its write back and release. */
enum { QUEUE = 4 };
struct job {
	bool write;
	size_t a, b;
};

struct zero_files {
	size_t own_lo, own_n;
	int fd[2];              /* VALUES, MASTERS (-1: none, 32-true) */
	char path[2][PATH_MAX];
	size_t esz[2], lead[2];
	char *base[2];          /* the data and master arenas */
	bool pinned;            /* a checkpoint made every owned value resident */
	char dir[PATH_MAX];

	struct lt_ctx *ctx;
	pthread_t thread;
	bool started, stop, failed; /* under mu; failed: the first in ferr */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job q[QUEUE];
	uint64_t submitted, finished; /* jobs [finished, submitted) wait in q */
	struct lt_err ferr;
};

bool zero_files_wanted(const struct lt_params *p)
{
	return !strcmp(lt_params_str(p, "offload_params"), "nvme");
}

/* offload_dir, or <--log-dir or $TMPDIR or /tmp>/ltrun-params-rank<R>. */
static void pick_dir(const struct lt_ctx *ctx, struct zero_files *zf, const struct lt_params *p)
{
	const char *base = ctx->cfg->log_dir ? ctx->cfg->log_dir : getenv("TMPDIR");

	if (lt_params_given(p, "offload_dir"))
		snprintf(zf->dir, sizeof(zf->dir), "%s", lt_params_str(p, "offload_dir"));
	else
		snprintf(zf->dir, sizeof(zf->dir), "%s/ltrun-params-rank%d",
			 base && *base ? base : "/tmp", ctx->info.rank);
}

/* The owned part [*a, *b) of flat [lo, hi); false when empty. */
static bool owned_part(const struct zero_files *zf, size_t lo, size_t hi, size_t *a, size_t *b)
{
	*a = lo > zf->own_lo ? lo : zf->own_lo;
	*b = hi < zf->own_lo + zf->own_n ? hi : zf->own_lo + zf->own_n;
	return *b > *a;
}

/* Reads (!write) or writes the owned flat [a, b) of every file. */
static int io(struct zero_files *zf, bool write, size_t a, size_t b, struct lt_err *err)
{
	for (int f = VALUES; f <= MASTERS; f++) {
		size_t len = (b - a) * zf->esz[f], at = (a - zf->own_lo) * zf->esz[f] + zf->lead[f];
		int e;

		if (zf->fd[f] < 0)
			continue;
		e = lt_offload_transfer(zf->fd[f], write, zf->base[f] + a * zf->esz[f], len,
					(off_t)at);
		if (e)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "parameters in files: cannot %s '%s' (%zu bytes at offset %zu): %s: the parameters are no longer whole, free space in offload_dir or give another one",
				  write ? "write" : "read", zf->path[f], len, at, strerror(e));
	}
	return 0;
}

/* Makes the values of flat [a, b) accessible: the pages they touch,
 * unguarded whole (a guard covers only whole pages of what it was given,
 * so the pages at the ends may hold a neighbour's values: those are
 * accessible already). */
static int unguard(struct lt_ctx *ctx, const struct zero_files *zf, size_t a, size_t b,
		   struct lt_err *err)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)(zf->base[VALUES] + a * zf->esz[VALUES]);
	uintptr_t hi = (uintptr_t)(zf->base[VALUES] + b * zf->esz[VALUES]);

	lo &= ~(page - 1);
	hi = (hi + page - 1) & ~(page - 1);
	return ctx->accel->guard((void *)lo, hi - lo, false, err);
}

/* The owned flat [a, b) from the files into memory. */
static int bring(struct lt_ctx *ctx, struct zero_files *zf, size_t a, size_t b,
		 struct lt_err *err)
{
	return unguard(ctx, zf, a, b, err) || io(zf, false, a, b, err) ? -1 : 0;
}

/* The owned flat [a, b) leaves memory (the files hold it). */
static int drop(struct lt_ctx *ctx, struct zero_files *zf, size_t a, size_t b,
		struct lt_err *err)
{
	char *v = zf->base[VALUES] + a * zf->esz[VALUES];

	ctx->accel->discard(v, (b - a) * zf->esz[VALUES]);
	if (zf->fd[MASTERS] >= 0)
		ctx->accel->discard(zf->base[MASTERS] + a * sizeof(float), (b - a) * sizeof(float));
	return ctx->accel->guard(v, (b - a) * zf->esz[VALUES], true, err);
}

/* The run of parameters from ctx->params[*i] on that share a unit (or
 * are in none: *unit -1): its flat [*lo, *hi) and params [*i, *end). */
static void next_run(const struct lt_ctx *ctx, size_t i, size_t *end, size_t *lo, size_t *hi,
		     int *unit)
{
	size_t j = i;

	*unit = ctx->params[i]->unit;
	while (j + 1 < ctx->nparams && ctx->params[j + 1]->unit == *unit)
		j++;
	*lo = ctx->params[i]->offset;
	*hi = ctx->params[j]->offset + (size_t)ctx->params[j]->numel;
	*end = j + 1;
}

/* Applies fn to the owned part of every unit's run not in use. */
static int each_released(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
			 int (*fn)(struct lt_ctx *, struct zero_files *, size_t, size_t,
				   struct lt_err *),
			 struct lt_err *err)
{
	for (size_t i = 0, end; i < ctx->nparams; i = end) {
		size_t lo, hi, a, b;
		int unit;

		next_run(ctx, i, &end, &lo, &hi, &unit);
		if (unit >= 0 && (!resident || !resident[unit]) && owned_part(zf, lo, hi, &a, &b) &&
		    fn(ctx, zf, a, b, err))
			return -1;
	}
	return 0;
}

static int write_and_drop(struct lt_ctx *ctx, struct zero_files *zf, size_t a, size_t b,
			  struct lt_err *err)
{
	return io(zf, true, a, b, err) || drop(ctx, zf, a, b, err) ? -1 : 0;
}

/* --- the step's I/O thread --- */

static void *io_thread(void *arg)
{
	struct zero_files *zf = arg;

	pthread_mutex_lock(&zf->mu);
	for (;;) {
		while (zf->finished == zf->submitted && !zf->stop)
			pthread_cond_wait(&zf->work, &zf->mu);
		if (zf->finished == zf->submitted)
			break;
		struct job j = zf->q[zf->finished % QUEUE];
		bool skip = zf->failed; /* after a failure: nothing more */
		struct lt_err e = { 0 };
		int rc = 0;

		pthread_mutex_unlock(&zf->mu);
		if (!skip)
			rc = j.write ? write_and_drop(zf->ctx, zf, j.a, j.b, &e)
				     : bring(zf->ctx, zf, j.a, j.b, &e);
		pthread_mutex_lock(&zf->mu);
		if (rc && !zf->failed) {
			zf->failed = true;
			zf->ferr = e;
		}
		zf->finished++;
		pthread_cond_broadcast(&zf->done);
	}
	pthread_mutex_unlock(&zf->mu);
	return NULL;
}

/* Queues a job (waiting for room); returns its ticket for wait_for. */
static uint64_t submit(struct zero_files *zf, bool write, size_t a, size_t b)
{
	uint64_t t;

	pthread_mutex_lock(&zf->mu);
	while (zf->submitted - zf->finished >= QUEUE)
		pthread_cond_wait(&zf->done, &zf->mu);
	zf->q[zf->submitted % QUEUE] = (struct job){ .write = write, .a = a, .b = b };
	t = ++zf->submitted;
	pthread_cond_signal(&zf->work);
	pthread_mutex_unlock(&zf->mu);
	return t;
}

/* Waits until job `ticket` (and every one before it) is done.  Returns
 * 0, or -1 with err after any failure so far. */
static int wait_for(struct zero_files *zf, uint64_t ticket, struct lt_err *err)
{
	int rc;

	pthread_mutex_lock(&zf->mu);
	while (zf->finished < ticket)
		pthread_cond_wait(&zf->done, &zf->mu);
	rc = zf->failed ? -1 : 0;
	if (rc)
		*err = zf->ferr;
	pthread_mutex_unlock(&zf->mu);
	return rc;
}

/* Waits for every job: 0, or -1 with err (the first failure's). */
static int drain(struct zero_files *zf, struct lt_err *err)
{
	uint64_t all;

	pthread_mutex_lock(&zf->mu);
	all = zf->submitted;
	pthread_mutex_unlock(&zf->mu);
	return wait_for(zf, all, err);
}

/* Starts the I/O thread, taking no signals (they stay with the
 * training thread). */
static int start_io(struct zero_files *zf, struct lt_err *err)
{
	int rc = lt_thread_start(&zf->thread, io_thread, zf);

	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot start the parameters' I/O thread: %s", strerror(rc));
	zf->started = true;
	return 0;
}

/* Makes one file of n elements of esz bytes (f: VALUES or MASTERS). */
static int make(const struct lt_ctx *ctx, struct zero_files *zf, int f, size_t esz,
		int nfiles, struct lt_err *err)
{
	struct lt_offload_file_spec sp = {
		.dir = zf->dir, .kind = "params", .what = "parameters",
		.name = f == VALUES ? "values" : "masters", .rank = ctx->info.rank,
		.nfiles = nfiles, .bytes = zf->own_n * esz + zf->lead[f],
	};

	zf->esz[f] = esz;
	zf->fd[f] = lt_offload_file(&sp, zf->path[f], err);
	return zf->fd[f] < 0 ? -1 : 0;
}

static void print_files(const struct zero_files *zf)
{
	fprintf(stderr,
		"ltrun: zero: parameters in files under '%s': %zu bytes of values%s a rank\n",
		zf->dir, zf->own_n * zf->esz[VALUES],
		zf->fd[MASTERS] >= 0 ? " and their f32 master weights" : "");
}

struct zero_files *zero_files_open(struct lt_ctx *ctx, const struct lt_params *p,
				   size_t own_lo, size_t own_n, struct lt_err *err)
{
	struct zero_files *zf = calloc(1, sizeof(*zf));
	bool mixed = ctx->master_arena.base != NULL;
	size_t esz = lt_dtype_size(ctx->dtype);
	int nfiles = mixed ? 2 : 1;

	if (!zf) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the parameters' files");
		return NULL;
	}
	zf->fd[VALUES] = zf->fd[MASTERS] = -1;
	zf->ctx = ctx;
	pthread_mutex_init(&zf->mu, NULL);
	pthread_cond_init(&zf->work, NULL);
	pthread_cond_init(&zf->done, NULL);
	zf->own_lo = own_lo;
	zf->own_n = own_n;
	zf->lead[VALUES] = own_lo * esz % (size_t)sysconf(_SC_PAGESIZE);
	zf->base[VALUES] = ctx->data_arena.base;
	zf->base[MASTERS] = ctx->master_arena.base;
	pick_dir(ctx, zf, p);
	if (lt_offload_check_dir(zf->dir, err) ||
	    lt_offload_check_room(zf->dir, "parameter shard", 1,
				  own_n * (esz + 4 * mixed) + zf->lead[VALUES], err) ||
	    make(ctx, zf, VALUES, esz, nfiles, err) ||
	    (mixed && make(ctx, zf, MASTERS, sizeof(float), nfiles, err)) ||
	    each_released(ctx, zf, NULL, write_and_drop, err) || start_io(zf, err)) {
		zero_files_close(zf);
		return NULL;
	}
	if (ctx->cfg->verbose && ctx->info.rank == 0)
		print_files(zf);
	return zf;
}

int zero_files_values_fd(const struct zero_files *zf, size_t *at)
{
	*at = zf->own_lo * zf->esz[VALUES] - zf->lead[VALUES];
	return zf->fd[VALUES];
}

int zero_files_begin(struct lt_ctx *ctx, struct zero_files *zf, size_t lo, size_t hi,
		     struct lt_err *err)
{
	size_t a, b;

	return zf && owned_part(zf, lo, hi, &a, &b) ? bring(ctx, zf, a, b, err) : 0;
}

int zero_files_end(struct lt_ctx *ctx, struct zero_files *zf, size_t lo, size_t hi,
		   struct lt_err *err)
{
	size_t a, b;

	return zf && owned_part(zf, lo, hi, &a, &b) ? drop(ctx, zf, a, b, err) : 0;
}

/* lt_update of t's owned elements. */
static void update_owned(struct lt_ctx *ctx, const struct zero_files *zf, lt_tensor *t,
			 const struct lt_update *u)
{
	size_t a, b;

	if (owned_part(zf, t->offset, t->offset + (size_t)t->numel, &a, &b))
		lt_update(ctx, t, a - t->offset, b - a, u);
}

/* The first run from params[i] on whose owned part the step streams
 * (in files, its unit not in use): its params [*i, *end) and owned flat
 * [*a, *b); false when none is left. */
static bool next_streamed(const struct lt_ctx *ctx, const struct zero_files *zf,
			  const bool *resident, size_t *i, size_t *end, size_t *a, size_t *b)
{
	for (; *i < ctx->nparams; *i = *end) {
		size_t lo, hi;
		int unit;

		next_run(ctx, *i, end, &lo, &hi, &unit);
		if (unit >= 0 && !resident[unit] && owned_part(zf, lo, hi, a, b))
			return true;
	}
	return false;
}

/* lt_update of params [i, end) (their owned elements). */
static void update_run(struct lt_ctx *ctx, const struct zero_files *zf, size_t i, size_t end,
		       const struct lt_update *u)
{
	for (size_t k = i; k < end; k++)
		update_owned(ctx, zf, ctx->params[k], u);
}

/* The runs the step does not stream, from params[i] to params[stop]:
 * in memory (stepped), or of a unit in use (stepped, written back). */
static int step_others(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		       size_t i, size_t stop, const struct lt_update *u, struct lt_err *err)
{
	for (size_t end; i < stop; i = end) {
		size_t lo, hi, a, b;
		int unit;

		next_run(ctx, i, &end, &lo, &hi, &unit);
		update_run(ctx, zf, i, end, u);
		if (unit >= 0 && resident[unit] && owned_part(zf, lo, hi, &a, &b) &&
		    io(zf, true, a, b, err))
			return -1;
	}
	return 0;
}

/* Streams the units' owned parts: while one is stepped, the next one is
 * read and the previous one written back by the I/O thread, so three
 * are resident at most. */
int zero_files_step(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		    const struct lt_update *u, struct lt_err *err)
{
	size_t i = 0, end, a, b, from = 0;
	bool have;
	uint64_t ticket;

	if (zero_files_unpin(ctx, zf, resident, err))
		return -1;
	have = next_streamed(ctx, zf, resident, &i, &end, &a, &b);
	ticket = have ? submit(zf, false, a, b) : 0;
	while (have) {
		size_t ni = end, nend, na, nb;
		bool next = next_streamed(ctx, zf, resident, &ni, &nend, &na, &nb);

		if (step_others(ctx, zf, resident, from, i, u, err) || wait_for(zf, ticket, err))
			return drain(zf, err), -1;
		ticket = next ? submit(zf, false, na, nb) : 0; /* read ahead */
		update_run(ctx, zf, i, end, u);
		submit(zf, true, a, b); /* write behind */
		from = end;
		have = next, i = ni, end = nend, a = na, b = nb;
	}
	if (step_others(ctx, zf, resident, from, ctx->nparams, u, err))
		return drain(zf, err), -1;
	return drain(zf, err);
}

int zero_files_pin(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		   struct lt_err *err)
{
	if (!zf || zf->pinned)
		return 0;
	if (each_released(ctx, zf, resident, bring, err))
		return -1;
	zf->pinned = true;
	return 0;
}

int zero_files_unpin(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		     struct lt_err *err)
{
	if (!zf || !zf->pinned)
		return 0;
	/* a save of one rank copies while training goes on: let it end */
	if (ctx->before_update)
		ctx->before_update(ctx, ctx->nparams);
	zf->pinned = false;
	for (size_t i = 0, end; i < ctx->nparams; i = end) {
		size_t lo, hi, a, b;
		int unit;

		next_run(ctx, i, &end, &lo, &hi, &unit);
		if (unit < 0 || !owned_part(zf, lo, hi, &a, &b))
			continue;
		if (resident[unit] ? io(zf, true, a, b, err) : write_and_drop(ctx, zf, a, b, err))
			return -1;
	}
	return 0;
}

void zero_files_close(struct zero_files *zf)
{
	if (!zf)
		return;
	if (zf->started) {
		pthread_mutex_lock(&zf->mu);
		zf->stop = true;
		pthread_cond_broadcast(&zf->work);
		pthread_mutex_unlock(&zf->mu);
		pthread_join(zf->thread, NULL);
	}
	pthread_cond_destroy(&zf->done);
	pthread_cond_destroy(&zf->work);
	pthread_mutex_destroy(&zf->mu);
	for (int f = VALUES; f <= MASTERS; f++)
		if (zf->fd[f] >= 0)
			close(zf->fd[f]);

	free(zf);
}
