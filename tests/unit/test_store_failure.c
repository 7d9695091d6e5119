/*
 * test_store_failure.c - why a store request failed (rdzv/store.h,
 * lt_store_last_failure) and a keep-alive's patience
 * (lt_store_set_answer_grace): a key that did not come, a server gone
 * silent behind a relay that stops passing bytes on (a vanished host: no
 * connection closes), and a store that ended.  The agents' heartbeats
 * (launch/heartbeat.c) tell these apart.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "rdzv/store.h"

static const uint8_t token[LT_STORE_TOKEN_BYTES] = { 7, 1, 7 };

/* Passes bytes between one client and the server until muted; then holds
 * both connections open and passes nothing. */
struct relay {
	int listen_fd, port, server_port;
	atomic_bool mute, stop;
};

static int listen_local(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static bool pass_on(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	return n > 0 && write(to, buf, (size_t)n) == n;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->server_port) };
	int c = accept(r->listen_fd, NULL, NULL), s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (c < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		return NULL;
	while (!atomic_load(&r->stop)) {
		struct pollfd p[2] = { { .fd = c, .events = POLLIN }, { .fd = s, .events = POLLIN } };
		if (atomic_load(&r->mute)) {
			usleep(10000);
			continue;
		}
		if (poll(p, 2, 20) <= 0)
			continue;
		if ((p[0].revents && !pass_on(c, s)) || (p[1].revents && !pass_on(s, c)))
			break;
	}
	close(c);
	close(s);
	return NULL;
}

Test(store_failure, a_missing_key_a_silent_server_and_a_closed_one, .timeout = 30)
{
	struct lt_store_server *srv;
	struct lt_store *st, *direct;
	struct relay r = { 0 };
	struct lt_err err = { 0 };
	pthread_t t;
	void *value;
	size_t len;
	double start;

	cr_assert_eq(lt_store_server_start("127.0.0.1", 0, token, NULL, &srv, &r.server_port, &err),
		     0, "%s", err.msg);
	r.listen_fd = listen_local(&r.port);
	cr_assert_eq(pthread_create(&t, NULL, relay_main, &r), 0);
	cr_assert_eq(lt_store_connect("127.0.0.1", r.port, token, "agent on node 1", 5000, &st, &err),
		     0, "%s", err.msg);
	cr_assert_eq(lt_store_set(st, "hb/1", "0 1 h", 5, &err), 0, "%s", err.msg);

	cr_expect_eq(lt_store_get(st, "hb/2", 0, NULL, &value, &len, &err), -1);
	cr_expect_eq(lt_store_last_failure(st), LT_STORE_FAILED_TIMEOUT, "%s", err.msg);
	cr_expect_eq(lt_store_set(st, "hb/1", "0 2 h", 5, &err), 0,
		     "the connection survives a key that did not come: %s", err.msg);

	lt_store_set_answer_grace(st, 300);
	atomic_store(&r.mute, true);
	start = lt_now_s();
	cr_expect_eq(lt_store_set(st, "hb/1", "0 3 h", 5, &err), -1, "a muted store answered");
	cr_expect_eq(lt_store_last_failure(st), LT_STORE_FAILED_SILENT, "%s", err.msg);
	cr_expect_lt(lt_now_s() - start, 2.0, "given up after the grace, not 30 s");
	cr_expect(strstr(err.msg, "did not answer"), "%s", err.msg);

	cr_assert_eq(lt_store_connect("127.0.0.1", r.server_port, token, "agent on node 2", 5000,
				      &direct, &err),
		     0, "%s", err.msg);
	lt_store_server_stop(srv);
	cr_expect_eq(lt_store_get(direct, "hb/1", 1000, NULL, &value, &len, &err), -1);
	cr_expect_eq(lt_store_last_failure(direct), LT_STORE_FAILED_CLOSED, "%s", err.msg);

	lt_store_close(direct);
	lt_store_close(st);
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	close(r.listen_fd);
}
