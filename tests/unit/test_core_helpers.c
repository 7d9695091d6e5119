/*
 * test_core_helpers.c - the small helpers of src/core/ that replaced the
 * private copies: the monotonic clock, lt_write_all (short writes, EINTR,
 * failures), lt_is_url and the dtype table.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/dtype.h"
#include "core/io.h"
#include "core/url.h"

/* ------------------------------------------------------------ clock */

Test(core_clock, monotonic_and_in_step)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	double s0 = lt_now_s(), ms0 = lt_now_ms();
	int64_t ns0 = lt_now_ns();
	double s1, ms1;
	int64_t ns1;

	nanosleep(&pause, NULL);
	s1 = lt_now_s();
	ms1 = lt_now_ms();
	ns1 = lt_now_ns();
	cr_expect_geq(s1 - s0, 0.019, "20 ms took %g s", s1 - s0);
	cr_expect_lt(s1 - s0, 5.0);
	cr_expect_geq(ms1 - ms0, 19.0, "20 ms took %g ms", ms1 - ms0);
	cr_expect_geq(ns1 - ns0, 19 * 1000 * 1000, "20 ms took %lld ns", (long long)(ns1 - ns0));
	/* one clock in three units */
	cr_expect_lt(ms1 - s1 * 1000.0, 50.0);
	cr_expect_lt((double)ns1 / 1e9 - s1, 0.05);
	for (int i = 0; i < 1000; i++) {
		double t = lt_now_s();

		cr_assert_geq(t, s1, "the clock went back");
		s1 = t;
	}
}

/* ------------------------------------------------------------ write_all */

struct drain {
	int fd;
	size_t got;
	unsigned char *buf;
	size_t len;
};

/* Reads the pipe late (the writer blocks on a full pipe meanwhile, so
 * that the timer's signal interrupts a write that wrote nothing: EINTR),
 * then slowly, in small pieces, so that writes come back short. */
static void *drain(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	usleep(50 * 1000);
	while ((n = read(d->fd, d->buf + d->got, d->len - d->got < 4096 ? d->len - d->got : 4096)) > 0) {
		d->got += (size_t)n;
		if (d->got % (64 * 1024) < 4096)
			usleep(1000);
		if (d->got == d->len)
			break;
	}
	return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* Many times a pipe's capacity, through a slow reader, while a timer
 * interrupts the writer: every byte arrives, in order. */
Test(core_io, short_and_interrupted_writes_complete, .timeout = 30)
{
	size_t len = 8u << 20;
	unsigned char *src = malloc(len);
	struct drain d = { .buf = malloc(len), .len = len };
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct itimerval tick = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	sigset_t alarm_only;
	pthread_t t;
	int p[2];

	cr_assert(src && d.buf);
	for (size_t i = 0; i < len; i++)
		src[i] = (unsigned char)(i * 131 + (i >> 13));
	cr_assert_eq(pipe(p), 0);
	d.fd = p[0];
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
	/* the timer's signal goes to this (the writing) thread only: the
	 * reader starts with it blocked */
	sigemptyset(&alarm_only);
	sigaddset(&alarm_only, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alarm_only, NULL);
	cr_assert_eq(pthread_create(&t, NULL, drain, &d), 0);
	pthread_sigmask(SIG_UNBLOCK, &alarm_only, NULL);
	setitimer(ITIMER_REAL, &tick, NULL);
	cr_expect_eq(lt_write_all(p[1], src, len), 0, "%s", strerror(errno));
	setitimer(ITIMER_REAL, &off, NULL);
	close(p[1]);
	pthread_join(t, NULL);
	close(p[0]);
	signal(SIGALRM, SIG_DFL);
	cr_expect_gt(alarms, 0, "the timer never interrupted the writer");
	cr_expect_eq(d.got, len);
	cr_expect(!memcmp(src, d.buf, len), "the bytes arrived changed");
	free(src);
	free(d.buf);
}

Test(core_io, failures_return_minus_one_with_errno)
{
	int p[2];
	char c = 'x';

	errno = 0;
	cr_expect_eq(lt_write_all(-1, &c, 1), -1);
	cr_expect_eq(errno, EBADF);
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	cr_expect_eq(lt_write_all(p[1], &c, 1), -1);
	cr_expect_eq(errno, EPIPE);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
	cr_expect_eq(lt_write_all(-1, &c, 0), 0, "nothing to write is not a failure");
}

/* ------------------------------------------------------------ URLs */

Test(core_url, http_and_https_only)
{
	static const char *const urls[] = { "http://h/x", "https://h:8443/ckpt/", "http://", "https://" };
	static const char *const paths[] = { "", "/tmp/ckpt", "ckpt", "http:/x", "https:x", "HTTP://h/x",
					     "ftp://h/x", "file:///tmp", " http://h", "httpx://h", "s3://b/k" };

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		cr_expect(lt_is_url(urls[i]), "'%s' is a URL", urls[i]);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		cr_expect(!lt_is_url(paths[i]), "'%s' is not a URL", paths[i]);
	cr_expect(!lt_is_url(NULL));
}

/* ------------------------------------------------------------ dtypes */

Test(core_dtype, table)
{
	static const struct {
		enum lt_dtype dt;
		size_t size;
		const char *name, *st;
	} want[] = {
		{ LT_F32, 4, "f32", "F32" }, { LT_F64, 8, "f64", "F64" }, { LT_F16, 2, "f16", "F16" },
		{ LT_BF16, 2, "bf16", "BF16" }, { LT_I32, 4, "i32", "I32" }, { LT_I64, 8, "i64", "I64" },
	};
	enum lt_dtype back;

	cr_assert_eq(sizeof(want) / sizeof(want[0]), LT_DTYPE_COUNT);
	for (size_t i = 0; i < LT_DTYPE_COUNT; i++) {
		cr_expect(lt_dtype_valid(want[i].dt));
		cr_expect_eq(lt_dtype_size(want[i].dt), want[i].size, "%s", want[i].name);
		cr_expect_str_eq(lt_dtype_name(want[i].dt), want[i].name);
		cr_expect_str_eq(lt_dtype_st_name(want[i].dt), want[i].st);
		back = (enum lt_dtype)-1;
		cr_expect(lt_dtype_from_st_name(want[i].st, &back));
		cr_expect_eq(back, want[i].dt);
	}
	back = LT_F64;
	cr_expect(!lt_dtype_from_st_name("f32", &back), "safetensors names are upper case");
	cr_expect(!lt_dtype_from_st_name("U8", &back));
	cr_expect_eq(back, LT_F64, "unchanged on failure");
	cr_expect(!lt_dtype_valid((enum lt_dtype)LT_DTYPE_COUNT));
	cr_expect(!lt_dtype_valid((enum lt_dtype)-1));
	cr_expect_eq(lt_dtype_size((enum lt_dtype)LT_DTYPE_COUNT), 0);
	cr_expect_str_eq(lt_dtype_name((enum lt_dtype)LT_DTYPE_COUNT), "?");
	cr_expect_null(lt_dtype_st_name((enum lt_dtype)-1));
}

Test(core_dtype, load_and_store)
{
	union {
		float f32[2];
		double f64[2];
		uint16_t h[2];
		int32_t i32[2];
		int64_t i64[2];
	} b;

	for (int dt = 0; dt < LT_DTYPE_COUNT; dt++) {
		memset(&b, 0, sizeof(b));
		lt_dtype_store(&b, (enum lt_dtype)dt, 1, -3.0);
		cr_expect_eq(lt_dtype_load(&b, (enum lt_dtype)dt, 1), -3.0, "%s", lt_dtype_name((enum lt_dtype)dt));
		cr_expect_eq(lt_dtype_load(&b, (enum lt_dtype)dt, 0), 0.0, "%s: element 0 untouched",
			     lt_dtype_name((enum lt_dtype)dt));
	}
	lt_dtype_store(&b, LT_I32, 0, 2.9);
	cr_expect_eq(b.i32[0], 2, "integers are truncated");
	lt_dtype_store(&b, LT_BF16, 0, 1.0 + 1.0 / 256);
	cr_expect_eq(lt_dtype_load(&b, LT_BF16, 0), 1.0, "bf16 rounds to nearest even");
	lt_dtype_store(&b, LT_F16, 0, 1.0 + 1.0 / 1024);
	cr_expect_eq(lt_dtype_load(&b, LT_F16, 0), 1.0 + 1.0 / 1024, "f16 keeps 10 bits");
}
