/*
 * nodes.c - the node map of a group (nodes.h): every member publishes its
 * node identity through the rendezvous and reads everyone's; and the
 * sub-communicators over parts of the group that auto.c and
 * runtime/groups.c open from it.
 */
#include "comm/nodes.h"
#include "core/built.h"
#include "rdzv/rdzv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int global_of(const struct lt_comm_args *a, int r)
{
	return a->global_rank ? a->global_rank[r] : r;
}

/* This rank's node identity into self (len bytes). */
static void node_identity(const struct lt_comm_args *a, char *self, size_t len)
{
	if (a->host && *a->host)
		snprintf(self, len, "%s", a->host);
	else if (gethostname(self, len - 1))
		snprintf(self, len, "localhost");
	self[len - 1] = '\0';
}

/* Every member's identity into ids[] (this rank's is self). */
static int read_identities(const struct lt_comm_args *a, const char *self, char **ids,
			   struct lt_err *err)
{
	char key[160];

	if (a->size > 1) {
		if (!a->rz)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "communicator '%s' needs a rendezvous to find its %d ranks' nodes: "
					  "open it from a rank process",
					  a->scope, a->size);
		snprintf(key, sizeof(key), "%s/auto/node%d", a->scope, a->rank);
		if (a->rz->ops->put(a->rz, key, self, strlen(self), err))
			return -1;
	}
	for (int r = 0; r < a->size; r++) {
		size_t len;
		void *v;

		if (r == a->rank) {
			ids[r] = strdup(self);
		} else {
			snprintf(key, sizeof(key), "%s/auto/node%d", a->scope, r);
			if (a->rz->ops->get(a->rz, key, global_of(a, r), &v, &len, err))
				return -1;
			ids[r] = v;
		}
		if (!ids[r])
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	return 0;
}

/* Numbers the nodes by first appearance and the ranks within each. */
static void number_nodes(const struct lt_comm_args *a, char **ids, struct lt_comm_nodes *n)
{
	for (int r = 0; r < a->size; r++) {
		n->node_of[r] = -1;
		for (int q = 0; q < r; q++)
			if (!strcmp(ids[q], ids[r])) {
				n->node_of[r] = n->node_of[q];
				break;
			}
		if (n->node_of[r] < 0)
			n->node_of[r] = n->nnodes++;
		n->local_of[r] = n->count[n->node_of[r]]++;
	}
	n->node_idx = n->node_of[a->rank];
	n->local = n->local_of[a->rank];
	n->lsize = n->count[n->node_idx];
	n->uniform = true;
	for (int k = 0; k < n->nnodes; k++) {
		if (n->count[k] > n->lmax)
			n->lmax = n->count[k];
		n->uniform = n->uniform && n->count[k] == n->count[0];
	}
}

int lt_comm_nodes_find(const struct lt_comm_args *a, struct lt_comm_nodes *n,
		       struct lt_err *err)
{
	char self[256];
	char **ids = calloc((size_t)a->size, sizeof(*ids));
	int rc = -1;

	memset(n, 0, sizeof(*n));
	n->size = a->size;
	n->node_of = calloc((size_t)a->size, sizeof(int));
	n->local_of = calloc((size_t)a->size, sizeof(int));
	n->count = calloc((size_t)a->size, sizeof(int));
	if (!ids || !n->node_of || !n->local_of || !n->count) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		goto out_free;
	}
	node_identity(a, self, sizeof(self));
	if (read_identities(a, self, ids, err))
		goto out_free;
	number_nodes(a, ids, n);
	rc = 0;
out_free:
	if (ids)
		for (int r = 0; r < a->size; r++)
			free(ids[r]);
	free(ids);
	if (rc)
		lt_comm_nodes_free(n);
	return rc;
}

void lt_comm_nodes_free(struct lt_comm_nodes *n)
{
	free(n->node_of);
	free(n->local_of);
	free(n->count);
	n->node_of = n->local_of = n->count = NULL;
}

int lt_comm_nodes_rail(const struct lt_comm_nodes *n, int local, int rank, int *group, int *me)
{
	int m = 0;

	*me = -1;
	for (int r = 0; r < n->size; r++)
		if (n->local_of[r] == local) {
			if (r == rank)
				*me = m;
			group[m++] = r;
		}
	return m;
}

int lt_comm_nodes_members(const struct lt_comm_nodes *n, int k, int *group)
{
	int m = 0;

	for (int r = 0; r < n->size; r++)
		if (n->node_of[r] == k)
			group[m++] = r;
	return m;
}

struct lt_comm *lt_comm_open_sub(const struct lt_comm_ops *b, const char *bname,
				 const struct lt_comm_args *a, const char *name, int rank, int size,
				 const int *group, struct lt_err *err)
{
	struct lt_comm_args sub = *a;
	int *globals;
	char scope[96];
	struct lt_comm *c;

	if (!b) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "communicator '%s' needs a communicator for '%s' that this build lacks: "
			   "rebuild ltrun with shm, gloo and mpi",
			   a->scope, name);
		return NULL;
	}
	globals = malloc(sizeof(*globals) * (size_t)size);
	if (!globals) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	for (int i = 0; i < size; i++)
		globals[i] = global_of(a, group[i]);
	snprintf(scope, sizeof(scope), "%s/%s", a->scope, name);
	sub.check_calls = false; /* the parent's calls are checked */
	sub.rank = rank;
	sub.size = size;
	sub.scope = scope;
	sub.global_rank = globals;
	c = lt_comm_open(b, bname, &sub, err);
	free(globals);
	return c;
}

const struct lt_comm_ops *lt_comm_inter_backend(const char **name, struct lt_err *err)
{
	(void)err;
#if LT_HAVE_MPI
	if (getenv("OMPI_COMM_WORLD_SIZE")) {
		*name = "mpi";
		return &lt_comm_mpi;
	}
#endif
	*name = "tcp";
	return &lt_comm_tcp;
}
