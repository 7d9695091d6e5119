/*
 * contract.h - the agent-to-rank contract: what one rank knows about
 * itself (struct lt_rank_info) and the environment variables that carry it
 * from the agent to an exec'ed rank.  A low header with no dependencies:
 * the agent (launch/), the rendezvous (rdzv/), the rank (rank/) and the
 * runtime below them all read it.
 */
#ifndef LT_CORE_CONTRACT_H
#define LT_CORE_CONTRACT_H

#include <stdint.h>

/* The job's store token: 32 random bytes, and as it travels in the
 * environment, 64 lowercase hex digits. */
#define LT_STORE_TOKEN_BYTES 32
#define LT_STORE_TOKEN_HEX (2 * LT_STORE_TOKEN_BYTES + 1)

struct lt_rank_info {
	int rank, world_size, local_rank, local_world_size, node_rank, num_nodes;
	int restart_count;
	char store_host[256];
	int store_port;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	int rdzv_timeout_s;
	char rdzv[16];         /* the rendezvous backend's name (rdzv.h) */
	char run_id[64];
	char error_file[4096]; /* "" when no agent reads one */
	int adopted;           /* srun, mpirun or torchrun made this rank */
	int host_store;        /* this rank runs the store (adopted rank 0) */
};

/* Environment variable names of the agent-to-rank contract. */
#define LT_ENV_RANK_ENTRY "LTRUN_RANK_ENTRY"
#define LT_ENV_RUN_ID "LTRUN_RUN_ID"
#define LT_ENV_RESTART_COUNT "LTRUN_RESTART_COUNT"
#define LT_ENV_NODE_COUNT "LTRUN_NODE_COUNT"
#define LT_ENV_STORE_ADDR "LTRUN_STORE_ADDR"
#define LT_ENV_STORE_PORT "LTRUN_STORE_PORT"
#define LT_ENV_STORE_TOKEN "LTRUN_STORE_TOKEN"
#define LT_ENV_ERROR_FILE "LTRUN_ERROR_FILE"
#define LT_ENV_RDZV_TIMEOUT "LTRUN_RDZV_TIMEOUT"
#define LT_ENV_RDZV "LTRUN_RDZV"
/* A terminal rank 0 may draw its progress bar on (an fd number). */
#define LT_ENV_PROGRESS_FD "LTRUN_PROGRESS_FD"

#endif
