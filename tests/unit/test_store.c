/*
 * test_store.c - the embedded TCP store, server and clients in one process
 * over loopback: every operation, blocking requests woken by other
 * clients, timeouts and their messages, counters under contention, the
 * token check, raw bytes no client would send (which close that connection
 * and never the server), and stopping with clients connected.  Then what
 * holds against strangers: the server's proof of the token (fake servers
 * are refused), the login deadline, the caps on connections waiting to log
 * in, rate-limited refusal lines, the caps on values and on the table, and
 * the per-user secret file.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "params.h"
#include "core/sha256.h"
#include "rdzv/store.h"
#include "rdzv/store_proto.h"

static const uint8_t token[LT_STORE_TOKEN_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static struct lt_store_server *srv;
static int port;
static char log_text[4096];
static FILE *log_file;

static void start(void)
{
	struct lt_err err = { 0 };

	memset(log_text, 0, sizeof(log_text));
	log_file = fmemopen(log_text, sizeof(log_text), "w");
	cr_assert_not_null(log_file);
	cr_assert_eq(lt_store_server_start("127.0.0.1", 0, token, log_file, &srv, &port, &err), 0,
		     "%s", err.msg);
	cr_assert(port > 0);
}

static void stop(void)
{
	lt_store_server_stop(srv);
	fclose(log_file);
}

TestSuite(store, .init = start, .fini = stop, .timeout = 20);

static struct lt_store *client(const char *who)
{
	struct lt_err err = { 0 };
	struct lt_store *st;

	cr_assert_eq(lt_store_connect("127.0.0.1", port, token, who, 5000, &st, &err), 0, "%s",
		     err.msg);
	return st;
}

/* A message as expected, formatted (with the server's port, mostly). */
__attribute__((format(printf, 1, 2))) static const char *expected(const char *fmt, ...)
{
	static char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* Threads only record what happened: the test's own thread asserts. */
struct outcome {
	int rc;
	struct lt_err err;
};

static void expect_value(struct lt_store *st, const char *key, const void *want, size_t want_len)
{
	struct lt_err err = { 0 };
	void *v;
	size_t len;

	cr_assert_eq(lt_store_get(st, key, 1000, NULL, &v, &len, &err), 0, "%s", err.msg);
	cr_expect_eq(len, want_len, "length of '%s'", key);
	cr_expect_eq(memcmp(v, want, want_len), 0, "bytes of '%s'", key);
	cr_expect_eq(((char *)v)[len], '\0', "NUL after the value of '%s'", key);
	free(v);
}

/* ------------------------------------------------------------- operations */

Test(store, set_get_delete_num_keys)
{
	struct lt_store *st = client("rank 0");
	struct lt_err err = { 0 };
	size_t big_len = 1 << 20;
	char *big = malloc(big_len);
	int64_t n;
	int existed;

	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 31);
	cr_assert_eq(lt_store_set(st, "a", "hello", 5, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_set(st, "empty", "", 0, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_set(st, "binary", "x\0y", 3, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_set(st, "big", big, big_len, &err), 0, "%s", err.msg);
	expect_value(st, "a", "hello", 5);
	expect_value(st, "empty", "", 0);
	expect_value(st, "binary", "x\0y", 3);
	expect_value(st, "big", big, big_len);
	cr_assert_eq(lt_store_set(st, "a", "bye", 3, &err), 0, "%s", err.msg);
	expect_value(st, "a", "bye", 3);
	cr_assert_eq(lt_store_num_keys(st, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 4);
	cr_assert_eq(lt_store_delete(st, "a", &existed, &err), 0, "%s", err.msg);
	cr_expect_eq(existed, 1);
	cr_assert_eq(lt_store_delete(st, "a", &existed, &err), 0, "%s", err.msg);
	cr_expect_eq(existed, 0);
	cr_assert_eq(lt_store_num_keys(st, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 3);
	free(big);
	lt_store_close(st);
}

/* A held key lives as long as its connection: gone once it closes, kept
 * while it is open; a ninth key is refused with one line. */
Test(store, held_keys_go_with_their_connection)
{
	struct lt_store *holder = client("agent on node 1"), *other = client("agent on node 0");
	struct lt_err err = { 0 };
	char key[16];
	int swapped;
	void *now;
	size_t len;

	cr_assert_eq(lt_store_hold(holder, "alive/b", "host-b", 6, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_hold(holder, "alive/b", "host-b2", 7, &err), 0, "held again: %s",
		     err.msg);
	cr_assert_eq(lt_store_set(other, "plain", "x", 1, &err), 0, "%s", err.msg);
	expect_value(other, "alive/b", "host-b2", 7);
	for (int i = 1; i < LT_STORE_MAX_HELD; i++) {
		snprintf(key, sizeof(key), "more/%d", i);
		cr_assert_eq(lt_store_hold(holder, key, "", 0, &err), 0, "%s", err.msg);
	}
	cr_expect_eq(lt_store_hold(holder, "one/too/many", "", 0, &err), -1);
	cr_expect(strstr(err.msg, "holds at most 8 keys"), "%s", err.msg);
	lt_store_close(holder);
	/* the server deletes them when it sees the close: a read soon after */
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(lt_store_compare_set(other, "alive/b", "-", 1, "-", 1, &swapped, &now,
						  &len, &err),
			     0, "%s", err.msg);
		free(now);
		if (!len)
			break;
		usleep(5000);
	}
	cr_expect_eq(len, 0, "alive/b outlived its connection");
	expect_value(other, "plain", "x", 1);
	lt_store_close(other);
}

Test(store, bad_keys_and_values_fail_before_sending)
{
	struct lt_store *st = client("rank 4");
	struct lt_err err = { 0 };
	char long_key[LT_STORE_MAX_KEY + 2];

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	cr_expect_eq(lt_store_set(st, "", "v", 1, &err), -1);
	cr_expect_str_eq(err.msg, "rank 4: invalid store key '' (0 bytes): keys are 1 to 1024 bytes");
	cr_expect_eq(lt_store_set(st, long_key, "v", 1, &err), -1);
	cr_expect(strstr(err.msg, "(1025 bytes): keys are 1 to 1024 bytes"), "%s", err.msg);
	cr_expect_eq(lt_store_set(st, "k", "", (size_t)LT_STORE_MAX_VALUE + 1, &err), -1);
	cr_expect(strstr(err.msg, "rank 4: the value for store key 'k' is 4194305 bytes: values are at most 4194304 bytes"),
		  "%s", err.msg);
	cr_expect_eq(lt_store_wait(st, NULL, 0, 100, NULL, &err), -1);
	cr_expect_str_eq(err.msg, "rank 4: cannot wait for 0 keys at once: 1 to 4096 allowed");
	lt_store_close(st);
}

Test(store, counters_are_decimal_text)
{
	struct lt_store *st = client("rank 0");
	struct lt_err err = { 0 };
	int64_t n;

	cr_assert_eq(lt_store_add(st, "c", 5, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 5, "a missing counter starts at 0");
	cr_assert_eq(lt_store_add(st, "c", -7, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, -2);
	expect_value(st, "c", "-2", 2);
	cr_assert_eq(lt_store_set(st, "c", "41", 2, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_add(st, "c", 1, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 42, "a value set as text counts on");
	cr_assert_eq(lt_store_set(st, "text", "abc", 3, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_store_add(st, "text", 1, &n, &err), -1);
	cr_expect_str_eq(err.msg,
			 expected("rank 0: the store at 127.0.0.1:%d refused adding to key 'text': the key holds a value that is not a counter",
				  port));
	cr_assert_eq(lt_store_set(st, "max", "9223372036854775807", 19, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_store_add(st, "max", 1, &n, &err), -1);
	cr_expect(strstr(err.msg, "the counter would overflow 64 bits"), "%s", err.msg);
	expect_value(st, "max", "9223372036854775807", 19);
	cr_assert_eq(lt_store_add(st, "c", 0, &n, &err), 0, "the connection survives errors: %s",
		     err.msg);
	lt_store_close(st);
}

static void *add_thousand(void *arg)
{
	struct outcome *o = arg;
	struct lt_store *st;
	int64_t n;

	o->rc = lt_store_connect("127.0.0.1", port, token, "adder", 5000, &st, &o->err);
	for (int i = 0; !o->rc && i < 1000; i++)
		o->rc = lt_store_add(st, "counter", 1, &n, &o->err);
	if (st)
		lt_store_close(st);
	return NULL;
}

Test(store, add_from_eight_threads_is_exact)
{
	pthread_t t[8];
	struct outcome o[8];
	struct lt_store *st;
	struct lt_err err = { 0 };
	int64_t n;

	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, add_thousand, &o[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(o[i].rc, 0, "adder %d: %s", i, o[i].err.msg);
	}
	st = client("checker");
	cr_assert_eq(lt_store_add(st, "counter", 0, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 8000);
	expect_value(st, "counter", "8000", 4);
	lt_store_close(st);
}

/* A job's burst: every rank connects before the first has logged in, so
 * a host's ranks all wait to log in at once, from one address.  More than
 * the caps of before (256 in all, 32 per address) get in without one
 * refusal. */
#define BURST 300

struct burst {
	pthread_barrier_t go;
	struct outcome o[BURST];
	struct lt_store *st[BURST];
};

struct burst_arg {
	struct burst *b;
	int i;
};

static void *burst_client(void *arg)
{
	struct burst_arg *a = arg;
	struct outcome *o = &a->b->o[a->i];
	int64_t n;

	pthread_barrier_wait(&a->b->go);
	o->rc = lt_store_connect("127.0.0.1", port, token, "rank", 20000, &a->b->st[a->i], &o->err);
	if (!o->rc)
		o->rc = lt_store_add(a->b->st[a->i], "arrived", 1, &n, &o->err);
	return NULL;
}

Test(store, a_burst_of_clients_from_one_address_is_never_refused)
{
	static struct burst b;
	struct burst_arg arg[BURST];
	pthread_t t[BURST];
	struct lt_store *st;
	struct lt_err err = { 0 };
	int64_t n;

	pthread_barrier_init(&b.go, NULL, BURST);
	for (int i = 0; i < BURST; i++) {
		arg[i] = (struct burst_arg){ &b, i };
		cr_assert_eq(pthread_create(&t[i], NULL, burst_client, &arg[i]), 0);
	}
	for (int i = 0; i < BURST; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(b.o[i].rc, 0, "client %d: %s", i, b.o[i].err.msg);
	}
	st = client("checker");
	cr_assert_eq(lt_store_add(st, "arrived", 0, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, BURST);
	lt_store_close(st);
	for (int i = 0; i < BURST; i++)
		lt_store_close(b.st[i]);
	pthread_barrier_destroy(&b.go);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect_null(strstr(log_text, "refused"), "log: %s", log_text);
	cr_expect_null(strstr(log_text, "not accepting"), "log: %s", log_text);
}

/* Connections of state TIME_WAIT (06) to or from port in /proc/net/tcp. */
static int time_waits(int of_port)
{
	char line[512];
	unsigned local, remote, state;
	int n = 0;
	FILE *f = fopen("/proc/net/tcp", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*x:%x %*x:%x %x", &local, &remote, &state) == 3 &&
		    state == 6 && ((int)local == of_port || (int)remote == of_port))
			n++;
	fclose(f);
	return n;
}

/* A closed client resets its connection: every request was answered, and
 * no TIME_WAIT keeps its port a minute (thousands of ranks reconnecting
 * would run a host short of ephemeral ports). */
Test(store, a_closed_client_leaves_no_time_wait)
{
	for (int i = 0; i < 20; i++) {
		struct lt_store *st = client("rank 1");
		struct lt_err err = { 0 };
		int64_t n;

		cr_assert_eq(lt_store_add(st, "n", 1, &n, &err), 0, "%s", err.msg);
		lt_store_close(st);
	}
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect_eq(time_waits(port), 0);
}

Test(store, compare_set)
{
	struct lt_store *st = client("rank 0");
	struct lt_err err = { 0 };
	int swapped;
	void *v;
	size_t len;

	cr_assert_eq(lt_store_compare_set(st, "k", "x", 1, "one", 3, &swapped, &v, &len, &err), 0,
		     "%s", err.msg);
	cr_expect_eq(swapped, 0, "a missing key does not match a non-empty expected value");
	cr_expect_eq(len, 0);
	free(v);
	cr_assert_eq(lt_store_compare_set(st, "k", "", 0, "one", 3, &swapped, &v, &len, &err), 0,
		     "%s", err.msg);
	cr_expect_eq(swapped, 1, "a missing key matches an empty expected value");
	cr_expect_str_eq(v, "one");
	free(v);
	cr_assert_eq(lt_store_compare_set(st, "k", "two", 3, "three", 5, &swapped, &v, &len, &err),
		     0, "%s", err.msg);
	cr_expect_eq(swapped, 0);
	cr_expect_str_eq(v, "one", "the current value comes back");
	cr_expect_eq(len, 3);
	free(v);
	cr_assert_eq(lt_store_compare_set(st, "k", "one", 3, "two", 3, &swapped, NULL, NULL, &err),
		     0, "%s", err.msg);
	cr_expect_eq(swapped, 1);
	expect_value(st, "k", "two", 3);
	lt_store_close(st);
}

/* ------------------------------------------------------- blocking requests */

/* Another client that, after a pause before each, sets keys ("k") or
 * deletes them ("-k"). */
struct later {
	const char *const *steps;
	int delay_ms;
	struct outcome done;
	pthread_t thread;
};

static void *run_later(void *arg)
{
	struct later *l = arg;
	struct lt_store *st = NULL;
	int existed;

	l->done.rc = lt_store_connect("127.0.0.1", port, token, "setter", 5000, &st, &l->done.err);
	for (size_t i = 0; !l->done.rc && l->steps[i]; i++) {
		const char *key = l->steps[i];

		usleep((useconds_t)l->delay_ms * 1000);
		if (key[0] == '-')
			l->done.rc = lt_store_delete(st, key + 1, &existed, &l->done.err);
		else
			l->done.rc = lt_store_set(st, key, "v", 1, &l->done.err);
	}
	lt_store_close(st);
	return NULL;
}

static void start_later(struct later *l)
{
	cr_assert_eq(pthread_create(&l->thread, NULL, run_later, l), 0);
}

static void finish_later(struct later *l)
{
	pthread_join(l->thread, NULL);
	cr_expect_eq(l->done.rc, 0, "the other client: %s", l->done.err.msg);
}

Test(store, get_is_woken_by_a_set_from_another_client)
{
	struct lt_store *st = client("rank 1");
	struct later l = { .steps = (const char *const[]){ "late", NULL }, .delay_ms = 100 };
	struct lt_err err = { 0 };
	void *v;
	size_t len;

	start_later(&l);
	cr_assert_eq(lt_store_get(st, "late", 5000, "the setter", &v, &len, &err), 0, "%s",
		     err.msg);
	cr_expect_str_eq(v, "v");
	free(v);
	finish_later(&l);
	lt_store_close(st);
}

Test(store, wait_on_several_keys)
{
	struct lt_store *st = client("rank 1");
	struct later l = { .steps = (const char *const[]){ "c", "a", "b", NULL }, .delay_ms = 30 };
	struct lt_err err = { 0 };
	int64_t n;

	start_later(&l);
	cr_assert_eq(lt_store_wait(st, (const char *const[]){ "a", "b", "c" }, 3, 5000, NULL, &err),
		     0, "%s", err.msg);
	finish_later(&l);
	cr_assert_eq(lt_store_num_keys(st, &n, &err), 0, "%s", err.msg);
	cr_expect_eq(n, 3, "all three were there when wait returned");
	cr_assert_eq(lt_store_wait(st, (const char *const[]){ "a", "a" }, 2, 0, NULL, &err), 0,
		     "keys that exist need no waiting: %s", err.msg);
	lt_store_close(st);
}

/* A key seen, then deleted before the others came, is waited for again. */
Test(store, wait_sees_a_deleted_key_as_missing)
{
	struct lt_store *st = client("rank 1");
	struct later l = { .steps = (const char *const[]){ "-a", "b", NULL }, .delay_ms = 100 };
	struct lt_err err = { 0 };

	cr_assert_eq(lt_store_set(st, "a", "1", 1, &err), 0, "%s", err.msg);
	start_later(&l);
	cr_expect_eq(lt_store_wait(st, (const char *const[]){ "a", "b" }, 2, 500, "rank 2", &err),
		     -1);
	cr_expect_str_eq(err.msg,
			 expected("rank 1: timed out after 0.5 s waiting for key 'a' from rank 2 at 127.0.0.1:%d",
				  port));
	finish_later(&l);
	lt_store_close(st);
}

struct getter {
	struct outcome done;
	char value[8];
	pthread_t thread;
};

static void *get_start(void *arg)
{
	struct getter *g = arg;
	struct lt_store *st = NULL;
	void *v;
	size_t len;

	g->done.rc = lt_store_connect("127.0.0.1", port, token, "waiter", 5000, &st, &g->done.err);
	if (!g->done.rc)
		g->done.rc = lt_store_get(st, "start", 5000, NULL, &v, &len, &g->done.err);
	if (!g->done.rc) {
		snprintf(g->value, sizeof(g->value), "%s", (char *)v);
		free(v);
	}
	lt_store_close(st);
	return NULL;
}

Test(store, one_set_wakes_every_waiter)
{
	struct lt_store *st = client("rank 0");
	struct lt_err err = { 0 };
	struct getter g[6];

	for (int i = 0; i < 6; i++)
		cr_assert_eq(pthread_create(&g[i].thread, NULL, get_start, &g[i]), 0);
	usleep(100000);
	cr_assert_eq(lt_store_set(st, "start", "go", 2, &err), 0, "%s", err.msg);
	for (int i = 0; i < 6; i++) {
		pthread_join(g[i].thread, NULL);
		cr_expect_eq(g[i].done.rc, 0, "waiter %d: %s", i, g[i].done.err.msg);
		cr_expect_str_eq(g[i].value, "go");
	}
	lt_store_close(st);
}

struct timeout_case {
	int timeout_ms;
	const char *from;
	const char *const *keys; /* NULL-terminated; one key: get, else wait */
	const char *const *present;
	const char *msg;         /* before " at 127.0.0.1:PORT" */
};

static const struct timeout_case timeouts[] = {
	{ 200, "rank 0", (const char *const[]){ "nccl_id", NULL }, (const char *const[]){ NULL },
	  "rank 5: timed out after 0.2 s waiting for key 'nccl_id' from rank 0" },
	{ 150, NULL, (const char *const[]){ "nccl_id", NULL }, (const char *const[]){ NULL },
	  "rank 5: timed out after 0.15 s waiting for key 'nccl_id'" },
	{ 0, NULL, (const char *const[]){ "k", NULL }, (const char *const[]){ NULL },
	  "rank 5: timed out after 0 s waiting for key 'k'" },
	{ 100, "the others", (const char *const[]){ "x", "y", "z", NULL },
	  (const char *const[]){ NULL },
	  "rank 5: timed out after 0.1 s waiting for keys 'x' and 2 more from the others" },
	{ 100, NULL, (const char *const[]){ "x", "y", "z", NULL }, (const char *const[]){ "x", NULL },
	  "rank 5: timed out after 0.1 s waiting for keys 'y' and 1 more" },
	{ 100, NULL, (const char *const[]){ "x", "y", "z", NULL },
	  (const char *const[]){ "x", "z", NULL },
	  "rank 5: timed out after 0.1 s waiting for key 'y'" },
};

ParameterizedTestParameters(store, timeouts_name_who_what_and_where)
{
	return LT_TABLE_PARAMS(timeouts);
}

ParameterizedTest(size_t *i, store, timeouts_name_who_what_and_where)
{
	const struct timeout_case *c = &timeouts[*i];
	struct lt_store *st = client("rank 5");
	struct lt_err err = { 0 };
	size_t n = 0;
	void *v;
	size_t len;

	for (size_t k = 0; c->present[k]; k++)
		cr_assert_eq(lt_store_set(st, c->present[k], "", 0, &err), 0, "%s", err.msg);
	while (c->keys[n])
		n++;
	if (n == 1)
		cr_assert_eq(lt_store_get(st, c->keys[0], c->timeout_ms, c->from, &v, &len, &err), -1);
	else
		cr_assert_eq(lt_store_wait(st, c->keys, n, c->timeout_ms, c->from, &err), -1);
	cr_expect_str_eq(err.msg, expected("%s at 127.0.0.1:%d", c->msg, port));
	cr_assert_eq(lt_store_set(st, "after", "", 0, &err), 0, "a timeout leaves the connection usable: %s",
		     err.msg);
	lt_store_close(st);
}

/* ------------------------------------------------------------------ token */

Test(store, wrong_token_is_refused_at_once_and_logged)
{
	uint8_t wrong[LT_STORE_TOKEN_BYTES] = { 9 };
	struct lt_err err = { 0 };
	struct lt_store *st;
	struct timeval t0, t1;

	gettimeofday(&t0, NULL);
	cr_assert_eq(lt_store_connect("127.0.0.1", port, wrong, "intruder", 5000, &st, &err), -1);
	gettimeofday(&t1, NULL);
	cr_expect_str_eq(err.msg,
			 expected("intruder: the store at 127.0.0.1:%d refused this process: wrong token (every process of a job needs the same token: the same LTRUN_STORE_TOKEN, or the same secret file on every node; see SECURITY in ltrun(1))",
				  port));
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 2, "no retrying a refused token");
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect(strstr(log_text, "ltrun: store: refused 127.0.0.1:"), "log: %s", log_text);
	cr_expect(strstr(log_text, ": wrong token\n"), "log: %s", log_text);
}

Test(store, tokens)
{
	char hex[LT_STORE_TOKEN_HEX], other[LT_STORE_TOKEN_HEX];
	uint8_t t[LT_STORE_TOKEN_BYTES];
	struct lt_err err = { 0 };

	cr_assert_eq(lt_store_token_new(hex, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_token_new(other, &err), 0, "%s", err.msg);
	cr_expect_eq(strlen(hex), 64);
	cr_expect_eq(strspn(hex, "0123456789abcdef"), 64, "lowercase hex: %s", hex);
	cr_expect_str_neq(hex, other);
	cr_assert_eq(lt_store_token_parse(hex, "LTRUN_STORE_TOKEN", t, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_token_parse("00FF0000000000000000000000000000000000000000000000000000000000aa",
					  "X", t, &err), 0, "%s", err.msg);
	cr_expect(t[0] == 0 && t[1] == 0xff && t[31] == 0xaa);
	cr_expect_eq(lt_store_token_parse("abc", "LTRUN_STORE_TOKEN", t, &err), -1);
	cr_expect(strstr(err.msg, "invalid LTRUN_STORE_TOKEN: a store token is 64 hexadecimal digits and it has 3 characters: make one with: od"),
		  "%s", err.msg);
	hex[9] = 'g';
	cr_expect_eq(lt_store_token_parse(hex, "LTRUN_STORE_TOKEN", t, &err), -1);
	cr_expect(strstr(err.msg, "character 10 is not a hexadecimal digit"), "%s", err.msg);
	cr_expect_eq(lt_store_token_parse("", "LTRUN_STORE_TOKEN", t, &err), -1);
}

/* --------------------------------------------------------------- raw bytes */

static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Receives one message into buf; returns its code. */
static int raw_receive(int fd, uint8_t *buf, size_t cap, struct lt_store_msg *m)
{
	size_t have = 0;

	for (;;) {
		enum lt_store_parse rc = lt_store_msg_parse(buf, have, LT_STORE_MAX_PAYLOAD, m);
		ssize_t n;

		if (rc == LT_STORE_COMPLETE)
			return m->code;
		cr_assert_eq(rc, LT_STORE_NEED_MORE, "the server sent a malformed message");
		cr_assert_lt(have, cap);
		n = recv(fd, buf + have, cap - have, 0);
		cr_assert_gt(n, 0, "the server closed the connection");
		have += (size_t)n;
	}
}

/* A raw connection past the handshake, to send bytes no client would.
 * The server's proof is checked, as the client does. */
static int raw_authed(void)
{
	uint8_t buf[256], server_nonce[32], nonce[32] = { 7, 7, 7 }, mac[32], want[32], out[128];
	struct lt_store_field fields[2], answer[2] = { { nonce, 32 }, { mac, 32 } };
	struct lt_store_msg m = { .field = fields, .max_fields = 2 };
	int fd = raw_connect();

	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_CHALLENGE);
	cr_assert_eq(m.nfields, 1);
	cr_assert_eq(fields[0].len, 32);
	memcpy(server_nonce, fields[0].p, 32);
	lt_store_proof(token, LT_STORE_CLIENT_SIDE, server_nonce, nonce, mac);
	lt_store_msg_write(out, LT_STORE_AUTH, answer, 2);
	cr_assert_eq(send(fd, out, lt_store_msg_size(answer, 2), 0),
		     (ssize_t)lt_store_msg_size(answer, 2));
	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_OK);
	cr_assert_eq(m.nfields, 1, "the server proves the token");
	lt_store_proof(token, LT_STORE_SERVER_SIDE, server_nonce, nonce, want);
	cr_assert_eq(fields[0].len, 32);
	cr_assert_eq(memcmp(fields[0].p, want, 32), 0, "the server's proof");
	cr_assert_neq(memcmp(want, mac, 32), 0, "the two sides' proofs differ");
	return fd;
}

static void expect_closed(int fd, const char *what)
{
	uint8_t buf[256];
	ssize_t n;

	/* An answer to a valid prefix may come first; then the end. */
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0);
	cr_expect_eq(n, 0, "%s: the server closes the connection", what);
	close(fd);
}

struct raw_case {
	const char *what;
	bool authed;
	size_t len;
	uint8_t bytes[24];
};

#define V LT_STORE_VERSION
static const struct raw_case raw_cases[] = {
	{ "another protocol version", true, 6, { 99, LT_STORE_SET, 0, 0, 0, 0 } },
	{ "a payload over the limit", true, 6, { V, LT_STORE_SET, 0xff, 0xff, 0xff, 0x7f } },
	{ "an unknown opcode", true, 6, { V, 77, 0, 0, 0, 0 } },
	{ "a field longer than its payload", true, 10, { V, LT_STORE_SET, 4, 0, 0, 0, 9, 0, 0, 0 } },
	{ "a field length cut short", true, 9, { V, LT_STORE_NUM_KEYS, 3, 0, 0, 0, 1, 0, 0 } },
	{ "an empty key", true, 10, { V, LT_STORE_DELETE, 4, 0, 0, 0, 0, 0, 0, 0 } },
	{ "a GET without its timeout", true, 11, { V, LT_STORE_GET, 5, 0, 0, 0, 1, 0, 0, 0, 'k' } },
	{ "a second AUTH", true, 10, { V, LT_STORE_AUTH, 4, 0, 0, 0, 0, 0, 0, 0 } },
	{ "a request before the handshake", false, 6, { V, LT_STORE_NUM_KEYS, 0, 0, 0, 0 } },
	{ "a big message before the handshake", false, 6, { V, LT_STORE_AUTH, 0, 0, 1, 0 } },
	{ "HTTP", false, 16, "GET / HTTP/1.0\r\n" },
};
#undef V

ParameterizedTestParameters(store, raw_garbage_closes_only_its_connection)
{
	return LT_TABLE_PARAMS(raw_cases);
}

ParameterizedTest(size_t *i, store, raw_garbage_closes_only_its_connection)
{
	const struct raw_case *c = &raw_cases[*i];
	struct lt_store *good = client("rank 0");
	struct lt_err err = { 0 };
	int fd;
	uint8_t challenge[64];

	fd = c->authed ? raw_authed() : raw_connect();
	if (!c->authed)
		cr_assert_gt(recv(fd, challenge, sizeof(challenge), 0), 0);
	cr_assert_eq(send(fd, c->bytes, c->len, 0), (ssize_t)c->len);
	expect_closed(fd, c->what);
	cr_assert_eq(lt_store_set(good, "still", "up", 2, &err), 0, "%s", err.msg);
	expect_value(good, "still", "up", 2);
	lt_store_close(good);
	if (!c->authed) {
		lt_store_server_stop(srv);
		srv = NULL;
		cr_expect(strstr(log_text, "not an ltrun store client of this version\n"), "log: %s",
			  log_text);
	}
}

/* A parked request's connection sending garbage, or going away, leaves the
 * key's other waiters waiting. */
Test(store, a_parked_connection_that_breaks_leaves_others_waiting)
{
	struct lt_store *st = client("rank 0");
	struct later l = { .steps = (const char *const[]){ "k", NULL }, .delay_ms = 200 };
	uint8_t get[] = { LT_STORE_VERSION, LT_STORE_GET, 13, 0, 0, 0, 1, 0, 0, 0, 'k',
			  4, 0, 0, 0, 0x10, 0x27, 0, 0 }; /* 10 s */
	struct lt_err err = { 0 };
	int quitter = raw_authed(), flooder = raw_authed();
	uint8_t junk[4096];
	void *v;
	size_t len;

	memset(junk, 0xee, sizeof(junk));
	cr_assert_eq(send(quitter, get, sizeof(get), 0), (ssize_t)sizeof(get));
	cr_assert_eq(send(flooder, get, sizeof(get), 0), (ssize_t)sizeof(get));
	close(quitter);
	for (int k = 0; k < 64 && send(flooder, junk, sizeof(junk), MSG_NOSIGNAL) > 0; k++)
		;
	close(flooder);
	start_later(&l);
	cr_assert_eq(lt_store_get(st, "k", 5000, NULL, &v, &len, &err), 0, "%s", err.msg);
	free(v);
	finish_later(&l);
	lt_store_close(st);
}

/* Requests in one write are answered in order; one sent a byte at a time
 * is read whole. */
Test(store, pipelined_and_trickled_requests)
{
	uint8_t two[] = {
		LT_STORE_VERSION, LT_STORE_SET, 11, 0, 0, 0, 1, 0, 0, 0, 'p', 2, 0, 0, 0, 'h', 'i',
		LT_STORE_VERSION, LT_STORE_GET, 13, 0, 0, 0, 1, 0, 0, 0, 'p', 4, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t buf[256];
	struct lt_store_field fields[2];
	struct lt_store_msg m = { .field = fields, .max_fields = 2 };
	int fd = raw_authed();

	cr_assert_eq(send(fd, two, sizeof(two), 0), (ssize_t)sizeof(two));
	cr_assert_eq(raw_receive(fd, buf, LT_STORE_HEADER_BYTES, &m), LT_STORE_OK);
	cr_expect_eq(m.nfields, 0);
	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_OK);
	cr_assert_eq(m.nfields, 1);
	cr_expect_eq(fields[0].len, 2);
	cr_expect_eq(memcmp(fields[0].p, "hi", 2), 0);
	for (size_t k = 17; k < sizeof(two); k++) {
		cr_assert_eq(send(fd, &two[k], 1, 0), 1);
		usleep(1000);
	}
	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_OK);
	cr_expect_eq(fields[0].len, 2);
	close(fd);
}

/* ------------------------------------------------------- start and stop */

struct parked_get {
	struct lt_store *st;
	struct outcome done;
};

static void *get_never(void *arg)
{
	struct parked_get *g = arg;
	void *v;
	size_t len;

	g->done.rc = lt_store_get(g->st, "never", 10000, "rank 0", &v, &len, &g->done.err);
	return NULL;
}

Test(store, stop_with_clients_connected)
{
	struct parked_get g = { client("rank 3"), { 0 } };
	struct lt_store *idle = client("rank 4");
	int half = raw_connect();
	struct lt_err err = { 0 };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, get_never, &g), 0);
	usleep(100000);
	lt_store_server_stop(srv);
	srv = NULL;
	pthread_join(t, NULL);
	cr_expect_eq(g.done.rc, -1);
	cr_expect_str_eq(g.done.err.msg,
			 expected("rank 3: lost the store at 127.0.0.1:%d while waiting for key 'never': the process hosting it (node 0's agent, or rank 0) has ended",
				  port));
	cr_expect_eq(lt_store_set(idle, "k", "v", 1, &err), -1);
	cr_expect(strstr(err.msg, "rank 4: lost the store at 127.0.0.1:"), "%s", err.msg);
	cr_expect_eq(lt_store_set(idle, "k", "v", 1, &err), -1);
	cr_expect(strstr(err.msg, "the connection broke earlier"), "%s", err.msg);
	close(half);
	lt_store_close(g.st);
	lt_store_close(idle);
}

Test(store, a_port_in_use_says_how_to_pick_another)
{
	struct lt_store_server *second;
	struct lt_err err = { 0 };
	char want[160];
	int bound;

	cr_expect_eq(lt_store_server_start("127.0.0.1", port, token, NULL, &second, &bound, &err),
		     -1);
	snprintf(want, sizeof(want),
		 "cannot listen on 127.0.0.1:%d: Address already in use: pick another with --main-port",
		 port);
	cr_expect_str_eq(err.msg, want);
}

/* A free port, found by binding port 0 and letting it go. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

struct early {
	int port;
	struct outcome done;
};

static void *connect_early(void *arg)
{
	struct early *e = arg;
	struct lt_store *st = NULL;

	e->done.rc = lt_store_connect("127.0.0.1", e->port, token, "rank 7", 5000, &st, &e->done.err);
	lt_store_close(st);
	return NULL;
}

Test(store_connect, retries_until_the_server_is_up)
{
	struct lt_store_server *late;
	struct lt_err err = { 0 };
	struct early e = { free_port(), { 0 } };
	int bound;
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, connect_early, &e), 0);
	usleep(300000);
	cr_assert_eq(lt_store_server_start("127.0.0.1", e.port, token, NULL, &late, &bound, &err), 0,
		     "%s", err.msg);
	cr_expect_eq(bound, e.port);
	pthread_join(t, NULL);
	cr_expect_eq(e.done.rc, 0, "%s", e.done.err.msg);
	lt_store_server_stop(late);
}

Test(store_connect, nobody_listening_times_out_naming_the_address, .timeout = 10)
{
	struct lt_err err = { 0 };
	struct lt_store *st;
	int p = free_port();
	char want[200];

	cr_assert_eq(lt_store_connect("127.0.0.1", p, token, "rank 2", 300, &st, &err), -1);
	snprintf(want, sizeof(want),
		 "rank 2: cannot reach the store at 127.0.0.1:%d after 0.3 s: Connection refused: is node 0's ltrun up, and is the address right?",
		 p);
	cr_expect_str_eq(err.msg, want);
}

/* ------------------------------------------------- fake servers (mutual) */

/* What a fake store answers a client's AUTH with. */
enum fake_answer {
	FAKE_OK_WITHOUT_PROOF, /* what every server said before version 2 */
	FAKE_RANDOM_PROOF,
	FAKE_REFLECTED_PROOF,  /* the client's own proof, sent back */
};

struct fake {
	int listen_fd, port;
	enum fake_answer answer;
};

/* Serves one client: a challenge, then, whatever it answers, OK. */
static void *fake_serve(void *arg)
{
	struct fake *f = arg;
	uint8_t nonce[32] = { 1 }, buf[256], out[64];
	struct lt_store_field challenge = { nonce, 32 }, fields[2], proof = { buf, 32 };
	struct lt_store_msg m = { .field = fields, .max_fields = 2 };
	size_t have = 0;
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	lt_store_msg_write(out, LT_STORE_CHALLENGE, &challenge, 1);
	if (send(fd, out, lt_store_msg_size(&challenge, 1), MSG_NOSIGNAL) < 0)
		goto out;
	while (lt_store_msg_parse(buf, have, LT_STORE_MAX_PAYLOAD, &m) == LT_STORE_NEED_MORE) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0)
			goto out;
		have += (size_t)n;
	}
	if (f->answer == FAKE_RANDOM_PROOF)
		memset(buf, 0x5a, 32);
	else if (f->answer == FAKE_REFLECTED_PROOF && m.nfields == 2)
		memcpy(buf, fields[1].p, 32);
	lt_store_msg_write(out, LT_STORE_OK, &proof, f->answer == FAKE_OK_WITHOUT_PROOF ? 0 : 1);
	if (send(fd, out, lt_store_msg_size(&proof, f->answer == FAKE_OK_WITHOUT_PROOF ? 0 : 1),
		 MSG_NOSIGNAL) < 0)
		goto out;
	usleep(300000); /* a client that believed it would now send a request */
out:
	close(fd);
	return NULL;
}

static const struct {
	const char *what;
	enum fake_answer answer;
} fakes[] = {
	{ "OK without a proof", FAKE_OK_WITHOUT_PROOF },
	{ "a wrong proof", FAKE_RANDOM_PROOF },
	{ "the client's own proof reflected", FAKE_REFLECTED_PROOF },
};

ParameterizedTestParameters(store_fake, a_server_without_the_token_is_refused)
{
	return LT_TABLE_PARAMS(fakes);
}

ParameterizedTest(size_t *i, store_fake, a_server_without_the_token_is_refused, .timeout = 20)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct fake f = { .listen_fd = socket(AF_INET, SOCK_STREAM, 0), .answer = fakes[*i].answer };
	struct lt_err err = { 0 };
	struct lt_store *st = NULL;
	struct timeval t0, t1;
	pthread_t t;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(f.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(f.listen_fd, 8), 0);
	getsockname(f.listen_fd, (struct sockaddr *)&a, &alen);
	f.port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&t, NULL, fake_serve, &f), 0);
	gettimeofday(&t0, NULL);
	cr_expect_eq(lt_store_connect("127.0.0.1", f.port, token, "rank 3", 5000, &st, &err), -1,
		     "%s: the client believed the fake store", fakes[*i].what);
	gettimeofday(&t1, NULL);
	cr_expect_str_eq(err.msg,
			 expected("rank 3: the store at 127.0.0.1:%d could not prove the job's token: another program is listening there (a stale job, or another user's program); not trusting it",
				  f.port),
			 "%s", fakes[*i].what);
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 2, "no retrying a store that cannot prove the token");
	lt_store_close(st);
	pthread_join(t, NULL);
	close(f.listen_fd);
}

/* ------------------------------------------------------ limits, cheaply */

/* A server whose caps a test reaches with a few connections. */
static void start_limited_with(int max_pending_per_peer)
{
	struct lt_store_limits limits = { .login_ms = 1000, .max_pending = 4,
					   .max_pending_per_peer = max_pending_per_peer,
					   .max_bytes = 64 << 10, .log_interval_ms = 60000 };
	struct lt_err err = { 0 };

	memset(log_text, 0, sizeof(log_text));
	log_file = fmemopen(log_text, sizeof(log_text), "w");
	cr_assert_not_null(log_file);
	cr_assert_eq(lt_store_server_start_with("127.0.0.1", 0, token, log_file, &limits, &srv,
						&port, &err),
		     0, "%s", err.msg);
}

static void start_limited(void)
{
	start_limited_with(2);
}

TestSuite(store_limits, .init = start_limited, .fini = stop, .timeout = 20);

/* A raw connection from source address `from` (127.0.0.x), its challenge
 * read unless the server does not send one within wait_ms: then *got is
 * false. */
static int raw_from(const char *from, int wait_ms, bool *got)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint8_t buf[64];

	inet_pton(AF_INET, from, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*got = recv(fd, buf, sizeof(buf), 0) > 0;
	return fd;
}

static double seconds_since(const struct timeval *t0)
{
	struct timeval t1;

	gettimeofday(&t1, NULL);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_usec - t0->tv_usec) / 1e6;
}

Test(store_limits, a_silent_client_is_dropped_at_the_login_deadline)
{
	struct timeval t0;
	uint8_t buf[64];
	bool got;
	int fd = raw_from("127.0.0.1", 2000, &got);
	ssize_t n;

	cr_assert(got, "the challenge comes at once");
	gettimeofday(&t0, NULL);
	n = recv(fd, buf, sizeof(buf), 0); /* SO_RCVTIMEO: 2 s */
	cr_expect_eq(n, 0, "the server closes a client that does not log in");
	cr_expect_lt(seconds_since(&t0), 1.8, "at its login deadline (1 s)");
	close(fd);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect(strstr(log_text, ": did not log in within 1 s\n"), "log: %s", log_text);
}

Test(store_limits, connections_waiting_to_log_in_are_capped_per_address)
{
	struct lt_store *st;
	struct lt_err err = { 0 };
	bool got1, got2, got3;
	int a = raw_from("127.0.0.1", 2000, &got1), b = raw_from("127.0.0.1", 2000, &got2);
	int c = raw_from("127.0.0.1", 2000, &got3);
	uint8_t buf[8];

	cr_expect(got1 && got2, "two connections from one address may wait to log in");
	cr_expect(!got3, "a third from that address is closed at once");
	cr_expect_eq(recv(c, buf, sizeof(buf), 0), 0);
	close(c);
	/* A real client from that address gets in once the idle ones are gone. */
	cr_assert_eq(lt_store_connect("127.0.0.1", port, token, "rank 1", 5000, &st, &err), 0, "%s",
		     err.msg);
	lt_store_close(st);
	close(a);
	close(b);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect(strstr(log_text, ": 2 connections from there wait to log in already\n"), "log: %s",
		  log_text);
}

/* A local user may connect from any loopback address: they share one cap. */
Test(store_limits, every_loopback_address_shares_the_cap_per_address)
{
	bool got1, got2, got3;
	int a = raw_from("127.0.0.2", 2000, &got1), b = raw_from("127.0.0.3", 2000, &got2);
	int c = raw_from("127.0.0.4", 2000, &got3);
	uint8_t buf[8];

	cr_expect(got1 && got2, "two loopback connections may wait to log in");
	cr_expect(!got3, "a third, from yet another loopback address, is closed at once");
	cr_expect_eq(recv(c, buf, sizeof(buf), 0), 0);
	close(a);
	close(b);
	close(c);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect(strstr(log_text, "refused 127.0.0.4:"), "log: %s", log_text);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

Test(store_limits, the_store_stops_accepting_at_the_cap_and_says_so_once)
{
	const char *from[] = { "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3" };
	int fd[4], extra[2];
	bool got;

	/* The cap in all, not the one per address (loopback is one address). */
	lt_store_server_stop(srv);
	fclose(log_file);
	start_limited_with(4);

	for (int i = 0; i < 4; i++) {
		fd[i] = raw_from(from[i], 2000, &got);
		cr_assert(got, "connection %d gets its challenge", i);
	}
	for (int i = 0; i < 2; i++) {
		extra[i] = raw_from("127.0.0.4", 100, &got);
		cr_expect(!got, "beyond 4 waiting, connection %d waits in the backlog", i);
	}
	/* The four time out (1 s): the ones in the backlog get in. */
	{
		uint8_t buf[64];
		struct timeval tv = { .tv_sec = 2 };
		setsockopt(extra[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		cr_expect_gt(recv(extra[0], buf, sizeof(buf), 0), 0,
			     "accepted once the others are gone");
	}
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	for (int i = 0; i < 2; i++)
		close(extra[i]);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect_eq(count_of(log_text, "ltrun: store: not accepting connections for now: 4 connections are waiting to log in, the most allowed; they have 1 s each\n"),
		     1, "log: %s", log_text);
	cr_expect_eq(count_of(log_text, "ltrun: store: accepting connections again\n"), 1, "log: %s",
		     log_text);
}

Test(store_limits, refusals_are_logged_once_per_interval_and_counted)
{
	uint8_t wrong[LT_STORE_TOKEN_BYTES] = { 9 };
	struct lt_err err = { 0 };
	struct lt_store *st;

	for (int i = 0; i < 50; i++)
		cr_assert_eq(lt_store_connect("127.0.0.1", port, wrong, "intruder", 5000, &st, &err),
			     -1);
	lt_store_server_stop(srv);
	srv = NULL;
	cr_expect_eq(count_of(log_text, "\n"), 2, "one refusal line and a count at the end: %s",
		     log_text);
	cr_expect_eq(count_of(log_text, ": wrong token\n"), 1, "log: %s", log_text);
	cr_expect(strstr(log_text, "ltrun: store: 49 more refusals were not shown (at most one line per 60 s)\n"),
		  "log: %s", log_text);
}

Test(store_limits, the_table_is_capped_and_says_so)
{
	struct lt_store *st;
	struct lt_err err = { 0 };
	size_t len = 40000;
	char *v = calloc(1, len);
	int existed;

	cr_assert_eq(lt_store_connect("127.0.0.1", port, token, "rank 0", 5000, &st, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(lt_store_set(st, "a", v, len, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_store_set(st, "b", v, len, &err), -1, "64 KiB hold one 40000-byte value");
	cr_expect_str_eq(err.msg,
			 expected("rank 0: the store at 127.0.0.1:%d refused setting key 'b': the store is full: it holds 40065 bytes of keys and values, and its limit is 65536",
				  port));
	cr_expect_eq(lt_store_set(st, "a", v, len, &err), 0, "replacing a value: %s", err.msg);
	cr_assert_eq(lt_store_delete(st, "a", &existed, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_store_set(st, "b", v, len, &err), 0, "room again after a delete: %s",
		     err.msg);
	lt_store_close(st);
	free(v);
}

/* ---------------------------------------------------------- secret file */

static char secret_dir[] = "/tmp/ltrun-secret-XXXXXX";

static void secret_setup(void)
{
	cr_assert_not_null(mkdtemp(secret_dir));
}

static void secret_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", secret_dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(store_secret, .init = secret_setup, .fini = secret_teardown, .timeout = 20);

/* Eight processes make the default secret file at once (a shared home on
 * eight nodes): all read the same secret, from a 0600 file in a 0700
 * directory. */
Test(store_secret, made_once_by_racing_processes)
{
	char home[PATH_MAX - 64], path[PATH_MAX];
	uint8_t got[8][LT_STORE_TOKEN_BYTES];
	struct stat sb;
	int p[2];

	snprintf(home, sizeof(home), "%s/home", secret_dir);
	cr_assert_eq(mkdir(home, 0755), 0);
	cr_assert_eq(pipe(p), 0);
	for (int i = 0; i < 8; i++) {
		if (fork() == 0) {
			uint8_t secret[LT_STORE_TOKEN_BYTES];
			char why[PATH_MAX + 96], fix[PATH_MAX + 64], where[PATH_MAX];
			setenv("HOME", home, 1);
			unsetenv("XDG_CONFIG_HOME");
			unsetenv(LT_ENV_SECRET_FILE);
			if (lt_store_secret(secret, where, sizeof(where), why, sizeof(why), fix,
					    sizeof(fix)))
				memset(secret, 0, sizeof(secret));
			_exit(write(p[1], secret, sizeof(secret)) == sizeof(secret) ? 0 : 1);
		}
	}
	close(p[1]);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(read(p[0], got[i], LT_STORE_TOKEN_BYTES), LT_STORE_TOKEN_BYTES);
	close(p[0]);
	while (wait(NULL) > 0)
		;
	for (int i = 1; i < 8; i++)
		cr_expect_eq(memcmp(got[0], got[i], LT_STORE_TOKEN_BYTES), 0,
			     "process %d read another secret", i);
	cr_expect_neq(memcmp(got[0], (uint8_t[LT_STORE_TOKEN_BYTES]){ 0 }, LT_STORE_TOKEN_BYTES), 0);
	snprintf(path, sizeof(path), "%s/.config/ltrun/secret", home);
	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	cr_expect_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	cr_expect_eq(sb.st_size, 65, "64 hex digits and a newline");
	snprintf(path, sizeof(path), "%s/.config/ltrun", home);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700, "mode %o", sb.st_mode & 0777);
}

static const struct {
	const char *what;
	mode_t mode;
	uid_t owner;
	const char *text;
	const char *why, *fix;
} bad_secrets[] = {
	{ "group-readable", 0640, 0, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	  "may be read by other users (mode 640)", "chmod 600 '" },
	{ "another user's", 0600, 65534, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	  "is not a file of yours", "remove '" },
	{ "not a secret", 0600, 0, "hello\n", "is not 64 hexadecimal digits", "remove '" },
};

ParameterizedTestParameters(store_secret, a_bad_file_is_refused_naming_the_fix)
{
	return LT_TABLE_PARAMS(bad_secrets);
}

ParameterizedTest(size_t *i, store_secret, a_bad_file_is_refused_naming_the_fix)
{
	char path[PATH_MAX], where[PATH_MAX], why[PATH_MAX + 96], fix[PATH_MAX + 64];
	uint8_t secret[LT_STORE_TOKEN_BYTES];
	FILE *f;

	if (geteuid() != 0 && bad_secrets[*i].owner != 0)
		cr_skip_test("giving a file to another user needs root");
	snprintf(path, sizeof(path), "%s/secret", secret_dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(bad_secrets[*i].text, f);
	fclose(f);
	cr_assert_eq(chmod(path, bad_secrets[*i].mode), 0);
	if (bad_secrets[*i].owner)
		cr_assert_eq(chown(path, bad_secrets[*i].owner, (gid_t)-1), 0);
	setenv(LT_ENV_SECRET_FILE, path, 1);
	cr_expect_eq(lt_store_secret(secret, where, sizeof(where), why, sizeof(why), fix,
				     sizeof(fix)),
		     -1, "%s", bad_secrets[*i].what);
	unsetenv(LT_ENV_SECRET_FILE);
	cr_expect(strstr(why, path) && strstr(why, bad_secrets[*i].why), "%s: %s",
		  bad_secrets[*i].what, why);
	cr_expect(strstr(fix, bad_secrets[*i].fix) && strstr(fix, path), "%s: %s",
		  bad_secrets[*i].what, fix);
}

/* The token: what every node derives alike, under the secret; without
 * one, a refusal that names every way out, and --insecure-store. */
Test(store_secret, the_token_needs_a_secret)
{
	struct lt_token_job job = { .identity = "77::10.0.0.1:29500:8" };
	uint8_t a[LT_STORE_TOKEN_BYTES], b[LT_STORE_TOKEN_BYTES], plain[LT_STORE_TOKEN_BYTES];
	char path[PATH_MAX], seed[] = "ltrun-token:77::10.0.0.1:29500:8";
	struct lt_err err = { 0 };

	unsetenv("LTRUN_STORE_TOKEN");
	snprintf(path, sizeof(path), "%s/secret", secret_dir);
	setenv(LT_ENV_SECRET_FILE, path, 1);
	cr_assert_eq(lt_store_job_token(&job, a, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_store_job_token(&job, b, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(a, b, sizeof(a)), 0, "the same job, the same token");
	lt_sha256(seed, strlen(seed), plain);
	cr_expect_neq(memcmp(a, plain, sizeof(a)), 0, "not what the job's description alone gives");

	snprintf(path, sizeof(path), "%s/missing/secret", secret_dir);
	setenv(LT_ENV_SECRET_FILE, path, 1);
	cr_expect_eq(lt_store_job_token(&job, a, &err), -1);
	cr_expect(strstr(err.msg, "no secret to protect the store with: LTRUN_STORE_TOKEN is unset, no PMIx launcher made this process, and the secret file '"),
		  "%s", err.msg);
	cr_expect(strstr(err.msg, "cannot be made: No such file or directory"), "%s", err.msg);
	cr_expect(strstr(err.msg, "export LTRUN_STORE_TOKEN") && strstr(err.msg, "mpirun") &&
			  strstr(err.msg, "--insecure-store"),
		  "%s", err.msg);
	job.insecure = true;
	cr_expect_eq(lt_store_job_token(&job, a, &err), 0, "%s", err.msg);
	cr_expect_eq(memcmp(a, plain, sizeof(a)), 0, "--insecure-store: the description alone");
	unsetenv(LT_ENV_SECRET_FILE);
}

/* The listen queue's cap is read from the file it is given, and a job
 * whose ranks and agents outnumber it gets one line naming the sysctl and
 * the value to set; one within it, or beyond what the store asks for
 * anyway, gets none. */
Test(store, warns_when_somaxconn_is_below_the_job)
{
	char path[] = "/tmp/ltrun-test-somaxconn-XXXXXX", *text = NULL;
	size_t len = 0;
	int fd = mkstemp(path);
	FILE *log;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "4096\n", 5), 5);
	close(fd);
	cr_expect_eq(lt_store_listen_cap(path), 4096);
	cr_expect_eq(lt_store_listen_cap("/nonexistent/somaxconn"), 0);
	unlink(path);
	cr_expect_gt(lt_store_listen_cap(NULL), 0, "this kernel's /proc/sys/net/core/somaxconn");

	log = open_memstream(&text, &len);
	cr_assert_not_null(log);
	cr_expect_not(lt_store_warn_listen_cap(4096, 4096, log));
	cr_expect_not(lt_store_warn_listen_cap(20000, 0, log), "an unknown cap: no guess");
	cr_expect_not(lt_store_warn_listen_cap(100000, 65535, log), "the store asks for no more");
	fflush(log);
	cr_expect_eq(len, 0, "%s", text);
	cr_expect(lt_store_warn_listen_cap(16386, 4096, log));
	fclose(log);
	cr_expect(strstr(text, "16386 ranks and agents") && strstr(text, "at 4096") &&
		  strstr(text, "sysctl -w net.core.somaxconn=16386"), "%s", text);
	cr_expect_eq(strchr(text, '\n') - text + 1, (long)strlen(text), "one line: %s", text);
	free(text);
}
