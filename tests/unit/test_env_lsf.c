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

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

/* LSB_DJOB_RANKFILE naming a file that holds text. */
#define RANKFILE(text) FILE_VAR("LSB_DJOB_RANKFILE", text)
#define SUMMIT_RANKFILE "batch1\nh1\nh1\nh1\nh1\nh2\nh2\nh2\nh2\n"
#define SUMMIT_MCPU "LSB_MCPU_HOSTS=batch1 1 h1 42 h2 42"
#define FQDN_RANKFILE \
	"batch.example.org\nh1.example.org\nh1.example.org\nh2.example.org\nh2.example.org\n"
/* bsub, LSB_JOBID=1234: this host is the second of two, one rank each. */
/* bsub, LSB_JOBID=1234: this host is the second of two, one rank each. */
#define NODE1_OF_2(ADDR) \
	{ OWN(2, 2, 1, 1, 1), .main_addr = (ADDR), .main_port = 20061, .job_id = "1234" }

static const struct resolve_case cases[] = {
	/* --- tasks started by jsrun --- */
	{ "jsrun on Summit, rankfile, rank 5 on h2",
	  VARS("LSB_JOBID=1234", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=5", "JSM_NAMESPACE_LOCAL_RANK=1"),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 5, 1, "jsrun"),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h2" },
	{ "jsrun with JSM_NAMESPACE_LOCAL_SIZE, rank 0 on h1",
	  VARS("LSB_JOBID=1234", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=12",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0",
	      "JSM_NAMESPACE_LOCAL_SIZE=6"),
	  AUTO_REQ,
	  { ADOPTED(12, 2, 0, 6, 0, 0, 0, "jsrun"),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h1.summit.olcf.ornl.gov" },
	{ "jsrun on a host missing from the list: node from rank / local size",
	  VARS("LSB_JOBID=777", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=3", "JSM_NAMESPACE_LOCAL_RANK=1",
	      "JSM_NAMESPACE_LOCAL_SIZE=2"),
	  AUTO_REQ,
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "jsrun"),
	    .main_addr = "h1", .main_port = 30188, .job_id = "777" },
	  NULL, "elsewhere" },
	{ "jsrun with matching --devices and --num-nodes",
	  VARS("LSB_JOBID=1234", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=2", "JSM_NAMESPACE_LOCAL_RANK=2"),
	  REQ(4, 2, 0, NULL, 0),
	  { ADOPTED(8, 2, 0, 4, 0, 2, 2, "jsrun"),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h1" },
	{ "jsrun with MASTER_ADDR and MASTER_PORT",
	  VARS("LSB_JOBID=1234", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=7", "JSM_NAMESPACE_LOCAL_RANK=3",
	      "MASTER_ADDR=10.1.2.3", "MASTER_PORT=12345"),
	  AUTO_REQ,
	  { ADOPTED(8, 2, 1, 4, 4, 7, 3, "jsrun"),
	    .main_addr = "10.1.2.3", .main_port = 12345, .job_id = "1234" },
	  NULL, "h2" },

	/* --- bsub scripts: ltrun creates the ranks --- */
	{ "bsub, LSB_MCPU_HOSTS with a batch host, on h2, --devices 6",
	  VARS("LSB_JOBID=1234", SUMMIT_MCPU),
	  REQ(6, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(12, 2, 1, 6, 6),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h2" },
	{ "bsub, rankfile with a batch host, on h1",
	  VARS("LSB_JOBID=1234", RANKFILE(SUMMIT_RANKFILE)),
	  REQ(4, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(8, 2, 0, 4, 0),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h1" },
	{ "bsub, the rankfile wins over LSB_MCPU_HOSTS",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=x 1 y 2 z 2", RANKFILE(SUMMIT_RANKFILE)),
	  AUTO_REQ,
	  { OWN(2, 2, 1, 1, 1),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h2" },
	{ "bsub, rankfile with CRLF, blanks and blank lines",
	  VARS("LSB_JOBID=1234", RANKFILE("launch\r\n\r\n  c1  \r\nc1\nc2\t\n\nc2\nc3\n")),
	  AUTO_REQ,
	  { OWN(3, 3, 2, 1, 2),
	    .main_addr = "c1", .main_port = 20061, .job_id = "1234" },
	  NULL, "c3" },
	{ "bsub, LSB_HOSTS one name per slot, batch host first",
	  VARS("LSB_JOBID=1234", "LSB_HOSTS=hostA hostB hostB hostB hostC hostC"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(4, 2, 1, 2, 2),
	    .main_addr = "hostB", .main_port = 20061, .job_id = "1234" },
	  NULL, "hostC.cluster" },
	{ "bsub, a first host with several slots is a compute host",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=h1 4 h2 4 "),
	  AUTO_REQ,
	  { OWN(2, 2, 0, 1, 0),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h1" },
	{ "bsub, one host with one slot stays",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=solo 1"),
	  AUTO_REQ,
	  { OWN(1, 1, 0, 1, 0),
	    .main_addr = "solo", .main_port = 20061, .job_id = "1234" },
	  NULL, "solo" },
	{ "bsub, a host listed twice is one node",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1 2 h2 2 h1 2"),
	  REQ(3, 2, LT_AUTO, NULL, 0),
	  { OWN(6, 2, 1, 3, 3),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "h2" },
	{ "bsub, --node-rank on a host missing from the list",
	  VARS("LSB_JOBID=1234", SUMMIT_MCPU),
	  REQ(2, 2, 1, NULL, 0),
	  { OWN(4, 2, 1, 2, 2),
	    .main_addr = "h1", .main_port = 20061, .job_id = "1234" },
	  NULL, "login1" },
	{ "bsub with --main-addr and --main-port",
	  VARS("LSB_JOBID=1234", SUMMIT_MCPU),
	  { .devices = 2, .num_nodes = LT_AUTO, .node_rank = LT_AUTO,
	    .main_addr = "head", .main_port = 4242, .auto_devices = 1 },
	  { OWN(4, 2, 0, 2, 0),
	    .main_addr = "head", .main_port = 4242, .job_id = "1234" },
	  NULL, "h1" },

	/* --- finding this host: whole names, then short names --- */
	{ "bsub, IP rankfile, this host named by its IP",
	  VARS("LSB_JOBID=1234", RANKFILE("10.10.10.1\n10.10.10.2\n10.10.10.2\n10.10.10.3\n10.10.10.3\n")),
	  AUTO_REQ,
	  NODE1_OF_2("10.10.10.2"),
	  NULL, "10.10.10.3" },
	{ "bsub, an IP is never shortened to match a host '10'",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 10 2 10.1.1.1 2"),
	  AUTO_REQ,
	  NODE1_OF_2("10"),
	  NULL, "10.1.1.1" },
	{ "bsub, IPv6 rankfile, this host named by its IP",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=fd00::1 1 fd00::2 2 fd00::3 2"),
	  AUTO_REQ,
	  NODE1_OF_2("fd00::2"),
	  NULL, "fd00::3" },
	{ "bsub, FQDN rankfile, short host name",
	  VARS("LSB_JOBID=1234", RANKFILE(FQDN_RANKFILE)),
	  AUTO_REQ,
	  NODE1_OF_2("h1.example.org"),
	  NULL, "h2" },
	{ "bsub, FQDN rankfile, FQDN host name",
	  VARS("LSB_JOBID=1234", RANKFILE(FQDN_RANKFILE)),
	  AUTO_REQ,
	  NODE1_OF_2("h1.example.org"),
	  NULL, "h2.example.org" },
	{ "bsub, short rankfile, FQDN host name",
	  VARS("LSB_JOBID=1234", RANKFILE("batch\nh1\nh1\nh2\nh2\n")),
	  AUTO_REQ,
	  NODE1_OF_2("h1"),
	  NULL, "h2.example.org" },
	{ "bsub, the whole name wins over a short-name match",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1 2 h1.x.org 2"),
	  AUTO_REQ,
	  NODE1_OF_2("h1"),
	  NULL, "h1.x.org" },
	{ "jsrun, FQDN rankfile, short host name",
	  VARS("LSB_JOBID=1234", RANKFILE(FQDN_RANKFILE), "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=3", "JSM_NAMESPACE_LOCAL_RANK=1"),
	  AUTO_REQ,
	  { ADOPTED(4, 2, 1, 2, 2, 3, 1, "jsrun"),
	    .main_addr = "h1.example.org", .main_port = 20061, .job_id = "1234" },
	  NULL, "h2" },
	{ "bsub, two entries share this host's short name",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 h1.a.org 2 h1.b.org 2"),
	  AUTO_REQ,
	  { 0 },
	  "this host 'h1' matches both 'h1.a.org' and 'h1.b.org' of LSB_MCPU_HOSTS='b 1 h1.a.org 2 h1.b.org 2' by its short name: pass --node-rank", "h1" },
	{ "bsub, an IP host missing from an IP list",
	  VARS("LSB_JOBID=1234", "LSB_MCPU_HOSTS=b 1 10.0.0.1 2 10.0.0.2 2"),
	  AUTO_REQ,
	  { 0 },
	  "this host '10.0.0.9' is not a compute host", "10.0.0.9" },
	{ "LSB_JOBID missing: not an LSF job",
	  VARS(SUMMIT_MCPU),
	  AUTO_REQ,
	  { 0 },
	  "LSB_JOBID is not set: this is not an LSF job", "h1" },

	/* --- malformed values --- */
	{ "LSB_MCPU_HOSTS with a slot count that is not a number",
	  VARS("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 x"),
	  AUTO_REQ,
	  { 0 },
	  "invalid LSB_MCPU_HOSTS='h1 x': slot count 'x' of host 'h1' is not a number", "h1" },
	{ "LSB_MCPU_HOSTS with a zero slot count",
	  VARS("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 0"),
	  AUTO_REQ,
	  { 0 },
	  "slot count '0' of host 'h1' is not a number from 1 to 65536", "h1" },
	{ "LSB_MCPU_HOSTS missing a slot count",
	  VARS("LSB_JOBID=1", "LSB_MCPU_HOSTS=h1 2 h2"),
	  AUTO_REQ,
	  { 0 },
	  "invalid LSB_MCPU_HOSTS='h1 2 h2': host 'h2' has no slot count", "h1" },
	{ "LSB_MCPU_HOSTS empty",
	  VARS("LSB_JOBID=1", "LSB_MCPU_HOSTS= "),
	  AUTO_REQ,
	  { 0 },
	  "LSB_MCPU_HOSTS=' ' lists no hosts", "h1" },
	{ "LSB_HOSTS with a bad host name",
	  VARS("LSB_JOBID=1", "LSB_HOSTS=h1 -bad"),
	  AUTO_REQ,
	  { 0 },
	  "invalid host name '-bad' in LSB_HOSTS='h1 -bad'", "h1" },
	{ "missing rankfile",
	  VARS("LSB_JOBID=1", "LSB_DJOB_RANKFILE=/nonexistent/ltrun-test/rankfile"),
	  AUTO_REQ,
	  { 0 },
	  "cannot open LSB_DJOB_RANKFILE='/nonexistent/ltrun-test/rankfile': No such file or directory", "h1" },
	{ "empty rankfile",
	  VARS("LSB_JOBID=1", RANKFILE("\n\n")),
	  AUTO_REQ,
	  { 0 },
	  "lists no hosts", "h1" },
	{ "no host list at all",
	  VARS("LSB_JOBID=1"),
	  AUTO_REQ,
	  { 0 },
	  "none of LSB_DJOB_RANKFILE, LSB_MCPU_HOSTS and LSB_HOSTS is set", "h1" },
	{ "LSB_JOBID=abc",
	  VARS("LSB_JOBID=abc", SUMMIT_MCPU),
	  AUTO_REQ,
	  { 0 },
	  "invalid LSB_JOBID='abc'", "h1" },
	{ "JSM_NAMESPACE_RANK=abc",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=abc", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid JSM_NAMESPACE_RANK='abc'", "h1" },
	{ "JSM_NAMESPACE_SIZE missing",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_RANK=0",
	      "JSM_NAMESPACE_LOCAL_RANK=0"),
	  AUTO_REQ,
	  { 0 },
	  "JSM_NAMESPACE_SIZE is not set", "h1" },
	{ "JSM_NAMESPACE_LOCAL_SIZE=0",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=4",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0",
	      "JSM_NAMESPACE_LOCAL_SIZE=0"),
	  AUTO_REQ,
	  { 0 },
	  "invalid JSM_NAMESPACE_LOCAL_SIZE='0'", "h1" },
	{ "jsrun rank beyond the world",
	  VARS("LSB_JOBID=1", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=8", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  AUTO_REQ,
	  { 0 },
	  "jsrun gave rank 8 of a world of 8", "h1" },
	{ "jsrun and --devices x --num-nodes disagree",
	  VARS("LSB_JOBID=1", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  REQ(4, 1, LT_AUTO, NULL, 0),
	  { 0 },
	  "--devices 4 x --num-nodes 1 = 4 ranks, but jsrun started JSM_NAMESPACE_SIZE=8", "h1" },
	{ "jsrun and --devices disagree",
	  VARS("LSB_JOBID=1", RANKFILE(SUMMIT_RANKFILE), "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { 0 },
	  "--devices 2 disagrees with jsrun, which started 4 ranks on this node", "h1" },
	{ "jsrun on an unknown host without JSM_NAMESPACE_LOCAL_SIZE",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU, "JSM_NAMESPACE_SIZE=8",
	      "JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_LOCAL_RANK=0"),
	  AUTO_REQ,
	  { 0 },
	  "this host 'elsewhere' is not in LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42' and JSM_NAMESPACE_LOCAL_SIZE is unset", "elsewhere" },
	{ "bsub on a host that is not a compute host",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU),
	  AUTO_REQ,
	  { 0 },
	  "this host 'batch1' is not a compute host of LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42'", "batch1" },
	{ "bsub and --num-nodes disagree",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU),
	  REQ(LT_AUTO, 3, LT_AUTO, NULL, 0),
	  { 0 },
	  "--num-nodes 3 disagrees with LSB_MCPU_HOSTS='batch1 1 h1 42 h2 42', which has 2 compute hosts", "h1" },
	{ "bsub and --node-rank out of range",
	  VARS("LSB_JOBID=1", SUMMIT_MCPU),
	  REQ(LT_AUTO, LT_AUTO, 2, NULL, 0),
	  { 0 },
	  "node rank 2 is out of range for 2 nodes", "h1" },
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

ParameterizedTestParameters(env_lsf, resolve)
{
	return LT_TABLE_PARAMS(cases);
}

ParameterizedTest(size_t *i, env_lsf, resolve)
{
	check_resolve(&lt_env_lsf, &cases[*i]);
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
	struct lt_request req = REQ(2, LT_AUTO, LT_AUTO, NULL, 0);
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
	rc = ops->resolve(&env, NULL, &req, &t, &err);
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

static const struct detect_case detect_cases[] = {
	{ "bsub job", VARS("LSB_JOBID=42", "LSB_HOSTS=a b"), true, "a bsub job" },
	{ "jsrun task", VARS("LSB_JOBID=42", "JSM_NAMESPACE_RANK=0"), true,
	  "a task started by jsrun" },
	{ "jsrun variables without LSB_JOBID", VARS("JSM_NAMESPACE_RANK=0"), false,
	  "LSB_JOBID is not set" },
	{ "slurm, not lsf", VARS("SLURM_JOB_ID=5", "LSB_JOBIDX=1"), false,
	  "LSB_JOBID is not set" },
	{ "empty environment", NO_VARS, false,
	  "LSB_JOBID is not set" },
};

ParameterizedTestParameters(env_lsf, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, env_lsf, detect)
{
	check_detect(&lt_env_lsf, &detect_cases[*i]);
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
