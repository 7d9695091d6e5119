/*
 * test_env_kubeflow.c - the `kubeflow` cluster environment, fed the
 * variables the Kubeflow training operator sets in a PyTorchJob's pods.
 * Table-driven: each case is an environment, a request and the topology
 * (or error) it must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "params.h"
#include "env/env.h"

#define VARS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_VARS ((const char *const[]){ NULL })

/* A request: LT_AUTO / NULL / 0 where the user said nothing. */
#define REQ(dev, nodes, node, addr, port) \
	{ .devices = (dev), .num_nodes = (nodes), .node_rank = (node), \
	  .main_addr = (addr), .main_port = (port), .auto_devices = 1 }
#define AUTO_REQ REQ(LT_AUTO, LT_AUTO, LT_AUTO, NULL, 0)

/* Expected topologies: ranks ltrun creates (world, nodes, node, ranks on
 * node, first rank), and ranks a launcher created (plus this rank, its
 * local rank and the launcher's name). */
#define OWN(w, n, nr, lw, fr) \
	.world_size = (w), .num_nodes = (n), .node_rank = (nr), \
	.local_world_size = (lw), .first_rank = (fr), .external = false, \
	.rank = -1, .local_rank = -1, .launcher = ""
#define ADOPTED(w, n, nr, lw, fr, r, lr, by) \
	.world_size = (w), .num_nodes = (n), .node_rank = (nr), \
	.local_world_size = (lw), .first_rank = (fr), .external = true, \
	.rank = (r), .local_rank = (lr), .launcher = by

/* main_port 0 in want: any port, free on this host when resolved. */
#define FREE_PORT 0

struct resolve_case {
	const char *name;
	const char *const *vars;
	struct lt_request req;
	struct lt_topology want; /* addr_from/port_from: substrings */
	const char *error;       /* expected substring, or NULL for success */
	const char *hostname;    /* NULL: "testhost" */
};

struct detect_case {
	const char *name;
	const char *const *vars;
	bool want;
	const char *why; /* substring */
};

/* Criterion copies parameters into a separately started worker, where
 * the tables' pointers would dangle: tests take an index into them. */
static void check_topology(const char *name, const struct lt_topology *t,
			   const struct lt_topology *w)
{
	cr_expect_eq(t->world_size, w->world_size, "%s: world_size %d", name, t->world_size);
	cr_expect_eq(t->num_nodes, w->num_nodes, "%s: num_nodes %d", name, t->num_nodes);
	cr_expect_eq(t->node_rank, w->node_rank, "%s: node_rank %d", name, t->node_rank);
	cr_expect_eq(t->local_world_size, w->local_world_size, "%s: local_world_size %d",
		     name, t->local_world_size);
	cr_expect_eq(t->first_rank, w->first_rank, "%s: first_rank %d", name, t->first_rank);
	cr_expect_eq(t->external, w->external, "%s: external %d", name, t->external);
	cr_expect_eq(t->rank, w->rank, "%s: rank %d", name, t->rank);
	cr_expect_eq(t->local_rank, w->local_rank, "%s: local_rank %d", name, t->local_rank);
	cr_expect_str_eq(t->launcher, w->launcher, "%s: launcher '%s'", name, t->launcher);
	cr_expect_str_eq(t->main_addr, w->main_addr, "%s: main_addr '%s'", name, t->main_addr);
	if (w->main_port == FREE_PORT)
		cr_expect(t->main_port > 0 && t->main_port < 65536, "%s: main_port %d", name,
			  t->main_port);
	else
		cr_expect_eq(t->main_port, w->main_port, "%s: main_port %d", name, t->main_port);
	cr_expect_str_eq(t->job_id, w->job_id, "%s: job_id '%s'", name, t->job_id);
	cr_expect_not_null(strstr(t->addr_from, w->addr_from), "%s: addr_from '%s'", name,
			   t->addr_from);
	cr_expect_not_null(strstr(t->port_from, w->port_from), "%s: port_from '%s'", name,
			   t->port_from);
}

static void check_resolve(const struct lt_plugin *p, const struct resolve_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars,
				 .hostname = c->hostname ? c->hostname : "testhost" };
	struct lt_err err = { 0 };
	struct lt_topology t;
	int rc;

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	rc = ops->resolve(&env, &c->req, &t, &err);
	if (c->error) {
		cr_assert_eq(rc, -1, "%s: resolved, but should fail with '%s'", c->name, c->error);
		cr_assert_not_null(strstr(err.msg, c->error), "%s: error '%s' lacks '%s'",
				   c->name, err.msg, c->error);
		cr_assert_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name, err.status);
		return;
	}
	cr_assert_eq(rc, 0, "%s: failed: %s", c->name, err.msg);
	check_topology(c->name, &t, &c->want);
}

static void check_detect(const struct lt_plugin *p, const struct detect_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };
	char why[256] = "";

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	cr_assert_eq(ops->detect(&env, why, sizeof(why)), c->want, "%s: detect says %s (%s)",
		     c->name, c->want ? "no" : "yes", why);
	cr_assert_not_null(strstr(why, c->why), "%s: why '%s' lacks '%s'", c->name, why,
			   c->why);
}


/* What the operator gives the pods of a 2-pod PyTorchJob (the worker pod,
 * RANK=1), before and after training operator 1.7 (PET_*, WORLD_SIZE in
 * processes). */
#define KF_POD(rank, world) \
	"KUBERNETES_PORT=tcp://10.96.0.1:443", "MASTER_ADDR=job-master-0", \
	"MASTER_PORT=23456", "WORLD_SIZE=" world, "RANK=" rank, "PYTHONUNBUFFERED=0"
#define KF_FROM .addr_from = "MASTER_ADDR", .port_from = "MASTER_PORT"

static const struct resolve_case resolve_cases[] = {
	{ "master pod, one rank per pod",
	  VARS(KF_POD("0", "2")), AUTO_REQ,
	  { OWN(2, 2, 0, 1, 0), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--devices 4 in the pod with RANK=1 of WORLD_SIZE=2: ranks 4-7 of 8",
	  VARS(KF_POD("1", "2")), REQ(4, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(8, 2, 1, 4, 4), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--devices auto on an 8-GPU pod",
	  VARS(KF_POD("2", "3")),
	  { .devices = LT_AUTO, .num_nodes = LT_AUTO, .node_rank = LT_AUTO, .auto_devices = 8 },
	  { OWN(24, 3, 2, 8, 16), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--num-nodes and --node-rank that agree",
	  VARS(KF_POD("1", "2")), REQ(2, 2, 1, NULL, 0),
	  { OWN(4, 2, 1, 2, 2), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--main-addr and --main-port override the operator's",
	  VARS(KF_POD("1", "2")), REQ(LT_AUTO, LT_AUTO, LT_AUTO, "10.0.0.5", 5000),
	  { OWN(2, 2, 1, 1, 1), .main_addr = "10.0.0.5", .main_port = 5000,
	    .addr_from = "--main-addr", .port_from = "--main-port" },
	  NULL, NULL },
	{ "operator 1.7+: WORLD_SIZE counts processes, PET_NNODES the pods",
	  VARS(KF_POD("1", "8"), "PET_NNODES=2", "PET_NPROC_PER_NODE=4", "PET_NODE_RANK=1"),
	  AUTO_REQ,
	  { OWN(8, 2, 1, 4, 4), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--devices wins over PET_NPROC_PER_NODE",
	  VARS(KF_POD("1", "8"), "PET_NNODES=2", "PET_NPROC_PER_NODE=4"),
	  REQ(2, LT_AUTO, LT_AUTO, NULL, 0),
	  { OWN(4, 2, 1, 2, 2), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "elastic PET_NNODES range and nproc auto: WORLD_SIZE pods, --devices auto",
	  VARS(KF_POD("1", "3"), "PET_NNODES=1:3", "PET_NPROC_PER_NODE=auto"), AUTO_REQ,
	  { OWN(3, 3, 1, 1, 1), .main_addr = "job-master-0", .main_port = 23456, KF_FROM },
	  NULL, NULL },
	{ "--num-nodes disagrees with WORLD_SIZE",
	  VARS(KF_POD("1", "2")), REQ(LT_AUTO, 3, LT_AUTO, NULL, 0), { 0 },
	  "--num-nodes 3 disagrees with WORLD_SIZE=2", NULL },
	{ "--num-nodes disagrees with PET_NNODES",
	  VARS(KF_POD("1", "8"), "PET_NNODES=2"), REQ(LT_AUTO, 8, LT_AUTO, NULL, 0), { 0 },
	  "--num-nodes 8 disagrees with PET_NNODES=2", NULL },
	{ "--node-rank disagrees with RANK",
	  VARS(KF_POD("1", "2")), REQ(LT_AUTO, LT_AUTO, 0, NULL, 0), { 0 },
	  "--node-rank 0 disagrees with RANK=1", NULL },
	{ "RANK beyond the pods",
	  VARS(KF_POD("2", "2")), AUTO_REQ, { 0 },
	  "node rank 2 is out of range for 2 nodes", NULL },
	{ "WORLD_SIZE zero",
	  VARS(KF_POD("0", "0")), AUTO_REQ, { 0 }, "invalid WORLD_SIZE='0'", NULL },
	{ "RANK not a number",
	  VARS(KF_POD("one", "2")), AUTO_REQ, { 0 }, "invalid RANK='one'", NULL },
	{ "RANK missing (forced with --cluster kubeflow)",
	  VARS("KUBERNETES_PORT=tcp://10.96.0.1:443", "MASTER_ADDR=m", "MASTER_PORT=1",
	       "WORLD_SIZE=2"),
	  AUTO_REQ, { 0 }, "RANK is not set", NULL },
	{ "MASTER_PORT missing",
	  VARS("MASTER_ADDR=m", "WORLD_SIZE=2", "RANK=0"), AUTO_REQ, { 0 },
	  "MASTER_PORT is not set", NULL },
	{ "forced without MASTER_ADDR/MASTER_PORT, given by flags",
	  VARS("WORLD_SIZE=2", "RANK=1"), REQ(LT_AUTO, LT_AUTO, LT_AUTO, "10.0.0.7", 2345),
	  { OWN(2, 2, 1, 1, 1), .main_addr = "10.0.0.7", .main_port = 2345,
	    .addr_from = "--main-addr", .port_from = "--main-port" },
	  NULL, NULL },
	{ "MASTER_ADDR not a host",
	  VARS("MASTER_ADDR=a b", "MASTER_PORT=1", "WORLD_SIZE=2", "RANK=0"), AUTO_REQ,
	  { 0 }, "invalid MASTER_ADDR='a b'", NULL },
};

static const struct detect_case detect_cases[] = {
	{ "a PyTorchJob pod", VARS(KF_POD("0", "2")), true, "(Kubeflow PyTorchJob)" },
	{ "a Kubernetes pod that is not a PyTorchJob's",
	  VARS("KUBERNETES_PORT=tcp://10.96.0.1:443", "HOSTNAME=web-1"), false,
	  "MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK not set" },
	{ "torch variables outside Kubernetes",
	  VARS("MASTER_ADDR=m", "MASTER_PORT=1", "WORLD_SIZE=2", "RANK=0"), false,
	  "KUBERNETES_PORT not set" },
	{ "empty environment", NO_VARS, false,
	  "KUBERNETES_PORT, MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK not set" },
};

ParameterizedTestParameters(kubeflow, resolve)
{
	return LT_TABLE_PARAMS(resolve_cases);
}

ParameterizedTest(size_t *i, kubeflow, resolve)
{
	check_resolve(&lt_env_kubeflow, &resolve_cases[*i]);
}

ParameterizedTestParameters(kubeflow, detect)
{
	return LT_TABLE_PARAMS(detect_cases);
}

ParameterizedTest(size_t *i, kubeflow, detect)
{
	check_detect(&lt_env_kubeflow, &detect_cases[*i]);
}

Test(kubeflow, descriptor)
{
	const struct lt_cluster_ops *ops = lt_env_kubeflow.ops;

	cr_assert_eq(lt_env_kubeflow.kind, LT_KIND_CLUSTER);
	cr_assert_str_eq(lt_env_kubeflow.name, "kubeflow");
	cr_assert_eq(ops->priority, LT_PRIO_KUBEFLOW);
	cr_assert_gt(ops->priority, LT_PRIO_LIGHTNING, "a pod is more than a bare node");
	cr_assert_not_null(lt_env_kubeflow.description);
	cr_assert_not_null(lt_env_kubeflow.recommended_when);
}
