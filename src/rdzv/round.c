/*
 * round.c - the rendezvous rounds of elastic jobs (round.h): join, wait
 * for the last call, close.
 */
#include "rdzv/round.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often a waiting agent reads the round's state again: a closed round
 * starts its ranks this late at most (bench/recovery). */
#define POLL_MS 20

/* The longest state: MAX ids and their commas. */
#define ID_MAX 128

int lt_round_find(const char *state, const char *id, int *count)
{
	const char *p = strlen(state) > 2 ? state + 2 : "";
	size_t n = strlen(id);
	int i = 0, found = -1;

	*count = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, id, n) && found < 0)
			found = i;
		i++;
		p += len + (end != NULL);
	}
	*count = i;
	return found;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The state after adding id to `state` ("" or open): closed when it makes
 * max.  NULL when out of memory. */
static char *with_member(const char *state, const char *id, int count, int max)
{
	size_t len = strlen(state) + strlen(id) + 4;
	char *next = malloc(len);

	if (!next)
		return NULL;
	if (!state[0])
		snprintf(next, len, "%c;%s", max == 1 ? 'c' : 'o', id);
	else
		snprintf(next, len, "%c;%s,%s", count + 1 >= max ? 'c' : 'o', state + 2, id);
	return next;
}

/* The state without the agents kv says are dead (this one, `me`, lives). */
static char *living(const struct lt_round_kv *kv, const char *state, const char *me)
{
	char *next = strdup(state), *copy = strdup(state), *save = NULL;
	size_t n = 2;

	if (!next || !copy) {
		free(next);
		free(copy);
		return NULL;
	}
	next[2] = '\0';
	for (char *id = strtok_r(copy + 2, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		if (kv->alive && strcmp(id, me) && !kv->alive(kv->ctx, id))
			continue;
		n += (size_t)sprintf(next + n, "%s%s", n > 2 ? "," : "", id);
	}
	free(copy);
	return next;
}

struct joining {
	const struct lt_round_kv *kv;
	const struct lt_round_spec *spec;
	char key[64];
	char *state;        /* the last value read */
	double changed_at;  /* lt_now_s() when it was first read */
	int wanted;         /* nodes to wait for before the last call, 0 */
	char *before;       /* the round before's closed state, or NULL */
};

/* Reads the round's state again (a compare-and-set that never matches:
 * no state is "-").  Returns 0, or -1 with err. */
static int reread(struct joining *j, struct lt_err *err)
{
	bool swapped;
	char *now;

	if (j->kv->cas(j->kv->ctx, j->key, "-", "-", &swapped, &now, err))
		return -1;
	if (!j->state || strcmp(now, j->state))
		j->changed_at = lt_now_s();
	free(j->state);
	j->state = now;
	return 0;
}

/* Replaces the state by `next` if nobody changed it; either way j->state
 * is the state after.  Returns 0, or -1 with err. */
static int swap_state(struct joining *j, const char *next, struct lt_err *err)
{
	bool swapped;
	char *now;

	if (j->kv->cas(j->kv->ctx, j->key, j->state, next, &swapped, &now, err))
		return -1;
	if (strcmp(now, j->state))
		j->changed_at = lt_now_s();
	free(j->state);
	j->state = now;
	return 0;
}

/* Whether every agent of the round before (j->before) is in this one, or
 * gone (kv->present): then no survivor is still on its way, and a round
 * that no new node asked to join need not wait for its last call. */
static bool all_back(const struct joining *j)
{
	const struct lt_round_kv *kv = j->kv;
	char *copy, *save = NULL;
	bool back = true;
	int count;

	if (!j->before || !kv->present || j->wanted > 0 || !(copy = strdup(j->before + 2)))
		return false;
	for (char *id = strtok_r(copy, ",", &save); id && back; id = strtok_r(NULL, ",", &save))
		back = lt_round_find(j->state, id, &count) >= 0 || !kv->present(kv->present_ctx, id);
	free(copy);
	return back;
}

/* One look at round j->key: 1 when it is closed with this agent in it, 0
 * to look again, 2 when it is closed without it (try the next round), or
 * -1 with err. */
static int step(struct joining *j, struct lt_err *err)
{
	const struct lt_round_spec *s = j->spec;
	int count, me = lt_round_find(j->state, s->id, &count);
	char *next;
	int rc;

	if (j->state[0] == 'c')
		return me >= 0 ? 1 : 2;
	if (me < 0) {
		if (!(next = with_member(j->state, s->id, count, s->max)))
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		rc = swap_state(j, next, err);
		free(next);
		return rc;
	}
	if (count >= s->min && count >= j->wanted &&
	    (lt_now_s() - j->changed_at >= s->last_call_ms / 1000.0 || all_back(j))) {
		if (!(next = living(j->kv, j->state, s->id)))
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		/* none died: close it (else the last call starts again) */
		if (!strcmp(next + 1, j->state + 1))
			next[0] = 'c';
		rc = swap_state(j, next, err);
		free(next);
		return rc;
	}
	sleep_ms(POLL_MS);
	return reread(j, err);
}

/* Enters round `round`: reads its state, and the round before's when it
 * is closed (all_back).  Returns 0, or -1 with err. */
static int enter(struct joining *j, int round, struct lt_err *err)
{
	free(j->state);
	j->state = NULL;
	free(j->before);
	j->before = NULL;
	if (round > 0) {
		snprintf(j->key, sizeof(j->key), "elastic/%d", round - 1);
		if (reread(j, err))
			return -1;
		if (j->state[0] == 'c') {
			j->before = j->state;
			j->state = NULL;
		}
	}
	snprintf(j->key, sizeof(j->key), "elastic/%d", round);
	free(j->state);
	j->state = NULL;
	return reread(j, err);
}

int lt_round_join(const struct lt_round_kv *kv, const struct lt_round_spec *spec,
		  int (*on_wait)(void *arg, int round), void *arg, struct lt_round *out,
		  struct lt_err *err)
{
	struct joining j = { .kv = kv, .spec = spec };
	double deadline = lt_now_s() + spec->timeout_ms / 1000.0;
	int round = spec->first, rc = 0, count;

	if (strlen(spec->id) > ID_MAX || strpbrk(spec->id, ",;"))
		LT_BUG("bad rendezvous id '%s'", spec->id);
	if (enter(&j, round, err)) {
		free(j.state);
		free(j.before);
		return -1;
	}
	while ((rc = step(&j, err)) == 0 || rc == 2) {
		if (rc == 2) {
			if (enter(&j, ++round, err)) {
				rc = -1;
				break;
			}
			continue;
		}
		if (lt_round_find(j.state, spec->id, &count) >= 0 && round > 0 && on_wait &&
		    (j.wanted = on_wait(arg, round)) < 0) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "rendezvous round %d: the job's round %d has no restarts left (--max-restarts) to let this node in",
				   round, round - 1);
			rc = -1;
			break;
		}
		if (lt_now_s() > deadline) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "rendezvous round %d: %d of at least %d nodes joined within %d s (--rdzv-timeout): start the others, or lower MIN in --num-nodes MIN:MAX",
				   round, count, j.wanted > spec->min ? j.wanted : spec->min,
				   spec->timeout_ms / 1000);
			rc = -1;
			break;
		}
	}
	if (rc == 1) {
		out->number = round;
		out->node_rank = lt_round_find(j.state, spec->id, &out->num_nodes);
		rc = 0;
	}
	free(j.state);
	free(j.before);
	return rc;
}
