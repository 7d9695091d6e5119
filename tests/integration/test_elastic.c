/*
 * test_elastic.c - elastic membership (--num-nodes MIN:MAX) on two real
 * hosts: a network namespace each, joined by a veth pair (root only, else
 * skipped), tests/models/elastic_lin.so training slowly (100 ms a step)
 * with a checkpoint every step.
 *
 *  - a node lost: both hosts start with --num-nodes 1:2, one's agent is
 *    killed (SIGKILL) mid-training; the other carries on alone in a new
 *    rendezvous round, resumed from the last checkpoint, and finishes;
 *    with three hosts (2:3), one killed, or its link cut (no connection
 *    closes: the heartbeats find it), the other two go on at world 2;
 *  - a node joining late: one host starts alone (round 0, after the last
 *    call), the other joins while it trains; both meet in round 1 at
 *    world size 2, resumed from the last checkpoint, and finish; with
 *    three hosts, a third joins a running world of two (round 1: 3).
 *
 * Each runs with the tcp store and again with etcd (etcd-server, started
 * in the first host's namespace; skipped when absent).
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/built.h"
#include "netns.h"
#include "nginx.h"
#include "run.h"
#include "training.h"

#define SUBNET "10.231.23"
#define MAIN_ADDR SUBNET ".1"
#define ETCD_ENDPOINT MAIN_ADDR ":2379"

static struct netns_pair hosts;

static void fini(void)
{
	netns_pair_delete(&hosts);
	training_remove_tmp();
}

/* What both scripts share: $1 $2 the namespaces, $3 ltrun, $4 the model,
 * $5 the temp dir, $6 "etcd" or "tcp".  Starts etcd in the first host
 * for etcd; `node NS OUT` runs one agent in the background; `until_step
 * K` waits for rank 0's step K. */
#define ELASTIC_SH_COMMON                                                                   \
	"set -u\n"                                                                           \
	"na=$1 nb=$2 ltrun=$3 model=$4 tmp=$5 kind=$6 nodes=${nodes:-1:2} rdzv=''\n"      \
	"cleanup=${cleanup:-:}; trap 'eval \"$cleanup\"' EXIT\n"                                     \
	"if [ \"$6\" = etcd ]; then\n"                                                       \
	"  ip netns exec \"$na\" etcd --data-dir \"$tmp/etcd\" --name el \\\n"               \
	"    --listen-client-urls http://" ETCD_ENDPOINT " \\\n"                             \
	"    --advertise-client-urls http://" ETCD_ENDPOINT " \\\n"                          \
	"    --listen-peer-urls http://" MAIN_ADDR ":2380 \\\n"                              \
	"    --initial-advertise-peer-urls http://" MAIN_ADDR ":2380 \\\n"                   \
	"    --initial-cluster el=http://" MAIN_ADDR ":2380 >\"$tmp/etcd.log\" 2>&1 & etcd=$!\n" \
	"  cleanup=\"kill $etcd; $cleanup\"\n"                                                \
	"  i=0\n" /* serving before a node asks it: ltrun does not wait for etcd */            \
	"  until ip netns exec \"$na\" curl -sf http://" ETCD_ENDPOINT "/health >/dev/null; do\n" \
	"    i=$((i + 1)); [ $i -lt 200 ] || { tail -n 5 \"$tmp/etcd.log\" >&2; exit 1; }\n"   \
	"    sleep 0.05\n"                                                                     \
	"  done\n"                                                                            \
	"  rdzv='--rdzv etcd --rdzv-endpoint " ETCD_ENDPOINT "'\n"                            \
	"fi\n"                                                                               \
	"\"$ltrun\" --max-steps 2 --batch-size 1 --ckpt-dir \"$tmp/ckpt\" \"$model\" -- --step-ms 1 \\\n" \
	"  2>\"$tmp/first.err\" || { cat \"$tmp/first.err\" >&2; exit 1; }\n"                \
	"node() {\n"                                                                         \
	"  ip netns exec \"$1\" \"$ltrun\" --num-nodes $nodes --rdzv-last-call 1 $rdzv ${hb:-} \\\n"  \
	"    --main-addr " MAIN_ADDR " --main-port 29731 --devices 1 --max-restarts 2 \\\n"   \
	"    --batch-size 1 --max-steps 40 --ckpt-dir \"$tmp/ckpt\" --ckpt-every-n-steps 1 \\\n" \
	"    --resume last --rdzv-timeout 60 \"$model\" -- --step-ms 100 2>\"$tmp/$2.err\" &\n"  \
	"}\n"                                                                                \
	"until_step() {\n"                                                                   \
	"  for i in $(seq 600); do\n"                                                        \
	"    cat \"$tmp\"/[abc].err 2>/dev/null | grep -q \"elastic_lin: step $1\\$\" && return 0\n" \
	"    sleep 0.1\n"                                                                    \
	"  done; return 1\n"                                                                 \
	"}\n"                                                                                \
	"show() {\n"                                                                         \
	"  for f in \"$tmp\"/[abc].err; do echo \"== $f\"; cat \"$f\"; done >&2\n"          \
	"  [ \"$kind\" = etcd ] || return 0\n"                                                    \
	"  echo \"== etcd's /ltrun/ keys: $(ip netns exec \"$na\" curl -s -X POST \\\n"       \
	"    http://" ETCD_ENDPOINT "/v3/kv/range \\\n"                                        \
	"    -d '{\"key\":\"L2x0cnVuLw==\",\"range_end\":\"L2x0cnVuMA==\",\"count_only\":true}')\" >&2\n" \
	"}\n"

/* Both start; b's agent is killed at step 8; a must finish alone. */
static const char lost_sh[] = ELASTIC_SH_COMMON
	"node \"$na\" a; a=$!\n"
	"node \"$nb\" b; b=$!\n"
	"until_step 8 || { show; exit 1; }\n"
	"kill -9 $b\n"
	"wait $a; s=$?\n"
	"show; echo \"status a: $s\" >&2\n"
	"exit $s\n";

/* a starts alone; b joins at a's step 8; both must finish. */
static const char late_sh[] = ELASTIC_SH_COMMON
	"node \"$na\" a; a=$!\n"
	"until_step 8 || { show; exit 1; }\n"
	"node \"$nb\" b; b=$!\n"
	"wait $a; sa=$?; wait $b; sb=$?\n"
	"show; echo \"status a: $sa b: $sb\" >&2\n"
	"[ $sa = 0 ] && [ $sb = 0 ]\n";

/* Three hosts: namespaces a, b, c of this shell's own, b and c joined to
 * a bridge in a (its address the main one).  Runs the common part on a
 * and b, then starts c too, with --num-nodes 2:3; c's agent is killed at
 * step 8; a and b must finish at world size 2. */
#define THREE_SH_HOSTS                                                                      \
	"n=el$$; na=${n}a nb=${n}b nc=${n}c\n" \
	"cleanup=\"for x in $na $nb $nc; do ip netns del \\$x 2>/dev/null; done\"\n" \
	"trap 'eval \"$cleanup\"' EXIT\n" \
	"for x in $na $nb $nc; do ip netns add $x || exit 1; ip -n $x link set lo up; done\n" \
	"ip -n $na link add br0 type bridge && ip -n $na link set br0 up &&\n" \
	"ip -n $na addr add " MAIN_ADDR "/24 dev br0 || exit 1\n" \
	"k=2; for x in $nb $nc; do\n" \
	"  ip link add ${n}v$k type veth peer name ${n}w$k &&\n" \
	"  ip link set ${n}v$k netns $na && ip link set ${n}w$k netns $x &&\n" \
	"  ip -n $na link set ${n}v$k master br0 && ip -n $na link set ${n}v$k up &&\n" \
	"  ip -n $x addr add " SUBNET ".$k/24 dev ${n}w$k && ip -n $x link set ${n}w$k up || exit 1\n" \
	"  k=3\n" \
	"done\n" \
	"set -- $na $nb \"$3\" \"$4\" \"$5\" \"$6\"; nodes=2:3\n" \
	ELASTIC_SH_COMMON
#define THREE_SH_SETUP                                                                      \
	THREE_SH_HOSTS \
	"node \"$na\" a; a=$!\n" \
	"node \"$nb\" b; b=$!\n" \
	"node \"$nc\" c; c=$!\n" \
	"until_step 8 || { show; exit 1; }\n"

static const char three_sh[] = THREE_SH_SETUP
	"kill -9 $c\n"
	"wait $a; sa=$?; wait $b; sb=$?\n"
	"show; echo \"status a: $sa b: $sb\" >&2\n"
	"[ $sa = 0 ] && [ $sb = 0 ]\n";

/* The same, but c's link is cut (no connection closes): a and b notice
 * through the heartbeats alone, and go on at world size 2. */
static const char cut_sh[] = "hb='--heartbeat-interval 0.5 --heartbeat-timeout 3'\n" THREE_SH_SETUP
	"ip -n $nc link set ${n}w3 down || exit 1\n"
	"( sleep 110; kill -9 $a $b ) 2>/dev/null & guard=$!\n" /* a hang still shows the logs */
	"wait $a; sa=$?; wait $b; sb=$?; kill $guard 2>/dev/null\n"
	"kill -9 $c 2>/dev/null; wait $c\n"
	"show; echo \"status a: $sa b: $sb\" >&2\n"
	"[ $sa = 0 ] && [ $sb = 0 ]\n";

/* a and b train at world size 2 (--num-nodes 2:3); c joins at step 8;
 * all three finish at world size 3. */
static const char join3_sh[] = THREE_SH_HOSTS
	"node \"$na\" a; a=$!\n"
	"node \"$nb\" b; b=$!\n"
	"until_step 8 || { show; exit 1; }\n"
	"node \"$nc\" c; c=$!\n"
	"wait $a; sa=$?; wait $b; sb=$?; wait $c; sc=$?\n"
	"show; echo \"status a: $sa b: $sb c: $sc\" >&2\n"
	"[ $sa = 0 ] && [ $sb = 0 ] && [ $sc = 0 ]\n";

static bool have_etcd(void)
{
	return !access("/usr/bin/etcd", X_OK) || !access("/usr/local/bin/etcd", X_OK);
}

static void run_elastic(const char *script, const char *rdzv, struct run_result *r)
{
	/* the three hosts' scripts make their own namespaces */
	bool own_hosts = script == three_sh || script == cut_sh || script == join3_sh;
	char ltrun[PATH_MAX], model[PATH_MAX], why[512];

	if (!strcmp(rdzv, "etcd") && !LT_HAVE_CURL)
		cr_skip_test("rendezvous 'etcd' needs " LT_LEFT_OUT(LT_DEP_CURL));
	if (!strcmp(rdzv, "etcd") && !have_etcd())
		cr_skip_test("etcd is not installed (Debian package etcd-server)");
	if (own_hosts && geteuid() != 0)
		cr_skip_test("network namespaces need root");
	if (!own_hosts && netns_pair_make(&hosts, "el", SUBNET, why, sizeof(why)))
		cr_skip_test("%s", why);
	cr_assert_not_null(realpath(build_path("ltrun"), ltrun), "build ltrun first");
	cr_assert_not_null(realpath(build_path("tests/models/elastic_lin.so"), model),
			   "build the test models first");
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", script, "sh", hosts.name[0],
						   hosts.name[1], ltrun, model, training_tmpdir,
						   rdzv, NULL },
				 NULL, 150, r),
		     0);
	cr_assert_eq(r->status, 0, "%s: status %d\nstderr:\n%s", rdzv, r->status, r->err);
	/* rounds 0 and 1 were kept in etcd ("/ltrun/<run id>/elastic/<r>") */
	if (!strcmp(rdzv, "etcd"))
		cr_expect(strstr(r->err, "\"count\":\"2\"") || strstr(r->err, "\"count\":\"3\""),
			  "etcd holds the rounds:\n%s", r->err);
}

/* The step rank 0 started from in the attempt at `restart` with `world`
 * ranks ("elastic_lin: restart R world W first step S"), or -1. */
static long first_step(const char *err, int restart, int world)
{
	char needle[96];
	const char *p;

	snprintf(needle, sizeof(needle), "elastic_lin: restart %d world %d first step ", restart,
		 world);
	p = strstr(err, needle);
	return p ? atol(p + strlen(needle)) : -1;
}

static void node_lost(const char *rdzv)
{
	struct run_result r;
	long s;

	run_elastic(lost_sh, rdzv, &r);
	cr_expect(strstr(r.err, "rendezvous round 0: 2 nodes"), "%s: round 0 had 2 nodes:\n%s",
		  rdzv, r.err);
	cr_expect(strstr(r.err, "rendezvous round 1: 1 node,"),
		  "%s: the survivor met alone in round 1:\n%s", rdzv, r.err);
	s = first_step(r.err, 1, 1);
	cr_expect_geq(s, 8, "%s: round 1 resumed from step %ld, not from the last checkpoint (>= 8):\n%s",
		      rdzv, s, r.err);
	cr_expect(strstr(r.err, "elastic_lin: step 39\n"),
		  "%s: the survivor finished the 40 steps:\n%s", rdzv, r.err);
	run_result_free(&r);
}

static void node_joins(const char *rdzv)
{
	struct run_result r;
	long s;

	run_elastic(late_sh, rdzv, &r);
	cr_expect(strstr(r.err, "rendezvous round 0: 1 node,"), "%s: a started alone:\n%s", rdzv,
		  r.err);
	cr_expect(strstr(r.err, "asks to join the job"), "%s: b asked to join:\n%s", rdzv, r.err);
	cr_expect(strstr(r.err, "rendezvous round 1: 2 nodes"), "%s: both met in round 1:\n%s",
		  rdzv, r.err);
	s = first_step(r.err, 1, 2);
	cr_expect_geq(s, 8, "%s: round 1 (world 2) resumed from step %ld, not the last checkpoint:\n%s",
		      rdzv, s, r.err);
	run_result_free(&r);
}

TestSuite(elastic, .init = training_make_tmp, .fini = fini, .timeout = 200);

Test(elastic, lost_node_tcp)
{
	node_lost("tcp");
}

Test(elastic, late_node_joins_tcp)
{
	node_joins("tcp");
}

static void three_hosts_lose_one(const char *script, const char *rdzv)
{
	struct run_result r;
	long s;

	run_elastic(script, rdzv, &r);
	cr_expect(strstr(r.err, "rendezvous round 0: 3 nodes"), "%s: round 0 had 3 nodes:\n%s",
		  rdzv, r.err);
	cr_expect(strstr(r.err, "rendezvous round 1: 2 nodes"),
		  "%s: the other two met in round 1:\n%s", rdzv, r.err);
	s = first_step(r.err, 1, 2);
	cr_expect_geq(s, 8, "%s: round 1 (world 2) resumed from step %ld:\n%s", rdzv, s, r.err);
	cr_expect(strstr(r.err, "elastic_lin: step 39\n"), "%s: they finished:\n%s", rdzv, r.err);
	run_result_free(&r);
}

Test(elastic, three_hosts_lose_one_tcp)
{
	three_hosts_lose_one(three_sh, "tcp");
}

Test(elastic, three_hosts_lose_one_etcd)
{
	three_hosts_lose_one(three_sh, "etcd");
}

/* The cut link: no connection closes, the heartbeats find it. */
Test(elastic, three_hosts_one_link_cut_tcp)
{
	three_hosts_lose_one(cut_sh, "tcp");
}

Test(elastic, three_hosts_one_link_cut_etcd)
{
	three_hosts_lose_one(cut_sh, "etcd");
}

/* The late host, among three: a third joins a running world of 2. */
static void third_host_joins(const char *rdzv)
{
	struct run_result r;
	long s;

	run_elastic(join3_sh, rdzv, &r);
	cr_expect(strstr(r.err, "rendezvous round 0: 2 nodes"), "%s: a and b started:\n%s", rdzv,
		  r.err);
	cr_expect(strstr(r.err, "asks to join the job"), "%s: c asked to join:\n%s", rdzv, r.err);
	cr_expect(strstr(r.err, "rendezvous round 1: 3 nodes"), "%s: all three met:\n%s", rdzv,
		  r.err);
	s = first_step(r.err, 1, 3);
	cr_expect_geq(s, 8, "%s: round 1 (world 3) resumed from step %ld:\n%s", rdzv, s, r.err);
	cr_expect(strstr(r.err, "elastic_lin: step 39\n"), "%s: they finished:\n%s", rdzv, r.err);
	run_result_free(&r);
}

Test(elastic, three_hosts_third_joins_tcp)
{
	third_host_joins("tcp");
}

Test(elastic, three_hosts_third_joins_etcd)
{
	third_host_joins("etcd");
}

Test(elastic, lost_node_etcd)
{
	node_lost("etcd");
}

Test(elastic, late_node_joins_etcd)
{
	node_joins("etcd");
}

/* An etcd that nobody serves: one line naming the endpoint, at once. */
Test(elastic, unreachable_etcd_is_one_line)
{
	double t0 = run_clock_s();
	char port[16];

	snprintf(port, sizeof(port), "%d", nginx_free_port());
	expect_one_line_failure((const char *const[]){ "--num-nodes", "1:2", "--rdzv", "etcd",
						       "--rdzv-endpoint", "127.0.0.1:9",
						       "--main-addr", "127.0.0.1", "--main-port",
						       port, "--max-steps",
						       "1", build_path("tests/models/elastic_lin.so"),
						       NULL },
				"cannot reach etcd at 127.0.0.1:9");
	cr_expect_lt(run_clock_s() - t0, 10.0, "the failure took %.1f s", run_clock_s() - t0);
}

Test(elastic, min_above_max_is_refused)
{
	expect_one_line_failure((const char *const[]){ "--num-nodes", "3:2", "--dry-run", NULL },
				"invalid --num-nodes '3:2': MIN 3 is above MAX 2");
}
