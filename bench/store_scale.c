/*
 * store_scale.c - how long N clients take to meet at the embedded store:
 * a server on loopback and N threads released together, each of which
 * connects, proves the token, add()s one to a counter and waits for the
 * key that the last to arrive sets.  The time is from the release to the
 * last thread's return; as ranks do at job start, no connection exists
 * before it.
 *
 *   build/bench/store_scale [N...]     (default: 1024 4096)
 *
 * Environment: BENCH_REPS, runs per size (default 5).  Prints, per size,
 * "median [min-max]" in seconds.  Build: make build/bench/store_scale.
 */
#include "core/clock.h"
#include "core/parse.h"
#include "rdzv/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREAD_STACK (64 * 1024)
#define TIMEOUT_MS 60000

struct run {
	int port, clients;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	pthread_barrier_t go;
	atomic_int failures;
	struct lt_err first_error;
	pthread_mutex_t lock;
};

static void fail(struct run *r, const struct lt_err *err)
{
	if (atomic_fetch_add(&r->failures, 1) == 0) {
		pthread_mutex_lock(&r->lock);
		r->first_error = *err;
		pthread_mutex_unlock(&r->lock);
	}
}

static void *client(void *arg)
{
	struct run *r = arg;
	struct lt_store *st = NULL;
	struct lt_err err = { 0 };
	int64_t arrived;
	int rc;

	pthread_barrier_wait(&r->go);
	rc = lt_store_connect("127.0.0.1", r->port, r->token, "bench client", TIMEOUT_MS, &st, &err);
	if (!rc)
		rc = lt_store_add(st, "arrived", 1, &arrived, &err);
	if (!rc && arrived == r->clients)
		rc = lt_store_set(st, "all here", "1", 1, &err);
	else if (!rc)
		rc = lt_store_wait(st, (const char *const[]){ "all here" }, 1, TIMEOUT_MS,
				   "the last client", &err);
	if (rc)
		fail(r, &err);
	lt_store_close(st);
	return NULL;
}

/* One rendezvous of n clients on a fresh server.  Returns its seconds, or
 * a negative number after printing why it failed. */
static double rendezvous(int n)
{
	struct run r = { .clients = n, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct lt_store_server *srv;
	struct lt_err err = { 0 };
	pthread_t *threads = calloc((size_t)n, sizeof(*threads));
	pthread_attr_t attr;
	char hex[LT_STORE_TOKEN_HEX];
	double t0, seconds = -1;
	int started = 0;

	if (!threads || lt_store_token_new(hex, &err) ||
	    lt_store_token_parse(hex, "the bench token", r.token, &err) ||
	    lt_store_server_start("127.0.0.1", 0, r.token, stderr, &srv, &r.port, &err)) {
		fprintf(stderr, "store_scale: %s\n", threads ? err.msg : "out of memory");
		free(threads);
		return -1;
	}
	pthread_barrier_init(&r.go, NULL, (unsigned)n + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (; started < n; started++)
		if (pthread_create(&threads[started], &attr, client, &r))
			break;
	if (started < n) {
		/* The barrier never opens: report and give up on the process. */
		fprintf(stderr, "store_scale: could start only %d of %d threads\n", started, n);
		exit(1);
	}
	t0 = lt_now_s();
	pthread_barrier_wait(&r.go);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	if (atomic_load(&r.failures))
		fprintf(stderr, "store_scale: %d of %d clients failed; the first: %s\n",
			atomic_load(&r.failures), n, r.first_error.msg);
	else
		seconds = lt_now_s() - t0;
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&r.go);
	lt_store_server_stop(srv);
	free(threads);
	return seconds;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const char *const default_sizes[] = { "1024", "4096" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : default_sizes;
	int nsizes = argc > 1 ? argc - 1 : 2;
	const char *reps_text = getenv("BENCH_REPS");
	long reps = 5, n;

	if (reps_text && lt_parse_long(reps_text, 1, 1000, &reps)) {
		fprintf(stderr, "store_scale: BENCH_REPS='%s' is not a number of runs from 1 to 1000\n",
			reps_text);
		return 2;
	}
	printf("clients meeting at the store (connect, add, wait), seconds: median [min-max] of %ld runs\n",
	       reps);
	printf("%-8s %s\n", "clients", "rendezvous");
	for (int s = 0; s < nsizes; s++) {
		double t[1000];

		if (lt_parse_long(sizes[s], 1, 65536, &n)) {
			fprintf(stderr, "store_scale: '%s' is not a number of clients from 1 to 65536\n",
				sizes[s]);
			return 2;
		}
		for (long i = 0; i < reps; i++) {
			t[i] = rendezvous((int)n);
			if (t[i] < 0)
				return 1;
		}
		qsort(t, (size_t)reps, sizeof(t[0]), by_value);
		printf("%-8ld %.3f [%.3f-%.3f]\n", n, t[(reps - 1) / 2], t[0], t[reps - 1]);
		fflush(stdout);
	}
	return 0;
}
