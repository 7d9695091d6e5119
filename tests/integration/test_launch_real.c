/*
 * test_launch_real.c - ltrun under the real launchers, nothing mocked: srun
 * and sbatch on a one-node Slurm cluster of our own
 * (tests/scripts/slurm-cluster), Open MPI's mpirun, torchrun from
 * python3-torch, and two "hosts" made of network namespaces joined by a
 * veth pair.  Each run's hello lines (examples/models/hello.c) must name
 * every rank exactly once, agree on the world size and the main address,
 * put each rank on the right node with the right local rank, and every rank
 * must pass the barrier.  Then a Trainer-mode model (tests/models/linreg.c)
 * trains under the same launcher, and its parameters must equal those of
 * single_device with the whole batch.  A launcher that cannot start here
 * (not root, not installed, refused) skips its test and says why; it never
 * passes.
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

#define MAX_RANKS 16

/* What one rank's hello line said. */
struct hello_line {
	int seen;            /* hello lines with this rank */
	int world, local, local_world, node, num_nodes;
	char main[128];      /* MASTER_ADDR:MASTER_PORT */
};

/* What all the hello and bye lines of one run said. */
struct job_lines {
	struct hello_line rank[MAX_RANKS];
	int hellos, byes;
};

/* Reads every "hello rank=..." and "bye rank=..." in text, whatever prefix
 * the launcher put before it ("[rank 3] ", "[default1]:", "0: "). */
static void parse_job(const char *text, struct job_lines *j)
{
	memset(j, 0, sizeof(*j));
	for (const char *p = text; (p = strstr(p, "hello rank=")); p++) {
		struct hello_line h = { 0 };
		int rank, restart;

		if (sscanf(p, "hello rank=%d world=%d local=%d/%d node=%d/%d restart=%d main=%127s",
			   &rank, &h.world, &h.local, &h.local_world, &h.node, &h.num_nodes,
			   &restart, h.main) != 8 || rank < 0 || rank >= MAX_RANKS)
			continue;
		h.seen = j->rank[rank].seen + 1;
		j->rank[rank] = h;
		j->hellos++;
	}
	for (const char *p = text; (p = strstr(p, "bye rank=")); p++)
		j->byes++;
}

/* Expects a run of `world` ranks, `per_node` on each node, laid out by
 * block (node k holds ranks k*per_node...), all agreeing on one main
 * address (beginning with main_prefix, when given), all past the barrier. */
static void expect_job(const char *what, const struct run_result *r, int world, int per_node,
		       const char *main_prefix)
{
	struct job_lines j;

	cr_expect_eq(r->status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r->status,
		     r->out, r->err);
	parse_job(r->out, &j);
	cr_expect_eq(j.hellos, world, "%s: %d hello lines, want %d\nstdout:\n%s\nstderr:\n%s",
		     what, j.hellos, world, r->out, r->err);
	cr_expect_eq(j.byes, world, "%s: %d ranks passed the barrier, want %d\n%s", what, j.byes,
		     world, r->out);
	for (int k = 0; k < world; k++) {
		const struct hello_line *h = &j.rank[k];

		cr_expect_eq(h->seen, 1, "%s: rank %d said hello %d times", what, k, h->seen);
		if (h->seen != 1)
			continue;
		cr_expect_eq(h->world, world, "%s: rank %d says world=%d", what, k, h->world);
		cr_expect_eq(h->local, k % per_node, "%s: rank %d says local=%d", what, k, h->local);
		cr_expect_eq(h->local_world, per_node, "%s: rank %d says %d ranks per node", what, k,
			     h->local_world);
		cr_expect_eq(h->node, k / per_node, "%s: rank %d says node=%d", what, k, h->node);
		cr_expect_eq(h->num_nodes, world / per_node, "%s: rank %d says %d nodes", what, k,
			     h->num_nodes);
		cr_expect_str_eq(h->main, j.rank[0].main, "%s: ranks %d and 0 disagree on main", what,
				 k);
	}
	cr_expect(j.rank[0].main[0] && j.rank[0].main[0] != '?', "%s: no main address: '%s'", what,
		  j.rank[0].main);
	if (main_prefix)
		cr_expect(!strncmp(j.rank[0].main, main_prefix, strlen(main_prefix)),
			  "%s: main is '%s', want '%s...'", what, j.rank[0].main, main_prefix);
}

/* --- what a launcher needs --- */

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
}

static void need_programs(const char *const *names)
{
	for (; *names; names++) {
		struct run_result r;

		cr_assert_eq(run_command((const char *[]){ "sh", "-c", "command -v \"$0\"", *names,
							   NULL },
					 NULL, 10, &r),
			     0, "cannot run sh");
		run_result_free(&r);
		if (r.status)
			cr_skip_test("'%s' is not installed (scripts/packages.txt)", *names);
	}
}

/* Makes rel (a path in the build under test, or in the source tree when
 * in_build is false) absolute: launchers start it from other directories. */
static const char *abs_path(const char *rel, bool in_build, char *buf)
{
	const char *path = in_build ? build_path(rel) : rel;

	cr_assert_not_null(realpath(path, buf), "'%s' is missing: build first", path);
	return buf;
}

/* Criterion runs no .fini after a skip: undo what the test made first.
 * The reason is copied, so the caller may free what it came from. */
#define SKIP_AFTER(teardown, ...)                                  \
	do {                                                       \
		char why_[1024];                                   \
		snprintf(why_, sizeof(why_), __VA_ARGS__);         \
		teardown();                                        \
		cr_skip_test("%s", why_);                          \
	} while (0)

/* Fills why with the first line of text (an error message). */
static void first_line(const char *text, char *why, size_t size)
{
	snprintf(why, size, "%.*s", (int)strcspn(text, "\n"), text);
}

static void remove_tree(const char *dir)
{
	struct run_result r;

	if (!run_command((const char *[]){ "rm", "-rf", dir, NULL }, NULL, 30, &r))
		run_result_free(&r);
}

/* --- training under a launcher --- */

static size_t read_params(const char *path, float *out, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert_not_null(f, "no parameter dump '%s'", path);
	n = fread(out, sizeof(float), max, f);
	fclose(f);
	return n;
}

/* Trains linreg on one rank with batch world*8 (the reference), into
 * dir/single.f32, and returns the dump path the launched run must write. */
static void reference_params(const char *dir, int world, char *dump, size_t len)
{
	char batch[16], single[PATH_MAX];
	struct run_result r;

	snprintf(batch, sizeof(batch), "%d", 8 * world);
	snprintf(single, sizeof(single), "%s/single.f32", dir);
	cr_assert_eq(run_ltrun((const char *[]){ "--strategy", "single_device", "--batch-size",
						 batch, "--max-epochs", "2", "--lr", "0.1",
						 build_path("tests/models/linreg.so"), "--", "--dump",
						 single, NULL },
			       NULL, &r),
		     0);
	cr_assert_eq(r.status, 0, "single_device reference: %s", r.err);
	run_result_free(&r);
	snprintf(dump, len, "%s/launched.f32", dir);
}

/* The launched run succeeded, trained, and ended where the reference did. */
static void expect_trained(const char *what, const struct run_result *r, const char *dir)
{
	float a[64], b[64];
	char single[PATH_MAX], launched[PATH_MAX];
	size_t n, m;
	double diff = 0.0, big = 0.0;

	cr_expect_eq(r->status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r->status,
		     r->out, r->err);
	cr_expect(strstr(r->err, "trained ") || strstr(r->out, "trained "),
		  "%s: no training summary\nstderr:\n%s", what, r->err);
	if (r->status)
		return;
	snprintf(single, sizeof(single), "%s/single.f32", dir);
	snprintf(launched, sizeof(launched), "%s/launched.f32", dir);
	n = read_params(single, a, 64);
	m = read_params(launched, b, 64);
	cr_assert_eq(n, m, "%s: %zu vs %zu parameters", what, n, m);
	for (size_t i = 0; i < n; i++) {
		big = big > fabs(a[i]) ? big : fabs(a[i]);
		diff = diff > fabs(a[i] - b[i]) ? diff : fabs(a[i] - b[i]);
	}
	cr_expect_leq(diff, 1e-5 * big, "%s: parameters differ from single_device by %g (largest %g)",
		      what, diff, big);
}

/* The ltrun arguments of a launched linreg run (world ranks, batch 8). */
#define TRAIN_OPTS(dump) "--batch-size", "8", "--max-epochs", "2", "--lr", "0.1", linreg, \
	"--", "--dump", dump

/* --- Slurm: srun adopts every task; sbatch runs one ltrun per node --- */

static char slurm_dir[] = "/tmp/ltrun-slurm-XXXXXX";
static bool slurm_made;

static void slurm_cluster(const char *verb, struct run_result *r)
{
	cr_assert_eq(run_command((const char *[]){ "tests/scripts/slurm-cluster", verb, slurm_dir,
						    NULL },
				 NULL, 60, r),
		     0, "cannot run tests/scripts/slurm-cluster");
}

static void slurm_teardown(void)
{
	struct run_result r;

	if (!slurm_made)
		return;
	slurm_made = false;
	slurm_cluster("stop", &r);
	run_result_free(&r);
	remove_tree(slurm_dir);
}

/* One cluster, several steps: a cluster takes ~2 s to start and stop. */
Test(launch_real, slurm_srun_and_sbatch, .fini = slurm_teardown)
{
	char ltrun[PATH_MAX], hello[PATH_MAX], script[PATH_MAX], conf[PATH_MAX + 16];
	char ltrun_var[PATH_MAX + 8], out[PATH_MAX + 8], what[64], why[512];
	struct run_result r;

	need_root();
	need_programs((const char *[]){ "munged", "slurmctld", "slurmd", "srun", "sbatch", "timeout",
					NULL });
	abs_path("ltrun", true, ltrun);
	abs_path("examples/models/hello.so", true, hello);
	abs_path("examples/slurm/train.sbatch", false, script);
	cr_assert_not_null(mkdtemp(slurm_dir));
	slurm_made = true;
	slurm_cluster("start", &r);
	first_line(r.err, why, sizeof(why));
	run_result_free(&r);
	if (r.status)
		SKIP_AFTER(slurm_teardown, "cannot start a Slurm cluster: %s", why);
	snprintf(conf, sizeof(conf), "SLURM_CONF=%s/slurm.conf", slurm_dir);

	/* srun made the ranks: each task is adopted as one. */
	for (int n = 4; n <= 8; n += 4) {
		char tasks[8];

		snprintf(tasks, sizeof(tasks), "%d", n);
		snprintf(what, sizeof(what), "srun -n %d ltrun hello.so", n);
		cr_assert_eq(run_command((const char *[]){ "timeout", "45", "srun", "-n", tasks, ltrun,
							   hello, NULL },
					 (const char *[]){ conf, NULL }, 60, &r),
			     0);
		expect_job(what, &r, n, n, NULL);
		run_result_free(&r);
	}

	/* A Trainer-mode model trains under srun as it does alone. */
	{
		char linreg[PATH_MAX], dump[PATH_MAX];

		abs_path("tests/models/linreg.so", true, linreg);
		reference_params(slurm_dir, 4, dump, sizeof(dump));
		cr_assert_eq(run_command((const char *[]){ "timeout", "45", "srun", "-n", "4",
							   ltrun, TRAIN_OPTS(dump), NULL },
					 (const char *[]){ conf, NULL }, 60, &r),
			     0);
		expect_trained("srun -n 4 ltrun linreg.so", &r, slurm_dir);
		run_result_free(&r);
	}

	/* sbatch: one srun task per node, whose ltrun forks the node's ranks. */
	snprintf(ltrun_var, sizeof(ltrun_var), "LTRUN=%s", ltrun);
	snprintf(out, sizeof(out), "%s/train.out", slurm_dir);
	cr_assert_eq(run_command((const char *[]){ "timeout", "60", "sbatch", "--wait", "--nodes=1",
						   "-o", out, script, hello, "4", NULL },
				 (const char *[]){ conf, ltrun_var, NULL }, 75, &r),
		     0);
	cr_expect_eq(r.status, 0, "sbatch --wait train.sbatch: status %d: %s%s", r.status, r.out,
		     r.err);
	run_result_free(&r);
	cr_assert_eq(run_command((const char *[]){ "cat", out, NULL }, NULL, 10, &r), 0);
	expect_job("sbatch train.sbatch hello.so 4", &r, 4, 4, NULL);
	run_result_free(&r);
}

/* --- Open MPI: mpirun made the ranks, ltrun reads PMIx / OMPI_* --- */

static char mpi_tmp[] = "/tmp/ltrun-mpi-XXXXXX";
static bool mpi_made;

static void mpi_teardown(void)
{
	if (mpi_made)
		remove_tree(mpi_tmp);
	mpi_made = false;
}

/* As root, over more ranks than cores, pinned to loopback (the machine has
 * a second interface), with its session directory in the test's TMPDIR. */
#define MPIRUN "timeout", "60", "mpirun", "--allow-run-as-root", "--oversubscribe", "--mca", \
	"oob_tcp_if_include", "lo", "--mca", "btl_tcp_if_include", "lo"

Test(launch_real, mpirun, .fini = mpi_teardown)
{
	char ltrun[PATH_MAX], hello[PATH_MAX], tmpdir[PATH_MAX + 8], why[512];
	const char *env[] = { tmpdir, NULL };
	struct run_result r;

	need_programs((const char *[]){ "mpirun", "timeout", NULL });
	abs_path("ltrun", true, ltrun);
	abs_path("examples/models/hello.so", true, hello);
	cr_assert_not_null(mkdtemp(mpi_tmp));
	mpi_made = true;
	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", mpi_tmp);
	cr_assert_eq(run_command((const char *[]){ MPIRUN, "-np", "1", "true", NULL }, env, 75, &r),
		     0);
	first_line(r.err, why, sizeof(why));
	run_result_free(&r);
	if (r.status)
		SKIP_AFTER(mpi_teardown, "mpirun cannot start even 'true': %s", why);

	cr_assert_eq(run_command((const char *[]){ MPIRUN, "-np", "4", ltrun, hello, NULL }, env, 75,
				 &r),
		     0);
	expect_job("mpirun -np 4 ltrun hello.so", &r, 4, 4, NULL);
	run_result_free(&r);

	/* --rdzv tcp: rank 0 hosts the store, and its token reaches the
	 * others through PMIx, with no secret file to derive one from. */
	cr_assert_eq(run_command((const char *[]){ MPIRUN, "-x", "LTRUN_SECRET_FILE", "-np", "3",
						   ltrun, "--rdzv", "tcp", hello, NULL },
				 (const char *[]){ tmpdir,
						   "LTRUN_SECRET_FILE=/nonexistent/ltrun/secret",
						   NULL },
				 75, &r),
		     0);
	expect_job("mpirun -np 3 ltrun --rdzv tcp hello.so (token through PMIx)", &r, 3, 3, NULL);
	run_result_free(&r);

	/* Training under mpirun, with the default communicator and with mpi. */
	{
		char linreg[PATH_MAX], dump[PATH_MAX], lsan[PATH_MAX + 128], cwd[PATH_MAX];

		abs_path("tests/models/linreg.so", true, linreg);
		reference_params(mpi_tmp, 3, dump, sizeof(dump));
		cr_assert_eq(run_command((const char *[]){ MPIRUN, "-np", "3",
							   ltrun, TRAIN_OPTS(dump), NULL },
					 env, 75, &r),
			     0);
		expect_trained("mpirun -np 3 ltrun linreg.so", &r, mpi_tmp);
		run_result_free(&r);
		unlink(dump);
		/* MPI_Init keeps allocations until exit in libraries without
		 * frame pointers: the slow unwinder and undlclosed components
		 * let tests/lsan.supp name them. */
		snprintf(lsan, sizeof(lsan),
			 "LSAN_OPTIONS=suppressions=%s/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0",
			 getcwd(cwd, sizeof(cwd)) ? cwd : ".");
		cr_assert_eq(run_command((const char *[]){ MPIRUN, "-x",
							   "OMPI_MCA_mca_base_component_disable_dlclose",
							   "-x", lsan, "-np", "3", ltrun, "--comm", "mpi",
							   TRAIN_OPTS(dump), NULL },
					 (const char *[]){ tmpdir,
							   "OMPI_MCA_mca_base_component_disable_dlclose=1",
							   NULL },
					 75, &r),
			     0);
		expect_trained("mpirun -np 3 ltrun --comm mpi linreg.so", &r, mpi_tmp);
		run_result_free(&r);
	}
}

/* --- torchrun: ltrun reads the torchelastic variables --- */

static char torch_tmp[] = "/tmp/ltrun-torch-XXXXXX";
static bool torch_made;

static void torch_teardown(void)
{
	if (torch_made)
		remove_tree(torch_tmp);
	torch_made = false;
}

Test(launch_real, torchrun, .fini = torch_teardown)
{
	char ltrun[PATH_MAX], hello[PATH_MAX], tmpdir[PATH_MAX + 8], home[PATH_MAX + 8], why[512];
	const char *env[] = { tmpdir, home, NULL };
	struct run_result r;

	need_programs((const char *[]){ "/usr/bin/torchrun", "/usr/bin/python3", "timeout", NULL });
	abs_path("ltrun", true, ltrun);
	abs_path("examples/models/hello.so", true, hello);
	cr_assert_not_null(mkdtemp(torch_tmp));
	torch_made = true;
	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", torch_tmp);
	snprintf(home, sizeof(home), "HOME=%s", torch_tmp);
	cr_assert_eq(run_command((const char *[]){ "/usr/bin/python3", "-c",
						   "import torch.distributed.run", NULL },
				 env, 60, &r),
		     0);
	first_line(r.err, why, sizeof(why));
	run_result_free(&r);
	if (r.status)
		SKIP_AFTER(torch_teardown, "python3-torch is not usable: %s", why);

	/* 1.13 spells --no_python; on Python 3.11 it crashes in its default
	 * output handling unless --redirects/--tee are given (with --tee the
	 * lines come back prefixed "[default0]:").  A short monitor interval
	 * saves it ~5 s of polling. */
	cr_assert_eq(run_command((const char *[]){ "timeout", "90", "/usr/bin/torchrun", "--standalone",
						   "--nproc_per_node", "2", "--monitor_interval",
						   "0.2", "--redirects", "1", "--tee", "1",
						   "--no_python", ltrun, hello, NULL },
				 env, 105, &r),
		     0);
	expect_job("torchrun --nproc_per_node 2 ltrun hello.so", &r, 2, 2, NULL);
	run_result_free(&r);

	{
		char linreg[PATH_MAX], dump[PATH_MAX];

		abs_path("tests/models/linreg.so", true, linreg);
		reference_params(torch_tmp, 2, dump, sizeof(dump));
		cr_assert_eq(run_command((const char *[]){ "timeout", "90", "/usr/bin/torchrun",
							   "--standalone", "--nproc_per_node", "2",
							   "--monitor_interval", "0.2", "--redirects",
							   "1", "--tee", "1", "--no_python",
							   ltrun, TRAIN_OPTS(dump), NULL },
					 env, 105, &r),
			     0);
		expect_trained("torchrun --nproc_per_node 2 ltrun linreg.so", &r, torch_tmp);
		run_result_free(&r);
	}
}

/* --- two hosts by hand: a network namespace each, joined by a veth pair --- */

#define NETNS_MAIN "10.231.7.1"

static struct netns_pair hosts;

static void netns_teardown(void)
{
	netns_pair_delete(&hosts);
}

/* Both nodes' ltrun at once; their lines share one stdout. */
static const char two_nodes_sh[] =
	"ip netns exec \"$1\" timeout 60 \"$3\" --num-nodes 2 --node-rank 0 \\\n"
	"  --main-addr " NETNS_MAIN " --devices 4 \"$4\" & p0=$!\n"
	"ip netns exec \"$2\" timeout 60 \"$3\" --num-nodes 2 --node-rank 1 \\\n"
	"  --main-addr " NETNS_MAIN " --devices 4 \"$4\" & p1=$!\n"
	"wait $p0; s0=$?; wait $p1; s1=$?\n"
	"echo \"node statuses: $s0 $s1\" >&2\n"
	"[ $s0 = 0 ] && [ $s1 = 0 ]\n";

/* The same for training: 2 ranks a node, rank 0 (node 0) dumps. */
static const char two_nodes_train_sh[] =
	"for k in 0 1; do\n"
	"  ns=$1; [ $k = 1 ] && ns=$2\n"
	"  ip netns exec \"$ns\" timeout 60 \"$3\" --num-nodes 2 --node-rank $k \\\n"
	"    --main-addr " NETNS_MAIN " --devices 2 --batch-size 8 --max-epochs 2 --lr 0.1 \\\n"
	"    \"$4\" -- --dump \"$5\" & eval p$k=\\$!\n"
	"done\n"
	"wait $p0; s0=$?; wait $p1; s1=$?\n"
	"echo \"node statuses: $s0 $s1\" >&2\n"
	"[ $s0 = 0 ] && [ $s1 = 0 ]\n";

Test(launch_real, two_hosts_in_network_namespaces, .fini = netns_teardown)
{
	char ltrun[PATH_MAX], hello[PATH_MAX], why[512];
	struct run_result r;

	need_root();
	need_programs((const char *[]){ "ip", "timeout", NULL });
	abs_path("ltrun", true, ltrun);
	abs_path("examples/models/hello.so", true, hello);
	if (netns_pair_make(&hosts, "l", "10.231.7", why, sizeof(why)))
		cr_skip_test("%s", why);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_nodes_sh, "sh", hosts.name[0],
						   hosts.name[1], ltrun, hello, NULL },
				 NULL, 75, &r),
		     0);
	expect_job("2 namespaces x ltrun --devices 4", &r, 8, 4, NETNS_MAIN ":");
	run_result_free(&r);

	/* Training across the two nodes: shm inside each, tcp between them. */
	{
		char linreg[PATH_MAX], dump[PATH_MAX], dir[] = "/tmp/ltrun-netns-XXXXXX";

		abs_path("tests/models/linreg.so", true, linreg);
		cr_assert_not_null(mkdtemp(dir));
		reference_params(dir, 4, dump, sizeof(dump));
		cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_nodes_train_sh, "sh",
							   hosts.name[0], hosts.name[1], ltrun, linreg,
							   dump,
							   NULL },
					 NULL, 90, &r),
			     0);
		expect_trained("2 namespaces x ltrun --devices 2 linreg.so", &r, dir);
		run_result_free(&r);
		remove_tree(dir);
	}
}
