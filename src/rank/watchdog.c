/*
 * watchdog.c - the rank's collective watchdog (watchdog.h): one helper
 * thread that publishes where this rank's communicators stand and ends
 * the job when a collective has waited past --timeout, with the report.
 * The training thread pays a counter and a timestamp per collective
 * (comm.c); everything else happens here.
 */
#include "rank/watchdog.h"
#include "comm/comm.h"
#include "core/clock.h"
#include "core/dtype.h"
#include "core/thread.h"
#include "rank/fatal.h"
#include "rdzv/rdzv.h"
#include "rdzv/store.h"
#include "runtime/ctx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Communicators looked at per round (the world, auto's two inner ones,
 * hybrid's two groups and theirs fit). */
#define MAX_COMMS 16
/* Ranks the report names one by one; the rest are counted. */
#define MAX_NAMED 8

/* One communicator as a round saw it, copied out of comm.c's lock. */
struct seen {
	char scope[64];
	int rank, size;
	int *global;       /* overdue one only: its members' global ranks */
	struct lt_comm_flight f;
	bool publish;      /* changed since last published */
	bool overdue;
};

struct round {
	struct seen s[MAX_COMMS];
	int n;
	double timeout_s;
	bool found;        /* an overdue one (the oldest) is marked */
};

static struct {
	struct lt_ctx *ctx;
	struct lt_store *st; /* NULL: no embedded store */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stop, running;
	double period_s;
} wd = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* Under comm.c's lock: copies what the round needs. */
static void look(struct lt_comm *c, void *arg)
{
	struct round *r = arg;
	struct seen *s;
	uint64_t state;

	if (r->n == MAX_COMMS)
		return;
	s = &r->s[r->n++];
	snprintf(s->scope, sizeof(s->scope), "%s", c->scope);
	s->rank = c->rank;
	s->size = c->size;
	s->global = NULL;
	lt_comm_flight(c, &s->f);
	state = s->f.seq * 2 + s->f.in_flight;
	s->publish = state != c->published;
	c->published = state;
	s->overdue = false;
	if (!r->found && s->f.in_flight && s->f.waited_s > r->timeout_s && s->size > 1) {
		s->global = malloc(sizeof(int) * (size_t)c->size);
		if (s->global)
			memcpy(s->global, c->global, sizeof(int) * (size_t)c->size);
		s->overdue = r->found = true;
	}
}

static void key_of(const char *scope, int rank, char *key, size_t len)
{
	snprintf(key, len, "r%d/coll/%s/%d", wd.ctx->info.restart_count, scope, rank);
}

static void publish(const struct seen *s)
{
	char key[160], value[400];
	struct lt_err e = { 0 };

	if (!wd.st)
		return;
	key_of(s->scope, s->rank, key, sizeof(key));
	snprintf(value, sizeof(value), "%ld %llu %d %s %s", (long)getpid(),
		 (unsigned long long)s->f.seq, s->f.in_flight, s->f.kind[0] ? s->f.kind : "-",
		 wd.ctx->host);
	if (lt_store_set(wd.st, key, value, strlen(value), &e)) {
		lt_store_close(wd.st); /* the store is gone: time out unaided */
		wd.st = NULL;
	}
}

/* Appends to buf where member j of s was, as the store knows it, when it
 * never arrived at collective s->f.seq.  Returns whether it never did. */
static bool describe_member(const struct seen *s, int j, char *buf, size_t len)
{
	char key[160], kind[32], host[256];
	unsigned long long seq;
	struct lt_err e = { 0 };
	void *value;
	size_t n;
	long pid;
	int in_flight;
	size_t at = strlen(buf);

	key_of(s->scope, j, key, sizeof(key));
	if (lt_store_get(wd.st, key, 0, NULL, &value, &n, &e)) {
		snprintf(buf + at, len - at, "%srank %d (nothing reported)", at ? ", " : "",
			 s->global[j]);
		return true;
	}
	if (sscanf(value, "%ld %llu %d %31s %255s", &pid, &seq, &in_flight, kind, host) != 5) {
		free(value);
		return false;
	}
	free(value);
	if (seq >= s->f.seq)
		return false;
	if (seq == 0)
		snprintf(buf + at, len - at, "%srank %d (host %s, pid %ld, before its first collective)",
			 at ? ", " : "", s->global[j], host, pid);
	else
		snprintf(buf + at, len - at, "%srank %d (host %s, pid %ld, last seen %s collective #%llu, %s)",
			 at ? ", " : "", s->global[j], host, pid, in_flight ? "in" : "after", seq,
			 kind);
	return true;
}

/* The ranks of s that never arrived, "" when every one did. */
static int missing_members(const struct seen *s, char *buf, size_t len)
{
	int missing = 0;
	char one[512];

	buf[0] = '\0';
	for (int j = 0; j < s->size; j++) {
		if (j == s->rank)
			continue;
		one[0] = '\0';
		if (!describe_member(s, j, one, sizeof(one)))
			continue;
		if (missing++ < MAX_NAMED) {
			size_t at = strlen(buf);
			snprintf(buf + at, len - at, "%s%s", at ? ", " : "", one);
		}
	}
	if (missing > MAX_NAMED) {
		size_t at = strlen(buf);
		snprintf(buf + at, len - at, " and %d more", missing - MAX_NAMED);
	}
	return missing;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* The collective of s waited past --timeout: the report, then the end. */
static __attribute__((noreturn)) void time_out(struct seen *s)
{
	char who[3000], msg[4000];
	int missing = 0;

	if (wd.st) {
		publish(s);
		sleep_s(wd.period_s * 1.5); /* the others' watchdogs publish meanwhile */
	}
	if (!wd.st)
		snprintf(who, sizeof(who),
			 "where the other ranks are is unknown (--rdzv %s has no store to tell)",
			 wd.ctx->info.rdzv);
	else if ((missing = missing_members(s, who, sizeof(who))) == 0)
		snprintf(who, sizeof(who),
			 "every rank reached it as far as the store knows: the backend is stuck (a rank stopped inside it, or a lost network)");
	snprintf(msg, sizeof(msg),
		 "%s #%llu (%zu %s) on communicator '%s' waited %.1f s (--timeout %d): %s%s",
		 s->f.kind, (unsigned long long)s->f.seq, s->f.count, lt_dtype_name(s->f.dt),
		 s->scope, s->f.waited_s, wd.ctx->cfg->timeout, who,
		 missing ? " never arrived" : "");
	lt_fatal_exit_now(wd.ctx, msg);
}

static void *watch(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wd.mu);
	while (!wd.stop) {
		struct round r = { .timeout_s = wd.ctx->cfg->timeout };
		struct timespec until;
		double t;

		pthread_mutex_unlock(&wd.mu);
		lt_comm_each(look, &r);
		for (int i = 0; i < r.n; i++) {
			if (r.s[i].publish)
				publish(&r.s[i]);
			if (r.s[i].overdue)
				time_out(&r.s[i]);
		}
		pthread_mutex_lock(&wd.mu);
		clock_gettime(CLOCK_REALTIME, &until);
		t = (double)until.tv_nsec / 1e9 + wd.period_s;
		until.tv_sec += (time_t)t;
		until.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
		if (!wd.stop)
			pthread_cond_timedwait(&wd.wake, &wd.mu, &until);
	}
	pthread_mutex_unlock(&wd.mu);
	return NULL;
}

void lt_watchdog_start(struct lt_ctx *ctx)
{
	double period = ctx->cfg->timeout / 4.0;
	struct lt_err e = { 0 };
	char who[48];

	if (ctx->info.world_size < 2)
		return;
	wd.ctx = ctx;
	wd.period_s = period < 0.1 ? 0.1 : period > 5 ? 5 : period;
	wd.stop = false;
	snprintf(who, sizeof(who), "rank %d's watchdog", ctx->info.rank);
	if (ctx->rz.ops->store &&
	    lt_store_connect(ctx->info.store_host, ctx->info.store_port, ctx->info.token, who,
			     ctx->rz.timeout_ms, &wd.st, &e))
		wd.st = NULL;
	if (lt_thread_start(&wd.thread, watch, NULL))
		lt_fatal(ctx, "cannot start the collective watchdog's thread: raise the process's thread limit");
	wd.running = true;
}

void lt_watchdog_stop(void)
{
	if (!wd.running)
		return;
	pthread_mutex_lock(&wd.mu);
	wd.stop = true;
	pthread_cond_signal(&wd.wake);
	pthread_mutex_unlock(&wd.mu);
	pthread_join(wd.thread, NULL);
	wd.running = false;
	lt_store_close(wd.st);
	wd.st = NULL;
}
