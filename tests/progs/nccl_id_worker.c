/*
 * nccl_id_worker.c - one rank of the NCCL unique-id test: joins the file
 * rendezvous (worker_rdzv.h) as RANK of WORLD_SIZE and runs the nccl
 * communicator's id exchange (lt_nccl_exchange_id) twice, as two
 * communicators would, printing "id N <hex>" for each: every rank must
 * print the same ids, and the two must differ (a key and an id of their
 * own for each communicator).  ncclGetUniqueId needs NCCL's library, not
 * a GPU.  The GPU each rank claims is made up: "host/GPU-<rank>", or
 * "host/GPU-shared" for the ranks NCCL_ID_WORKER_SHARED lists
 * ("1,2": two ranks on one GPU, which must be refused).  Exits 77 with
 * "skip: <why>" when this build or machine has no NCCL.
 */
#include "comm/comm.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"
#include "worker_rdzv.h"
#if LT_HAVE_CUDA
#include "comm/nccl.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : dflt;
}

#if LT_HAVE_CUDA
static bool listed(const char *list, int rank)
{
	for (const char *p = list; p && *p;) {
		if (atoi(p) == rank)
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}
#endif

int main(void)
{
	int rank = env_int("RANK", -1), size = env_int("WORLD_SIZE", -1);

	if (size < 1 || rank < 0 || rank >= size) {
		fprintf(stderr, "nccl_id_worker: set RANK and WORLD_SIZE\n");
		return 2;
	}
#if !LT_HAVE_CUDA
	printf("skip: this build has no CUDA headers (configure found no cuda.h and nccl.h)\n");
	return 77;
#else
	struct lt_rank_info info = { 0 };
	struct lt_rdzv rz = { 0 };
	struct lt_err err = { 0 };
	unsigned char id[LT_NCCL_ID_BYTES];
	int *ranks = malloc((size_t)size * sizeof(int));
	char me[64];

	info.rank = rank;
	info.world_size = size;
	if (!ranks || worker_open_rdzv(&rz, &info, &err)) {
		fprintf(stderr, "nccl_id_worker: rank %d: rendezvous: %s\n", rank, err.msg);
		return 1;
	}
	for (int r = 0; r < size; r++)
		ranks[r] = r;
	if (listed(getenv("NCCL_ID_WORKER_SHARED"), rank))
		snprintf(me, sizeof(me), "host/GPU-shared");
	else
		snprintf(me, sizeof(me), "host/GPU-%d", rank);
	struct lt_comm_args args = { .rank = rank, .size = size, .scope = "world", .rz = &rz,
				     .run_id = info.run_id, .host = "host", .timeout_ms = 20000,
				     .global_rank = ranks };
	for (int n = 0; n < 2; n++) {
		if (lt_nccl_exchange_id(&args, me, id, &err)) {
			if (strstr(err.msg, "cannot load")) {
				printf("skip: %s\n", err.msg);
				return 77;
			}
			fprintf(stderr, "nccl_id_worker: rank %d: %s\n", rank, err.msg);
			return 1;
		}
		printf("id %d ", n);
		for (size_t i = 0; i < sizeof(id); i++)
			printf("%02x", id[i]);
		printf("\n");
	}
	fflush(stdout);
	rz.ops->close(&rz, &err);
	free(ranks);
	return 0;
#endif
}
