/*
 * affinity.c - a Fabric-mode model that says where its rank may run, for
 * the --cpu-bind tests (tests/integration/test_bind.c).  Each rank prints
 * one line and returns:
 *
 *   affinity local=L cpus=0-3 omp=N numa=K
 *
 * cpus: its sched_getaffinity mask as a cpulist; omp: OMP_NUM_THREADS and
 * numa: LTRUN_NUMA_NODE, "-" when unset.
 */
#define _GNU_SOURCE
#include <ltrun.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static void cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
		int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		if (e == c)
			n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, e);
		c = e;
	}
}

int lt_main(lt_ctx *ctx, int argc, char **argv)
{
	const char *omp = getenv("OMP_NUM_THREADS"), *numa = getenv("LTRUN_NUMA_NODE");
	char cpus[1024] = "?";
	cpu_set_t set;

	(void)argc;
	(void)argv;
	if (!sched_getaffinity(0, sizeof(set), &set))
		cpulist(&set, cpus, sizeof(cpus));
	printf("affinity local=%d cpus=%s omp=%s numa=%s\n", lt_local_rank(ctx), cpus,
	       omp ? omp : "-", numa ? numa : "-");
	fflush(stdout);
	return 0;
}
