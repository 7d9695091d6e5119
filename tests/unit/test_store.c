/*
 * test_store.c - the embedded TCP store, server and clients in one process
 * over loopback: every operation, blocking requests woken by other
 * clients, timeouts and their messages, counters under contention, the
 * token check, raw bytes no client would send (which close that connection
 * and never the server), and stopping with clients connected.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "params.h"
#include "core/sha256.h"
#include "launch/store.h"
#include "launch/store_proto.h"

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
	cr_expect(strstr(err.msg, "rank 4: the value for store key 'k' is 16777217 bytes"), "%s",
		  err.msg);
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
			 expected("intruder: the store at 127.0.0.1:%d refused this process: wrong token (every process of a job needs the same LTRUN_STORE_TOKEN)",
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

/* A raw connection past the handshake, to send bytes no client would. */
static int raw_authed(void)
{
	uint8_t buf[256], mac[LT_SHA256_BYTES], out[64];
	struct lt_store_field fields[2], answer = { mac, sizeof(mac) };
	struct lt_store_msg m = { .field = fields, .max_fields = 2 };
	int fd = raw_connect();

	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_CHALLENGE);
	cr_assert_eq(m.nfields, 1);
	lt_hmac_sha256(token, sizeof(token), fields[0].p, fields[0].len, mac);
	lt_store_msg_write(out, LT_STORE_AUTH, &answer, 1);
	cr_assert_eq(send(fd, out, lt_store_msg_size(&answer, 1), 0),
		     (ssize_t)lt_store_msg_size(&answer, 1));
	cr_assert_eq(raw_receive(fd, buf, sizeof(buf), &m), LT_STORE_OK);
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
