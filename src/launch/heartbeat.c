/*
 * heartbeat.c - keep-alives between agents through the store, and the
 * watch that turns a silent node, or a silent store, into the attempt's
 * one failure report (heartbeat.h says what each node writes and reads).
 */
#include "launch/heartbeat.h"
#include "core/clock.h"
#include "rdzv/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct peer {
	char value[320];   /* its key's value when last changed, "" before */
	double heard;      /* lt_now_s() then */
	time_t heard_wall; /* the wall clock then, for the report */
	bool done;         /* it finished its attempt */
};

struct watch {
	const struct lt_heartbeat *hb;
	struct lt_store *st;
	struct peer *peers;
	char host[256];
	double answered;      /* lt_now_s() of the store's last answer */
	time_t answered_wall;
	char line[512];       /* what ends the attempt */
};

static void key_of(int node, char *key, size_t len)
{
	snprintf(key, len, "hb/%d", node);
}

/* "12:01:07", local time. */
static void hms(time_t t, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* The host a peer's value names ("<attempt> <count> <host>"). */
static const char *host_of(const char *value)
{
	const char *s = strchr(value, ' ');

	s = s ? strchr(s + 1, ' ') : NULL;
	return s && s[1] ? s + 1 : "unknown";
}

static void store_answered(struct watch *w)
{
	w->answered = lt_now_s();
	w->answered_wall = time(NULL);
}

/* A failed request: the store's silence ends the attempt (returns 0 with
 * w->line set), a closed connection ends the watch quietly (1). */
static int store_failed(struct watch *w)
{
	char when[16];

	if (lt_store_last_failure(w->st) != LT_STORE_FAILED_SILENT)
		return 1;
	hms(w->answered_wall, when, sizeof(when));
	int k = w->hb->store_node;

	if (k >= 0)
		snprintf(w->line, sizeof(w->line),
			 "the store at %s:%d (node %d's agent, host %s) was last heard from %.1f s ago (at %s, --heartbeat-timeout %g)",
			 w->hb->store_host, w->hb->store_port, k,
			 w->peers[k].value[0] ? host_of(w->peers[k].value) : w->hb->store_host,
			 lt_now_s() - w->answered, when, w->hb->timeout_s);
	else
		snprintf(w->line, sizeof(w->line),
			 "the store at %s:%d (the agent that serves it) was last heard from %.1f s ago (at %s, --heartbeat-timeout %g)",
			 w->hb->store_host, w->hb->store_port, lt_now_s() - w->answered, when,
			 w->hb->timeout_s);
	return 0;
}

static int beat(struct watch *w, long count)
{
	char key[32], value[320];
	struct lt_err e = { 0 };

	key_of(w->hb->node, key, sizeof(key));
	snprintf(value, sizeof(value), "%d %ld %s", w->hb->attempt, count, w->host);
	if (lt_store_set(w->st, key, value, strlen(value), &e))
		return -1;
	store_answered(w);
	return 0;
}

/* Node j lost: the line, and the failure key for the other nodes (the
 * first node to tell keeps its words). */
static void peer_lost(struct watch *w, int j)
{
	const struct peer *p = &w->peers[j];
	struct lt_err e = { 0 };
	char when[16];
	int swapped;

	hms(p->heard_wall, when, sizeof(when));
	snprintf(w->line, sizeof(w->line),
		 "node %d (host %s) was last heard from %.1f s ago (at %s, --heartbeat-timeout %g)",
		 j, host_of(p->value), lt_now_s() - p->heard, when, w->hb->timeout_s);
	lt_store_compare_set(w->st, w->hb->failure_key, "", 0, w->line, strlen(w->line),
			     &swapped, NULL, NULL, &e);
}

/* Whether this node reads node j's heartbeat now: the store's host
 * (node 0, or in an elastic job whichever node holds --main-addr) reads
 * every node's; the others read only the store's node's, once, for its
 * host's name (the store's answers tell them it lives), so that the store
 * serves O(nodes) requests per interval, not O(nodes^2). */
static bool reads(const struct watch *w, int j)
{
	const struct peer *p = &w->peers[j];

	if (j == w->hb->node || p->done)
		return false;
	return w->hb->serves_store || (j == w->hb->store_node && !p->value[0]);
}

/* Reads the other nodes' heartbeats (reads()).  Returns 0 when one is lost
 * (line set), 1 when the store closed, -1 to go on. */
static int check_peers(struct watch *w)
{
	char key[32];

	for (int j = 0; j < w->hb->num_nodes; j++) {
		struct peer *p = &w->peers[j];
		struct lt_err e = { 0 };
		void *value;
		size_t len;

		if (!reads(w, j))
			continue;
		key_of(j, key, sizeof(key));
		if (lt_store_get(w->st, key, 0, NULL, &value, &len, &e) == 0) {
			store_answered(w);
			if (strcmp(value, p->value)) {
				snprintf(p->value, sizeof(p->value), "%s", (char *)value);
				p->heard = lt_now_s();
				p->heard_wall = time(NULL);
				p->done = strstr(p->value, " done ") != NULL &&
					  atoi(p->value) == w->hb->attempt;
			}
			free(value);
		} else if (lt_store_last_failure(w->st) == LT_STORE_FAILED_TIMEOUT) {
			store_answered(w); /* not there yet: the rendezvous waits for it */
		} else {
			return store_failed(w);
		}
		if (w->hb->serves_store && p->value[0] && !p->done &&
		    lt_now_s() - p->heard > w->hb->timeout_s) {
			peer_lost(w, j);
			return 0;
		}
	}
	return -1;
}

/* Waits up to one interval for the failure key.  Returns 0 when it came
 * (line set), 1 when the store closed, -1 to go on. */
static int wait_failure(struct watch *w)
{
	struct lt_err e = { 0 };
	void *value;
	size_t len;

	if (lt_store_get(w->st, w->hb->failure_key, (int)(w->hb->interval_s * 1000), NULL,
			 &value, &len, &e) == 0) {
		snprintf(w->line, sizeof(w->line), "%.*s", (int)len, (char *)value);
		free(value);
		return 0;
	}
	if (lt_store_last_failure(w->st) == LT_STORE_FAILED_TIMEOUT) {
		store_answered(w);
		return -1;
	}
	return store_failed(w);
}

static int watch(struct watch *w)
{
	int rc;

	for (long count = 0;; count++) {
		if (beat(w, count))
			return store_failed(w);
		rc = check_peers(w);
		if (rc >= 0)
			return rc;
		rc = wait_failure(w);
		if (rc >= 0)
			return rc;
	}
}

/* Another node's words go to this terminal: no control characters. */
static int write_line(int fd, char *line)
{
	size_t n = strlen(line);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	return write(fd, line, n) == (ssize_t)n ? 0 : 1;
}

int lt_heartbeat_watch(const struct lt_heartbeat *hb, int fd)
{
	struct watch w = { .hb = hb };
	struct lt_err e = { 0 };
	char who[48];
	int rc;

	snprintf(who, sizeof(who), "agent on node %d", hb->node);
	if (gethostname(w.host, sizeof(w.host) - 1))
		snprintf(w.host, sizeof(w.host), "unknown");
	w.peers = calloc((size_t)hb->num_nodes, sizeof(*w.peers));
	if (!w.peers || lt_store_connect(hb->store_host, hb->store_port, hb->token, who,
					 hb->connect_timeout_ms, &w.st, &e)) {
		free(w.peers);
		return 1;
	}
	/* A request's wait plus this is the timeout: silence past it is loss. */
	lt_store_set_answer_grace(w.st, (int)((hb->timeout_s - hb->interval_s) * 1000));
	store_answered(&w);
	rc = watch(&w);
	lt_store_close(w.st);
	free(w.peers);
	return rc == 0 ? write_line(fd, w.line) : 1;
}

void lt_heartbeat_done(const struct lt_heartbeat *hb)
{
	char who[48], key[32], value[320], host[256];
	struct lt_store *st;
	struct lt_err e = { 0 };

	snprintf(who, sizeof(who), "agent on node %d", hb->node);
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	key_of(hb->node, key, sizeof(key));
	snprintf(value, sizeof(value), "%d done %s", hb->attempt, host);
	/* The store was up all along: refused now, it ended with node 0,
	 * which ended first, and nobody is left to tell.  A retry here kept
	 * every other node 5 s past its ranks' end. */
	if (lt_store_connect_live(hb->store_host, hb->store_port, hb->token, who, 5000, &st, &e))
		return;
	lt_store_set(st, key, value, strlen(value), &e);
	lt_store_close(st);
}
