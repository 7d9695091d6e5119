/*
 * test_preempt.c - preemption and restarts (issue 17, items 1 and 2): a
 * preemption signal to the agent mid-run makes ltrun exit 75 with a
 * checkpoint saved, and `--resume auto` then finishes with parameters
 * bit-identical to an uninterrupted run; --preempt-signals changes the
 * signals (a bad list is refused); --resume auto starts fresh on an empty
 * --ckpt-dir and refuses a damaged checkpoint, deleting nothing;
 * --max-restarts resumes from the last checkpoint (also over http);
 * --requeue on outside Slurm is refused.  With a real Slurm cluster
 * (tests/scripts/slurm-cluster, skipped without one): a preempted job
 * requeued by node 0's agent, by adopted rank 0, as a job array's task,
 * and on two nodes (network namespaces, ltrun's srun self-relaunch)
 * resumes bit-identical; a job
 * submitted --no-requeue is refused (--requeue on) or left alone (auto).
 * The model is tests/models/preempt_linreg.c.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/built.h"
#include "nginx.h"
#include "run.h"
#include "training.h"

TestSuite(preempt, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define MODEL build_path("tests/models/preempt_linreg.so")
#define MAX_ARGS 48

/* ltrun's options for a 2-rank run of 60 steps (10 epochs of 6). */
#define RUN_OPTS "--devices", "2", "--batch-size", "8", "--lr", "0.1", "--max-epochs", "10"

/* argv: [ltrun,] opts, extra, the model, "--", model options (all
 * NULL-terminated lists; extra and mopts may be NULL). */
static const char **argv_of(bool with_ltrun, const char *const *opts, const char *const *extra,
			    const char *const *mopts)
{
	static const char *argv[MAX_ARGS];
	int n = 0;

	if (with_ltrun)
		argv[n++] = build_path("ltrun");
	for (; *opts && n < MAX_ARGS - 20; opts++)
		argv[n++] = *opts;
	for (; extra && *extra && n < MAX_ARGS - 12; extra++)
		argv[n++] = *extra;
	argv[n++] = MODEL;
	argv[n++] = "--";
	for (; mopts && *mopts && n < MAX_ARGS - 1; mopts++)
		argv[n++] = *mopts;
	argv[n] = NULL;
	return argv;
}

/* The uninterrupted run's parameters, into dump. */
static void reference(char *dump, size_t len)
{
	path_in_tmp(dump, len, "whole.f32");
	train("the uninterrupted run", argv_of(false, (const char *const[]){ RUN_OPTS, NULL }, NULL,
					       (const char *const[]){ "--dump", dump, NULL }),
	      0);
}

/* Starts a run on dir that says when it reaches step 3 and goes slowly,
 * sends it sig there, and expects exit 75 with the one line of the
 * agent saying where the checkpoint is. */
static void preempt_with(const char *dir, const char *const *extra, int sig)
{
	const char *opts[] = { RUN_OPTS, "--ckpt-dir", dir, "--resume", "auto", NULL };
	struct run_result r;
	struct run_job *j;

	j = run_start(argv_of(true, opts, extra,
			      (const char *const[]){ "--slow", "30", "--say-step", "3", NULL }),
		      NULL, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "preempt_linreg: at step 3", 30000), "never reached step 3:\n%s",
		  run_job_out(j));
	kill(run_job_pid(j), sig);
	run_job_finish(j, 60, &r);
	cr_expect_eq(r.status, 75, "a preempted run exits 75, not %d:\n%s", r.status, r.err);
	cr_expect(strstr(r.err, "--resume auto: no checkpoint in") &&
		  strstr(r.err, "starting fresh"),
		  "--resume auto on an empty --ckpt-dir says it starts fresh:\n%s", r.err);
	cr_expect(strstr(r.err, "ltrun: preempted at step ") &&
		  strstr(r.err, "checkpoint saved in ") && strstr(r.err, "; exit 75\n"),
		  "the agent's one line names the step and the checkpoint:\n%s", r.err);
	cr_expect(count_steps(dir) >= 1, "a checkpoint was saved in %s", dir);
	run_result_free(&r);
}

/* --resume auto on dir finishes the run; its parameters against whole. */
static void resume_and_compare(const char *dir, const char *whole)
{
	const char *opts[] = { RUN_OPTS, "--ckpt-dir", dir, "--resume", "auto", NULL };
	char resumed[512];
	char *err;

	path_in_tmp(resumed, sizeof(resumed), "resumed.f32");
	err = train("the resumed run",
		    argv_of(false, opts, NULL, (const char *const[]){ "--dump", resumed, NULL }), 1);
	cr_expect(strstr(err, "--resume auto: resumed at step ") != NULL,
		  "--resume auto says where it resumed:\n%s", err);
	cr_expect(strstr(err, "trained 60 steps") != NULL, "the resumed run ends at step 60:\n%s",
		  err);
	free(err);
	expect_same_params("preempted, then resumed", whole, resumed, 0.0);
}

Test(preempt, sigusr1_exits_75_and_resume_auto_is_bit_identical)
{
	char dir[512], whole[512];

	reference(whole, sizeof(whole));
	path_in_tmp(dir, sizeof(dir), "ckpt");
	preempt_with(dir, NULL, SIGUSR1);
	resume_and_compare(dir, whole);
}

/* A preemption signal before the trainer runs (rank 1 still loading the
 * model, rank 0 waiting for it at the rendezvous) is a stop after the
 * first step, with its checkpoint: exit 75, not a rank killed. */
Test(preempt, a_signal_before_the_first_step_stops_after_it)
{
	char dir[512];
	const char *opts[] = { RUN_OPTS, "--ckpt-dir", dir, "--resume", "auto", NULL };
	const char *env[] = { "PREEMPT_LINREG_SLOW_LOAD_MS=1500", NULL };
	struct run_result r;
	struct run_job *j;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	j = run_start(argv_of(true, opts, NULL, NULL), env, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "preempt_linreg: loading slowly", 30000),
		  "rank 1 never said it loads slowly:\n%s", run_job_out(j));
	kill(run_job_pid(j), SIGUSR1);
	run_job_finish(j, 60, &r);
	cr_expect_eq(r.status, 75, "a run preempted before its first step exits 75, not %d:\n%s",
		     r.status, r.err);
	cr_expect(strstr(r.err, "ltrun: preempted at step 1,") || strstr(r.err, "ltrun: preempted at step 1;"),
		  "it stopped after the first step:\n%s", r.err);
	cr_expect(count_steps(dir) >= 1, "a checkpoint was saved in %s", dir);
	run_result_free(&r);
}

Test(preempt, preempt_signals_usr2)
{
	char dir[512], whole[512];

	reference(whole, sizeof(whole));
	path_in_tmp(dir, sizeof(dir), "ckpt");
	preempt_with(dir, (const char *const[]){ "--preempt-signals", "usr2", NULL }, SIGUSR2);
	resume_and_compare(dir, whole);
}

/* The agent forwards the preemption signals whatever --signals says. */
Test(preempt, preempt_signals_are_forwarded_beyond_signals)
{
	char dir[512];

	path_in_tmp(dir, sizeof(dir), "ckpt");
	preempt_with(dir, (const char *const[]){ "--signals", "INT", NULL }, SIGUSR1);
}

Test(preempt, sigterm_exits_75)
{
	char dir[512];

	path_in_tmp(dir, sizeof(dir), "ckpt");
	preempt_with(dir, NULL, SIGTERM);
}

Test(preempt, without_ckpt_dir_the_line_says_nothing_was_saved)
{
	struct run_result r;
	struct run_job *j;

	j = run_start(argv_of(true, (const char *const[]){ RUN_OPTS, NULL }, NULL,
			      (const char *const[]){ "--slow", "30", "--say-step", "3", NULL }),
		      NULL, -1);
	cr_assert_not_null(j);
	cr_assert(run_job_wait_for(j, "preempt_linreg: at step 3", 30000), "%s", run_job_out(j));
	kill(run_job_pid(j), SIGUSR1);
	run_job_finish(j, 60, &r);
	cr_expect_eq(r.status, 75, "still the preempted status:\n%s", r.err);
	cr_expect(strstr(r.err, "nothing saved (no --ckpt-dir); exit 75\n") != NULL,
		  "the line says nothing was saved:\n%s", r.err);
	run_result_free(&r);
}

Test(preempt, bad_preempt_signals_are_refused)
{
	expect_one_line_failure(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
					(const char *const[]){ "--preempt-signals", "USR1,BOGUS", NULL },
					NULL),
				"invalid --preempt-signals 'USR1,BOGUS'");
	expect_one_line_failure(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
					(const char *const[]){ "--preempt-signals", "KILL", NULL },
					NULL),
				"SIGKILL cannot be forwarded");
}

Test(preempt, resume_auto_needs_ckpt_dir)
{
	expect_one_line_failure(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
					(const char *const[]){ "--resume", "auto", NULL }, NULL),
				"--resume is 'auto', which needs --ckpt-dir");
}

Test(preempt, resume_auto_refuses_a_damaged_checkpoint_and_deletes_nothing)
{
	char dir[512], file[700];
	struct run_result r;
	struct stat before, after;
	FILE *f;
	int byte, steps;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("5 steps", argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				 (const char *const[]){ "--max-steps", "5", "--ckpt-dir", dir, NULL },
				 NULL),
	      0);
	newest_checkpoint_file(dir, file, sizeof(file));
	steps = count_steps(dir);
	f = fopen(file, "r+b");
	cr_assert_not_null(f);
	cr_assert_eq(fseek(f, -3, SEEK_END), 0);
	byte = fgetc(f);
	cr_assert_eq(fseek(f, -3, SEEK_END), 0);
	fputc(0x5a ^ byte, f);
	fclose(f);
	cr_assert_eq(stat(file, &before), 0);
	cr_assert_eq(run_ltrun(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				       (const char *const[]){ "--ckpt-dir", dir, "--resume", "auto",
							      NULL },
				       NULL),
			       NULL, &r),
		     0);
	cr_expect_neq(r.status, 0, "a damaged checkpoint is refused, never trained over:\n%s", r.err);
	cr_expect(strstr(r.err, "does not match") && strstr(r.err, "model.safetensors"),
		  "the message names the damaged file:\n%s", r.err);
	cr_expect(!strstr(r.err, "starting fresh"), "auto does not start fresh over it:\n%s", r.err);
	run_result_free(&r);
	cr_expect_eq(stat(file, &after), 0, "the damaged checkpoint is still there");
	cr_expect_eq(before.st_size, after.st_size);
	cr_expect_eq(count_steps(dir), steps, "nothing under --ckpt-dir was deleted");
}

/* Rank 1 fails in step 10 of the first attempt (epochs are 6 steps); the
 * restart goes on from step 8's checkpoint, not from step 0, and ends
 * where an uninterrupted run ends. */
Test(preempt, max_restarts_resume_from_the_last_checkpoint)
{
	char dir[512], whole[512], restarted[512];
	struct run_result r;

	reference(whole, sizeof(whole));
	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(restarted, sizeof(restarted), "restarted.f32");
	cr_assert_eq(run_ltrun(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				       (const char *const[]){ "--max-restarts", "1",
							      "--ckpt-every-n-steps", "4",
							      "--ckpt-dir", dir, NULL },
				       (const char *const[]){ "--fail-once", "10", "--dump",
							      restarted, NULL }),
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 0, "the restart finishes the run:\n%s", r.err);
	cr_expect(strstr(r.err, "failing at step 10 of the first attempt") != NULL,
		  "the first attempt failed in step 10:\n%s", r.err);
	cr_expect(strstr(r.err, "a restart: resumed at step 8 from the last checkpoint") != NULL,
		  "the restart resumed from step 8's checkpoint:\n%s", r.err);
	cr_expect(strstr(r.out, "first step 0 restart 0") && strstr(r.out, "first step 8 restart 1"),
		  "the first attempt starts at step 0, the restart at step 8:\n%s", r.out);
	run_result_free(&r);
	expect_same_params("failed in step 10, restarted", whole, restarted, 0.0);
}

/* Over http (a real WebDAV server): a restart resumes from step 8's
 * checkpoint there; --resume auto on an empty URL is refused (a missing
 * checkpoint cannot be told from an unreachable server); a restart before
 * any save starts fresh, saying why. */
static struct nginx server;

static void stop_server(void)
{
	nginx_stop(&server);
}

Test(preempt, over_http, .fini = stop_server)
{
	char url[128], empty[160], whole[512], dump[512], why[512];
	struct run_result r;

	if (nginx_start(&server, why, sizeof(why)))
		cr_skip_test("%s", why);
	snprintf(url, sizeof(url), "%s/run", server.url);
	snprintf(empty, sizeof(empty), "%s/empty", server.url);
	reference(whole, sizeof(whole));
	path_in_tmp(dump, sizeof(dump), "restarted.f32");
	cr_assert_eq(run_ltrun(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				       (const char *const[]){ "--max-restarts", "1",
							      "--ckpt-every-n-steps", "4",
							      "--ckpt-io", "http", "--ckpt-dir", url,
							      NULL },
				       (const char *const[]){ "--fail-once", "10", "--dump", dump,
							      NULL }),
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.err, "a restart: resumed at step 8 from the last checkpoint") != NULL,
		  "the restart resumed from step 8's checkpoint on the server:\n%s", r.err);
	run_result_free(&r);
	expect_same_params("failed in step 10 over http, restarted", whole, dump, 0.0);

	expect_one_line_failure(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
					(const char *const[]){ "--ckpt-io", "http", "--ckpt-dir", empty,
							       "--resume", "auto", NULL },
					NULL),
				"--resume auto: ");

	cr_assert_eq(run_ltrun(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				       (const char *const[]){ "--max-restarts", "1",
							      "--ckpt-every-n-steps", "4",
							      "--ckpt-io", "http", "--ckpt-dir", empty,
							      NULL },
				       (const char *const[]){ "--fail-once", "2", NULL }),
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.err, "warning: a restart: no checkpoint to resume from: ") &&
		  strstr(r.err, "starting fresh"),
		  "a restart before any save starts fresh, saying why:\n%s", r.err);
	run_result_free(&r);
}

Test(preempt, requeue_on_outside_slurm_is_refused)
{
	struct run_result r;

	expect_one_line_failure(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
					(const char *const[]){ "--requeue", "on", NULL }, NULL),
				"--requeue is 'on', but this is not a Slurm job");
	cr_assert_eq(run_ltrun(argv_of(false, (const char *const[]){ RUN_OPTS, NULL },
				       (const char *const[]){ "--requeue", "sometimes", NULL }, NULL),
			       NULL, &r),
		     0);
	cr_expect_eq(r.status, 2, "a bad --requeue is a usage error:\n%s", r.err);
	run_result_free(&r);
}

/* --- requeue with a real one-node Slurm cluster (tests/scripts/slurm-cluster) --- */

/* $1 cluster dir, $2 ltrun, $3 model, $4 --ckpt-dir, $5 dump, $6 sbatch's
 * --requeue or --no-requeue, $7 ltrun's --requeue, then the shape of the
 * job (struct shape): $8 what starts ltrun in the job script, $9 ltrun's
 * --devices option, $10 sbatch's node and task options, $11 the
 * cluster's nodes (2: network namespaces, clients run in n0's), $12
 * where an uninterrupted job of that shape dumps its parameters first
 * ("": none).  Starts the cluster (SKIP and why when it cannot), submits
 * a run that goes slowly, signals its step with USR1 once it reached step 3 (scancel
 * --signal, as --signal=USR1@T does), waits until the job ended for good
 * (at most 100 s; a requeued job waits 120 s for its begin time, which
 * the script moves to now as an administrator may), prints scontrol's
 * Restarts, JobState and ExitCode, then the job's output (every start's,
 * --open-mode=append), and stops the cluster. */
static const char slurm_sh[] =
	"d=$1\n"
	"SLURM_CLUSTER_NODES=${11} tests/scripts/slurm-cluster start \"$d\" >\"$d/cluster.log\" 2>&1 ||\n"
	"	{ echo \"SKIP $(head -n 1 \"$d/cluster.log\")\"; exit 0; }\n"
	". \"$d/env\"\n"
	"c=${SLURM_CLUSTER_NS:+ip netns exec $SLURM_CLUSTER_NS}\n"
	"ltrun=$2 model=$3 requeue=$7 launch=$8 devices=$9\n"
	"job() {\n"
	"	printf '#!/bin/sh\\nexec %s %s %s --batch-size 8 --lr 0.1 --max-epochs 10 "
	"--ckpt-dir %s --resume auto --requeue %s %s -- --slow %s --say-step 3 --dump %s\\n' "
	"\"$launch\" \"$ltrun\" \"$devices\" \"$1\" \"$requeue\" \"$model\" \"$2\" \"$3\"\n"
	"}\n"
	"if [ -n \"${12}\" ]; then\n"
	"	job \"$4.ref\" 0 \"${12}\" >\"$d/ref.sh\"\n"
	"	$c timeout 60 sbatch --wait ${10} -o \"$d/ref.out\" \"$d/ref.sh\" >/dev/null ||\n"
	"		{ echo 'the reference job failed:'; cat \"$d/ref.out\"; }\n"
	"fi\n"
	"job \"$4\" 30 \"$5\" >\"$d/job.sh\"\n"
	"id=$($c timeout 20 sbatch --parsable \"$6\" --open-mode=append -o \"$d/out\" ${10} "
	"\"$d/job.sh\")\n"
	"info() {\n"
	"	$c timeout 20 scontrol show job \"$id\" 2>/dev/null |\n"
	"		grep -o 'Restarts=[0-9]*\\|JobState=[A-Z_]*\\|Reason=BeginTime\\|ExitCode=[0-9:]*'\n"
	"}\n"
	/* ended, or gone already (MinJobAge) */
	"over() {\n"
	"	case $1 in ''|*=COMPLETED*|*=FAILED*|*=CANCELLED*|*=TIMEOUT*|*=NODE_FAIL*|*=OUT_OF_MEMORY*) return 0 ;; esac\n"
	"	return 1\n"
	"}\n"
	"i=0\n"
	"until grep -q 'at step 3' \"$d/out\" 2>/dev/null; do\n"
	"	sleep 0.2; i=$((i + 1))\n"
	"	if [ $((i % 10)) -eq 0 ] && over \"$(info)\"; then echo 'it ended before step 3'; break; fi\n"
	"	[ $i -lt 300 ] || { echo 'never reached step 3'; break; }\n"
	"done\n"
	"$c timeout 20 scancel --signal=USR1 \"$id\"\n"
	"i=0 last=\n"
	"while :; do\n"
	"	s=$(info)\n"
	"	over \"$s\" && break\n"
	"	last=$s\n"
	"	case $s in *BeginTime*) $c timeout 20 scontrol update JobId=\"$id\" StartTime=now ;; esac\n"
	"	sleep 0.5; i=$((i + 1))\n"
	"	[ $i -lt 200 ] || { echo 'the job never ended'; break; }\n"
	"done\n"
	"echo \"${s:-$last (then gone)}\"\n"
	"echo \"job $id\"\n"
	"cat \"$d/out\"\n"
	"tests/scripts/slurm-cluster stop \"$d\" >/dev/null 2>&1\n";

static char slurm_dir[] = "/tmp/ltrun-preempt-slurm-XXXXXX";

/* How the job starts its ranks: slurm_sh's $8 to $11. */
struct shape {
	const char *launch, *devices, *nodes, *cluster;
};

/* srun starts ltrun once, whose agent starts 2 ranks. */
static const struct shape by_agent = { "srun -n 1", "--devices 2", "-N1 -n2", "1" };
/* srun starts 2 ranks, adopted. */
static const struct shape by_srun = { "srun -n 2", "", "-N1 -n2", "1" };
/* srun starts ltrun once, in a job array of one task (--array=1: the
 * job has SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID). */
static const struct shape array_task = { "srun -n 1", "--devices 2", "-N1 -n2 --array=1", "1" };
/* 2 nodes: ltrun in the batch script starts one ltrun per node with srun,
 * each agent 2 ranks. */
static const struct shape two_nodes = { "", "--devices 2", "-N2 --ntasks-per-node=1", "2" };

static void slurm_job(const char *sbatch_requeue, const char *ltrun_requeue,
		      const struct shape *shape, const char *dir, const char *dump,
		      const char *reference_dump, struct run_result *r)
{
	const char *programs[] = { "munged", "slurmctld", "slurmd", "sbatch", "scancel",
				   "scontrol", NULL };
	char ltrun[PATH_MAX], model[PATH_MAX];
	struct run_result rm;

	if (!LT_HAVE_SLURM)
		cr_skip_test("requeueing needs " LT_LEFT_OUT(LT_DEP_SLURM));
	if (geteuid() != 0)
		cr_skip_test("needs root (slurmd starts jobs as their owners)");
	for (const char *const *p = programs; *p; p++) {
		struct run_result w;
		cr_assert_eq(run_command((const char *[]){ "sh", "-c", "command -v \"$1\"", "sh", *p,
							   NULL },
					 NULL, 10, &w),
			     0);
		bool found = w.status == 0;
		run_result_free(&w);
		if (!found)
			cr_skip_test("no %s: install slurm-wlm and munge", *p);
	}
	cr_assert_not_null(mkdtemp(slurm_dir));
	cr_assert_not_null(realpath(build_path("ltrun"), ltrun));
	cr_assert_not_null(realpath(MODEL, model));
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", slurm_sh, "sh", slurm_dir, ltrun,
						   model, dir, dump, sbatch_requeue, ltrun_requeue,
						   shape->launch, shape->devices, shape->nodes,
						   shape->cluster, reference_dump, NULL },
				 NULL, 200, r),
		     0);
	if (!run_command((const char *[]){ "rm", "-rf", slurm_dir, NULL }, NULL, 20, &rm))
		run_result_free(&rm);
	if (!strncmp(r->out, "SKIP ", 5))
		cr_skip_test("cannot start a Slurm cluster: %.200s", r->out + 5);
}

/* Preempted in its first start, the job requeues itself (--requeue
 * auto: it was submitted --requeue) from node 0's agent, or from rank 0
 * when srun made the ranks, starts again with SLURM_RESTART_COUNT=1,
 * resumes and ends as an uninterrupted run does. */
static void requeued(const struct shape *shape, bool reference_here, const char *names)
{
	char dir[512], whole[512], dump[512];
	struct run_result r;

	if (reference_here)
		reference(whole, sizeof(whole));
	else
		path_in_tmp(whole, sizeof(whole), "whole.f32");
	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(dump, sizeof(dump), "requeued.f32");
	slurm_job("--requeue", "auto", shape, dir, dump, reference_here ? "" : whole, &r);
	cr_expect(strstr(r.out, "Restarts=1") != NULL, "Slurm requeued the job once:\n%s", r.out);
	cr_expect(strstr(r.out, "JobState=COMPLETED") && strstr(r.out, "ExitCode=0:0"),
		  "its second start completed:\n%s", r.out);
	cr_expect(strstr(r.out, "checkpoint saved in ") && strstr(r.out, "requeueing Slurm job "),
		  "saved, then requeued:\n%s", r.out);
	if (names)
		cr_expect(strstr(r.out, names), "the lines name the job as '%s':\n%s", names, r.out);
	cr_expect(strstr(r.out, "restart 1") && strstr(r.out, "--resume auto: resumed at step "),
		  "the second start resumed, with lt_restart_count() 1:\n%s", r.out);
	run_result_free(&r);
	expect_same_params("preempted, requeued by Slurm, resumed", whole, dump, 0.0);
}

Test(preempt, slurm_requeue_resumes_bit_identical, .timeout = 240)
{
	requeued(&by_agent, true, NULL);
}

Test(preempt, slurm_requeue_by_adopted_rank_0, .timeout = 240)
{
	requeued(&by_srun, true, NULL);
}

/* An array task requeues itself through its own job id (SLURM_JOB_ID,
 * so only that task), and its lines name it "ARRAY_TASK (job ID)". */
Test(preempt, slurm_array_task_requeue_resumes_bit_identical, .timeout = 240)
{
	requeued(&array_task, true, "_1 (job ");
}

/* Two nodes, each a network namespace with its slurmd: the batch script's
 * ltrun starts one ltrun per node with srun (the self-relaunch, for
 * real), both agents pass the signal on, node 0's requeues, and the
 * second start's 4 ranks end as an uninterrupted job of the same shape
 * (on the same cluster: its reduction across nodes adds in another order
 * than 4 ranks on one node). */
Test(preempt, slurm_two_nodes_requeue_resumes_bit_identical, .timeout = 240)
{
	requeued(&two_nodes, false, NULL);
}

/* A job submitted --no-requeue, preempted under ltrun's --requeue
 * `requeue`: not requeued, the line `says`, Slurm's ExitCode `code`, and
 * the checkpoint stays. */
static void not_requeued(const char *requeue, const char *says, const char *code)
{
	char dir[512], dump[512];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(dump, sizeof(dump), "stopped.f32");
	slurm_job("--no-requeue", requeue, &by_agent, dir, dump, "", &r);
	cr_expect(strstr(r.out, says) != NULL, "--requeue %s: the line says '%s':\n%s", requeue,
		  says, r.out);
	cr_expect(strstr(r.out, "Restarts=0") && strstr(r.out, code),
		  "--requeue %s: not requeued, %s:\n%s", requeue, code, r.out);
	run_result_free(&r);
	cr_expect(count_steps(dir) >= 1, "the checkpoint is still in %s", dir);
}

/* --requeue on: Slurm refuses; one line naming the job and Slurm's error,
 * exit 1, and the checkpoint stays. */
Test(preempt, slurm_refused_requeue_keeps_the_checkpoint, .timeout = 240)
{
	not_requeued("on", "; the checkpoint is kept\n", "ExitCode=1:0");
}

/* --requeue auto: left alone, the line says why; still exit 75. */
Test(preempt, slurm_auto_leaves_a_no_requeue_job_alone, .timeout = 240)
{
	not_requeued("auto", " was submitted with --no-requeue; exit 75\n", "ExitCode=75:0");
}
