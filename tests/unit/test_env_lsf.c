/*
 * test_env_lsf.c - the `lsf` cluster environment, table-driven: each case
 * is the environment bsub or jsrun would set (and the rankfile's text, when
 * there is one), this host's name, a request, and every number resolve()
 * must derive from them, or the error it must give.  Ports derived from
 * LSB_JOBID were computed independently: 1234 -> 20061, 777 -> 30188.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "env/env.h"

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define REQ(dev, nodes, node) \
	{ .devices = (dev), .num_nodes = (nodes), .node_rank = (node), \
	  .main_addr = NULL, .main_port = 0, .auto_devices = 1 }
#define AUTO REQ(LT_AUTO, LT_AUTO, LT_AUTO)
/* The expected topology: every derived number, and no error. */
#define WANT(W, N, NR, LWS, FR, EXT, R, LR, L, ADDR, PORT) \
	{ .world_size = (W), .num_nodes = (N), .node_rank = (NR), \
	  .local_world_size = (LWS), .first_rank = (FR), .external = (EXT), \
	  .rank = (R), .local_rank = (LR), .launcher = (L), \
	  .main_addr = (ADDR), .main_port = (PORT) }, NULL
/* In vars, this entry becomes LSB_DJOB_RANKFILE=<a temporary file holding
 * the case's rankfile text>. */
#define RANKFILE "LSB_DJOB_RANKFILE=@"
#define SUMMIT_RANKFILE "batch1\nh1\nh1\nh1\nh1\nh2\nh2\nh2\nh2\n"
#define SUMMIT_MCPU "LSB_MCPU_HOSTS=batch1 1 h1 42 h2 42"
#define FQDN_RANKFILE \
	"batch.example.org\nh1.example.org\nh1.example.org\nh2.example.org\nh2.example.org\n"
/* bsub, LSB_JOBID=1234: this host is the second of two, one rank each. */
#define NODE1_OF_2(ADDR) WANT(2, 2, 1, 1, 1, false, -1, -1, "", ADDR, 20061)

struct want {
	int world_size, num_nodes, node_rank, local_world_size, first_rank;
	bool external;
	int rank, local_rank;
	const char *launcher, *main_addr;
	int main_port;
};

struct resolve_case {
	const char *name;
	const char *const *vars;
	const char *rankfile; /* text of the RANKFILE entry, or NULL */
	const char *host;     /* this host's name */
	struct lt_request req;
	struct want want;
	const char *err; /* NULL: resolve succeeds */
};

static const struct resolve_case cases[] = {
	/* --- tasks started by jsrun --- */
	{ "jsrun on Summit, rankfile, rank 5 on h2",
	  ENV("LSB_JOBID=1234", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=5", "JSM_NAMESPACE_LOCAL_RANK=1"),
	  SUMMIT_RANKFILE, "h2", AUTO,
	  WANT(8, 2, 1, 4, 4, true, 5, 1, "jsrun", "h1", 20061) },
	{ "jsrun with JSM_NAMESPACE_LOCAL_SIZE, rank 0 on h1",
	  ENV("LSB_JOBID=1234", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=12",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0",
	      "JSM_NAMESPACE_LOCAL_SIZE=6"),
	  NULL, "h1.summit.olcf.ornl.gov", AUTO,
	  WANT(12, 2, 0, 6, 0, true, 0, 0, "jsrun", "h1", 20061) },
	{ "jsrun on a host missing from the list: node from rank / local size",
	  ENV("LSB_JOBID=777", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=3", "JSM_NAMESPACE_LOCAL_RANK=1",
	      "JSM_NAMESPACE_LOCAL_SIZE=2"),
	  NULL, "elsewhere", AUTO,
	  WANT(4, 2, 1, 2, 2, true, 3, 1, "jsrun", "h1", 30188) },
	{ "jsrun with matching --devices and --num-nodes",
	  ENV("LSB_JOBID=1234", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=2", "JSM_NAMESPACE_LOCAL_RANK=2"),
	  SUMMIT_RANKFILE, "h1", REQ(4, 2, 0),
	  WANT(8, 2, 0, 4, 0, true, 2, 2, "jsrun", "h1", 20061) },
	{ "jsrun with MASTER_ADDR and MASTER_PORT",
	  ENV("LSB_JOBID=1234", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=7", "JSM_NAMESPACE_LOCAL_RANK=3",
	      "MASTER_ADDR=10.1.2.3", "MASTER_PORT=12345"),
	  SUMMIT_RANKFILE, "h2", AUTO,
	  WANT(8, 2, 1, 4, 4, true, 7, 3, "jsrun", "10.1.2.3", 12345) },

	/* --- bsub scripts: ltrun creates the ranks --- */
	{ "bsub, LSB_MCPU_HOSTS with a batch host, on h2, --devices 6",
	  ENV("LSB_JOBID=1234", SUMMIT_MCPU), NULL, "h2", REQ(6, LT_AUTO, LT_AUTO),
	  WANT(12, 2, 1, 6, 6, false, -1, -1, "", "h1", 20061) },
	{ "bsub, rankfile with a batch host, on h1",
	  ENV("LSB_JOBID=1234", RANKFILE), SUMMIT_RANKFILE, "h1",
	  REQ(4, LT_AUTO, LT_AUTO),
	  WANT(8, 2, 0, 4, 0, false, -1, -1, "", "h1", 20061) },
	{ "bsub, the rankfile wins over LSB_MCPU_HOSTS",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=x 1 y 2 z 2", RANKFILE),
	  SUMMIT_RANKFILE, "h2", AUTO,
	  WANT(2, 2, 1, 1, 1, false, -1, -1, "", "h1", 20061) },
	{ "bsub, rankfile with CRLF, blanks and blank lines",
	  ENV("LSB_JOBID=1234", RANKFILE),
	  "launch\r\n\r\n  c1  \r\nc1\nc2\t\n\nc2\nc3\n", "c3", AUTO,
	  WANT(3, 3, 2, 1, 2, false, -1, -1, "", "c1", 20061) },
	{ "bsub, LSB_HOSTS one name per slot, batch host first",
	  ENV("LSB_JOBID=1234", "LSB_HOSTS=hostA hostB hostB hostB hostC hostC"),
	  NULL, "hostC.cluster", REQ(2, LT_AUTO, LT_AUTO),
	  WANT(4, 2, 1, 2, 2, false, -1, -1, "", "hostB", 20061) },
	{ "bsub, a first host with several slots is a compute host",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=h1 4 h2 4 "), NULL, "h1", AUTO,
	  WANT(2, 2, 0, 1, 0, false, -1, -1, "", "h1", 20061) },
	{ "bsub, one host with one slot stays",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=solo 1"), NULL, "solo", AUTO,
	  WANT(1, 1, 0, 1, 0, false, -1, -1, "", "solo", 20061) },
	{ "bsub, a host listed twice is one node",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1 2 h2 2 h1 2"), NULL, "h2",
	  REQ(3, 2, LT_AUTO),
	  WANT(6, 2, 1, 3, 3, false, -1, -1, "", "h1", 20061) },
	{ "bsub, --node-rank on a host missing from the list",
	  ENV("LSB_JOBID=1234", SUMMIT_MCPU), NULL, "login1", REQ(2, 2, 1),
	  WANT(4, 2, 1, 2, 2, false, -1, -1, "", "h1", 20061) },
	{ "bsub with --main-addr and --main-port",
	  ENV("LSB_JOBID=1234", SUMMIT_MCPU), NULL, "h1",
	  { .devices = 2, .num_nodes = LT_AUTO, .node_rank = LT_AUTO,
	    .main_addr = "head", .main_port = 4242, .auto_devices = 1 },
	  WANT(4, 2, 0, 2, 0, false, -1, -1, "", "head", 4242) },

	/* --- finding this host: whole names, then short names --- */
	{ "bsub, IP rankfile, this host named by its IP",
	  ENV("LSB_JOBID=1234", RANKFILE),
	  "10.10.10.1\n10.10.10.2\n10.10.10.2\n10.10.10.3\n10.10.10.3\n",
	  "10.10.10.3", AUTO, NODE1_OF_2("10.10.10.2") },
	{ "bsub, an IP is never shortened to match a host '10'",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 10 2 10.1.1.1 2"), NULL,
	  "10.1.1.1", AUTO, NODE1_OF_2("10") },
	{ "bsub, IPv6 rankfile, this host named by its IP",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=fd00::1 1 fd00::2 2 fd00::3 2"), NULL,
	  "fd00::3", AUTO, NODE1_OF_2("fd00::2") },
	{ "bsub, FQDN rankfile, short host name",
	  ENV("LSB_JOBID=1234", RANKFILE), FQDN_RANKFILE, "h2", AUTO,
	  NODE1_OF_2("h1.example.org") },
	{ "bsub, FQDN rankfile, FQDN host name",
	  ENV("LSB_JOBID=1234", RANKFILE), FQDN_RANKFILE, "h2.example.org", AUTO,
	  NODE1_OF_2("h1.example.org") },
	{ "bsub, short rankfile, FQDN host name",
	  ENV("LSB_JOBID=1234", RANKFILE), "batch\nh1\nh1\nh2\nh2\n", "h2.example.org",
	  AUTO, NODE1_OF_2("h1") },
	{ "bsub, the whole name wins over a short-name match",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1 2 h1.x.org 2"), NULL,
	  "h1.x.org", AUTO, NODE1_OF_2("h1") },
	{ "jsrun, FQDN rankfile, short host name",
	  ENV("LSB_JOBID=1234", RANKFILE, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=3", "JSM_NAMESPACE_LOCAL_RANK=1"),
	  FQDN_RANKFILE, "h2", AUTO,
	  WANT(4, 2, 1, 2, 2, true, 3, 1, "jsrun", "h1.example.org", 20061) },
	{ "bsub, two entries share this host's short name",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1.a.org 2 h1.b.org 2"), NULL,
	  "h1", AUTO, { 0 },
	  "this host 'h1' matches both 'h1.a.org' and 'h1.b.org' of LSB_MCPU_HOSTS='b 1 h1.a.org 2 h1.b.org 2' by its short name: pass --node-rank" },
	{ "bsub, an IP host missing from an IP list",
	  ENV("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 10.0.0.1 2 10.0.0.2 2"), NULL,
	  "10.0.0.9", AUTO, { 0 },
	  "this host '10.0.0.9' is not a compute host" },
	{ "LSB_JOBID missing: not an LSF job",
	  ENV(SUMMIT_MCPU), NULL, "h1", AUTO, { 0 },
	  "LSB_JOBID is not set: this is not an LSF job" },

	/* --- malformed values --- */
	{ "LSB_MCPU_HOSTS with a slot count that is not a number",
	  ENV("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 x"), NULL, "h1", AUTO, { 0 },
	  "invalid LSB_MCPU_HOSTS='h1 x': slot count 'x' of host 'h1' is not a number" },
	{ "LSB_MCPU_HOSTS with a zero slot count",
	  ENV("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 0"), NULL, "h1", AUTO, { 0 },
	  "slot count '0' of host 'h1' is not a number from 1 to 65536" },
	{ "LSB_MCPU_HOSTS missing a slot count",
	  ENV("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 2 h2"), NULL, "h1", AUTO, { 0 },
	  "invalid LSB_MCPU_HOSTS='h1 2 h2': host 'h2' has no slot count" },
	{ "LSB_MCPU_HOSTS empty", ENV("LSB_JOBID=1", "LSB_MCPU_HOSTS= "), NULL,
	  "h1", AUTO, { 0 }, "LSB_MCPU_HOSTS=' ' lists no hosts" },
	{ "LSB_HOSTS with a bad host name",
	  ENV("LSB_JOBID=1", "LSB_HOSTS=h1 -bad"), NULL, "h1", AUTO, { 0 },
	  "invalid host name '-bad' in LSB_HOSTS='h1 -bad'" },
	{ "missing rankfile",
	  ENV("LSB_JOBID=1", "LSB_DJOB_RANKFILE=/nonexistent/ltrun-test/rankfile"),
	  NULL, "h1", AUTO, { 0 },
	  "cannot open LSB_DJOB_RANKFILE='/nonexistent/ltrun-test/rankfile': No such file or directory" },
	{ "empty rankfile", ENV("LSB_JOBID=1", RANKFILE), "\n\n", "h1", AUTO, { 0 },
	  "lists no hosts" },
	{ "no host list at all", ENV("LSB_JOBID=1"), NULL, "h1", AUTO, { 0 },
	  "none of LSB_DJOB_RANKFILE, LSB_MCPU_HOSTS and LSB_HOSTS is set" },
	{ "LSB_JOBID=abc", ENV("LSB_JOBID=abc", SUMMIT_MCPU), NULL, "h1", AUTO,
	  { 0 }, "invalid LSB_JOBID='abc'" },
	{ "JSM_NAMESPACE_RANK=abc",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=abc", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  NULL, "h1", AUTO, { 0 }, "invalid JSM_NAMESPACE_RANK='abc'" },
	{ "JSM_NAMESPACE_SIZE missing",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_RANK=0",
	      "JSM_NAMESPACE_LOCAL_RANK=0"),
	  NULL, "h1", AUTO, { 0 }, "JSM_NAMESPACE_SIZE is not set" },
	{ "JSM_NAMESPACE_LOCAL_SIZE=0",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0",
	      "JSM_NAMESPACE_LOCAL_SIZE=0"),
	  NULL, "h1", AUTO, { 0 }, "invalid JSM_NAMESPACE_LOCAL_SIZE='0'" },
	{ "jsrun rank beyond the world",
	  ENV("LSB_JOBID=1", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=8", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  SUMMIT_RANKFILE, "h1", AUTO, { 0 }, "jsrun gave rank 8 of a world of 8" },
	{ "jsrun and --devices x --num-nodes disagree",
	  ENV("LSB_JOBID=1", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  SUMMIT_RANKFILE, "h1", REQ(4, 1, LT_AUTO), { 0 },
	  "--devices 4 x --num-nodes 1 = 4 ranks, but jsrun started JSM_NAMESPACE_SIZE=8" },
	{ "jsrun and --devices disagree",
	  ENV("LSB_JOBID=1", RANKFILE, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  SUMMIT_RANKFILE, "h1", REQ(2, LT_AUTO, LT_AUTO), { 0 },
	  "--devices 2 disagrees with jsrun, which started 4 ranks on this node" },
	{ "jsrun on an unknown host without JSM_NAMESPACE_LOCAL_SIZE",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  NULL, "elsewhere", AUTO, { 0 },
	  "this host 'elsewhere' is not in LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42' and JSM_NAMESPACE_LOCAL_SIZE is unset" },
	{ "bsub on a host that is not a compute host",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU), NULL, "batch1", AUTO, { 0 },
	  "this host 'batch1' is not a compute host of LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42'" },
	{ "bsub and --num-nodes disagree",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU), NULL, "h1", REQ(LT_AUTO, 3, LT_AUTO),
	  { 0 },
	  "--num-nodes 3 disagrees with LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42', which has 2 compute hosts" },
	{ "bsub and --node-rank out of range",
	  ENV("LSB_JOBID=1", SUMMIT_MCPU), NULL, "h1", REQ(LT_AUTO, LT_AUTO, 2),
	  { 0 }, "node rank 2 is out of range for 2 nodes" },
};

/* Writes text to a new temporary file; returns its path (static buffer). */
static const char *write_rankfile(const char *text, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/ltrun-test-rankfile-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp failed");
	cr_assert_eq(write(fd, text, len), (ssize_t)len, "short write to %s", path);
	close(fd);
	return path;
}

/* Copies vars, pointing the RANKFILE entry at `path`.  Free the result. */
static const char **with_rankfile(const char *const *vars, const char *path,
				  char *entry, size_t len)
{
	size_t i, n = 0;
	const char **out;

	while (vars[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	cr_assert_not_null(out);
	snprintf(entry, len, "LSB_DJOB_RANKFILE=%s", path);
	for (i = 0; i < n; i++)
		out[i] = strcmp(vars[i], RANKFILE) ? vars[i] : entry;
	return out;
}

static int run_resolve(const struct resolve_case *c, struct lt_topology *t,
		       struct lt_err *err)
{
	const struct lt_cluster_ops *ops = lt_env_lsf.ops;
	const char *path = NULL, **vars = NULL;
	char entry[128];
	struct lt_envsrc env = { .vars = c->vars, .hostname = c->host };
	int rc;

	if (c->rankfile) {
		path = write_rankfile(c->rankfile, strlen(c->rankfile));
		vars = with_rankfile(c->vars, path, entry, sizeof(entry));
		env.vars = vars;
	}
	memset(err, 0, sizeof(*err));
	rc = ops->resolve(&env, &c->req, t, err);
	if (path)
		unlink(path);
	free(vars);
	return rc;
}

static void check_topology(const struct resolve_case *c, const struct lt_topology *t)
{
	const struct want *w = &c->want;

	cr_expect_eq(t->world_size, w->world_size, "%s: world_size %d, want %d",
		     c->name, t->world_size, w->world_size);
	cr_expect_eq(t->num_nodes, w->num_nodes, "%s: num_nodes %d, want %d",
		     c->name, t->num_nodes, w->num_nodes);
	cr_expect_eq(t->node_rank, w->node_rank, "%s: node_rank %d, want %d",
		     c->name, t->node_rank, w->node_rank);
	cr_expect_eq(t->local_world_size, w->local_world_size,
		     "%s: local_world_size %d, want %d", c->name,
		     t->local_world_size, w->local_world_size);
	cr_expect_eq(t->first_rank, w->first_rank, "%s: first_rank %d, want %d",
		     c->name, t->first_rank, w->first_rank);
	cr_expect_eq(t->external, w->external, "%s: external %d, want %d",
		     c->name, t->external, w->external);
	cr_expect_eq(t->rank, w->rank, "%s: rank %d, want %d", c->name, t->rank,
		     w->rank);
	cr_expect_eq(t->local_rank, w->local_rank, "%s: local_rank %d, want %d",
		     c->name, t->local_rank, w->local_rank);
	cr_expect_str_eq(t->launcher, w->launcher, "%s: launcher '%s', want '%s'",
			 c->name, t->launcher, w->launcher);
	cr_expect_str_eq(t->main_addr, w->main_addr, "%s: main_addr '%s', want '%s'",
			 c->name, t->main_addr, w->main_addr);
	cr_expect_eq(t->main_port, w->main_port, "%s: main_port %d, want %d",
		     c->name, t->main_port, w->main_port);
	cr_expect(t->addr_from[0] && t->port_from[0],
		  "%s: addr_from '%s' and port_from '%s' must say where they came from",
		  c->name, t->addr_from, t->port_from);
}

ParameterizedTestParameters(env_lsf, resolve)
{
	return LT_TABLE_PARAMS(cases);
}

ParameterizedTest(size_t *i, env_lsf, resolve)
{
	const struct resolve_case *c = &cases[*i];
	struct lt_topology t;
	struct lt_err err;
	int rc = run_resolve(c, &t, &err);

	if (c->err) {
		cr_assert_eq(rc, -1, "%s: resolve succeeded, want error '%s'", c->name,
			     c->err);
		cr_expect_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name,
			     err.status);
		cr_expect(strstr(err.msg, c->err) != NULL,
			  "%s: error '%s' does not contain '%s'", c->name, err.msg,
			  c->err);
		cr_expect(strchr(err.msg, '\n') == NULL, "%s: error is not one line",
			  c->name);
		return;
	}
	cr_assert_eq(rc, 0, "%s: resolve failed: %s", c->name, err.msg);
	check_topology(c, &t);
}

/* --- rankfile caps, which a string table cannot hold --- */

struct rankfile_case {
	const char *name;
	size_t lines;   /* "h<i % 2>\n" lines after a batch host */
	bool nul;       /* a NUL byte in the middle */
	const char *err;
};

static const struct rankfile_case rankfile_cases[] = {
	{ "a rankfile over 1 MiB", 400000, false, "is larger than 1048576 bytes" },
	{ "a rankfile over 65536 lines", 70000, false, "has more than 65536 lines" },
	{ "a rankfile with a NUL byte", 4, true, "holds a NUL byte" },
	{ "a rankfile of 60000 lines", 60000, false, NULL },
};

ParameterizedTestParameters(env_lsf, rankfile_caps)
{
	return LT_TABLE_PARAMS(rankfile_cases);
}

ParameterizedTest(size_t *i, env_lsf, rankfile_caps)
{
	const struct rankfile_case *c = &rankfile_cases[*i];
	const struct lt_cluster_ops *ops = lt_env_lsf.ops;
	size_t k, len = 0, cap = c->lines * 8 + 16;
	char *text = malloc(cap), entry[128];
	const char *vars[] = { "LSB_JOBID=1234", entry, NULL };
	struct lt_envsrc env = { .vars = vars, .hostname = "h1" };
	struct lt_request req = REQ(2, LT_AUTO, LT_AUTO);
	struct lt_topology t;
	struct lt_err err = { 0 };
	const char *path;
	int rc;

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "batch\n");
	for (k = 0; k < c->lines; k++)
		len += (size_t)snprintf(text + len, cap - len, "%s\n",
					k < c->lines / 2 ? "h1" : "h2");
	if (c->nul)
		text[len / 2] = '\0';
	path = write_rankfile(text, len);
	snprintf(entry, sizeof(entry), "LSB_DJOB_RANKFILE=%s", path);
	rc = ops->resolve(&env, &req, &t, &err);
	unlink(path);
	free(text);
	if (c->err) {
		cr_assert_eq(rc, -1, "%s: resolve succeeded", c->name);
		cr_expect(strstr(err.msg, c->err) != NULL, "%s: error '%s' lacks '%s'",
			  c->name, err.msg, c->err);
		cr_expect(strstr(err.msg, path) != NULL, "%s: error '%s' lacks the path",
			  c->name, err.msg);
		return;
	}
	cr_assert_eq(rc, 0, "%s: %s", c->name, err.msg);
	cr_expect_eq(t.num_nodes, 2);
	cr_expect_eq(t.node_rank, 0);
	cr_expect_eq(t.world_size, 4);
	cr_expect_str_eq(t.main_addr, "h1");
}

/* --- detect --- */

struct detect_case {
	const char *name;
	const char *const *vars;
	bool yes;
	const char *why;
};

static const struct detect_case detect_cases[] = {
	{ "bsub job", ENV("LSB_JOBID=42", "LSB_HOSTS=a b"), true, "a bsub job" },
	{ "jsrun task", ENV("LSB_JOBID=42", "JSM_NAMESPACE_RANK=0"), true,
	  "a task started by jsrun" },
	{ "jsrun variables without LSB_JOBID", ENV("JSM_NAMESPACE_RANK=0"), false,
	  "LSB_JOBID is not set" },
	{ "slurm, not lsf", ENV("SLURM_JOB_ID=5", "LSB_JOBIDX=1"), false,
	  "LSB_JOBID is not set" },
	{ "empty environment", ((const char *const[]){ NULL }), false,
	  "LSB_JOBID is not set" },
};

ParameterizedTestParameters(env_lsf, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, env_lsf, detect)
{
	const struct detect_case *c = &detect_cases[*i];
	const struct lt_cluster_ops *ops = lt_env_lsf.ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "h1" };
	char why[256] = "";
	bool yes = ops->detect(&env, why, sizeof(why));

	cr_expect_eq(yes, c->yes, "%s: detect %d, want %d", c->name, yes, c->yes);
	cr_expect(strstr(why, c->why) != NULL, "%s: why '%s' lacks '%s'", c->name,
		  why, c->why);
}

Test(env_lsf, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_lsf.ops;

	cr_assert_eq(lt_env_lsf.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_lsf.name, "lsf");
	cr_assert(lt_env_lsf.description && lt_env_lsf.description[0]);
	cr_assert(lt_env_lsf.recommended_when && lt_env_lsf.recommended_when[0]);
	cr_assert_null(lt_env_lsf.alias_of);
	cr_assert_not_null(ops);
	cr_assert_eq(ops->priority, LT_PRIO_LSF);
	cr_assert(ops->detect && ops->resolve);
}
