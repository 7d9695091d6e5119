/*
 * nccl.h - what the nccl communicator (nccl.c) shows besides its ops:
 * the unique-id exchange through the rendezvous, which needs NCCL's
 * library but no GPU (tests/progs/nccl_id_worker.c runs it on any
 * machine with libnccl).  Only when LT_HAVE_CUDA.
 */
#ifndef LT_COMM_NCCL_H
#define LT_COMM_NCCL_H

#include "comm/comm.h"

#define LT_NCCL_ID_BYTES 128

/* Every rank of a's group publishes `me` ("host/GPU-uuid"); the group's
 * first rank refuses two ranks with the same one (naming both), else
 * makes the unique id (ncclGetUniqueId) and publishes it under keys of
 * this communicator's own; every rank gets it into id (LT_NCCL_ID_BYTES).
 * Returns 0, or -1 with err (the refusal reaches every rank). */
int lt_nccl_exchange_id(const struct lt_comm_args *a, const char *me, void *id,
			struct lt_err *err);

#endif
