/*
 * test_hostlist.c - Slurm host lists: what expands (every host, in order,
 * padding kept) and what is refused, with the message naming the variable,
 * the text and the place.  Table-driven; the tables are the spec, for
 * libslurm's expansion and for ltrun's own (lt_hostlist_create_own(), what
 * a build without libslurm uses), which must agree host for host.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "core/built.h"
#include "env/hostlist.h"

#define HOSTS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct valid_case {
	const char *text;
	size_t count;
	const char *const *first; /* the first hosts, in order */
	const char *last;         /* the last host */
};

static const struct valid_case valid[] = {
	{ "a[1],b[2-3]", 3, HOSTS("a1", "b2", "b3"), "b3" },
	{ "gpu-node[001-004,010]", 5,
	  HOSTS("gpu-node001", "gpu-node002", "gpu-node003", "gpu-node004",
		"gpu-node010"),
	  "gpu-node010" },
	{ "host-1,host-2", 2, HOSTS("host-1", "host-2"), "host-2" },
	{ "n[1-2]x[3-4]", 4, HOSTS("n1x3", "n1x4", "n2x3", "n2x4"), "n2x4" },
	{ "node7", 1, HOSTS("node7"), "node7" },
	{ "[1-2]", 2, HOSTS("1", "2"), "2" },
	{ "n[8-10]", 3, HOSTS("n8", "n9", "n10"), "n10" },
	{ "n[08-10]", 3, HOSTS("n08", "n09", "n10"), "n10" },
	{ "a.b_c-d[1-2],e", 3, HOSTS("a.b_c-d1", "a.b_c-d2", "e"), "e" },
	{ "n1,n01,n001", 3, HOSTS("n1", "n01", "n001"), "n001" },
	{ "a,a", 2, HOSTS("a", "a"), "a" },
	{ "a[1-2]-b[1-2]", 4, HOSTS("a1-b1", "a1-b2", "a2-b1", "a2-b2"), "a2-b2" },
	{ "x[1,3,5-6]", 4, HOSTS("x1", "x3", "x5", "x6"), "x6" },
	/* libslurm's order beyond two groups: the last fastest, then the
	 * first, then the second... */
	{ "a[1-2]b[3-4]c[5-6]", 8,
	  HOSTS("a1b3c5", "a1b3c6", "a2b3c5", "a2b3c6", "a1b4c5", "a1b4c6", "a2b4c5", "a2b4c6"),
	  "a2b4c6" },
	{ "a[1-3]b[1-2]c[1-2]d[1-2]", 24,
	  HOSTS("a1b1c1d1", "a1b1c1d2", "a2b1c1d1", "a2b1c1d2", "a3b1c1d1", "a3b1c1d2",
		"a1b2c1d1", "a1b2c1d2", "a2b2c1d1", "a2b2c1d2", "a3b2c1d1", "a3b2c1d2",
		"a1b1c2d1"),
	  "a3b2c2d2" },
	{ "x[1-2]y[001-3,9]z[7],login1", 9,
	  HOSTS("x1y001z7", "x2y001z7", "x1y002z7", "x2y002z7", "x1y003z7", "x2y003z7",
		"x1y9z7", "x2y9z7", "login1"),
	  "login1" },
	{ "r[1,02]-n[08-10,7]", 8,
	  HOSTS("r1-n08", "r1-n09", "r1-n10", "r1-n7", "r02-n08", "r02-n09", "r02-n10", "r02-n7"),
	  "r02-n7" },
	{ "a[0-65535]", 65536, HOSTS("a0", "a1", "a2"), "a65535" },
	{ "a[0-255]b[0-255]", 65536, HOSTS("a0b0", "a0b1"), "a255b255" },
	{ "a[999999999999999990-999999999999999999]", 10,
	  HOSTS("a999999999999999990"), "a999999999999999999" },
	/* Slurm's separators: ',', ' ' and '\t', alone or around a ','. */
	{ "alpha, host[5-9], gamma", 7,
	  HOSTS("alpha", "host5", "host6", "host7", "host8", "host9", "gamma"), "gamma" },
	{ "a b", 2, HOSTS("a", "b"), "b" },
	{ "a\tb", 2, HOSTS("a", "b"), "b" },
	{ "a \t ,\tb[1-2]  c", 4, HOSTS("a", "b1", "b2", "c"), "c" },
	{ "  n[1-2] ", 2, HOSTS("n1", "n2"), "n2" },
	{ "a[1-2] b", 3, HOSTS("a1", "a2", "b"), "b" },
	{ "\tx,y\t", 2, HOSTS("x", "y"), "y" },
};

struct invalid_case {
	const char *text;
	const char *err;
};

static const struct invalid_case invalid[] = {
	{ "node[3-1]",
	  "invalid SLURM_JOB_NODELIST='node[3-1]': range 3-1 at offset 5 is descending" },
	{ "node[01-", "invalid SLURM_JOB_NODELIST='node[01-': '[' at offset 4 is never closed" },
	{ "a,,b", "invalid SLURM_JOB_NODELIST='a,,b': empty host name at offset 2" },
	{ "a,", "empty host name at offset 2" },
	{ ",a", "empty host name at offset 0" },
	{ "", "invalid SLURM_JOB_NODELIST='': the host list is empty" },
	{ "a[0-999999999]", "it names more than 65536 hosts" },
	{ "a[0-65535],b", "it names more than 65536 hosts" },
	{ "a[0-256]b[0-255]", "it names more than 65536 hosts" },
	{ "a[1-65536]b[1-65536]c[1-65536]", "it names more than 65536 hosts" },
	{ "x]", "']' at offset 1 has no matching '['" },
	{ "n[a-b]", "unexpected 'a' at offset 2 in a bracket group" },
	{ "[1-2", "'[' at offset 0 is never closed" },
	{ "a[[1]]", "'[' at offset 2 is inside the bracket group at offset 1" },
	{ "a[]", "empty range at offset 2" },
	{ "a[1,]", "empty range at offset 4" },
	{ "a[1-]", "the range at offset 2 ends with '-'" },
	{ "a[-1]", "unexpected '-' at offset 2 in a bracket group" },
	{ "a[1-2-3]", "unexpected '-' at offset 5 in a bracket group" },
	{ "a[1 2]", "unexpected space at offset 3 in a bracket group" },
	{ "a, ,b", "empty host name at offset 3" },
	{ "a ,", "empty host name at offset 3" },
	{ " \t ", "the host list is empty" },
	{ "a\nb", "unexpected byte 0x0a at offset 1" },
	{ "a[1-2]b c", "host name characters at offset 6 follow the last bracket group" },
	{ "a;b", "unexpected ';' at offset 1" },
	{ "-a", "the host name at offset 0 starts with '-'" },
	{ "a,.b", "the host name at offset 2 starts with '.'" },
	{ "a[1-2]b", "host name characters at offset 6 follow the last bracket group" },
	{ "a99999999999999999999999", "the number at offset 1 has more than 18 digits" },
	{ "a[1234567890123456789]", "the number at offset 2 has more than 18 digits" },
	{ "a[0-1]bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "b[1]",
	  "the host name at offset 0 is 256 characters long, more than 255" },
};

/* lt_hostlist_create or lt_hostlist_create_own. */
typedef struct lt_hostlist *create_fn(const char *what, const char *text, struct lt_err *err);

static void check_expands(create_fn *create, const struct valid_case *c)
{
	struct lt_err err = { 0 };
	struct lt_hostlist *hl = create("SLURM_JOB_NODELIST", c->text, &err);
	size_t k, n;

	cr_assert_not_null(hl, "'%s': %s", c->text, err.msg);
	n = lt_hostlist_count(hl);
	cr_assert_eq(n, c->count, "'%s': %zu hosts, want %zu", c->text, n, c->count);
	for (k = 0; c->first[k]; k++)
		cr_expect_str_eq(lt_hostlist_nth(hl, k), c->first[k],
				 "'%s': host %zu is '%s', want '%s'", c->text, k,
				 lt_hostlist_nth(hl, k), c->first[k]);
	cr_expect_str_eq(lt_hostlist_nth(hl, n - 1), c->last, "'%s': last host '%s'",
			 c->text, lt_hostlist_nth(hl, n - 1));
	cr_expect_null(lt_hostlist_nth(hl, n), "'%s': nth(count) must be NULL", c->text);
	lt_hostlist_destroy(hl);
}

ParameterizedTestParameters(hostlist, expands)
{
	return LT_TABLE_PARAMS(valid);
}

ParameterizedTest(size_t *i, hostlist, expands)
{
	check_expands(lt_hostlist_create, &valid[*i]);
}

ParameterizedTestParameters(hostlist, expands_own)
{
	return LT_TABLE_PARAMS(valid);
}

ParameterizedTest(size_t *i, hostlist, expands_own)
{
	check_expands(lt_hostlist_create_own, &valid[*i]);
}

/* Where libslurm is built in, ltrun's own expansion gives every host it
 * gives, in the same order (the table checks only the ends). */
ParameterizedTestParameters(hostlist, own_is_libslurms)
{
	return LT_TABLE_PARAMS(valid);
}

ParameterizedTest(size_t *i, hostlist, own_is_libslurms)
{
	const struct valid_case *c = &valid[*i];
	struct lt_err err = { 0 };
	struct lt_hostlist *slurm, *own;
	size_t k, n;

	if (!LT_HAVE_SLURM)
		cr_skip_test("libslurm is left out of this build (./configure --without-slurm)");
	slurm = lt_hostlist_create("X", c->text, &err);
	cr_assert_not_null(slurm, "'%s': %s", c->text, err.msg);
	own = lt_hostlist_create_own("X", c->text, &err);
	cr_assert_not_null(own, "'%s': %s", c->text, err.msg);
	n = lt_hostlist_count(slurm);
	cr_assert_eq(lt_hostlist_count(own), n, "'%s': %zu hosts, libslurm %zu", c->text,
		     lt_hostlist_count(own), n);
	for (k = 0; k < n; k++)
		if (strcmp(lt_hostlist_nth(own, k), lt_hostlist_nth(slurm, k)))
			cr_assert_fail("'%s': host %zu is '%s', libslurm's '%s'", c->text, k,
				       lt_hostlist_nth(own, k), lt_hostlist_nth(slurm, k));
	lt_hostlist_destroy(own);
	lt_hostlist_destroy(slurm);
}

static void check_refuses(create_fn *create, const struct invalid_case *c)
{
	struct lt_err err = { 0 };
	struct lt_hostlist *hl = create("SLURM_JOB_NODELIST", c->text, &err);

	cr_assert_null(hl, "'%s' expanded to %zu hosts, want error '%s'", c->text,
		       hl ? lt_hostlist_count(hl) : 0, c->err);
	cr_expect_eq(err.status, LT_EXIT_FAILURE, "'%s': status %d", c->text,
		     err.status);
	cr_expect(strncmp(err.msg, "invalid SLURM_JOB_NODELIST='", 28) == 0,
		  "'%s': error '%s' does not name the variable first", c->text, err.msg);
	cr_expect(strstr(err.msg, c->err) != NULL, "'%s': error '%s' lacks '%s'",
		  c->text, err.msg, c->err);
	cr_expect(strchr(err.msg, '\n') == NULL, "'%s': error is not one line", c->text);
}

ParameterizedTestParameters(hostlist, refuses)
{
	return LT_TABLE_PARAMS(invalid);
}

ParameterizedTest(size_t *i, hostlist, refuses)
{
	check_refuses(lt_hostlist_create, &invalid[*i]);
}

ParameterizedTestParameters(hostlist, refuses_own)
{
	return LT_TABLE_PARAMS(invalid);
}

ParameterizedTest(size_t *i, hostlist, refuses_own)
{
	check_refuses(lt_hostlist_create_own, &invalid[*i]);
}

/* libslurm prints "error: ..." for a descending range; the strict check must
 * refuse it before libslurm sees it, so nothing reaches stderr. */
Test(hostlist, silent_on_errors, .init = cr_redirect_stderr)
{
	static const char *const bad[] = { "node[3-1]", "n[a-b]", "a[0-65536]" };
	struct lt_err err;
	size_t i;

	for (i = 0; i < LT_TABLE_LEN(bad); i++)
		cr_assert_null(lt_hostlist_create("X", bad[i], &err), "'%s'", bad[i]);
	fflush(stderr);
	cr_assert_stderr_eq_str("");
}

Test(hostlist, find)
{
	struct lt_err err;
	struct lt_hostlist *hl = lt_hostlist_create("SLURM_STEP_NODELIST",
						    "b[1-3],a,b2", &err);

	cr_assert_not_null(hl, "%s", err.msg);
	cr_expect_eq(lt_hostlist_find(hl, "b1"), 0);
	cr_expect_eq(lt_hostlist_find(hl, "b2"), 1, "a repeated host is found first");
	cr_expect_eq(lt_hostlist_find(hl, "a"), 3);
	cr_expect_eq(lt_hostlist_find(hl, "b4"), -1);
	cr_expect_eq(lt_hostlist_find(hl, ""), -1);
	cr_expect_eq(lt_hostlist_count(hl), 5);
	lt_hostlist_destroy(hl);
}

Test(hostlist, names_the_source)
{
	struct lt_err err;

	cr_assert_null(lt_hostlist_create("SLURM_STEP_NODELIST", "a,,b", &err));
	cr_expect(strncmp(err.msg, "invalid SLURM_STEP_NODELIST='a,,b': ", 36) == 0,
		  "%s", err.msg);
}

Test(hostlist, null_text_is_empty)
{
	struct lt_err err;

	cr_assert_null(lt_hostlist_create("X", NULL, &err));
	cr_expect(strstr(err.msg, "the host list is empty") != NULL, "%s", err.msg);
	lt_hostlist_destroy(NULL); /* allowed: must not crash */
}

Test(hostlist, text_length_cap)
{
	size_t len = LT_HOSTLIST_MAX_TEXT + 1;
	char *text = malloc(len + 1);
	struct lt_err err;

	cr_assert_not_null(text);
	memset(text, 'a', len);
	text[len] = '\0';
	cr_expect_null(lt_hostlist_create("X", text, &err));
	cr_expect(strstr(err.msg, "it is longer than 65536 bytes") != NULL, "%s",
		  err.msg);
	free(text);
}

/* A list of 10000 separate hosts: all kept, in order. */
static void check_many_items(create_fn *create)
{
	size_t n = 10000, k, len = 0;
	char *text = malloc(n * 8), want[16];
	struct lt_hostlist *hl;
	struct lt_err err;

	cr_assert_not_null(text);
	for (k = 0; k < n; k++)
		len += (size_t)sprintf(text + len, "%sh%zu", k ? "," : "", k);
	hl = create("X", text, &err);
	free(text);
	cr_assert_not_null(hl, "%s", err.msg);
	cr_assert_eq(lt_hostlist_count(hl), n);
	for (k = 0; k < n; k += 997) {
		snprintf(want, sizeof(want), "h%zu", k);
		cr_expect_str_eq(lt_hostlist_nth(hl, k), want);
	}
	lt_hostlist_destroy(hl);
}

Test(hostlist, many_items)
{
	check_many_items(lt_hostlist_create);
}

Test(hostlist, many_items_own)
{
	check_many_items(lt_hostlist_create_own);
}
