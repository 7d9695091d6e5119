/*
 * test_ckpt_crc32c.c - the CRC-32C kernels of src/ckpt/crc32c.c ("table",
 * "sse42", "pclmul", "vpclmul"; one this CPU lacks is a skipped test): published
 * values, every length and alignment around the kernels' block sizes
 * against a bit-at-a-time reference written here, CRCs continued across
 * calls, and lt_crc32c_copy (plain and streaming stores, any alignment of
 * either side): the copy is exact, nothing around it is written, and its
 * CRC is lt_crc32c's.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "ckpt/crc32c.h"

static const char *const kernels[] = { "table", "sse42", "pclmul", "vpclmul" };

/* The CRC-32C one bit at a time: the definition, nothing shared with
 * crc32c.c. */
static uint32_t reference(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (unsigned char)(seed >> 24);
	}
}

/* Uses kernel name, or skips the test when this CPU lacks it. */
static void use(const char *name)
{
	if (lt_crc32c_use_kernel(name))
		cr_skip_test("this CPU lacks what the %s CRC-32C kernel needs: it is not tested here", name);
	cr_assert_str_eq(lt_crc32c_kernel(), name);
}

/* Lengths around the kernels' blocks: every one to 600, then around
 * 1 KiB (where the folding kernels start), 3 x 256 and 3 x 8192
 * (sse42's streams), and
 * growing. */
static size_t next_len(size_t len)
{
	if (len < 600)
		return len + 1;
	if (len < 1100)
		return len + 7;
	return len * 5 / 4 + 13;
}

static void known_values(const char *name)
{
	unsigned char buf[48];

	use(name);
	cr_expect_eq(lt_crc32c(0, "123456789", 9), 0xe3069283, "%s", name);
	cr_expect_eq(lt_crc32c(0, "", 0), 0, "%s", name);
	memset(buf, 0, 32);
	cr_expect_eq(lt_crc32c(0, buf, 32), 0x8a9136aa, "%s", name); /* RFC 3720 B.4 */
	memset(buf, 0xff, 32);
	cr_expect_eq(lt_crc32c(0, buf, 32), 0x62a8ab43, "%s", name);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	cr_expect_eq(lt_crc32c(0, buf, 32), 0x46dd794e, "%s", name);
}

static void agrees_with_reference(const char *name)
{
	size_t cap = (size_t)3 << 20;
	unsigned char *buf = malloc(cap + 64);

	cr_assert(buf);
	fill(buf, cap + 64, 7);
	use(name);
	for (size_t len = 0; len <= cap; len = next_len(len))
		for (size_t at = 0; at < 64; at += 21) {
			uint32_t want = reference(0, buf + at, len), cut = (uint32_t)(len / 3);

			cr_assert_eq(lt_crc32c(0, buf + at, len), want, "%s: len %zu at %zu", name, len, at);
			cr_assert_eq(lt_crc32c(lt_crc32c(0, buf + at, cut), buf + at + cut, len - cut), want,
				     "%s: len %zu at %zu, continued after %u", name, len, at, cut);
			cr_assert_eq(lt_crc32c(0x1234567, buf + at, len), reference(0x1234567, buf + at, len),
				     "%s: len %zu at %zu, from a nonzero CRC", name, len, at);
		}
	free(buf);
}

/* lt_crc32c_copy of len bytes from src + s_at to dst + d_at: exact, its
 * CRC lt_crc32c's, and the guard bytes on both sides untouched. */
static void check_copy(const char *name, const unsigned char *src, unsigned char *dst, size_t len,
		       size_t s_at, size_t d_at)
{
	uint32_t got;

	memset(dst, 0xa5, d_at + len + 128);
	got = lt_crc32c_copy(0x9e3779b9, dst + d_at, src + s_at, len);
	cr_assert_eq(got, lt_crc32c(0x9e3779b9, src + s_at, len), "%s: copy of %zu from %zu to %zu",
		     name, len, s_at, d_at);
	cr_assert(!memcmp(dst + d_at, src + s_at, len), "%s: bytes of a copy of %zu from %zu to %zu",
		  name, len, s_at, d_at);
	for (size_t i = 0; i < d_at; i++)
		cr_assert_eq(dst[i], 0xa5, "%s: byte %zu before the copy written", name, i);
	for (size_t i = 0; i < 128; i++)
		cr_assert_eq(dst[d_at + len + i], 0xa5, "%s: byte %zu after a copy of %zu written", name, i,
			     len);
}

static void copies(const char *name)
{
	size_t cap = (size_t)5 << 20;
	unsigned char *src = malloc(cap + 128), *dst = malloc(cap + 256);

	cr_assert(src && dst);
	fill(src, cap + 128, 11);
	use(name);
	for (size_t len = 0; len < ((size_t)1 << 20) + 4096; len = next_len(len))
		check_copy(name, src, dst, len, len % 61, len % 67);
	/* the streaming stores: 1 MiB and more, at each alignment of dst */
	for (size_t d_at = 0; d_at < 64; d_at += 9)
		check_copy(name, src, dst, ((size_t)1 << 20) + d_at * 77, 64 - d_at, d_at);
	check_copy(name, src, dst, cap, 3, 64);
	check_copy(name, src, dst, cap - 255, 0, 0);
	free(src);
	free(dst);
}

#define PER_KERNEL(what)                                         \
	Test(ckpt_crc32c, what##_table) { what(kernels[0]); }    \
	Test(ckpt_crc32c, what##_sse42) { what(kernels[1]); }    \
	Test(ckpt_crc32c, what##_pclmul) { what(kernels[2]); }   \
	Test(ckpt_crc32c, what##_vpclmul) { what(kernels[3]); }

PER_KERNEL(known_values)
PER_KERNEL(agrees_with_reference)
PER_KERNEL(copies)

Test(ckpt_crc32c, kernel_choice)
{
	cr_assert_eq(lt_crc32c_use_kernel("table"), 0, "every CPU runs the tables");
	cr_expect_str_eq(lt_crc32c_kernel(), "table");
	cr_expect_eq(lt_crc32c_use_kernel("crc64"), -1);
	cr_expect_eq(lt_crc32c_use_kernel(""), -1);
	cr_expect_str_eq(lt_crc32c_kernel(), "table", "a refused name changes nothing");
	cr_assert_eq(lt_crc32c_use_kernel(NULL), 0);
	/* the best: the first of vpclmul, pclmul, sse42, table that this CPU runs */
	for (int k = 3; k >= 0; k--) {
		const char *best = lt_crc32c_kernel();

		if (!lt_crc32c_use_kernel(kernels[k])) {
			cr_expect_str_eq(best, kernels[k]);
			break;
		}
	}
}
