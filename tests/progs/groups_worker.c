/*
 * groups_worker.c - one rank of a hybrid-sharding groups test:
 * `groups_worker COMM` joins a job through the file rendezvous as a rank
 * whose run's communicator is COMM (shm, tcp, gloo, mpi, auto), opens
 * lt_groups_open() and prints who is in its node and cross groups, as
 * all-gathers of the members' rank numbers and all-reduces (SUM) of them:
 *   groups_worker: rank R: node [a b] sum S cross [c d] sum T
 *   groups_worker: rank R: over shm gloo      (the groups' backends)
 * It checks that a second open returns the same groups and that
 * lt_runtime_free() closes them.  Identity: RANK and WORLD_SIZE;
 * COMM_WORKER_HOST is this rank's node address (comm_job.h); LTRUN_RUN_ID
 * and LTRUN_RDZV_DIR as for comm_worker.  Exit status 0 when all held,
 * else 1 with one line on stderr.
 */
#include "comm/comm.h"
#include "rdzv/rdzv.h"
#include "runtime/ctx.h"
#include "runtime/groups.h"
#include "runtime/runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lt_ctx ctx;

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static void fail(const char *what, const char *msg)
{
	fprintf(stderr, "groups_worker: rank %d: %s: %s\n", ctx.info.rank, what, msg);
	exit(1);
}

static void open_rdzv(void)
{
	const char *run_id = getenv(LT_ENV_RUN_ID), *host = getenv("COMM_WORKER_HOST");
	struct lt_err err = { 0 };

	if (!run_id || !*run_id)
		fail("rendezvous", "set " LT_ENV_RUN_ID " to the job's id");
	snprintf(ctx.info.run_id, sizeof(ctx.info.run_id), "%s", run_id);
	snprintf(ctx.info.rdzv, sizeof(ctx.info.rdzv), "file");
	ctx.info.rdzv_timeout_s = 60;
	snprintf(ctx.addr, sizeof(ctx.addr), "%s", host && *host ? host : "127.0.0.1");
	ctx.rz.ops = &lt_rdzv_file;
	ctx.rz.info = &ctx.info;
	ctx.rz.timeout_ms = env_int("COMM_WORKER_TIMEOUT_MS", 20000);
	snprintf(ctx.rz.who, sizeof(ctx.rz.who), "rank %d", ctx.info.rank);
	if (ctx.rz.ops->open(&ctx.rz, &ctx.info, ctx.rz.who, &err))
		fail("rendezvous", err.msg);
}

/* "[a b] sum S": c's members by all-gather, their sum by all-reduce. */
static void members(struct lt_comm *c, char *out, size_t len)
{
	struct lt_err err = { 0 };
	int32_t me = ctx.info.rank, sum = me, *all = calloc((size_t)c->size, sizeof(*all));
	size_t n = 0;

	if (!all || lt_comm_all_gather(c, &me, all, 1, LT_I32, &err) ||
	    lt_comm_all_reduce(c, &sum, 1, LT_I32, LT_SUM, &err))
		fail(c->scope, all ? err.msg : "out of memory");
	n += (size_t)snprintf(out + n, len - n, "[");
	for (int i = 0; i < c->size && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%d", i ? " " : "", (int)all[i]);
	if (n < len)
		snprintf(out + n, len - n, "] sum %d", (int)sum);
	free(all);
}

int main(int argc, char **argv)
{
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	struct lt_comm *node, *cross, *node2, *cross2;
	char in_node[256], in_cross[256];

	if (argc != 2 || !reg ||
	    lt_registry_resolve(reg, LT_KIND_COMM, argv[1], &ctx.choice[LT_KIND_COMM], &err)) {
		fprintf(stderr, "usage: groups_worker shm|tcp|gloo|mpi|auto%s%s\n",
			err.msg[0] ? ": " : "", err.msg);
		return 2;
	}
	ctx.info.rank = env_int("OMPI_COMM_WORLD_RANK", env_int("RANK", -1));
	ctx.info.world_size = env_int("OMPI_COMM_WORLD_SIZE", env_int("WORLD_SIZE", -1));
	if (ctx.info.world_size < 1 || ctx.info.rank < 0 || ctx.info.rank >= ctx.info.world_size)
		fail("identity", "set RANK and WORLD_SIZE (0 <= RANK < WORLD_SIZE)");
	open_rdzv();
	if (lt_groups_open(&ctx, &node, &cross, &err))
		fail("lt_groups_open", err.msg);
	if (lt_groups_open(&ctx, &node2, &cross2, &err) || node2 != node || cross2 != cross)
		fail("lt_groups_open", "a second open did not return the open groups");
	members(node, in_node, sizeof(in_node));
	members(cross, in_cross, sizeof(in_cross));
	printf("groups_worker: rank %d: node %s cross %s\n", ctx.info.rank, in_node, in_cross);
	printf("groups_worker: rank %d: over %s %s\n", ctx.info.rank, node->name, cross->name);
	fflush(stdout);
	lt_runtime_free(&ctx);
	if (ctx.node_comm || ctx.cross_comm)
		fail("lt_runtime_free", "the groups are still open");
	ctx.rz.ops->close(&ctx.rz, &err);
	lt_choice_free(&ctx.choice[LT_KIND_COMM]);
	lt_registry_free(reg);
	return 0;
}
