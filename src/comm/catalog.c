/*
 * catalog.c - the communicators this build has.  `auto` composes them:
 * shm between ranks of one node; between nodes, whichever inter-node
 * communicator this build has (none yet: see the absent list).
 */
#include "core/registry.h"

static const struct lt_comm_ops shm_ops = { .intra_node = true, .inter_node = false };
static const struct lt_comm_ops auto_ops = { .intra_node = true, .inter_node = false };

static const struct lt_plugin comms[] = {
	{
		.kind = LT_KIND_COMM,
		.name = "auto",
		.description = "Composes the others hierarchically: shm inside a node, an inter-node communicator between nodes.",
		.recommended_when = "always, unless measuring one backend (the default)",
		.ops = &auto_ops,
	},
	{
		.kind = LT_KIND_COMM,
		.name = "shm",
		.description = "Collectives through a shared-memory segment between the ranks of one node.",
		.recommended_when = "all ranks are on one node: the fast CPU path",
		.ops = &shm_ops,
	},
};

static const char *const absent[] = { "gloo", "mpi", "nccl", NULL };

int lt_comm_catalog(struct lt_registry *reg, struct lt_err *err)
{
	size_t i;

	for (i = 0; i < sizeof(comms) / sizeof(comms[0]); i++)
		if (lt_registry_add(reg, &comms[i], err))
			return -1;
	lt_registry_mark_absent(reg, LT_KIND_COMM, absent);
	return 0;
}
