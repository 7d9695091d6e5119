/*
 * test_hostfile.c - the example cluster environment
 * (examples/plugins/hostfile_env.so), loaded as ltrun loads a --plugin:
 * its hostfile cases through the shared env_cases.h tables, and its
 * parameter schema (file=, port=) through lt_cluster_select(), as
 * `--cluster hostfile:file=PATH` reaches it.  test_train.c trains the
 * digits MLP through it; test_dryrun.c plans with it.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/registry.h"
#include "env/env.h"
#include "params.h"
#include "run.h"
#include "unit/env_cases.h"

#define SO "examples/plugins/hostfile_env.so"
#define HOSTS(text) FILE_VAR("HOSTFILE_ENV_FILE", text)
#define TWO_NODES "# two nodes\nalpha slots=2\nbeta.example.org slots=2  # second\n\n"
#define HF_FROM .addr_from = "the first host in the hostfile, HOSTFILE_ENV_FILE"
#define DEFAULT_PORT .main_port = 29500, .port_from = "the parameter port"

static struct lt_registry *reg;
static const struct lt_plugin *hostfile;

static void setup(void)
{
	struct lt_err err = { 0 };

	if (access(build_path(SO), R_OK))
		cr_skip_test("%s was not built", build_path(SO));
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
	cr_assert_eq(lt_plugin_load(reg, build_path(SO), &err), 0, "%s", err.msg);
	hostfile = lt_registry_find(reg, LT_KIND_CLUSTER, "hostfile");
	cr_assert_not_null(hostfile);
}

static void teardown(void)
{
	lt_registry_free(reg);
}

TestSuite(hostfile, .init = setup, .fini = teardown, .timeout = 30);

static const struct resolve_case resolve_cases[] = {
	{ "second host by its short name",
	  VARS(HOSTS(TWO_NODES)), AUTO_REQ,
	  { OWN(4, 2, 1, 2, 2), .main_addr = "alpha", DEFAULT_PORT, HF_FROM },
	  NULL, "beta" },
	{ "first host, MASTER_PORT",
	  VARS(HOSTS(TWO_NODES), "MASTER_PORT=4100"), AUTO_REQ,
	  { OWN(4, 2, 0, 2, 0), .main_addr = "alpha", .main_port = 4100, HF_FROM,
	    .port_from = "MASTER_PORT" },
	  NULL, "alpha" },
	{ "--devices over unequal slots, --main-addr and --main-port",
	  VARS(HOSTS("a slots=1\nb slots=3\nc\n")), REQ(2, LT_AUTO, LT_AUTO, "10.0.0.1", 5000),
	  { OWN(6, 3, 2, 2, 4), .main_addr = "10.0.0.1", .main_port = 5000,
	    .addr_from = "--main-addr", .port_from = "--main-port" },
	  NULL, "c" },
	{ "--node-rank on a host not in the file",
	  VARS(HOSTS(TWO_NODES)), REQ(LT_AUTO, LT_AUTO, 1, NULL, 0),
	  { OWN(4, 2, 1, 2, 2), .main_addr = "alpha", DEFAULT_PORT, HF_FROM },
	  NULL, "elsewhere" },
	{ "this host not in the file",
	  VARS(HOSTS(TWO_NODES)), AUTO_REQ, { 0 },
	  "this host 'gamma' is not in hostfile", "gamma" },
	{ "hostfile missing",
	  VARS("HOSTFILE_ENV_FILE=/nonexistent/ltrun-hosts"), AUTO_REQ, { 0 },
	  "cannot read hostfile '/nonexistent/ltrun-hosts' (HOSTFILE_ENV_FILE): No such file", NULL },
};

ParameterizedTestParameters(hostfile, resolve)
{
	return LT_TABLE_PARAMS(resolve_cases);
}

ParameterizedTest(size_t *i, hostfile, resolve)
{
	check_resolve(hostfile, &resolve_cases[*i]);
}

static const struct detect_case detect_cases[] = {
	{ "HOSTFILE_ENV_FILE set", VARS("HOSTFILE_ENV_FILE=/x/hosts"), true,
	  "HOSTFILE_ENV_FILE is set (/x/hosts)" },
	{ "HOSTFILE_ENV_FILE empty", VARS("HOSTFILE_ENV_FILE="), false,
	  "neither file= nor HOSTFILE_ENV_FILE is set" },
	{ "nothing", NO_VARS, false, "neither file= nor HOSTFILE_ENV_FILE is set" },
};

ParameterizedTestParameters(hostfile, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, hostfile, detect)
{
	check_detect(hostfile, &detect_cases[*i]);
}

/* ---------------------------------------------------------- parameters */

/* Writes text to a new file; its path into path. */
static void write_hosts(const char *text, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/ltrun-hosts-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Selects `spec` as --cluster does, then resolves the topology with the
 * parameters it selected. */
static int select_and_resolve(const char *spec, const char *const *vars, const char *host,
			      struct lt_topology *t, char *why, struct lt_err *err)
{
	struct lt_envsrc env = { .vars = vars, .hostname = host };
	struct lt_request req = AUTO_REQ;
	struct lt_choice c;
	int rc;

	memset(err, 0, sizeof(*err));
	if (lt_cluster_select(reg, &env, spec, NULL, &c, why, 256, err))
		return -1;
	cr_expect_eq(c.base, hostfile, "'%s' selected '%s'", spec, c.base->name);
	rc = ((const struct lt_cluster_ops *)c.base->ops)->resolve(&env, c.params, &req, t, err);
	lt_choice_free(&c);
	return rc;
}

Test(hostfile, declares_its_parameters)
{
	const struct lt_param_spec *s = hostfile->params;

	cr_assert_not_null(s, "the example shows a parameter schema");
	cr_expect_str_eq(s[0].name, "file");
	cr_expect_eq(s[0].type, LT_PARAM_STRING);
	cr_expect_str_eq(s[1].name, "port");
	cr_expect_eq(s[1].type, LT_PARAM_INT);
	cr_expect_null(s[2].name);
}

Test(hostfile, file_parameter_names_the_hostfile)
{
	static const char *const bare[] = { NULL };
	char path[64], spec[128], why[256];
	struct lt_topology t;
	struct lt_err err;

	write_hosts("n0 slots=3\nn1 slots=3\n", path, sizeof(path));
	snprintf(spec, sizeof(spec), "hostfile:file=%s", path);
	cr_assert_eq(select_and_resolve(spec, bare, "n1", &t, why, &err), 0, "%s", err.msg);
	cr_expect_eq(t.world_size, 6);
	cr_expect_eq(t.node_rank, 1);
	cr_expect_str_eq(t.main_addr, "n0");
	cr_expect_eq(t.main_port, 29500);
	cr_expect_not_null(strstr(t.addr_from, "file="), "%s", t.addr_from);
	cr_expect_not_null(strstr(why, "forced by --cluster hostfile:file="), "%s", why);
	unlink(path);
}

Test(hostfile, file_parameter_wins_over_ltrun_hostfile)
{
	char path[64], spec[128], why[256];
	const char *vars[] = { "HOSTFILE_ENV_FILE=/nonexistent/hosts", NULL };
	struct lt_topology t;
	struct lt_err err;

	write_hosts("solo slots=2\n", path, sizeof(path));
	snprintf(spec, sizeof(spec), "hostfile:file=%s,port=4242", path);
	cr_assert_eq(select_and_resolve(spec, vars, "solo", &t, why, &err), 0, "%s", err.msg);
	cr_expect_eq(t.world_size, 2);
	cr_expect_eq(t.main_port, 4242, "the port parameter");
	unlink(path);
}

Test(hostfile, bad_parameters_are_refused_by_name)
{
	static const struct { const char *spec, *want; } bad[] = {
		{ "hostfile:port=0", "port" },
		{ "hostfile:port=65536", "port" },
		{ "hostfile:port=x", "port" },
		{ "hostfile:flie=/x", "file" }, /* the valid names are offered */
	};
	static const char *const bare[] = { NULL };
	char why[256];
	struct lt_topology t;
	struct lt_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(select_and_resolve(bad[i].spec, bare, "h", &t, why, &err), -1,
			     "%s", bad[i].spec);
		cr_expect_eq(err.status, LT_EXIT_USAGE, "%s: %s", bad[i].spec, err.msg);
		cr_expect_not_null(strstr(err.msg, bad[i].want), "%s: %s", bad[i].spec, err.msg);
		cr_expect_null(strchr(err.msg, '\n'), "%s", err.msg);
	}
}

Test(hostfile, forced_without_a_hostfile_says_how_to_give_one)
{
	static const char *const bare[] = { NULL };
	char why[256];
	struct lt_topology t;
	struct lt_err err;

	cr_expect_eq(select_and_resolve("hostfile", bare, "h", &t, why, &err), -1);
	cr_expect_eq(err.status, LT_EXIT_FAILURE);
	cr_expect_not_null(strstr(err.msg, "--cluster hostfile: no hostfile"), "%s", err.msg);
}

Test(hostfile, probed_above_the_bare_node)
{
	const char *vars[] = { "HOSTFILE_ENV_FILE=/x/hosts", NULL };
	struct lt_envsrc env = { .vars = vars };
	struct lt_choice c;
	struct lt_err err = { 0 };
	char why[256];

	cr_assert_eq(lt_cluster_select(reg, &env, NULL, NULL, &c, why, sizeof(why), &err), 0,
		     "%s", err.msg);
	cr_expect_eq(c.base, hostfile);
	cr_expect_str_eq(why, "HOSTFILE_ENV_FILE is set (/x/hosts)");
	lt_choice_free(&c);
}
