/*
 * test_core_buf.c - struct lt_buf and LT_ARRAY_RESERVE (core/buf.h):
 * growth keeps the contents, text stays NUL-terminated, detach hands the
 * memory over, and sizes that overflow fail with ENOMEM leaving the
 * buffer as it was.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

Test(core_buf, starts_empty_and_frees_to_empty)
{
	struct lt_buf b = LT_BUF_INIT;

	cr_expect_null(b.data);
	cr_expect_eq(b.len, 0);
	lt_buf_free(&b); /* freeing an empty buffer is fine */
	cr_assert_eq(lt_buf_reserve(&b, 0), 0);
	cr_assert_not_null(b.data);
	cr_expect_str_eq(b.data, "", "reserved memory is an empty string");
	lt_buf_free(&b);
	cr_expect_null(b.data);
	cr_expect_eq(b.cap, 0);
}

Test(core_buf, appends_grow_and_keep_everything)
{
	struct lt_buf b = LT_BUF_INIT;
	char want[64];
	size_t caps = 0, last_cap = 0;

	for (int i = 0; i < 10000; i++) {
		snprintf(want, sizeof(want), "%d,", i);
		if (i % 2)
			cr_assert_eq(lt_buf_printf(&b, "%d,", i), 0);
		else
			cr_assert_eq(lt_buf_puts(&b, want), 0);
		cr_assert_eq(b.data[b.len], '\0');
		cr_assert_lt(b.len, b.cap);
		if (b.cap != last_cap) {
			caps++;
			last_cap = b.cap;
		}
	}
	cr_expect_lt(caps, 20, "capacity doubles: %zu reallocations", caps);
	{
		size_t off = 0;

		for (int i = 0; i < 10000; i++) {
			int n = snprintf(want, sizeof(want), "%d,", i);

			cr_assert(!memcmp(b.data + off, want, (size_t)n), "piece %d", i);
			off += (size_t)n;
		}
		cr_expect_eq(off, b.len);
	}
	cr_assert_eq(lt_buf_append(&b, "\0x", 2), 0);
	cr_expect_eq(b.data[b.len - 1], 'x', "bytes, NULs included");
	lt_buf_free(&b);
}

Test(core_buf, printf_longer_than_any_fixed_buffer)
{
	struct lt_buf b = LT_BUF_INIT;
	char *big = malloc(5000);

	memset(big, 'a', 4999);
	big[4999] = '\0';
	cr_assert_eq(lt_buf_printf(&b, "<%s>", big), 0);
	cr_expect_eq(b.len, 5001);
	cr_expect_eq(b.data[5000], '>');
	free(big);
	lt_buf_free(&b);
}

Test(core_buf, detach_hands_over)
{
	struct lt_buf b = LT_BUF_INIT;
	char *s;

	cr_assert_eq(lt_buf_puts(&b, "step-12"), 0);
	s = lt_buf_detach(&b);
	cr_expect_str_eq(s, "step-12");
	cr_expect_null(b.data);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.cap, 0);
	free(s);
	cr_expect_null(lt_buf_detach(&b));
}

Test(core_buf, overflow_fails_and_changes_nothing)
{
	struct lt_buf b = LT_BUF_INIT;
	char *before;

	cr_assert_eq(lt_buf_puts(&b, "kept"), 0);
	before = b.data;
	errno = 0;
	cr_expect_eq(lt_buf_reserve(&b, SIZE_MAX), -1);
	cr_expect_eq(errno, ENOMEM);
	cr_expect_eq(lt_buf_reserve(&b, SIZE_MAX - b.len), -1);
	cr_expect_eq(lt_buf_append(&b, "x", SIZE_MAX - 2), -1);
	cr_expect_eq(b.data, before);
	cr_expect_eq(b.len, 4);
	cr_expect_str_eq(b.data, "kept");
	lt_buf_free(&b);
}

Test(core_buf, array_reserve)
{
	struct pair {
		int64_t a, b;
	} *v = NULL;
	size_t cap = 0, n = 0;

	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(LT_ARRAY_RESERVE(v, cap, n + 1), 0);
		cr_assert_geq(cap, n + 1);
		v[n++] = (struct pair){ i, -i };
	}
	cr_expect_geq(cap, 1000);
	cr_expect_lt(cap, 2048, "capacity doubles from 16: %zu", cap);
	for (int i = 0; i < 1000; i++)
		cr_assert(v[i].a == i && v[i].b == -i);
	cr_expect_eq(LT_ARRAY_RESERVE(v, cap, 10), 0, "shrinking is never asked");
	cr_expect_geq(cap, 1000);
	{
		struct pair *before = v;
		size_t cap_before = cap;

		errno = 0;
		cr_expect_eq(LT_ARRAY_RESERVE(v, cap, SIZE_MAX / sizeof(*v) + 1), -1);
		cr_expect_eq(errno, ENOMEM);
		cr_expect_eq(v, before);
		cr_expect_eq(cap, cap_before);
	}
	free(v);
}
