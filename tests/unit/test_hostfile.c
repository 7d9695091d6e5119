/*
 * test_hostfile.c - --hostfile's file (launch/hostfile.c): what parses,
 * with each host's slots and line, what is refused, with the message
 * naming the file and the line, and --include/--exclude in DeepSpeed's
 * syntax, with the slots each host keeps.  Table-driven; the tables are
 * the spec.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "params.h"
#include "launch/hostfile.h"

#define PATH "hosts.txt"

static void parse_ok(const char *text, struct lt_hostfile *hf)
{
	struct lt_err err = { 0 };

	cr_assert_eq(lt_hostfile_parse(text, strlen(text), PATH, hf, &err), 0,
		     "'%s': %s", text, err.msg);
}

static void expect_host(const struct lt_hostfile *hf, int i, const char *name,
			int slots, int line)
{
	const struct lt_host *h = &hf->hosts[i];

	cr_assert_lt(i, hf->n);
	cr_expect_str_eq(h->name, name, "host %d is '%s', want '%s'", i, h->name, name);
	cr_expect_eq(h->slots, slots, "%s: %d slots, want %d", name, h->slots, slots);
	cr_expect_eq(h->line, line, "%s: line %d, want %d", name, h->line, line);
	cr_expect_eq(h->nused, slots, "%s: %d used, want all %d", name, h->nused, slots);
	for (int s = 0; s < h->nused; s++)
		cr_expect_eq(h->used[s], s);
}

/* ------------------------------------------------------------ good files */

Test(launch_hostfile, plain_lines)
{
	struct lt_hostfile hf;

	parse_ok("node1 slots=4\nnode2 slots=2\n", &hf);
	cr_assert_eq(hf.n, 2);
	cr_expect_str_eq(hf.path, PATH);
	expect_host(&hf, 0, "node1", 4, 1);
	expect_host(&hf, 1, "node2", 2, 2);
	lt_hostfile_free(&hf);
}

Test(launch_hostfile, comments_blanks_tabs_crlf)
{
	struct lt_hostfile hf;

	parse_ok("# the cluster\r\n"
		 "\n"
		 "  \t \r\n"
		 "node1\tslots=8 # the big one\r\n"
		 "node2# one slot, no space before '#'\r\n"
		 "   node3 \t slots=2\t\r\n"
		 "#node4 slots=9\n"
		 "node5 slots=3", &hf);   /* no '\n' at the end */
	cr_assert_eq(hf.n, 4);
	expect_host(&hf, 0, "node1", 8, 4);
	expect_host(&hf, 1, "node2", 1, 5);
	expect_host(&hf, 2, "node3", 2, 6);
	expect_host(&hf, 3, "node5", 3, 8);
	lt_hostfile_free(&hf);
}

Test(launch_hostfile, max_slots_and_limits)
{
	struct lt_hostfile hf;
	char text[600];

	parse_ok("a slots=2 max_slots=4\nb max_slots=1\nc max_slots=3 slots=3\n"
		 "d slots=1024 max_slots=99999\ne slots=007\n", &hf);
	cr_assert_eq(hf.n, 5);
	expect_host(&hf, 0, "a", 2, 1);
	expect_host(&hf, 1, "b", 1, 2);
	expect_host(&hf, 2, "c", 3, 3);
	expect_host(&hf, 3, "d", LT_HOSTFILE_MAX_SLOTS, 4);
	expect_host(&hf, 4, "e", 7, 5);
	lt_hostfile_free(&hf);

	memset(text, 'x', 255);   /* the longest name */
	strcpy(text + 255, " slots=2\n");
	parse_ok(text, &hf);
	cr_expect_eq(strlen(hf.hosts[0].name), 255);
	lt_hostfile_free(&hf);
}

Test(launch_hostfile, addresses_and_names)
{
	struct lt_hostfile hf;

	parse_ok("10.0.0.1 slots=2\nfe80::1 slots=1\n::1\n2001:db8::42 slots=8\n"
		 "gpu_node-1.example.com\nNODE1\nnode1\n", &hf);
	cr_assert_eq(hf.n, 7);
	expect_host(&hf, 0, "10.0.0.1", 2, 1);
	expect_host(&hf, 1, "fe80::1", 1, 2);
	expect_host(&hf, 2, "::1", 1, 3);
	expect_host(&hf, 3, "2001:db8::42", 8, 4);
	expect_host(&hf, 4, "gpu_node-1.example.com", 1, 5);
	expect_host(&hf, 5, "NODE1", 1, 6);   /* names are compared as written */
	expect_host(&hf, 6, "node1", 1, 7);
	lt_hostfile_free(&hf);
}

static char *many_hosts(int n)
{
	char *text = malloc((size_t)n * 16 + 1), *p = text;

	for (int i = 0; i < n; i++)
		p += sprintf(p, "n%d slots=1\n", i);
	return text;
}

Test(launch_hostfile, host_count_limit)
{
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	char *text = many_hosts(LT_HOSTFILE_MAX_HOSTS);

	parse_ok(text, &hf);
	cr_expect_eq(hf.n, LT_HOSTFILE_MAX_HOSTS);
	lt_hostfile_free(&hf);
	free(text);

	text = many_hosts(LT_HOSTFILE_MAX_HOSTS + 1);
	cr_assert_eq(lt_hostfile_parse(text, strlen(text), PATH, &hf, &err), -1);
	cr_expect_str_eq(err.msg, "hostfile 'hosts.txt' line 4097: more than 4096 hosts "
				  "(launch at most 4096 hosts from one hostfile)");
	cr_expect_eq(hf.n, 0);
	cr_expect_null(hf.hosts);
	free(text);
}

/* ------------------------------------------------------------- bad files */

struct bad_case {
	const char *text;
	const char *err;   /* the whole message, or what follows "line N: " */
	int line;          /* 0: the message is err, whole */
};

static const struct bad_case bad[] = {
	{ "a slots=1\nnode2 slots=0\n",
	  "slots=0: a host needs at least one slot (write 'node2 slots=1', or remove the line)", 2 },
	{ "a\r\n\r\nb slots=-1\r\n", "slots=-1: a host needs at least one slot", 3 },
	{ "a slots=abc", "slots=abc: not a number (write 'slots=8', a whole number of slots)", 1 },
	{ "a slots=", "slots=: not a number", 1 },
	{ "a slots=2x", "slots=2x: not a number", 1 },
	{ "a slots=+2", "slots=+2: not a number", 1 },
	{ "a slots=1025", "slots=1025: more than 1024 slots (write 'HOST slots=N' with N from 1 to 1024)", 1 },
	{ "a slots=99999999999999999999999", "slots=99999999999999999999999: more than 1024 slots", 1 },
	{ "a slots=2 slots=2", "'slots=' comes twice", 1 },
	{ "a max_slots=2 max_slots=3", "'max_slots=' comes twice", 1 },
	{ "# x\na slots=4 max_slots=2",
	  "max_slots=2 is less than slots=4 (raise max_slots, or drop it)", 2 },
	{ "a max_slots=0", "max_slots=0: a host needs at least one slot", 1 },
	{ "a max_slots=x", "max_slots=x: not a number (write 'max_slots=8'", 1 },
	{ "a slots=1\nb foo=3", "unknown key 'foo=3' (a line is 'HOST [slots=N] [max_slots=M]')", 2 },
	{ "a slots = 2", "unexpected 'slots' after the host", 1 },
	{ "a b", "unexpected 'b' after the host (one host a line; a line is 'HOST [slots=N] [max_slots=M]')", 1 },
	{ "a slots=1 max_slots=2 c", "unexpected 'c' after the host", 1 },
	{ "a slots=1 max_slots=2 c d e", "unexpected 'c' after the host", 1 },
	{ "\n\nhost;rm slots=1", "bad host name 'host;rm': a host is letters, digits, '.', '-', '_' or ':'", 3 },
	{ "'a'", "bad host name ''a''", 1 },
	{ "\"a\"", "bad host name '\"a\"'", 1 },
	{ "user@a", "bad host name 'user@a'", 1 },
	{ "a,b slots=1", "bad host name 'a,b'", 1 },
	{ "a/b", "bad host name 'a/b'", 1 },
	{ "a[1-2]", "bad host name 'a[1-2]'", 1 },
	{ "fe80::1%eth0", "bad host name 'fe80::1%eth0'", 1 },
	{ "a\vb", "bad host name 'a?b'", 1 },
	{ "-oProxyCommand slots=1", "host name '-oProxyCommand' starts with '-'", 1 },
	{ "a\nb\n\nc slots=1\na slots=2\n",
	  "host 'a' is already on line 1 (give a host one line, with all its slots: 'a slots=N')", 5 },
	{ "", "hostfile 'hosts.txt' names no host (write one host a line: 'node1 slots=8')", 0 },
	{ "# nothing\n\n   \r\n\t# here\n", "hostfile 'hosts.txt' names no host", 0 },
};

ParameterizedTestParameters(launch_hostfile, refuses)
{
	return LT_TABLE_PARAMS(bad);
}

static void expect_refused(const char *text, size_t len, int line, const char *want)
{
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	char head[64];

	cr_assert_eq(lt_hostfile_parse(text, len, PATH, &hf, &err), -1,
		     "'%s' parsed, want '%s'", text, want);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_null(strchr(err.msg, '\n'), "two lines: %s", err.msg);
	cr_expect(hf.n == 0 && hf.hosts == NULL, "'%s': hosts left after an error", text);
	if (line) {
		snprintf(head, sizeof(head), "hostfile 'hosts.txt' line %d: ", line);
		cr_expect(!strncmp(err.msg, head, strlen(head)), "'%s': '%s', want it to start '%s'",
			  text, err.msg, head);
		cr_expect(!strncmp(err.msg + strlen(head), want, strlen(want)),
			  "'%s': '%s', want '%s%s'", text, err.msg, head, want);
	} else {
		cr_expect(!strncmp(err.msg, want, strlen(want)), "'%s': '%s', want '%s'", text,
			  err.msg, want);
	}
	lt_hostfile_free(&hf);
}

ParameterizedTest(size_t *i, launch_hostfile, refuses)
{
	const struct bad_case *c = &bad[*i];

	expect_refused(c->text, strlen(c->text), c->line, c->err);
}

Test(launch_hostfile, refuses_odd_bytes_and_lengths)
{
	static const char nul[] = "a slots=1\nb\0c slots=1\n";
	char name[300], *line;

	expect_refused(nul, sizeof(nul) - 1, 2, "bad host name 'b?c'");

	memset(name, 'x', 256);
	strcpy(name + 256, " slots=1");
	expect_refused(name, strlen(name), 1, "host name 'xxxx");
	{   /* quoted short, with "...": the length is in the words */
		struct lt_hostfile hf;
		struct lt_err err = { 0 };

		lt_hostfile_parse(name, strlen(name), PATH, &hf, &err);
		cr_expect(strstr(err.msg, "...' is longer than 255 bytes"), "%s", err.msg);
	}

	line = malloc(5000);
	strcpy(line, "a\n");
	memset(line + 2, ' ', 4097);   /* 4097 blanks: too long, even blank */
	line[4099] = '\0';
	expect_refused(line, strlen(line), 2, "the line is longer than 4096 bytes");
	line[4098] = '\0';             /* 4096: fine */
	{
		struct lt_hostfile hf;

		parse_ok(line, &hf);
		cr_expect_eq(hf.n, 1);
		lt_hostfile_free(&hf);
	}
	free(line);
}

/* ------------------------------------------------------------------ load */

Test(launch_hostfile, load_reads_a_file)
{
	char path[] = "/tmp/ltrun-hostfile-XXXXXX";
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "n1 slots=2\nn2\n", 14), 14);
	close(fd);
	cr_assert_eq(lt_hostfile_load(path, &hf, &err), 0, "%s", err.msg);
	cr_expect_str_eq(hf.path, path);
	expect_host(&hf, 0, "n1", 2, 1);
	expect_host(&hf, 1, "n2", 1, 2);
	lt_hostfile_free(&hf);
	unlink(path);
}

Test(launch_hostfile, load_refuses_what_it_cannot_read)
{
	char dir[] = "/tmp/ltrun-hostfile-XXXXXX", big[64], *chunk;
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	FILE *f;

	cr_assert_eq(lt_hostfile_load("/nonexistent/hosts", &hf, &err), -1);
	cr_expect_str_eq(err.msg, "cannot read hostfile '/nonexistent/hosts': No such file or directory");
	cr_expect_eq(err.status, LT_EXIT_USAGE);

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(lt_hostfile_load(dir, &hf, &err), -1);
	cr_expect(strstr(err.msg, "': Is a directory"), "%s", err.msg);
	cr_expect_eq(err.status, LT_EXIT_USAGE);

	snprintf(big, sizeof(big), "%s/big", dir);
	f = fopen(big, "w");
	cr_assert_not_null(f);
	chunk = malloc(1 << 20);
	memset(chunk, '\n', 1 << 20);
	for (int i = 0; i < 5; i++)
		fwrite(chunk, 1, 1 << 20, f);
	fclose(f);
	free(chunk);
	cr_assert_eq(lt_hostfile_load(big, &hf, &err), -1);
	cr_expect(strstr(err.msg, "' is larger than 4 MiB"), "%s", err.msg);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_eq(hf.n, 0);
	unlink(big);
	rmdir(dir);
}

Test(launch_hostfile, free_twice)
{
	struct lt_hostfile hf, zero = { 0 };

	parse_ok("a slots=2\nb\n", &hf);
	lt_hostfile_free(&hf);
	cr_expect(hf.n == 0 && hf.hosts == NULL);
	lt_hostfile_free(&hf);
	lt_hostfile_free(&zero);
	lt_hostfile_free(NULL);
}

/* --------------------------------------------------------------- filters */

#define HOSTS "a slots=4\nb slots=2\nc\nfe80::1 slots=2\n"
#define NONE (-1)   /* ends a list of used slots */

struct filter_case {
	const char *include, *exclude;
	int used[4][5];   /* each host's used slots, NONE-terminated */
};

static const struct filter_case filters[] = {
	{ NULL, NULL, { { 0, 1, 2, 3, NONE }, { 0, 1, NONE }, { 0, NONE }, { 0, 1, NONE } } },
	{ "a", NULL, { { 0, 1, 2, 3, NONE }, { NONE }, { NONE }, { NONE } } },
	{ "a:1,3@c", NULL, { { 1, 3, NONE }, { NONE }, { 0, NONE }, { NONE } } },
	{ "b:1,0", NULL, { { NONE }, { 0, 1, NONE }, { NONE }, { NONE } } },
	{ "c@b:1", NULL, { { NONE }, { 1, NONE }, { 0, NONE }, { NONE } } },
	{ NULL, "a:0@b", { { 1, 2, 3, NONE }, { NONE }, { 0, NONE }, { 0, 1, NONE } } },
	{ NULL, "c", { { 0, 1, 2, 3, NONE }, { 0, 1, NONE }, { NONE }, { 0, 1, NONE } } },
	{ "a@b", "a:2@b", { { 0, 1, 3, NONE }, { NONE }, { NONE }, { NONE } } },
	{ "a:0,1", "a:1", { { 0, NONE }, { NONE }, { NONE }, { NONE } } },
	{ "a", "b", { { 0, 1, 2, 3, NONE }, { NONE }, { NONE }, { NONE } } },
	{ "fe80::1", NULL, { { NONE }, { NONE }, { NONE }, { 0, 1, NONE } } },
	{ "fe80::1:1", NULL, { { NONE }, { NONE }, { NONE }, { 1, NONE } } },
	{ "[fe80::1]:0", NULL, { { NONE }, { NONE }, { NONE }, { 0, NONE } } },
	{ "[fe80::1]", "fe80::1:0", { { NONE }, { NONE }, { NONE }, { 1, NONE } } },
};

ParameterizedTestParameters(launch_hostfile, filters)
{
	return LT_TABLE_PARAMS(filters);
}

ParameterizedTest(size_t *i, launch_hostfile, filters)
{
	const struct filter_case *c = &filters[*i];
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	int h, s;

	parse_ok(HOSTS, &hf);
	cr_assert_eq(lt_hostfile_filter(&hf, c->include, c->exclude, &err), 0,
		     "--include '%s' --exclude '%s': %s", c->include, c->exclude, err.msg);
	for (h = 0; h < 4; h++) {
		const struct lt_host *host = &hf.hosts[h];

		for (s = 0; c->used[h][s] != NONE; s++) {
			cr_assert_lt(s, host->nused, "--include '%s' --exclude '%s': %s has %d slots, want more",
				     c->include, c->exclude, host->name, host->nused);
			cr_expect_eq(host->used[s], c->used[h][s],
				     "--include '%s' --exclude '%s': %s's slot %d is %d, want %d",
				     c->include, c->exclude, host->name, s, host->used[s],
				     c->used[h][s]);
		}
		cr_expect_eq(host->nused, s, "--include '%s' --exclude '%s': %s uses %d slots, want %d",
			     c->include, c->exclude, host->name, host->nused, s);
	}
	lt_hostfile_free(&hf);
}

struct bad_filter {
	const char *include, *exclude;
	const char *err;   /* the start of the message */
};

static const struct bad_filter bad_filters[] = {
	{ "d", NULL, "--include 'd': no host 'd' in hostfile 'hosts.txt' (its hosts: 'a', 'b', 'c', ...)" },
	{ NULL, "a@zz:1", "--exclude 'a@zz:1': no host 'zz' in hostfile 'hosts.txt'" },
	{ "fe80::2", NULL, "--include 'fe80::2': no host 'fe80::2' in hostfile" },
	{ "fe80::x", NULL, "--include 'fe80::x': no host 'fe80::x' in hostfile" },
	{ "b:2", NULL, "--include 'b:2': slot 2 is past the 2 slots of host 'b' (use 0 to 1)" },
	{ "c:1", NULL, "--include 'c:1': slot 1 is past the 1 slot of host 'c' (use 0 to 0)" },
	{ NULL, "a:99999999999999999999", "--exclude 'a:99999999999999999999': slot 99999999999999999999 is past the 4 slots" },
	{ "a@@b", NULL, "--include 'a@@b': an empty host beside an '@' (write 'HOST[:SLOT,SLOT...]@HOST...', e.g. 'node1:0,1@node2')" },
	{ "@a", NULL, "--include '@a': an empty host beside an '@'" },
	{ NULL, "a@", "--exclude 'a@': an empty host beside an '@'" },
	{ "", NULL, "--include '': an empty host (write 'HOST[:SLOT" },
	{ "a:", NULL, "--include 'a:': no slot after 'a:' (write 'a:0,1', or 'a' for all its slots)" },
	{ "a:0,,1", NULL, "--include 'a:0,,1': an empty slot in 'a:...'" },
	{ "a:1,", NULL, "--include 'a:1,': an empty slot in 'a:...'" },
	{ "a:x", NULL, "--include 'a:x': slot 'x' of host 'a' is not a number (slots count from 0: 'a:0,1')" },
	{ "a:-1", NULL, "--include 'a:-1': slot '-1' of host 'a' is not a number" },
	{ "a:1 ", NULL, "--include 'a:1 ': slot '1 ' of host 'a' is not a number" },
	{ "a@a:1", NULL, "--include 'a@a:1': host 'a' is named twice (name it once, with all its slots: 'a:0,1')" },
	{ NULL, "b:0@b:1", "--exclude 'b:0@b:1': host 'b' is named twice" },
	{ "a:1,1", NULL, "--include 'a:1,1': slot 1 of host 'a' is named twice (name it once)" },
	{ "[fe80::1", NULL, "--include '[fe80::1': bad host '[fe80::1' (write an IPv6 host '[ADDR]' or '[ADDR]:0,1')" },
	{ "[fe80::1]0", NULL, "--include '[fe80::1]0': bad host '[fe80::1]0'" },
	{ "c", "c", "--include/--exclude leave no host: --exclude 'c' removes every slot --include 'c' keeps (exclude fewer hosts or slots)" },
	{ "a:1", "a:1", "--include/--exclude leave no host: --exclude 'a:1' removes" },
	{ NULL, "a@b@c@fe80::1", "--include/--exclude leave no host: --exclude 'a@b@c@fe80::1' removes every slot of hostfile 'hosts.txt' (exclude fewer hosts or slots)" },
	{ NULL, "a@b@c@[fe80::1]:0,1", "--include/--exclude leave no host: --exclude" },
	{ "a", "b:5", "--exclude 'b:5': slot 5 is past the 2 slots of host 'b'" },
};

ParameterizedTestParameters(launch_hostfile, refuses_filters)
{
	return LT_TABLE_PARAMS(bad_filters);
}

ParameterizedTest(size_t *i, launch_hostfile, refuses_filters)
{
	const struct bad_filter *c = &bad_filters[*i];
	struct lt_hostfile hf;
	struct lt_err err = { 0 };
	int h;

	parse_ok(HOSTS, &hf);
	cr_assert_eq(lt_hostfile_filter(&hf, c->include, c->exclude, &err), -1,
		     "--include '%s' --exclude '%s' accepted, want '%s'", c->include, c->exclude,
		     c->err);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect_null(strchr(err.msg, '\n'));
	cr_expect(!strncmp(err.msg, c->err, strlen(c->err)), "'%s', want '%s'", err.msg, c->err);
	for (h = 0; h < hf.n; h++)   /* unchanged: all slots still used */
		cr_expect_eq(hf.hosts[h].nused, hf.hosts[h].slots);
	lt_hostfile_free(&hf);
}

Test(launch_hostfile, filter_again_starts_from_the_file)
{
	struct lt_hostfile hf;
	struct lt_err err = { 0 };

	parse_ok(HOSTS, &hf);
	cr_assert_eq(lt_hostfile_filter(&hf, "a:2", NULL, &err), 0, "%s", err.msg);
	cr_expect(hf.hosts[0].nused == 1 && hf.hosts[0].used[0] == 2);
	cr_expect_eq(hf.hosts[1].nused, 0);
	/* a failure leaves the last good filter's slots */
	cr_assert_eq(lt_hostfile_filter(&hf, "nope", NULL, &err), -1);
	cr_expect(hf.hosts[0].nused == 1 && hf.hosts[0].used[0] == 2);
	cr_expect_eq(hf.hosts[1].nused, 0);
	cr_assert_eq(lt_hostfile_filter(&hf, NULL, "a:0", &err), 0, "%s", err.msg);
	cr_expect_eq(hf.hosts[0].nused, 3);
	cr_expect_eq(hf.hosts[0].used[0], 1);
	cr_expect_eq(hf.hosts[1].nused, 2);
	lt_hostfile_free(&hf);
	lt_hostfile_free(&hf);
}

Test(launch_hostfile, filter_without_hosts)
{
	struct lt_hostfile hf = { 0 };
	struct lt_err err = { 0 };

	cr_expect_eq(lt_hostfile_filter(&hf, NULL, NULL, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	cr_expect(!strncmp(err.msg, "--include/--exclude leave no host: ", 35), "%s", err.msg);
}
