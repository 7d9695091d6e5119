/*
 * auto.c - the `auto` communicator: hierarchical, shm inside a node and an
 * inter-node backend between nodes (mpi when mpirun started the ranks,
 * else tcp).  At open the members find their nodes (nodes.h: the host
 * address of lt_comm_args, or the host name, through the rendezvous;
 * nodes numbered by first appearance in group rank order, local ranks in
 * group rank order within a node).  Sub-communicators, opened through
 * lt_comm_open_sub: "<scope>/node<k>" (shm, this node's members; none for a
 * node of one rank) and, with several nodes, "<scope>/rail<i>" (local rank
 * i of every node) when every node has the same number of ranks, else
 * "<scope>/leaders" (local rank 0 of every node).  The leaders (rail 0)
 * carry every operation but the large all-reduce, which goes in three
 * steps: shm reduce-scatter inside the node, an all-reduce per rail
 * between nodes, shm all-gather inside the node.  The other collectives
 * are composed for correctness first: leader paths, and (several nodes)
 * reduce_scatter and reduce_scatter_v as an all-reduce of a copy of the
 * whole buffer, or of the buffer itself in place.  On one node every
 * collective is the node's shm one.
 */
#include "comm/comm.h"
#include "comm/nodes.h"
#include "comm/reduce.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auto_state {
	struct lt_comm *node;  /* shm over this node's members; NULL when alone */
	struct lt_comm *inter; /* this rank's rail, or the leaders; NULL if none */
	struct lt_comm_nodes n; /* uniform: inter is a rail */
	char *tmp;               /* scratch, grown on demand */
	size_t tmp_cap;
};

static struct auto_state *state_of(struct lt_comm *c)
{
	return c->state;
}

/* A scratch buffer of at least n bytes, or NULL with err set. */
static char *scratch(struct lt_comm *c, size_t n, struct lt_err *err)
{
	struct auto_state *s = state_of(c);
	char *p;

	if (!n)
		n = 1;
	if (n <= s->tmp_cap)
		return s->tmp;
	p = realloc(s->tmp, n);
	if (!p) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "comm 'auto' in '%s': cannot allocate %zu bytes of scratch: reduce the bucket size",
			   c->scope, n);
		return NULL;
	}
	s->tmp = p;
	s->tmp_cap = n;
	return p;
}

/* ------------------------------------------------------------ open */

static int auto_open(struct lt_comm *c, const struct lt_comm_args *a, struct lt_err *err)
{
	struct auto_state *s = calloc(1, sizeof(*s));
	int *group = NULL, n, me;
	const struct lt_comm_ops *b;
	const char *bname;
	char name[32];

	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	c->state = s;
	group = calloc((size_t)a->size, sizeof(int));
	if (!group)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (lt_comm_nodes_find(a, &s->n, err))
		goto out_fail;
	if (s->n.lsize > 1) {
		n = lt_comm_nodes_members(&s->n, s->n.node_idx, group);
		snprintf(name, sizeof(name), "node%d", s->n.node_idx);
		s->node = lt_comm_open_sub(&lt_comm_shm, "shm", a, name, s->n.local, n, group, err);
		if (!s->node)
			goto out_fail;
	}
	if (s->n.nnodes > 1 && (s->n.uniform || s->n.local == 0)) {
		/* Rail `local` (the leaders when local is 0): one rank per node,
		 * numbered by node. */
		n = lt_comm_nodes_rail(&s->n, s->n.local, a->rank, group, &me);
		if (s->n.uniform)
			snprintf(name, sizeof(name), "rail%d", s->n.local);
		else
			snprintf(name, sizeof(name), "leaders");
		b = lt_comm_inter_backend(&bname, err);
		if (!b)
			goto out_fail;
		s->inter = lt_comm_open_sub(b, bname, a, name, me, n, group, err);
		if (!s->inter)
			goto out_fail;
	}
	free(group);
	return 0;
out_fail:
	free(group);
	return -1;
}

static void auto_close(struct lt_comm *c)
{
	struct auto_state *s = state_of(c);

	if (!s)
		return;
	if (s->inter)
		lt_comm_close(s->inter);
	if (s->node)
		lt_comm_close(s->node);
	lt_comm_nodes_free(&s->n);
	free(s->tmp);
	free(s);
	c->state = NULL;
}

/* ------------------------------------------------------------ steps */

/* The leaders' communicator, when this rank is a leader (local rank 0). */
static struct lt_comm *leaders(struct auto_state *s)
{
	return s->n.local == 0 ? s->inter : NULL;
}

static int node_broadcast(struct auto_state *s, void *buf, size_t count, enum lt_dtype dt,
			  int root, struct lt_err *err)
{
	return s->node ? lt_comm_broadcast(s->node, buf, count, dt, root, err) : 0;
}

/* ------------------------------------------------------------ collectives */

static int auto_barrier(struct lt_comm *c, struct lt_err *err)
{
	struct auto_state *s = state_of(c);

	if (s->node && lt_comm_barrier(s->node, err))
		return -1;
	if (leaders(s) && lt_comm_barrier(leaders(s), err))
		return -1;
	if (s->node && s->n.nnodes > 1 && lt_comm_barrier(s->node, err))
		return -1;
	return 0;
}

/* Root's node broadcasts to its leader, the leaders between nodes, then
 * every leader inside its node. */
static int auto_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			  int root, struct lt_err *err)
{
	struct auto_state *s = state_of(c);
	int rnode = s->n.node_of[root], rlocal = s->n.local_of[root];

	if (s->n.nnodes == 1)
		return node_broadcast(s, buf, count, dt, rlocal, err);
	if (s->n.node_idx == rnode && rlocal != 0 && node_broadcast(s, buf, count, dt, rlocal, err))
		return -1;
	if (leaders(s) && lt_comm_broadcast(leaders(s), buf, count, dt, rnode, err))
		return -1;
	return node_broadcast(s, buf, count, dt, 0, err);
}

/* Small or uneven: all-reduce inside the node, between the leaders, then
 * the leader's result to its node. */
static int all_reduce_via_leaders(struct auto_state *s, void *buf, size_t count,
				  enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	if (s->node && lt_comm_all_reduce(s->node, buf, count, dt, op, err))
		return -1;
	if (leaders(s) && lt_comm_all_reduce(leaders(s), buf, count, dt, op, err))
		return -1;
	return node_broadcast(s, buf, count, dt, 0, err);
}

/* Every node has L ranks and count >= L: each local rank reduces one
 * block of ceil(count / L) elements inside the node, all-reduces it along
 * its rail, and the node gathers the blocks back (padded with zeros when
 * count is not a multiple of L). */
static int all_reduce_by_rails(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			       enum lt_op op, struct lt_err *err)
{
	struct auto_state *s = state_of(c);
	size_t L = (size_t)s->n.lsize, esz = lt_dtype_size(dt);
	size_t block = (count + L - 1) / L, padded = block * L;
	char *tmp = scratch(c, (block + (padded != count ? padded : 0)) * esz, err);
	char *part = tmp, *full = padded != count ? tmp + block * esz : buf;

	if (!tmp)
		return -1;
	if (full != buf) {
		memcpy(full, buf, count * esz);
		memset(full + count * esz, 0, (padded - count) * esz);
	}
	if (lt_comm_reduce_scatter(s->node, full, part, block, dt, op, err) ||
	    lt_comm_all_reduce(s->inter, part, block, dt, op, err) ||
	    lt_comm_all_gather(s->node, part, full, block, dt, err))
		return -1;
	if (full != buf)
		memcpy(buf, full, count * esz);
	return 0;
}

static int auto_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			   enum lt_op op, struct lt_err *err)
{
	struct auto_state *s = state_of(c);

	if (s->n.nnodes == 1)
		return s->node ? lt_comm_all_reduce(s->node, buf, count, dt, op, err) : 0;
	if (!s->node)
		return s->inter ? lt_comm_all_reduce(s->inter, buf, count, dt, op, err) : 0;
	if (s->n.uniform && count >= (size_t)s->n.lsize)
		return all_reduce_by_rails(c, buf, count, dt, op, err);
	return all_reduce_via_leaders(s, buf, count, dt, op, err);
}

/* Gathers inside the node, pads each node's part to lmax ranks, gathers
 * between the leaders, broadcasts inside the node and puts every rank's
 * block at its group rank. */
static int auto_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			   enum lt_dtype dt, struct lt_err *err)
{
	struct auto_state *s = state_of(c);
	size_t bytes = count * lt_dtype_size(dt), lmax = (size_t)s->n.lmax;
	size_t all = (size_t)s->n.nnodes * lmax * bytes;
	char *mine, *every;

	if (!count)
		return 0;
	if (s->n.nnodes == 1) {
		if (s->node)
			return lt_comm_all_gather(s->node, send, recv, count, dt, err);
		memmove(recv, send, bytes);
		return 0;
	}
	if (!(mine = scratch(c, lmax * bytes + all, err)))
		return -1;
	every = mine + lmax * bytes;
	memset(mine, 0, lmax * bytes);
	if (s->node) {
		if (lt_comm_all_gather(s->node, send, mine, count, dt, err))
			return -1;
	} else {
		memcpy(mine, send, bytes);
	}
	if (leaders(s) && lt_comm_all_gather(leaders(s), mine, every, lmax * count, dt, err))
		return -1;
	if (node_broadcast(s, every, (size_t)s->n.nnodes * lmax * count, dt, 0, err))
		return -1;
	for (int r = 0; r < c->size; r++)
		memcpy((char *)recv + (size_t)r * bytes,
		       every + ((size_t)s->n.node_of[r] * lmax + (size_t)s->n.local_of[r]) * bytes,
		       bytes);
	return 0;
}

/* Several nodes: the whole send buffer (total elements) all-reduced in a
 * copy, then this rank's block of bytes at `at`.  One node: shm's. */
static int reduce_scatter_copy(struct lt_comm *c, const void *send, void *recv, size_t total,
			       size_t at, size_t mine, enum lt_dtype dt, enum lt_op op,
			       struct lt_err *err)
{
	size_t esz = lt_dtype_size(dt);
	char *full;

	if (recv == (const char *)send + at * esz) /* in place: summed where it is */
		return auto_all_reduce(c, (void *)send, total, dt, op, err);
	/* Not scratch(): the all-reduce may need that for itself. */
	full = malloc(total ? total * esz : 1);
	if (!full)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'auto' in '%s': cannot allocate %zu bytes for reduce_scatter",
				  c->scope, total * esz);
	memcpy(full, send, total * esz);
	if (auto_all_reduce(c, full, total, dt, op, err)) {
		free(full);
		return -1;
	}
	memcpy(recv, full + at * esz, mine * esz);
	free(full);
	return 0;
}

static int auto_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			       enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	struct auto_state *s = state_of(c);

	if (c->size == 1) {
		memmove(recv, send, count * lt_dtype_size(dt));
		return 0;
	}
	if (s->n.nnodes == 1)
		return lt_comm_reduce_scatter(s->node, send, recv, count, dt, op, err);
	return reduce_scatter_copy(c, send, recv, count * (size_t)c->size,
				   count * (size_t)c->rank, count, dt, op, err);
}

static int auto_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
				 const size_t *counts, enum lt_dtype dt, enum lt_op op,
				 struct lt_err *err)
{
	struct auto_state *s = state_of(c);
	size_t total = 0, at = 0;

	for (int j = 0; j < c->size; j++) {
		at += j < c->rank ? counts[j] : 0;
		total += counts[j];
	}
	if (c->size == 1) {
		if (counts[0])
			memcpy(recv, send, counts[0] * lt_dtype_size(dt));
		return 0;
	}
	if (s->n.nnodes == 1)
		return lt_comm_reduce_scatter_v(s->node, send, recv, counts, dt, op, err);
	return reduce_scatter_copy(c, send, recv, total, at, counts[c->rank], dt, op, err);
}

const struct lt_comm_ops lt_comm_auto = {
	.intra_node = true,
	.inter_node = true,
	.open = auto_open,
	.barrier = auto_barrier,
	.broadcast = auto_broadcast,
	.all_reduce = auto_all_reduce,
	.all_gather = auto_all_gather,
	.reduce_scatter = auto_reduce_scatter,
	.reduce_scatter_v = auto_reduce_scatter_v,
	.close = auto_close,
};

int lt_comm_auto_nodes(const struct lt_comm *c)
{
	const struct auto_state *s = c->ops == &lt_comm_auto ? c->state : NULL;

	return s ? s->n.nnodes : -1;
}
