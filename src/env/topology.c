/*
 * topology.c - the arithmetic every cluster environment shares: ranks that
 * ltrun creates, checks on ranks a launcher created, and where the main
 * address and port come from.
 */
#include "env/env.h"
#include "core/error.h"
#include "core/parse.h"

#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* More ranks than this is a typo, not a job. */
#define LT_MAX_WORLD (1 << 24)

void lt_topology_init(struct lt_topology *t)
{
	memset(t, 0, sizeof(*t));
	t->rank = -1;
	t->local_rank = -1;
}

int lt_topology_own_ranks(struct lt_topology *t, const struct lt_request *req,
			  int num_nodes, int node_rank, struct lt_err *err)
{
	int devices = req->devices == LT_AUTO ? req->auto_devices : req->devices;

	if (devices < 1)
		devices = 1;
	if (num_nodes < 1)
		return lt_err_set(err, LT_EXIT_FAILURE, "the job has %d nodes; it needs at least 1",
				  num_nodes);
	if (node_rank < 0 || node_rank >= num_nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "node rank %d is out of range for %d node%s: use --node-rank 0 to %d",
				  node_rank, num_nodes, num_nodes == 1 ? "" : "s", num_nodes - 1);
	if ((long)devices * num_nodes > LT_MAX_WORLD)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%d devices x %d nodes is more than %d ranks", devices,
				  num_nodes, LT_MAX_WORLD);
	t->external = false;
	t->num_nodes = num_nodes;
	t->node_rank = node_rank;
	t->local_world_size = devices;
	t->world_size = devices * num_nodes;
	t->first_rank = devices * node_rank;
	t->rank = -1;
	t->local_rank = -1;
	return 0;
}

int lt_topology_check_adopted(const struct lt_topology *t,
			      const struct lt_request *req, const char *source,
			      struct lt_err *err)
{
	const char *by = t->launcher[0] ? t->launcher : "the launcher";

	if (req->devices != LT_AUTO && req->devices != t->local_world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--devices %d disagrees with %s, which started %d rank%s on this node (%s): drop --devices or make them match",
				  req->devices, by, t->local_world_size,
				  t->local_world_size == 1 ? "" : "s", source);
	if (req->num_nodes != LT_AUTO && req->num_nodes != t->num_nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--num-nodes %d disagrees with %s, which spans %d node%s (%s): drop --num-nodes or make them match",
				  req->num_nodes, by, t->num_nodes, t->num_nodes == 1 ? "" : "s",
				  source);
	if (req->node_rank != LT_AUTO && req->node_rank != t->node_rank)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--node-rank %d disagrees with %s, which placed this rank on node %d (%s)",
				  req->node_rank, by, t->node_rank, source);
	if (t->world_size < 1 || t->rank < 0 || t->rank >= t->world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave rank %d of a world of %d (%s): the rank must be from 0 to world size - 1",
				  by, t->rank, t->world_size, source);
	if (t->local_world_size < 1 || t->local_rank < 0 ||
	    t->local_rank >= t->local_world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave local rank %d of %d on this node (%s): the local rank must be from 0 to local world size - 1",
				  by, t->local_rank, t->local_world_size, source);
	if (t->local_world_size > t->world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave %d ranks on this node but only %d in the whole job (%s)",
				  by, t->local_world_size, t->world_size, source);
	if (t->num_nodes < 1 || t->node_rank < 0 || t->node_rank >= t->num_nodes)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave node %d of %d nodes (%s): the node rank must be from 0 to nodes - 1",
				  by, t->node_rank, t->num_nodes, source);
	if (t->num_nodes > t->world_size)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s gave %d nodes for only %d ranks (%s)", by,
				  t->num_nodes, t->world_size, source);
	return 0;
}

int lt_topology_main_addr(struct lt_topology *t, const struct lt_envsrc *env,
			  const struct lt_request *req, const char *fallback,
			  const char *fallback_from, struct lt_err *err)
{
	const char *master = lt_env_get(env, "MASTER_ADDR");
	char q[LT_QUOTE_MAX];

	if (req->main_addr) {
		snprintf(t->main_addr, sizeof(t->main_addr), "%s", req->main_addr);
		snprintf(t->addr_from, sizeof(t->addr_from), "--main-addr");
	} else if (master) {
		if (!lt_valid_host(master))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "invalid MASTER_ADDR='%s': expected a host name or IP address",
					  lt_quote(q, sizeof(q), master));
		snprintf(t->main_addr, sizeof(t->main_addr), "%s", master);
		snprintf(t->addr_from, sizeof(t->addr_from), "MASTER_ADDR");
	} else {
		snprintf(t->main_addr, sizeof(t->main_addr), "%s", fallback);
		snprintf(t->addr_from, sizeof(t->addr_from), "%s", fallback_from);
	}
	return 0;
}

static int free_port(struct lt_err *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot find a free port: socket failed");
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	if (port <= 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot find a free port on this host: give one with --main-port");
	return port;
}

int lt_topology_main_port(struct lt_topology *t, const struct lt_envsrc *env,
			  const struct lt_request *req, int derived,
			  const char *derived_from, struct lt_err *err)
{
	long port;
	int rc;

	if (req->main_port > 0) {
		t->main_port = req->main_port;
		snprintf(t->port_from, sizeof(t->port_from), "--main-port");
		return 0;
	}
	rc = lt_env_int(env, "MASTER_PORT", 1, 65535, &port, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		t->main_port = (int)port;
		snprintf(t->port_from, sizeof(t->port_from), "MASTER_PORT");
	} else if (derived > 0) {
		t->main_port = derived;
		snprintf(t->port_from, sizeof(t->port_from), "%s", derived_from);
	} else {
		rc = free_port(err);
		if (rc < 0)
			return -1;
		t->main_port = rc;
		snprintf(t->port_from, sizeof(t->port_from), "a port free on this host");
	}
	return 0;
}

/* FNV-1a in 32 bits, so every node computes the same port whatever its
 * word size; ports 20000-32767 stay below Linux's ephemeral range. */
int lt_port_from_job_id(const char *job_id)
{
	uint32_t h = 2166136261u;

	if (!job_id || !*job_id)
		return 0;
	for (; *job_id; job_id++)
		h = (h ^ (unsigned char)*job_id) * 16777619u;
	return 20000 + (int)(h % 12768);
}
