/*
 * catalog.c - the communicators this build has, in the registry
 * (`ltrun --list comm`; a rank opens its choice's ops).  `auto` composes
 * them: shm between the ranks of one node; between nodes mpi when mpirun
 * (or srun --mpi=pmix) started the ranks, else tcp; nccl when the
 * accelerator is cuda.  The absent list names nccl when configure found
 * no CUDA headers, and gloo and mpi when ./configure left them out
 * (--without-gloo, --without-mpi).
 */
#include "comm/comm.h"
#include "core/built.h"
#include "core/registry.h"

static const struct lt_plugin comms[] = {
	{
		.kind = LT_KIND_COMM,
		.name = "auto",
		.description = "Composes the others hierarchically: shm inside a node, mpi (under mpirun) or tcp between nodes; nccl under --accelerator cuda.",
		.recommended_when = "always, unless measuring one backend (the default)",
		.ops = &lt_comm_auto,
	},
	{
		.kind = LT_KIND_COMM,
		.name = "shm",
		.description = "Collectives through a shared-memory segment between the ranks of one node.",
		.recommended_when = "all ranks are on one node: the fast CPU path",
		.ops = &lt_comm_shm,
	},
	{
		.kind = LT_KIND_COMM,
		.name = "tcp",
		.description = "CPU collectives over TCP sockets, ltrun's own ring: the rank's thread moves the bytes and reduces them as they arrive; the ranks meet through ltrun's rendezvous.",
		.recommended_when = "ranks on several nodes without mpirun (auto takes it between nodes)",
		.ops = &lt_comm_tcp,
	},
#if LT_HAVE_GLOO
	{
		.kind = LT_KIND_COMM,
		.name = "gloo",
		.description = "CPU collectives over TCP through libgloo; the ranks meet through ltrun's rendezvous.",
		.recommended_when = "to compare with torch.distributed's gloo (between nodes tcp is faster: bench/README.md)",
		.ops = &lt_comm_gloo,
	},
#endif
#if LT_HAVE_MPI
	{
		.kind = LT_KIND_COMM,
		.name = "mpi",
		.description = "Open MPI collectives; f16 and bf16 through ltrun's own reduction operators.",
		.recommended_when = "mpirun (or srun --mpi=pmix) started the ranks, on a fast interconnect",
		.ops = &lt_comm_mpi,
	},
#endif
#if LT_HAVE_CUDA
	{
		.kind = LT_KIND_COMM,
		.name = "nccl",
		.description = "NVIDIA's collectives between the ranks' GPUs (NVLink, PCIe, InfiniBand, sockets), loaded at run time; non-blocking, aborted by its watchdog when a peer fails or --timeout passes.",
		.recommended_when = "--accelerator cuda (auto takes it then)",
		.ops = &lt_comm_nccl,
	},
#endif
};

static const struct lt_absent absent[] = {
#if !LT_HAVE_GLOO
	LT_ABSENT_LEFT_OUT("gloo", LT_DEP_GLOO),
#endif
#if !LT_HAVE_MPI
	LT_ABSENT_LEFT_OUT("mpi", LT_DEP_MPI),
#endif
#if !LT_HAVE_CUDA
	LT_ABSENT_LEFT_OUT("nccl", LT_DEP_CUDA),
#endif
	{ .name = NULL },
};

int lt_comm_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, comms, absent, err);
}
