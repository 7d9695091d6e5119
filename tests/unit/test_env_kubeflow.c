/*
 * test_env_kubeflow.c - the `kubeflow` cluster environment, fed the
 * variables the Kubeflow training operator sets in a PyTorchJob's pods.
 * Table-driven: each case is an environment, a request and the topology
 * (or error) it must give.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "env_cases.h"
#include "params.h"
#include "env/env.h"

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
