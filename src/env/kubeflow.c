/*
 * kubeflow.c - the `kubeflow` cluster environment: a pod of a Kubeflow
 * PyTorchJob (the training operator).
 *
 * The operator starts one pod per node and tells each MASTER_ADDR and
 * MASTER_PORT (the master pod's service), WORLD_SIZE and RANK.  Here RANK is
 * the pod's index and WORLD_SIZE the number of pods, not of processes: the
 * pod is a node, and ltrun creates its ranks (--devices per pod).  So with
 * --devices 4, the pod with RANK=1 of WORLD_SIZE=2 runs global ranks 4 to 7
 * of 8.
 *
 * Training operator 1.7 and later also set PET_NNODES (the pods, when not
 * elastic) and PET_NPROC_PER_NODE (processes per pod, or "auto"), and then
 * count processes in WORLD_SIZE: pods x PET_NPROC_PER_NODE.  So the node
 * count is PET_NNODES when it is a plain number, else WORLD_SIZE, and
 * --devices auto means PET_NPROC_PER_NODE when that is a number.  An
 * elastic PyTorchJob's PET_NNODES "MIN:MAX" makes the job elastic, as
 * --num-nodes MIN:MAX does (the pods meet in rendezvous rounds).
 */
#include "env/env.h"
#include "core/config.h"
#include "core/error.h"
#include "core/parse.h"

#include <stdio.h>
#include <string.h>

/* More ranks than this is a typo, not a job (as in topology.c). */
#define KF_MAX (1L << 24)

/* What the operator sets in every pod; detect() wants all of them. */
static const char *const kf_vars[] = {
	"KUBERNETES_PORT", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK",
};
#define KF_NVARS (sizeof(kf_vars) / sizeof(kf_vars[0]))

static bool kf_detect(const struct lt_envsrc *env, const struct lt_params *params,
		      char *why, size_t whylen)
{
	size_t i, n = 0;
	int len;

	(void)params; /* no parameters */
	for (i = 0; i < KF_NVARS; i++) {
		if (lt_env_get(env, kf_vars[i]))
			continue;
		len = snprintf(why + n, whylen - n, "%s%s", n ? ", " : "", kf_vars[i]);
		if (len < 0 || (size_t)len >= whylen - n)
			return false;
		n += (size_t)len;
	}
	if (n) {
		snprintf(why + n, whylen - n, " not set: not a Kubeflow PyTorchJob pod");
		return false;
	}
	snprintf(why, whylen,
		 "KUBERNETES_PORT, MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK are set (Kubeflow PyTorchJob)");
	return true;
}

static int kf_missing(const char *name, struct lt_err *err)
{
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "%s is not set: a Kubeflow PyTorchJob sets MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK in every pod; set it, or pick another environment with --cluster",
			  name);
}

/* Reads a variable the operator always sets into *out.  Returns 0, or -1
 * with err naming it when it is missing or not a number in [min, KF_MAX]. */
static int kf_required(const struct lt_envsrc *env, const char *name, long min,
		       long *out, struct lt_err *err)
{
	int rc = lt_env_int(env, name, min, KF_MAX, out, err);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return kf_missing(name, err);
	return 0;
}

/* Reads `name` as a plain number in [1, KF_MAX]; false when unset or not
 * one (PET_NNODES is "1:4" for elastic jobs, PET_NPROC_PER_NODE "auto"). */
static bool kf_plain(const struct lt_envsrc *env, const char *name, long *out)
{
	const char *v = lt_env_get(env, name);

	return v && lt_parse_long(v, 1, KF_MAX, out) == 0;
}

/* The pods: PET_NNODES or WORLD_SIZE, checked against --num-nodes; an
 * elastic PET_NNODES "MIN:MAX" gives MAX pods, and MIN in *min (else 0). */
static int kf_num_nodes(const struct lt_envsrc *env, const struct lt_request *req,
			int *out, int *min, struct lt_err *err)
{
	const char *from = "PET_NNODES", *range = lt_env_get(env, "PET_NNODES");
	long n, lo, hi;

	*min = 0;
	if (kf_required(env, "WORLD_SIZE", 1, &n, err))
		return -1;
	if (range && strchr(range, ':') && !lt_parse_nodes(range, KF_MAX, &lo, &hi)) {
		n = hi;
		*min = lo < hi ? (int)lo : 0;
	} else if (!kf_plain(env, "PET_NNODES", &n)) {
		from = "WORLD_SIZE";
	}
	if (req->num_nodes != LT_AUTO && req->num_nodes != n)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--num-nodes %d disagrees with %s=%ld, the pods in the PyTorchJob: drop --num-nodes or make them match",
				  req->num_nodes, from, n);
	*out = (int)n;
	return 0;
}

/* This pod's index: RANK, checked against --node-rank. */
static int kf_node_rank(const struct lt_envsrc *env, const struct lt_request *req,
			int *out, struct lt_err *err)
{
	long r;

	if (kf_required(env, "RANK", 0, &r, err))
		return -1;
	if (req->node_rank != LT_AUTO && req->node_rank != r)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--node-rank %d disagrees with RANK=%ld, this pod's index in the PyTorchJob: drop --node-rank or make them match",
				  req->node_rank, r);
	*out = (int)r;
	return 0;
}

static int kf_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		      const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	struct lt_request own = *req;
	int nodes = 0, node = 0, min_nodes;
	long nproc;

	(void)params; /* no parameters */
	lt_topology_init(t);
	if (kf_num_nodes(env, req, &nodes, &min_nodes, err) ||
	    kf_node_rank(env, req, &node, err))
		return -1;
	if (!req->main_addr && !lt_env_get(env, "MASTER_ADDR"))
		return kf_missing("MASTER_ADDR", err);
	if (req->main_port <= 0 && !lt_env_get(env, "MASTER_PORT"))
		return kf_missing("MASTER_PORT", err);
	if (own.devices == LT_AUTO && kf_plain(env, "PET_NPROC_PER_NODE", &nproc))
		own.devices = (int)nproc;
	if (lt_topology_own_ranks(t, &own, nodes, node, err) ||
	    lt_topology_main_addr(t, env, req, "", "", err))
		return -1;
	t->min_nodes = min_nodes; /* elastic: node ranks come from the rendezvous */
	return lt_topology_main_port(t, env, req, 0, "", err);
}

static const struct lt_cluster_ops kf_ops = {
	.priority = LT_PRIO_KUBEFLOW,
	.detect = kf_detect,
	.resolve = kf_resolve,
};

const struct lt_plugin lt_env_kubeflow = {
	.kind = LT_KIND_CLUSTER,
	.name = "kubeflow",
	.description = "a pod of a Kubeflow PyTorchJob: one pod per node, ltrun starts the ranks of its pod",
	.recommended_when = "ltrun is the command of a PyTorchJob's containers",
	.ops = &kf_ops,
};

/* PET_RDZV_BACKEND as an --rdzv name, or NULL. */
static const char *kf_backend(const char *name)
{
	if (!strcmp(name, "c10d") || !strcmp(name, "static"))
		return "tcp";
	if (!strcmp(name, "etcd") || !strcmp(name, "etcd-v2"))
		return "etcd";
	return NULL;
}

/* Sets option id to text, unless the user set it. */
static int kf_default(struct lt_config *cfg, enum lt_opt_id id, const char *text,
		      const char *from, struct lt_err *err)
{
	if (cfg->source[id] != LT_SRC_DEFAULT)
		return 0;
	return lt_config_set(cfg, &lt_options[id], text, LT_SRC_ENV, from, err);
}

/* c10d's PET_RDZV_ENDPOINT: the store's HOST:PORT. */
static int kf_store_endpoint(struct lt_config *cfg, const char *endpoint, struct lt_err *err)
{
	const char *colon = strrchr(endpoint, ':');
	char host[256];

	if (!colon || colon == endpoint || (size_t)(colon - endpoint) >= sizeof(host))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid PET_RDZV_ENDPOINT '%.200s': expected HOST:PORT", endpoint);
	memcpy(host, endpoint, (size_t)(colon - endpoint));
	host[colon - endpoint] = '\0';
	if (kf_default(cfg, LT_OPT_MAIN_ADDR, host, "PET_RDZV_ENDPOINT", err))
		return -1;
	return kf_default(cfg, LT_OPT_MAIN_PORT, colon + 1, "PET_RDZV_ENDPOINT", err);
}

int lt_kubeflow_rdzv_vars(struct lt_config *cfg, const struct lt_envsrc *env,
			  struct lt_err *err)
{
	const char *backend = lt_env_get(env, "PET_RDZV_BACKEND");
	const char *endpoint = lt_env_get(env, "PET_RDZV_ENDPOINT");
	const char *name = backend ? kf_backend(backend) : NULL;

	if (backend && !name)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid PET_RDZV_BACKEND '%.200s': expected c10d, static, etcd or etcd-v2",
				  backend);
	if (name && kf_default(cfg, LT_OPT_RDZV, name, "PET_RDZV_BACKEND", err))
		return -1;
	if (!endpoint || !*endpoint)
		return 0;
	if (!strcmp(cfg->rdzv, "etcd"))
		return kf_default(cfg, LT_OPT_RDZV_ENDPOINT, endpoint, "PET_RDZV_ENDPOINT", err);
	/* Where MASTER_ADDR says where the store is (the operator's pods, or
	 * workers torchrun started, whose endpoint is torchrun's own store),
	 * it stands. */
	if (!name || lt_env_get(env, "MASTER_ADDR") || lt_env_get(env, "TORCHELASTIC_RUN_ID"))
		return 0;
	return kf_store_endpoint(cfg, endpoint, err);
}
