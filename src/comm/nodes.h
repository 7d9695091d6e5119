/*
 * nodes.h - which node each member of a group runs on, found through the
 * rendezvous, and the sub-communicators built from that map: what the
 * hierarchical `auto` communicator (auto.c) and hybrid sharding's groups
 * (runtime/groups.c) are made of.
 *
 * Node identity is the host address of lt_comm_args (this node's address
 * towards the store), else the host name.  Nodes are numbered by first
 * appearance in group rank order, local ranks in group rank order within
 * a node: the real membership, whatever order the launcher numbered the
 * ranks in (srun's cyclic distribution included).
 */
#ifndef LT_COMM_NODES_H
#define LT_COMM_NODES_H

#include <stdbool.h>

#include "comm/comm.h"

struct lt_comm_nodes {
	int size;         /* the group's */
	int nnodes;       /* nodes the group spans */
	int node_idx;     /* this rank's node */
	int local, lsize; /* this rank's index on its node, its node's ranks */
	int lmax;         /* ranks of the most populated node */
	bool uniform;     /* every node has lsize ranks */
	int *node_of, *local_of, *count; /* by group rank (count: by node) */
};

/* Publishes this rank's node identity under "<scope>/auto/node<rank>" and
 * reads every member's: collective over the group.  Returns 0, or -1 with
 * err (n then holds nothing to free). */
int lt_comm_nodes_find(const struct lt_comm_args *a, struct lt_comm_nodes *n,
		       struct lt_err *err);
void lt_comm_nodes_free(struct lt_comm_nodes *n);

/* The members of rail `local` (local rank `local` of every node, in node
 * order) into group[]; returns how many, and *me this rank's index among
 * them (-1 when it is not one). */
int lt_comm_nodes_rail(const struct lt_comm_nodes *n, int local, int rank, int *group, int *me);
/* The members of node k, in group rank order, into group[]; returns how
 * many. */
int lt_comm_nodes_members(const struct lt_comm_nodes *n, int k, int *group);

/* Opens backend b (called bname) over the group ranks group[0..size-1] of
 * a's group, this rank being number `rank` among them, under scope
 * "<a->scope>/<name>".  Collective over those members.  Returns it, or
 * NULL with err. */
struct lt_comm *lt_comm_open_sub(const struct lt_comm_ops *b, const char *bname,
				 const struct lt_comm_args *a, const char *name, int rank, int size,
				 const int *group, struct lt_err *err);

/* The backend between nodes when the run's is `auto`: mpi when mpirun
 * started the ranks (and the build has it), else tcp, which every build
 * has; *name gets its name.  Never NULL (err is for later backends). */
const struct lt_comm_ops *lt_comm_inter_backend(const char **name, struct lt_err *err);

#endif
