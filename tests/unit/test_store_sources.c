/*
 * test_store_sources.c - the store's count of connections waiting to log
 * in per source address: counts up and down, a source forgotten at zero,
 * IPv4 and its IPv4-mapped IPv6 form as one source, every loopback address
 * as one source, and many sources (the table grows) counted apart.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "rdzv/store_sources.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage a = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a;

	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(1234);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, text, &v6->sin6_addr), 1, "%s", text);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(5678);
	}
	return a;
}

static uint32_t count(struct lt_store_sources *t, const char *text)
{
	struct sockaddr_storage a = addr(text);

	return lt_store_sources_count(t, &a);
}

static void add(struct lt_store_sources *t, const char *text)
{
	struct sockaddr_storage a = addr(text);

	cr_assert_eq(lt_store_sources_add(t, &a), 0);
}

static void del(struct lt_store_sources *t, const char *text)
{
	struct sockaddr_storage a = addr(text);

	lt_store_sources_remove(t, &a);
}

Test(store_sources, counts_up_and_down_per_address)
{
	struct lt_store_sources *t = lt_store_sources_new();

	cr_assert_not_null(t);
	add(t, "10.0.0.1");
	add(t, "10.0.0.1");
	add(t, "10.0.0.2");
	cr_expect_eq(count(t, "10.0.0.1"), 2);
	cr_expect_eq(count(t, "10.0.0.2"), 1);
	cr_expect_eq(count(t, "10.0.0.3"), 0);
	del(t, "10.0.0.1");
	del(t, "10.0.0.2");
	cr_expect_eq(count(t, "10.0.0.1"), 1);
	cr_expect_eq(count(t, "10.0.0.2"), 0, "a source at zero is forgotten");
	add(t, "10.0.0.2");
	cr_expect_eq(count(t, "10.0.0.2"), 1, "and counted afresh");
	lt_store_sources_free(t);
}

Test(store_sources, ipv4_and_its_mapped_ipv6_form_are_one_source)
{
	struct lt_store_sources *t = lt_store_sources_new();

	add(t, "192.168.5.7");
	add(t, "::ffff:192.168.5.7");
	cr_expect_eq(count(t, "192.168.5.7"), 2);
	cr_expect_eq(count(t, "fd00::1"), 0);
	add(t, "fd00::1");
	cr_expect_eq(count(t, "fd00::1"), 1);
	cr_expect_eq(count(t, "fd00::2"), 0);
	lt_store_sources_free(t);
}

/* A local user may connect from any loopback address: counted apart,
 * 127.0.0.2, 127.0.0.3, ... would each get a share of their own. */
Test(store_sources, every_loopback_address_is_one_source)
{
	struct lt_store_sources *t = lt_store_sources_new();

	add(t, "127.0.0.1");
	add(t, "127.0.0.2");
	add(t, "127.255.0.9");
	add(t, "::1");
	add(t, "::ffff:127.0.0.5");
	cr_expect_eq(count(t, "127.0.0.1"), 5);
	cr_expect_eq(count(t, "::1"), 5);
	cr_expect_eq(count(t, "128.0.0.1"), 0, "127/8 only");
	cr_expect_eq(count(t, "::2"), 0);
	del(t, "127.0.0.1");
	del(t, "::1");
	cr_expect_eq(count(t, "127.0.0.2"), 3);
	lt_store_sources_free(t);
}

Test(store_sources, many_sources_are_counted_apart)
{
	struct lt_store_sources *t = lt_store_sources_new();
	char text[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		add(t, text);
		if (i % 3 == 0)
			add(t, text);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		cr_expect_eq(count(t, text), i % 3 == 0 ? 2u : 1u, "%s", text);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		del(t, text);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		cr_expect_eq(count(t, text), (i % 3 == 0 ? 2u : 1u) - (i % 2 == 0), "%s", text);
	}
	lt_store_sources_free(t);
}
