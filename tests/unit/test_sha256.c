/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 examples (and the long
 * messages of the NIST test suite), HMAC-SHA256 against RFC 4231's test
 * cases, piecewise hashing against one-shot, and the constant-time compare.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "core/sha256.h"

/* Bytes given either as text or as one byte repeated. */
struct bytes {
	const char *text; /* NULL: `fill` repeated `len` times */
	unsigned char fill;
	size_t len;
};

#define TEXT(s) { (s), 0, sizeof(s) - 1 }
#define FILL(b, n) { NULL, (b), (n) }

static uint8_t *make(const struct bytes *b)
{
	uint8_t *p = malloc(b->len + 1);

	cr_assert_not_null(p);
	if (b->text)
		memcpy(p, b->text, b->len);
	else
		memset(p, b->fill, b->len);
	return p;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

struct digest_case {
	struct bytes msg;
	const char *sha256;
};

static const struct digest_case digests[] = {
	{ TEXT(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ TEXT("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ TEXT("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ TEXT("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ FILL('a', 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

ParameterizedTestParameters(sha256, fips_180_4)
{
	return LT_TABLE_PARAMS(digests);
}

ParameterizedTest(size_t *i, sha256, fips_180_4)
{
	const struct digest_case *c = &digests[*i];
	uint8_t *msg = make(&c->msg), out[LT_SHA256_BYTES];
	char got[2 * LT_SHA256_BYTES + 1];

	lt_sha256(msg, c->msg.len, out);
	hex(out, sizeof(out), got);
	cr_expect_str_eq(got, c->sha256, "SHA-256 of case %zu", *i);
	free(msg);
}

struct hmac_case {
	struct bytes key, msg;
	size_t bytes; /* compared: case 5 is truncated to 128 bits */
	const char *mac;
};

static const struct hmac_case macs[] = {
	{ FILL(0x0b, 20), TEXT("Hi There"), 32,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ TEXT("Jefe"), TEXT("what do ya want for nothing?"), 32,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ FILL(0xaa, 20), FILL(0xdd, 50), 32,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ TEXT("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
	       "\x14\x15\x16\x17\x18\x19"),
	  FILL(0xcd, 50), 32, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ FILL(0x0c, 20), TEXT("Test With Truncation"), 16, "a3b6167473100ee06e0c796c2955552b" },
	{ FILL(0xaa, 131), TEXT("Test Using Larger Than Block-Size Key - Hash Key First"), 32,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ FILL(0xaa, 131),
	  TEXT("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."),
	  32, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

ParameterizedTestParameters(sha256, hmac_rfc_4231)
{
	return LT_TABLE_PARAMS(macs);
}

ParameterizedTest(size_t *i, sha256, hmac_rfc_4231)
{
	const struct hmac_case *c = &macs[*i];
	uint8_t *key = make(&c->key), *msg = make(&c->msg), out[LT_SHA256_BYTES];
	char got[2 * LT_SHA256_BYTES + 1];

	lt_hmac_sha256(key, c->key.len, msg, c->msg.len, out);
	hex(out, c->bytes, got);
	cr_expect_str_eq(got, c->mac, "RFC 4231 test case %zu", *i + 1);
	free(key);
	free(msg);
}

/* Every split of a message that crosses block boundaries hashes alike. */
Test(sha256, piecewise_equals_one_shot)
{
	uint8_t msg[200], whole[LT_SHA256_BYTES], pieces[LT_SHA256_BYTES];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(msg); len += 13) {
		lt_sha256(msg, len, whole);
		for (size_t cut = 0; cut <= len; cut++) {
			struct lt_sha256_ctx c;

			lt_sha256_init(&c);
			lt_sha256_update(&c, msg, cut);
			lt_sha256_update(&c, msg + cut, len - cut);
			lt_sha256_final(&c, pieces);
			cr_assert_eq(memcmp(whole, pieces, sizeof(whole)), 0, "len %zu cut at %zu", len,
				     cut);
		}
	}
}

Test(sha256, constant_time_compare)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	cr_expect_eq(lt_memcmp_const(a, b, sizeof(a)), 0);
	b[31] = 0x80;
	cr_expect_neq(lt_memcmp_const(a, b, sizeof(a)), 0);
	b[31] = 0;
	b[0] = 1;
	cr_expect_neq(lt_memcmp_const(a, b, sizeof(a)), 0);
	cr_expect_eq(lt_memcmp_const(a, b, 0), 0);
}
