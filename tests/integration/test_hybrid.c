/*
 * test_hybrid.c - hybrid_shard end to end: two real hosts (a network
 * namespace each, joined by a veth pair; root only, else skipped) run 2
 * ranks each of tests/models/hybrid_mlp.so, once under --strategy ddp and
 * once under --strategy hybrid_shard (ZeRO-3 inside each host over shm,
 * the shards all-reduced between the hosts over tcp), 12 steps; every
 * parameter must end within 1e-5 relative L2 of ddp's.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "run.h"
#include "training.h"

#define MAIN_ADDR "10.231.17.1"
#define MAX_VALUES 256

static struct netns_pair hosts;

static void fini(void)
{
	netns_pair_delete(&hosts);
	training_remove_tmp();
}

/* Both hosts' ltrun at once, 2 ranks each: $1 $2 the namespaces, $3
 * ltrun, $4 the strategy, $5 the model, $6 the dump, $7 --max-steps, $8
 * more options (split on spaces). */
static const char two_hosts_sh[] =
	"for k in 0 1; do\n"
	"  ns=$1; [ $k = 1 ] && ns=$2\n"
	"  ip netns exec \"$ns\" timeout 90 \"$3\" --num-nodes 2 --node-rank $k \\\n"
	"    --main-addr " MAIN_ADDR " --devices 2 --strategy \"$4\" --batch-size 4 \\\n"
	"    --max-steps $7 --lr 0.05 $8 \"$5\" -- --dump \"$6\" & eval p$k=\\$!\n"
	"done\n"
	"wait $p0; s0=$?; wait $p1; s1=$?\n"
	"echo \"node statuses: $s0 $s1\" >&2\n"
	"[ $s0 = 0 ] && [ $s1 = 0 ]\n";

static void train_on_two_hosts_for(const char *strategy, const char *dump, const char *steps,
				   const char *more)
{
	char ltrun[PATH_MAX], model[PATH_MAX];
	struct run_result r;

	cr_assert_not_null(realpath(build_path("ltrun"), ltrun), "build ltrun first");
	cr_assert_not_null(realpath(build_path("tests/models/hybrid_mlp.so"), model),
			   "build the test models first");
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_hosts_sh, "sh", hosts.name[0],
						   hosts.name[1], ltrun, strategy, model, dump, steps,
						   more, NULL },
				 NULL, 120, &r),
		     0);
	cr_assert_eq(r.status, 0, "--strategy %s on 2 hosts x 2 ranks: status %d\nstdout:\n%s\nstderr:\n%s",
		     strategy, r.status, r.out, r.err);
	run_result_free(&r);
}

static void train_on_two_hosts(const char *strategy, const char *dump)
{
	train_on_two_hosts_for(strategy, dump, "12", "");
}

/* One parameter of a params.h text dump. */
struct param {
	char name[64];
	double v[MAX_VALUES];
	int n;
};

/* Reads a dump into p[] (at most max parameters); returns how many. */
static int read_dump(const char *path, struct param *p, int max)
{
	FILE *f = fopen(path, "r");
	char name[64];
	long long idx;
	double v;
	int n = 0;

	cr_assert_not_null(f, "no dump '%s'", path);
	while (fscanf(f, "%63s %lld %lf", name, &idx, &v) == 3) {
		if (!n || strcmp(p[n - 1].name, name)) {
			cr_assert_lt(n, max, "more than %d parameters in '%s'", max, path);
			snprintf(p[n].name, sizeof(p[n].name), "%s", name);
			p[n++].n = 0;
		}
		cr_assert_lt(p[n - 1].n, MAX_VALUES, "'%s' too large in '%s'", name, path);
		p[n - 1].v[p[n - 1].n++] = v;
	}
	fclose(f);
	return n;
}

/* Every parameter of b within rel relative L2 of a's. */
static void expect_close(const char *a_path, const char *b_path, double rel)
{
	static struct param a[8], b[8];
	int na = read_dump(a_path, a, 8), nb = read_dump(b_path, b, 8);

	cr_assert_eq(na, nb, "ddp dumped %d parameters, hybrid_shard %d", na, nb);
	cr_assert_gt(na, 0, "empty dump '%s'", a_path);
	for (int k = 0; k < na; k++) {
		double diff = 0.0, norm = 0.0;

		cr_assert_str_eq(a[k].name, b[k].name);
		cr_assert_eq(a[k].n, b[k].n, "%s: %d values under ddp, %d under hybrid_shard",
			     a[k].name, a[k].n, b[k].n);
		for (int i = 0; i < a[k].n; i++) {
			diff += (a[k].v[i] - b[k].v[i]) * (a[k].v[i] - b[k].v[i]);
			norm += a[k].v[i] * a[k].v[i];
		}
		cr_expect_leq(sqrt(diff), rel * sqrt(norm),
			      "%s: relative L2 distance %g from ddp's (at most %g)", a[k].name,
			      norm > 0 ? sqrt(diff / norm) : sqrt(diff), rel);
	}
}

Test(hybrid, matches_ddp_on_two_hosts_in_network_namespaces, .init = training_make_tmp,
     .fini = fini)
{
	char why[512], ddp[PATH_MAX], hybrid[PATH_MAX];

	if (netns_pair_make(&hosts, "h", "10.231.17", why, sizeof(why)))
		cr_skip_test("%s", why);
	path_in_tmp(ddp, sizeof(ddp), "ddp.txt");
	path_in_tmp(hybrid, sizeof(hybrid), "hybrid.txt");
	train_on_two_hosts("ddp", ddp);
	train_on_two_hosts("hybrid_shard", hybrid);
	expect_close(ddp, hybrid, 1e-5);
}

/* Only node 0's ranks write hybrid_shard's checkpoint shards (one
 * directory both hosts see, as a cluster's shared file system); a resume
 * on both hosts reads them there and broadcasts them to node 1: 6 steps,
 * a resume to 12, and 12 steps in one go end with the same values. */
Test(hybrid, resumes_on_two_hosts_as_one_run, .init = training_make_tmp, .fini = fini)
{
	char why[512], once[PATH_MAX], resumed[PATH_MAX], ck[PATH_MAX], more[PATH_MAX + 64];
	static double a[MAX_VALUES], b[MAX_VALUES];
	size_t na, nb;

	if (netns_pair_make(&hosts, "h", "10.231.17", why, sizeof(why)))
		cr_skip_test("%s", why);
	path_in_tmp(once, sizeof(once), "once.txt");
	path_in_tmp(resumed, sizeof(resumed), "resumed.txt");
	path_in_tmp(ck, sizeof(ck), "ck");
	snprintf(more, sizeof(more), "--seed 9 --ckpt-dir %s", ck);
	train_on_two_hosts_for("hybrid_shard", resumed, "6", more);
	snprintf(more, sizeof(more), "--seed 9 --ckpt-dir %s --resume last", ck);
	train_on_two_hosts_for("hybrid_shard", resumed, "12", more);
	train_on_two_hosts_for("hybrid_shard", once, "12", "--seed 9");
	na = read_text_dump(once, a, MAX_VALUES);
	nb = read_text_dump(resumed, b, MAX_VALUES);
	cr_assert_eq(na, nb, "%zu values in one go, %zu resumed", na, nb);
	cr_assert_gt(na, 0, "empty dump '%s'", once);
	for (size_t i = 0; i < na; i++)
		cr_expect_eq(memcmp(&a[i], &b[i], sizeof(a[i])), 0,
			     "value %zu: %.9g in one go, %.9g resumed at step 6 on 2 hosts", i, a[i],
			     b[i]);
}
