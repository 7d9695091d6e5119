/*
 * agent.c - runs a plan.  When a launcher (srun, mpirun, torchrun) created
 * the ranks, this process is one rank and runs it (rank 0 hosts the
 * store).  Otherwise this process is the node's agent:
 *
 *  - node 0's agent hosts the rendezvous store, on the port it binds;
 *  - it creates the local ranks (exec: fork + exec of ltrun as a rank;
 *    fork: fork only), each in the ranks' process group, killed if the
 *    agent dies (PR_SET_PDEATHSIG, checked again right after fork);
 *  - the ranks' standard input is /dev/null, and neither they nor the
 *    agent can be stopped by writing to the terminal (SIGTTOU ignored):
 *    their process group is never the terminal's foreground group;
 *  - it relays their output line by line, forwards the --signals to every
 *    rank, passes ctrl-Z and fg (SIGTSTP, SIGCONT) on to them, reports a
 *    rank that something else stopped (and counts it failed if nothing
 *    continues it within --rdzv-timeout), and on the first failure stops
 *    the others (SIGTERM, then SIGKILL after a short grace; after
 *    --term-timeout when the user's signal stopped the job), tells the
 *    other nodes' agents through the store, prints one report and exits
 *    with the failed rank's status, or restarts every rank
 *    (--max-restarts) with LTRUN_RESTART_COUNT raised, in a new rendezvous
 *    round;
 *  - in an elastic job (--num-nodes MIN:MAX, launch/elastic.h) each
 *    attempt starts with a rendezvous round that sets the nodes, this
 *    node's rank and the attempt's number; the agent that holds
 *    --main-addr serves the store;
 *  - it is a child subreaper: what a rank leaves running outside the
 *    ranks' group (a child that called setsid) comes back to it and is
 *    killed when the attempt ends;
 *  - at start it removes the run directories and shm segments of this
 *    user's agents and ranks that were killed (their owner is gone).
 *
 * Started in a multi-node sbatch script or salloc shell, where it would
 * otherwise wait forever for nodes that never start, it re-launches itself
 * once per node through srun.
 */
#include "core/clock.h"
#include "launch/agent.h"
#include "launch/heartbeat.h"
#include "launch/elastic.h"
#include "comm/comm.h"
#include "launch/output.h"
#include "launch/requeue.h"
#include "rank/rank.h"
#include "rdzv/rdzv.h"
#include "core/signals.h"
#include "rdzv/store.h"
#include "core/error.h"
#include "core/owner.h"
#include "core/registry.h"
#include "core/sha256.h"
#include "trainer/preempt.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* After a rank failed, the others get this long (or --term-timeout, if
 * shorter) between SIGTERM and SIGKILL: their collectives are broken, and
 * a rank stuck in a loop must not hold the job for --term-timeout. */
#define FAILURE_GRACE_S 3

/* Signals that stop the job when forwarded (the others, USR1 say, only
 * reach the ranks, which may checkpoint and go on). */
static bool stops_job(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

struct proc {
	pid_t pid;
	int status;       /* wait status once exited */
	bool running;
	bool killed_by_us; /* it ended after ltrun began to stop the job */
	struct timespec ended;
	int stop_sig;     /* the signal that stopped it while running, 0 */
	double stopped_at; /* lt_now_s() */
	long maxrss_kb;   /* its peak resident set (VmHWM) once reaped, 0 before */
};

struct agent {
	const struct lt_plan *plan;
	const struct lt_config *cfg;
	int n;                        /* local ranks */
	struct proc *procs;
	struct lt_output *out;
	pid_t pgid;
	int sigfd;
	int sigs[LT_MAX_SIGNALS], nsigs;
	sigset_t preempt; /* --preempt-signals: a rank starts with them blocked */
	sigset_t blocked, old_mask;
	uint8_t token[LT_STORE_TOKEN_BYTES];
	char token_hex[LT_STORE_TOKEN_HEX];
	char run_id[17];
	char run_dir[PATH_MAX - 64];
	pid_t store_pid;              /* node 0: the process serving the store */
	pid_t watcher_pid;            /* several nodes: waits for another's failure */
	int watcher_fd;               /* what it read, -1 */
	char remote_failure[512];     /* another node's failure, "" */
	int store_lifeline;           /* its end of file tells it to stop */
	int restart;                  /* this attempt's number (elastic: its round's) */
	bool elastic;                 /* --num-nodes MIN:MAX: each attempt a round */
	bool store_reaped, watcher_reaped; /* reap() collected them */
	/* this attempt's outcome */
	int failed;                   /* local index of the first failure, -1 */
	int failed_stop_sig;          /* it failed by staying stopped by it, 0 */
	int left;                     /* first to exit 0 while others ran, -1 */
	int stop_signal;              /* a stop signal the user sent, 0 */
	bool signal_passed;           /* a signal was passed on to the ranks */
	bool paused;                  /* ctrl-Z passed on to the ranks */
	bool stopping;
	double kill_at; /* lt_now_s() */
};

/* --------------------------------------------------------------- token */

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Every process of the job must hold the same token, which nobody else
 * can compute (store_token.c says where it comes from).  On a single node
 * this agent draws it and gives it to every rank; ranks a PMIx launcher
 * made share rank 0's through PMIx; else it comes from LTRUN_STORE_TOKEN
 * or the user's secret file, mixed with what every node knows alike. */
static int job_token(const struct lt_topology *t, const struct lt_config *cfg,
		     bool single_process_tree, bool pmix, uint8_t token[LT_STORE_TOKEN_BYTES],
		     struct lt_err *err)
{
	char identity[512];
	/* Without the tcp store the token only names the run (its run id):
	 * no secret needed then. */
	bool store = lt_rdzv_uses_store(cfg->rdzv, t->external);
	struct lt_token_job job = { .identity = identity, .fresh_ok = single_process_tree,
				    .pmix = pmix, .insecure = cfg->insecure_store || !store,
				    .warn = store && (t->external ? t->rank == 0 : t->node_rank == 0) };

	/* SLURM_STEP_ID: two srun steps of one job at once are two jobs here. */
	snprintf(identity, sizeof(identity), "%s:%s:%s:%d:%d", t->job_id,
		 getenv("SLURM_STEP_ID") ? getenv("SLURM_STEP_ID") : "", t->main_addr,
		 t->main_port, t->world_size);
	return lt_store_job_token(&job, token, err);
}

static void run_id_of(const uint8_t token[LT_STORE_TOKEN_BYTES], char out[17])
{
	uint8_t digest[32];

	lt_sha256(token, LT_STORE_TOKEN_BYTES, digest);
	hex(digest, 8, out);
}

/* ------------------------------------------------------ adopted ranks */

/* Runs the rank in this process; the model's argv[0] is its path. */
static int run_model(const struct lt_plan *plan, const struct lt_config *cfg,
		     const struct lt_rank_info *info)
{
	char **args = calloc((size_t)plan->model_argc + 2, sizeof(*args));
	int status;

	if (!args)
		lt_die(LT_EXIT_FAILURE, "out of memory");
	args[0] = (char *)plan->model;
	for (int i = 0; i < plan->model_argc; i++)
		args[1 + i] = plan->model_argv[i];
	status = lt_rank_run(info, cfg, plan->model, plan->model_argc + 1, args);
	free(args);
	return status;
}

/* A launcher that started singletons where more ranks were promised (Open
 * MPI under srun without PMIx) would run N independent jobs. */
static int check_not_singleton(const struct lt_topology *t, struct lt_err *err)
{
	static const char *const sizes[] = { "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE",
					     "PMI_SIZE", "WORLD_SIZE",
					     "JSM_NAMESPACE_SIZE", NULL };
	long n;
	struct lt_err ignored;

	if (t->world_size != 1)
		return 0;
	for (const char *const *v = sizes; *v; v++)
		if (lt_env_int(NULL, *v, 2, LONG_MAX, &n, &ignored) > 0)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "the launcher started this rank alone (world size 1), but %s=%ld promised %ld ranks: under srun, start MPI programs with srun --mpi=pmix",
					  *v, n, n);
	return 0;
}

/* How often the job was started again before this start: torchrun's
 * restarts plus Slurm's requeues (SLURM_RESTART_COUNT); 0 when neither. */
static int launcher_restarts(void)
{
	static const char *const vars[] = { "TORCHELASTIC_RESTART_COUNT", "SLURM_RESTART_COUNT" };
	struct lt_err ignored;
	int total = 0;
	long n;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (lt_env_int(NULL, vars[i], 0, 1 << 20, &n, &ignored) > 0)
			total += (int)n;
	return total;
}

/* Adopted rank 0 stopped by a preemption signal: what it saved is
 * complete (it writes or publishes the checkpoint last), so it requeues
 * the job as node 0's agent would.  Returns the exit status. */
static int requeue_adopted(const struct lt_config *cfg, const struct lt_topology *t,
			   int status)
{
	struct lt_requeue rq;
	struct lt_err err = { 0 };

	if (status != LT_EXIT_STOPPED || t->rank != 0 || !lt_requeue_wanted(cfg, &rq))
		return status;
	fprintf(stderr, "ltrun: requeueing Slurm job %s\n", rq.job);
	fflush(stderr);
	if (lt_requeue_run(&rq, &err)) {
		fprintf(stderr, "ltrun: %s\n", err.msg);
		return err.status;
	}
	return status;
}

static int run_adopted(const struct lt_plan *plan, const struct lt_config *cfg,
		       struct lt_err *err)
{
	const struct lt_topology *t = &plan->topo;
	struct lt_rank_info info = { 0 };
	char value[512];
	const char *name;

	if (check_not_singleton(t, err))
		return -1;
	if (t->local_rank == 0)
		lt_shm_remove_stale(); /* what killed ranks of an earlier job left */
	info.rank = t->rank;
	info.world_size = t->world_size;
	info.local_rank = t->local_rank;
	info.local_world_size = t->local_world_size;
	info.node_rank = t->node_rank;
	info.num_nodes = t->num_nodes;
	info.restart_count = launcher_restarts();
	snprintf(info.store_host, sizeof(info.store_host), "%s", t->main_addr);
	info.store_port = t->main_port;
	info.rdzv_timeout_s = cfg->rdzv_timeout;
	info.adopted = 1;
	info.host_store = t->rank == 0;
	snprintf(info.rdzv, sizeof(info.rdzv), "%s", cfg->rdzv);
	if (job_token(t, cfg, t->world_size == 1, getenv("PMIX_RANK") != NULL, info.token, err))
		return -1;
	run_id_of(info.token, info.run_id);
	/* The model sees torch's variables whoever started it. */
	for (int i = 0; lt_plan_rank_var(plan, t->local_rank, i, &name, value, sizeof(value)); i++)
		setenv(name, value, 1);
	setenv(LT_ENV_RUN_ID, info.run_id, 1);
	snprintf(value, sizeof(value), "%d", info.restart_count);
	setenv(LT_ENV_RESTART_COUNT, value, 1);
	return requeue_adopted(cfg, t, run_model(plan, cfg, &info));
}

/* ---------------------------------------------- srun from a batch script */

/* ltrun is the batch script's (or an salloc shell's) own process, not a
 * task of an srun step: SLURM_STEP_ID is unset or not a step number below
 * Slurm's special ids (batch, extern, interactive), or SLURM_PROCID is
 * missing. */
static bool in_batch_script(const struct lt_plan *plan)
{
	long step;
	struct lt_err ignored;
	int rc = lt_env_int(NULL, "SLURM_STEP_ID", 0, 0xffffffefL, &step, &ignored);

	return !strcmp(plan->cluster->name, "slurm") && !plan->topo.external &&
	       plan->topo.num_nodes > 1 && (rc <= 0 || !getenv("SLURM_PROCID"));
}

/* Gives the srun step a fresh token through the environment, which srun
 * passes to every task (and only the job's user, or root, can read a
 * process's environment), unless the user set one. */
static int export_new_token(struct lt_err *err)
{
	char hex[LT_STORE_TOKEN_HEX];
	const char *given = getenv(LT_ENV_STORE_TOKEN);

	if (given && *given)
		return 0;
	if (lt_store_token_new(hex, err))
		return -1;
	if (setenv(LT_ENV_STORE_TOKEN, hex, 1))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot set %s: %s", LT_ENV_STORE_TOKEN,
				  strerror(errno));
	return 0;
}

static int relaunch_with_srun(const struct lt_plan *plan, const struct lt_config *cfg,
			      int argc, char **argv, struct lt_err *err)
{
	char nodes[32], self[PATH_MAX];
	char **args;
	ssize_t n;
	int k = 0;

	if (cfg->no_srun)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "this is the batch script of a %d-node Slurm job, and ltrun runs here on one node only: start it on every node with 'srun --ntasks-per-node=1 ltrun ...' (or drop --no-srun and ltrun does so)",
				  plan->topo.num_nodes);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot find ltrun's own path: %s",
				  strerror(errno));
	self[n] = '\0';
	args = calloc((size_t)argc + 8, sizeof(*args));
	if (!args)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (export_new_token(err)) {
		free(args);
		return -1;
	}
	snprintf(nodes, sizeof(nodes), "--nodes=%d", plan->topo.num_nodes);
	args[k++] = "srun";
	args[k++] = nodes;
	args[k++] = "--ntasks-per-node=1";
	args[k++] = "--kill-on-bad-exit=1";
	args[k++] = self;
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	fprintf(stderr, "ltrun: in the batch script of a %d-node job: starting one ltrun per node with srun\n",
		plan->topo.num_nodes);
	fflush(NULL);
	execvp("srun", args);
	free(args);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "cannot run srun to start ltrun on the job's %d nodes: %s; start it yourself with 'srun --ntasks-per-node=1 ltrun ...'",
			  plan->topo.num_nodes, strerror(errno));
}

/* ------------------------------------------------------ rank processes */

static int export_var(const char *name, const char *value, void *arg)
{
	(void)arg;
	return setenv(name, value, 1);
}

static int set_rank_env(const struct agent *a, int local)
{
	const struct lt_plan *plan = a->plan;
	const char *name;
	char value[PATH_MAX];

	for (int i = 0; lt_plan_rank_var(plan, local, i, &name, value, sizeof(value)); i++)
		if (setenv(name, value, 1))
			return -1;
	snprintf(value, sizeof(value), "%s/error-%d.json", a->run_dir,
		 plan->topo.first_rank + local);
	unlink(value);
	if (setenv(LT_ENV_ERROR_FILE, value, 1))
		return -1;
	snprintf(value, sizeof(value), "%d", plan->topo.num_nodes);
	setenv(LT_ENV_NODE_COUNT, value, 1);
	/* a requeued Slurm job's restarts count too: its ranks resume */
	snprintf(value, sizeof(value), "%d", a->restart + launcher_restarts());
	setenv(LT_ENV_RESTART_COUNT, value, 1);
	snprintf(value, sizeof(value), "%d", plan->topo.main_port);
	setenv(LT_ENV_STORE_PORT, value, 1);
	snprintf(value, sizeof(value), "%d", a->cfg->rdzv_timeout);
	setenv(LT_ENV_RDZV_TIMEOUT, value, 1);
	/* On one node the store listens on loopback only (host_store). */
	setenv(LT_ENV_STORE_ADDR,
	       plan->topo.num_nodes == 1 && !a->elastic ? "127.0.0.1" : plan->topo.main_addr, 1);
	setenv(LT_ENV_STORE_TOKEN, a->token_hex, 1);
	setenv(LT_ENV_RUN_ID, a->run_id, 1);
	setenv(LT_ENV_RDZV, a->cfg->rdzv, 1);
	/* Its threads' share of the cores (of its --cpu-bind CPUs, when
	 * bound), unless the user said otherwise. */
	snprintf(value, sizeof(value), "%d", lt_plan_rank_threads(plan, local));
	for (int i = 0; i < LT_THREAD_VARS; i++)
		if (!plan->thread_user[i][0] && setenv(lt_thread_vars[i], value, 1))
			return -1;
	/* The rank reads the run's settings back with lt_config_load_env(). */
	if (lt_config_export(a->cfg, export_var, NULL))
		return -1;
	return setenv(LT_ENV_RANK_ENTRY, "1", 1);
}

/* Global rank 0 draws its live progress bar straight on the agent's
 * terminal (the relay passes whole lines only): a copy of the agent's
 * stderr when that is a terminal the ranks' output goes to, else -1.
 * Called in the child before stderr is redirected. */
static int progress_fd(const struct agent *a, int local)
{
	if (a->plan->topo.first_rank + local != 0 || !isatty(STDERR_FILENO) ||
	    (a->cfg->log_dir && !a->cfg->tee))
		return -1;
	return fcntl(STDERR_FILENO, F_DUPFD, 3);
}

/* A rank reads /dev/null: in a process group of its own, never the
 * terminal's foreground group, a read from the terminal would stop it
 * (SIGTTIN) and with it the job. */
static int null_stdin(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		return -1;
	if (fd != STDIN_FILENO && (dup2(fd, STDIN_FILENO) < 0 || close(fd)))
		return -1;
	return 0;
}

/* In the child, between fork and exec (or the rank's code).  SIGTTOU
 * stays ignored, as in the agent: the progress bar's writes to the
 * terminal must go through from the background.  The --cpu-bind CPUs are
 * set here (sched_setaffinity only: the plan has them), before the
 * rank's first thread or allocation. */
static __attribute__((noreturn)) void become_rank(struct agent *a, int local,
						  pid_t agent_pid, int fds[2])
{
	const struct lt_plan *plan = a->plan;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	setpgid(0, a->pgid ? a->pgid : 0);
	int bar_fd = progress_fd(a, local);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != agent_pid)
		_exit(128 + SIGKILL); /* the agent died before PDEATHSIG was set */
	if (dup2(fds[0], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0)
		_exit(127);
	if (lt_bind_apply(&plan->bind, local)) {
		char cpus[256];
		fprintf(stderr, "ltrun: cannot bind rank %d to CPUs %s (--cpu-bind %s): %s\n",
			plan->topo.first_rank + local,
			lt_cpulist(&lt_bind_rank_of(&plan->bind, local)->cpus, cpus, sizeof(cpus)),
			lt_bind_mode_name(plan->bind.mode), strerror(errno));
		_exit(127);
	}
	if (null_stdin()) {
		fprintf(stderr, "ltrun: cannot open /dev/null for rank %d's standard input: %s\n",
			plan->topo.first_rank + local, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < a->nsigs; i++)
		sigaction(a->sigs[i], &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL); /* the agent ignores it; exec would keep that */
	/* the preemption signals wait for the rank's handler (preempt.h),
	 * which takes one that came before it */
	sigprocmask(SIG_SETMASK, &a->preempt, NULL);
	if (set_rank_env(a, local))
		_exit(127);
	if (bar_fd >= 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", bar_fd);
		setenv(LT_ENV_PROGRESS_FD, v, 1);
	}
	if (!strcmp(plan->launcher, "fork")) {
		struct lt_rank_info info;
		struct lt_err err = { 0 };
		/* Nothing of the agent's but stdio (and the progress bar's
		 * terminal) is the rank's business. */
		if (bar_fd > 3)
			close_range(3, (unsigned)bar_fd - 1, 0);
		close_range(bar_fd >= 3 ? (unsigned)bar_fd + 1 : 3, ~0U, 0);
		unsetenv(LT_ENV_RANK_ENTRY);
		if (lt_rank_info_from_env(&info, &err)) {
			fprintf(stderr, "ltrun: %s\n", err.msg);
			_exit(1);
		}
		exit(run_model(plan, a->cfg, &info));
	}
	{
		char **args = calloc((size_t)plan->model_argc + 3, sizeof(*args));
		if (!args)
			_exit(127);
		args[0] = "ltrun";
		args[1] = (char *)plan->model;
		for (int i = 0; i < plan->model_argc; i++)
			args[2 + i] = plan->model_argv[i];
		execv("/proc/self/exe", args);
		fprintf(stderr, "ltrun: cannot start rank %d: exec of /proc/self/exe: %s\n",
			plan->topo.first_rank + local, strerror(errno));
		_exit(127);
	}
}

static int spawn(struct agent *a, int local, struct lt_err *err)
{
	pid_t agent_pid = getpid(), pid;
	int fds[2];

	if (lt_output_start(a->out, local, fds, err))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot start rank %d: fork: %s",
				  a->plan->topo.first_rank + local, strerror(errno));
	}
	if (pid == 0)
		become_rank(a, local, agent_pid, fds);
	/* Both sides set the group, so no signal finds a rank outside it. */
	setpgid(pid, a->pgid ? a->pgid : pid);
	if (!a->pgid)
		a->pgid = pid;
	close(fds[0]);
	close(fds[1]);
	a->procs[local] = (struct proc){ .pid = pid, .running = true };
	return 0;
}

/* ---------------------------------------------------------- supervision */

static void describe_status(int status, char *buf, size_t len);
static void describe_failure(const struct agent *a, char *buf, size_t len);
static void announce_failure(struct agent *a);

static double seconds_until(double t)
{
	return t - lt_now_s();
}

/* Sends sig (0: none) to the ranks and SIGKILL after grace_s seconds.
 * SIGCONT follows, so that a stopped rank acts on it. */
static void begin_stop(struct agent *a, int sig, int grace_s)
{
	if (a->stopping)
		return;
	a->stopping = true;
	if (sig && a->pgid) {
		kill(-a->pgid, sig);
		kill(-a->pgid, SIGCONT);
	}
	a->kill_at = lt_now_s() + grace_s;
}

/* The grace after a failure: FAILURE_GRACE_S, or less. */
static int failure_grace(const struct agent *a)
{
	return a->cfg->term_timeout < FAILURE_GRACE_S ? a->cfg->term_timeout : FAILURE_GRACE_S;
}

/* A rank that saved and stopped on a signal ltrun passed on
 * (LT_EXIT_STOPPED) did not fail; without such a signal, 3 is a failure
 * like any other status. */
static bool failed_status(const struct agent *a, int status)
{
	return !WIFEXITED(status) ||
	       (WEXITSTATUS(status) != 0 &&
		(WEXITSTATUS(status) != LT_EXIT_STOPPED || !a->signal_passed));
}

/* LT_EXIT_STOPPED when some rank saved and stopped on a signal and every
 * other one ended well (0 or the same), else `otherwise`: a batch script
 * tells a stopped run from a finished one. */
static int stopped_or(const struct agent *a, int otherwise)
{
	int stopped = 0;

	for (int i = 0; i < a->n; i++) {
		int st = a->procs[i].status;
		if (failed_status(a, st))
			return otherwise;
		stopped += WEXITSTATUS(st) == LT_EXIT_STOPPED;
	}
	return stopped ? LT_EXIT_STOPPED : otherwise;
}

static int running_count(const struct agent *a)
{
	int n = 0;

	for (int i = 0; i < a->n; i++)
		n += a->procs[i].running;
	return n;
}

static int local_of(const struct agent *a, pid_t pid)
{
	for (int i = 0; i < a->n; i++)
		if (a->procs[i].running && a->procs[i].pid == pid)
			return i;
	return -1;
}

static void fail(struct agent *a, int local)
{
	a->failed = local;
	begin_stop(a, SIGTERM, failure_grace(a));
	announce_failure(a);
}

static void rank_ended(struct agent *a, int i, int status, long maxrss_kb)
{
	struct proc *p = &a->procs[i];

	p->running = false;
	p->status = status;
	p->maxrss_kb = maxrss_kb;
	p->stop_sig = 0;
	p->killed_by_us = a->stopping;
	clock_gettime(CLOCK_REALTIME, &p->ended);
	lt_output_drain(a->out, i);
	if (a->stopping || a->failed >= 0)
		return;
	if (failed_status(a, status))
		fail(a, i);
	else if (a->left < 0 && running_count(a) > 0)
		a->left = i;
}

/* A rank stopped by a signal ltrun did not pass on (SIGTTIN from a
 * terminal, someone's SIGSTOP): said at once; supervise() counts it failed
 * if nothing continues it within --rdzv-timeout. */
static void rank_stopped(struct agent *a, int i, int sig)
{
	struct proc *p = &a->procs[i];
	char name[16];

	if (p->stop_sig || a->paused || a->stopping)
		return;
	p->stop_sig = sig;
	p->stopped_at = lt_now_s();
	fprintf(stderr, "ltrun: rank %d (pid %ld) was stopped by %s; the others wait for it: continue it (kill -CONT %ld) within %d s (--rdzv-timeout) or ltrun stops the job%s\n",
		a->plan->topo.first_rank + i, (long)p->pid, lt_signal_name(sig, name),
		(long)p->pid, a->cfg->rdzv_timeout,
		a->cfg->timeout < a->cfg->rdzv_timeout
			? " (sooner if a collective waits for it past --timeout)" : "");
}

/* A child that is not a running rank: the store's or the watcher's
 * process, or an orphan that came to this subreaper. */
static void other_child_ended(struct agent *a, pid_t pid)
{
	if (pid == a->store_pid)
		a->store_reaped = true;
	else if (pid == a->watcher_pid)
		a->watcher_reaped = true;
}

static void reap(struct agent *a)
{
	struct rusage ru;
	int status, i;
	pid_t pid;

	/* wait4: the ended rank's ru_maxrss is its VmHWM (--verbose says it) */
	while ((pid = wait4(-1, &status, WNOHANG | WUNTRACED | WCONTINUED, &ru)) > 0) {
		i = local_of(a, pid);
		if (WIFSTOPPED(status)) {
			if (i >= 0)
				rank_stopped(a, i, WSTOPSIG(status));
		} else if (WIFCONTINUED(status)) {
			if (i >= 0)
				a->procs[i].stop_sig = 0;
		} else if (i >= 0) {
			rank_ended(a, i, status, ru.ru_maxrss);
		} else {
			other_child_ended(a, pid);
		}
	}
}

static void resume_job(struct agent *a);

/* --verbose: each local rank's peak resident set, from the kernel's
 * accounting of the reaped process (ru_maxrss, KiB: its VmHWM), in MiB. */
static void report_peak_rss(const struct agent *a)
{
	for (int i = 0; i < a->n; i++)
		if (a->procs[i].maxrss_kb > 0)
			fprintf(stderr, "ltrun: rank %d peak_rss_mb=%.1f\n",
				a->plan->topo.first_rank + i,
				(double)a->procs[i].maxrss_kb / 1024.0);
}

/* Ctrl-Z: the ranks stop with the agent, which then stops itself as the
 * terminal would have stopped it, by SIGTSTP's default action, and goes on
 * when fg continues it (the SIGCONT then waits in the signalfd).  When the
 * kernel drops that stop (no shell could continue an orphaned process
 * group), the ranks go on at once. */
static void pause_job(struct agent *a)
{
	sigset_t tstp, pending;

	a->paused = true;
	if (a->pgid)
		kill(-a->pgid, SIGTSTP);
	fflush(NULL);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* delivered here */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	if (sigpending(&pending) || !sigismember(&pending, SIGCONT))
		resume_job(a);
}

/* fg, bg, or anyone's SIGCONT to the agent: every rank goes on, those
 * something else stopped included. */
static void resume_job(struct agent *a)
{
	a->paused = false;
	if (a->pgid)
		kill(-a->pgid, SIGCONT);
	for (int i = 0; i < a->n; i++)
		a->procs[i].stop_sig = 0;
}

static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD) {
			reap(a);
			continue;
		}
		if (sig == SIGTSTP || sig == SIGCONT) {
			if (sig == SIGTSTP)
				pause_job(a);
			else
				resume_job(a);
			continue;
		}
		if (a->pgid) {
			kill(-a->pgid, sig);
			a->signal_passed = true;
		}
		if (stops_job(sig)) {
			if (!a->stop_signal)
				a->stop_signal = sig;
			if (a->pgid)
				kill(-a->pgid, SIGCONT);
			begin_stop(a, 0, a->cfg->term_timeout);
		}
	}
}

/* The first rank stopped (not by ltrun) for longer than --rdzv-timeout
 * fails; returns the milliseconds until the next such deadline, or -1. */
static int check_stopped(struct agent *a)
{
	int next = -1;

	if (a->paused || a->stopping)
		return -1;
	for (int i = 0; i < a->n; i++) {
		const struct proc *p = &a->procs[i];
		double left;
		if (!p->running || !p->stop_sig)
			continue;
		left = a->cfg->rdzv_timeout + seconds_until(p->stopped_at); /* that is past */
		if (left <= 0) {
			a->failed_stop_sig = p->stop_sig;
			fail(a, i);
			return -1;
		}
		if (next < 0 || left * 1000 + 1 < next)
			next = (int)(left * 1000) + 1;
	}
	return next;
}

/* ------------------------------------------------ failures across nodes */

static bool several_nodes(const struct agent *a)
{
	return (a->plan->topo.num_nodes > 1 || a->elastic) && lt_rdzv_uses_store(a->cfg->rdzv, false);
}

static void failure_key(const struct agent *a, char *key, size_t len)
{
	lt_elastic_failure_key(a->restart, key, len);
}

/* This node's keep-alive settings (heartbeat.h); key holds the failure key. */
static void heartbeat_of(const struct agent *a, struct lt_heartbeat *hb, char *key, size_t len)
{
	const struct lt_topology *t = &a->plan->topo;

	failure_key(a, key, len);
	*hb = (struct lt_heartbeat){ .store_host = t->main_addr, .store_port = t->main_port,
				     .token = a->token, .node = t->node_rank,
				     .num_nodes = t->num_nodes, .serves_store = a->store_pid > 0,
				     .store_node = a->elastic ? -1 : 0, .attempt = a->restart,
				     .failure_key = key,
				     .interval_s = a->cfg->heartbeat_interval,
				     .timeout_s = a->cfg->heartbeat_timeout,
				     .connect_timeout_ms = a->cfg->rdzv_timeout * 1000 };
}

/* With several nodes, a child process keeps this node's heartbeat in the
 * store, watches the other nodes' and this attempt's failure key, and
 * passes up a pipe the line that ends the attempt (heartbeat.h): a rank
 * failing on another node, or a node or the store gone silent, stops this
 * node's ranks at once rather than at their next barrier's timeout.  (A
 * process, not a thread: the agent forks ranks.) */
static int start_watcher(struct agent *a, struct lt_err *err)
{
	int p[2];

	a->watcher_fd = -1;
	a->watcher_pid = 0;
	a->watcher_reaped = false;
	a->remote_failure[0] = '\0';
	if (!several_nodes(a))
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return lt_err_set(err, LT_EXIT_FAILURE, "pipe: %s", strerror(errno));
	fflush(NULL);
	a->watcher_pid = fork();
	if (a->watcher_pid < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "fork: %s", strerror(errno));
	if (a->watcher_pid == 0) {
		struct lt_heartbeat hb;
		char key[64];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigprocmask(SIG_SETMASK, &a->old_mask, NULL);
		close(p[0]);
		heartbeat_of(a, &hb, key, sizeof(key));
		_exit(lt_heartbeat_watch(&hb, p[1]));
	}
	close(p[1]);
	a->watcher_fd = p[0];
	return 0;
}

/* The attempt ended well here: the other nodes stop watching this one. */
static void heartbeat_done(const struct agent *a)
{
	struct lt_heartbeat hb;
	char key[64];

	if (!several_nodes(a))
		return;
	heartbeat_of(a, &hb, key, sizeof(key));
	lt_heartbeat_done(&hb);
}

static void stop_watcher(struct agent *a)
{
	if (a->watcher_pid > 0 && !a->watcher_reaped) {
		kill(a->watcher_pid, SIGKILL);
		waitpid(a->watcher_pid, NULL, 0);
	}
	if (a->watcher_fd >= 0)
		close(a->watcher_fd);
	a->watcher_pid = 0;
	a->watcher_fd = -1;
}

static void on_watcher(struct agent *a)
{
	ssize_t n = read(a->watcher_fd, a->remote_failure, sizeof(a->remote_failure) - 1);

	a->remote_failure[n > 0 ? n : 0] = '\0';
	close(a->watcher_fd);
	a->watcher_fd = -1;
	/* Our own announcement comes back too; and a watcher whose store
	 * closed says nothing (the ranks' barriers will). */
	if (n <= 0 || a->failed >= 0 || a->stopping)
		a->remote_failure[0] = '\0';
	else
		begin_stop(a, SIGTERM, failure_grace(a));
}

/* Tells the other nodes that a local rank failed. */
static void announce_failure(struct agent *a)
{
	const struct lt_topology *t = &a->plan->topo;
	char key[64], who[48], what[128], value[256];
	struct lt_store *st;
	struct lt_err e = { 0 };

	if (!several_nodes(a) || a->remote_failure[0])
		return;
	failure_key(a, key, sizeof(key));
	snprintf(who, sizeof(who), "agent on node %d", t->node_rank);
	describe_failure(a, what, sizeof(what));
	snprintf(value, sizeof(value), "rank %d on node %d %s", t->first_rank + a->failed,
		 t->node_rank, what);
	if (lt_store_connect(t->main_addr, t->main_port, a->token, who, 5000, &st, &e) == 0) {
		lt_store_set(st, key, value, strlen(value), &e);
		lt_store_close(st);
	}
}

/* ---------------------------------------------------------- descendants */

/* The agent's children but the store's and the watcher's processes, from
 * /proc/self/task/<tid>/children, into pids (at most max).  Returns the
 * count. */
static int list_children(const struct agent *a, pid_t *pids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[64];
		long pid;
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/children", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (n < max && fscanf(f, "%ld", &pid) == 1)
			if (pid != a->store_pid && pid != a->watcher_pid)
				pids[n++] = (pid_t)pid;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Kills what the ranks left running outside their group (a child that
 * called setsid(), with the job's token in its environment): once the
 * ranks are gone it is a child of this subreaper, and so, as each dies,
 * are its own children.  Bounded: a few seconds at most. */
static void end_descendants(struct agent *a)
{
	double deadline;
	pid_t pids[256];
	int n, status;

	deadline = lt_now_s() + 5;
	while ((n = list_children(a, pids, 256)) > 0 && seconds_until(deadline) > 0) {
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		for (int i = 0; i < n; i++)
			while (waitpid(pids[i], &status, WNOHANG) == 0 && seconds_until(deadline) > 0)
				usleep(1000);
	}
	reap(a); /* the store's or watcher's end, if it came meanwhile */
}

/* Waits for every local rank of this attempt, relaying output, forwarding
 * signals and stopping the others after the first failure. */
static void supervise(struct agent *a)
{
	struct pollfd *pfd = calloc((size_t)(2 + 2 * a->n), sizeof(*pfd));
	int *who = calloc((size_t)(2 + 2 * a->n), sizeof(*who));

	if (!pfd || !who)
		LT_BUG("out of memory supervising %d ranks", a->n);
	while (running_count(a) > 0) {
		int n = 0, timeout = -1;

		pfd[n++] = (struct pollfd){ .fd = a->sigfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = a->watcher_fd, .events = POLLIN };
		for (int i = 0; i < a->n; i++)
			for (int k = 1; k <= 2; k++) {
				int fd = lt_output_fd(a->out, i, k);
				if (fd < 0)
					continue;
				who[n] = i * 2 + (k - 1);
				pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			}
		if (a->stopping) {
			double left = seconds_until(a->kill_at);
			if (left <= 0) {
				kill(-a->pgid, SIGKILL);
				timeout = 200;
			} else {
				timeout = (int)(left * 1000) + 1;
			}
		} else {
			timeout = check_stopped(a);
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			LT_BUG("poll: %s", strerror(errno));
		for (int j = 2; j < n; j++)
			if (pfd[j].revents)
				lt_output_read(a->out, who[j] / 2, who[j] % 2 + 1);
		if (pfd[1].revents && a->watcher_fd >= 0)
			on_watcher(a);
		if (pfd[0].revents)
			on_signal(a);
	}
	/* Whatever a rank left behind in the group goes too, and what left
	 * the group came back to this subreaper. */
	if (a->pgid)
		kill(-a->pgid, SIGKILL);
	end_descendants(a);
	free(pfd);
	free(who);
}

/* -------------------------------------------------------------- report */

static void describe_status(int status, char *buf, size_t len)
{
	char sig[16];

	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by %s%s", lt_signal_name(WTERMSIG(status), sig),
			 WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* The message a rank left in its error file, if it left one. */
static void error_file_message(const struct agent *a, int local, char *buf, size_t len)
{
	char path[PATH_MAX], text[4096];
	const cJSON *msg;
	cJSON *json;
	size_t got;
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/error-%d.json", a->run_dir,
		 a->plan->topo.first_rank + local);
	f = fopen(path, "r");
	if (!f)
		return;
	got = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[got] = '\0';
	json = cJSON_Parse(text);
	msg = cJSON_GetObjectItemCaseSensitive(json, "message");
	if (cJSON_IsString(msg))
		snprintf(buf, len, "%s", msg->valuestring);
	cJSON_Delete(json);
}

/* What the failed rank did: its exit status or signal, or the signal
 * that stopped it for too long. */
static void describe_failure(const struct agent *a, char *buf, size_t len)
{
	char sig[16];

	if (a->failed_stop_sig)
		snprintf(buf, len, "was stopped by %s and not continued within %d s (--rdzv-timeout)",
			 lt_signal_name(a->failed_stop_sig, sig), a->cfg->rdzv_timeout);
	else
		describe_status(a->procs[a->failed].status, buf, len);
}

/* "HH:MM:SS.mmm" of a CLOCK_REALTIME time. */
static void clock_time(const struct timespec *t, char *buf, size_t len)
{
	char hms[16];
	struct tm tm;

	localtime_r(&t->tv_sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ld", hms, t->tv_nsec / 1000000);
}

/* A rank that returned while the others went on leaves them waiting in
 * collectives it never joins: their failures follow from its leaving. */
static void report_left_early(const struct agent *a)
{
	const struct proc *p = &a->procs[a->left];
	char when[32];

	clock_time(&p->ended, when, sizeof(when));
	fprintf(stderr, "ltrun:   rank %d (local %d, pid %ld) exited with status 0 at %s, before the others: they were left waiting for it in a collective; see why it returned early\n",
		a->plan->topo.first_rank + a->left, a->left, (long)p->pid, when);
}

/* Relays the lt_fatal() lines the output held back, but that of local
 * rank `except` (-1: none), which the report shows. */
static void release_fatal_lines(struct agent *a, int except)
{
	for (int i = 0; i < a->n; i++)
		if (i != except)
			lt_output_release(a->out, i);
}

static void report_failure(const struct agent *a, bool final)
{
	const struct proc *p = &a->procs[a->failed];
	char what[128], when[32], host[256], message[1024], held[1024], tail[4096];
	int stopped = 0;

	for (int i = 0; i < a->n; i++)
		stopped += i != a->failed && a->procs[i].killed_by_us;
	describe_failure(a, what, sizeof(what));
	clock_time(&p->ended, when, sizeof(when));
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "this host");
	error_file_message(a, a->failed, message, sizeof(message));
	/* the line lt_fatal() printed: this report shows its message */
	if (lt_output_take_fatal(a->out, a->failed, held, sizeof(held)) && !message[0])
		snprintf(message, sizeof(message), "%s", held);
	fprintf(stderr, "ltrun: rank %d (local %d, pid %ld) on %s %s at %s%s\n",
		a->plan->topo.first_rank + a->failed, a->failed, (long)p->pid, host, what, when,
		a->n > 1 ? ", the first rank to fail" : "");
	if (a->left >= 0)
		report_left_early(a);
	if (message[0])
		fprintf(stderr, "ltrun:   error: %s\n", message);
	for (int k = 1; k <= 2; k++)
		if (lt_output_tail(a->out, a->failed, k, "ltrun:     ", tail, sizeof(tail)))
			fprintf(stderr, "ltrun:   last lines of its %s:\n%s", k == 1 ? "stdout" : "stderr",
				tail);
	if (stopped)
		fprintf(stderr, "ltrun:   ltrun stopped the other %d rank%s of this node\n", stopped,
			stopped == 1 ? "" : "s");
	if (final && a->restart > 0)
		fprintf(stderr, "ltrun:   no restarts left (--max-restarts %d)\n",
			a->cfg->max_restarts);
}

/* ---------------------------------------------------------------- runs */

static const char *tmp_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

/* The run directory's name, "ltrun-<run id>-<owner>" (core/owner.h), for a
 * run directory that name's owner left: 16 hex digits, then the owner. */
static bool stale_run_dir(const char *name)
{
	if (strncmp(name, "ltrun-", 6) || strspn(name + 6, "0123456789abcdef") != 16 ||
	    name[22] != '-')
		return false;
	return lt_owner_gone(name + 23, strlen(name + 23));
}

/* Empties and removes dir/name, a directory of this user's (no link is
 * followed, no subdirectory entered: one that holds one stays). */
static void remove_dir_of_files(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_uid != geteuid() || !(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_type != DT_DIR)
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	unlinkat(dir, name, AT_REMOVEDIR);
}

/* What killed agents and ranks of this user left: run directories in
 * $TMPDIR and shm segments whose owner process is gone. */
static void remove_stale(void)
{
	DIR *d = opendir(tmp_dir());
	struct dirent *e;

	lt_shm_remove_stale();
	if (!d)
		return;
	while ((e = readdir(d)))
		if (stale_run_dir(e->d_name))
			remove_dir_of_files(dirfd(d), e->d_name);
	closedir(d);
}

static int make_run_dir(struct agent *a, struct lt_err *err)
{
	char owner[LT_OWNER_TAG_MAX];

	lt_owner_tag(owner, sizeof(owner));
	snprintf(a->run_dir, sizeof(a->run_dir), "%s/ltrun-%s-%s", tmp_dir(), a->run_id, owner);
	if (mkdir(a->run_dir, 0700))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot create '%s': %s (set TMPDIR to a writable directory)",
				  a->run_dir, strerror(errno));
	return 0;
}

static void remove_run_dir(struct agent *a)
{
	char path[PATH_MAX];

	for (int i = 0; i < a->n; i++) {
		snprintf(path, sizeof(path), "%s/error-%d.json", a->run_dir,
			 a->plan->topo.first_rank + i);
		unlink(path);
	}
	rmdir(a->run_dir);
}

static int start_signals(struct agent *a, struct lt_err *err)
{
	/* An ignored SIGCHLD (inherited across exec) would reap the ranks
	 * behind our back and never reach the signalfd. */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&a->blocked);
	sigaddset(&a->blocked, SIGCHLD);
	sigaddset(&a->blocked, SIGTSTP); /* ctrl-Z and fg, passed on */
	sigaddset(&a->blocked, SIGCONT);
	for (int i = 0; i < a->nsigs; i++)
		sigaddset(&a->blocked, a->sigs[i]);
	if (sigprocmask(SIG_BLOCK, &a->blocked, &a->old_mask))
		return lt_err_set(err, LT_EXIT_FAILURE, "sigprocmask: %s", strerror(errno));
	a->sigfd = signalfd(-1, &a->blocked, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "signalfd: %s", strerror(errno));
	/* A closed terminal must not kill the agent, and with it every rank. */
	signal(SIGPIPE, SIG_IGN);
	/* Nor must a write to it stop the agent or a rank (stty tostop) when
	 * they are not the foreground job: ignored, the write goes through
	 * (and the ranks inherit that). */
	signal(SIGTTOU, SIG_IGN);
	return 0;
}

/* The store runs in a child process of node 0's agent, not in a thread:
 * the agent forks ranks all along, and a fork from a threaded process may
 * leave the child stuck on a lock another thread held.  The child reports
 * "ok" or its error through a pipe, then serves until the agent closes
 * the other pipe (or dies: PR_SET_PDEATHSIG). */
static int host_store(struct agent *a, struct lt_err *err)
{
	const struct lt_topology *t = &a->plan->topo;
	/* One node: nothing outside this host has business with the store. */
	const char *bind_host = t->num_nodes == 1 ? "127.0.0.1" : NULL;
	int report[2], lifeline[2];
	char msg[sizeof(err->msg)];
	ssize_t n;

	if (!lt_rdzv_uses_store(a->cfg->rdzv, false))
		return 0;
	/* Elastic: node ranks come later, from the rounds the store holds. */
	if (a->elastic ? !lt_elastic_hosts_store(t->main_addr) : t->node_rank != 0)
		return 0;
	lt_store_warn_listen_cap((long)t->world_size + t->num_nodes, lt_store_listen_cap(NULL),
				 stderr);
	if (pipe2(report, O_CLOEXEC) || pipe2(lifeline, O_CLOEXEC))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: pipe: %s",
				  strerror(errno));
	fflush(NULL);
	a->store_pid = fork();
	if (a->store_pid < 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot start the store: fork: %s",
				  strerror(errno));
	if (a->store_pid == 0) {
		struct lt_store_server *srv;
		struct lt_err e = { 0 };
		int bound;
		char byte;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Stop signals are the agent's to handle: ranks still checkpoint
		 * through the store while it waits for them. */
		for (int i = 0; i < a->nsigs; i++)
			signal(a->sigs[i], SIG_IGN);
		sigprocmask(SIG_SETMASK, &a->old_mask, NULL);
		close(report[0]);
		close(lifeline[1]);
		if (lt_store_server_start(bind_host, t->main_port, a->token, stderr, &srv, &bound, &e)) {
			n = write(report[1], e.msg, strlen(e.msg));
			_exit(1);
		}
		n = write(report[1], "", 1);
		while (read(lifeline[0], &byte, 1) < 0 && errno == EINTR)
			;
		lt_store_server_stop(srv);
		_exit(n == 1 ? 0 : 1);
	}
	close(report[1]);
	close(lifeline[0]);
	a->store_lifeline = lifeline[1];
	n = read(report[0], msg, sizeof(msg) - 1);
	close(report[0]);
	if (n == 1 && msg[0] == '\0')
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	return lt_err_set(err, LT_EXIT_FAILURE, "%s", n > 0 ? msg : "the store's process ended at once");
}

static void stop_store(struct agent *a)
{
	if (a->store_pid <= 0)
		return;
	close(a->store_lifeline);
	/* A stopped store (ctrl-Z reached the agent's group) must not hold
	 * the agent's exit. */
	if (!a->store_reaped) {
		kill(a->store_pid, SIGCONT);
		waitpid(a->store_pid, NULL, 0);
	}
	a->store_pid = 0;
}

/* --signals, and the --preempt-signals it lacks: the ranks act on those. */
static int forwarded_signals(struct agent *a, struct lt_err *err)
{
	const struct lt_config *cfg = a->cfg;
	int psigs[LT_MAX_SIGNALS], np, k;

	a->nsigs = lt_signals_parse(cfg->signals, cfg->source_name[LT_OPT_SIGNALS], a->sigs, err);
	np = lt_signals_parse(cfg->preempt_signals, cfg->source_name[LT_OPT_PREEMPT_SIGNALS],
			      psigs, err);
	if (a->nsigs < 0 || np < 0)
		return -1;
	sigemptyset(&a->preempt);
	for (int i = 0; i < np; i++)
		sigaddset(&a->preempt, psigs[i]);
	for (int i = 0; i < np; i++) {
		for (k = 0; k < a->nsigs && a->sigs[k] != psigs[i]; k++)
			;
		if (k < a->nsigs)
			continue;
		if (a->nsigs == LT_MAX_SIGNALS)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "--signals and --preempt-signals name more than %d signals together: name fewer",
					  LT_MAX_SIGNALS);
		a->sigs[a->nsigs++] = psigs[i];
	}
	return 0;
}

/* What rank 0 noted when it stopped (preempt.h) into step and ckpt ("":
 * not this node's, or not noted). */
static void read_preempt_note(const struct agent *a, char *step, size_t slen, char *ckpt,
			      size_t clen)
{
	char path[PATH_MAX], text[8192];
	const cJSON *v;
	cJSON *json;
	size_t got;
	FILE *f;

	step[0] = ckpt[0] = '\0';
	if (a->plan->topo.first_rank != 0)
		return;
	snprintf(path, sizeof(path), "%s/error-0.json", a->run_dir);
	if (!(f = fopen(path, "r")))
		return;
	got = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[got] = '\0';
	json = cJSON_Parse(text);
	v = cJSON_GetObjectItemCaseSensitive(json, LT_PREEMPT_NOTE_STEP);
	if (cJSON_IsNumber(v))
		snprintf(step, slen, " at step %.0f", v->valuedouble);
	v = cJSON_GetObjectItemCaseSensitive(json, LT_PREEMPT_NOTE_CKPT);
	if (cJSON_IsString(v))
		snprintf(ckpt, clen, "%s", v->valuestring);
	cJSON_Delete(json);
}

/* Every rank saved and stopped on a preemption signal: one line saying
 * so, and on node 0 the job's requeue (--requeue).  Returns the exit
 * status: LT_EXIT_STOPPED, or the requeue's failure. */
static int end_preempted(struct agent *a)
{
	char step[64], ckpt[PATH_MAX], saved[PATH_MAX + 64];
	struct lt_requeue rq = { 0 };
	struct lt_err err = { 0 };
	bool requeue = a->plan->topo.node_rank == 0 && lt_requeue_wanted(a->cfg, &rq);

	read_preempt_note(a, step, sizeof(step), ckpt, sizeof(ckpt));
	if (ckpt[0])
		snprintf(saved, sizeof(saved), "checkpoint saved in %s", ckpt);
	else if (a->plan->topo.first_rank == 0)
		snprintf(saved, sizeof(saved), "nothing saved%s",
			 a->cfg->ckpt_dir ? "" : " (no --ckpt-dir)");
	else
		snprintf(saved, sizeof(saved), "the ranks of node %d stopped",
			 a->plan->topo.node_rank);
	/* Before the requeue: Slurm ends the job as it requeues it. */
	if (requeue)
		fprintf(stderr, "ltrun: preempted%s, %s; requeueing Slurm job %s, exit %d\n", step,
			saved, rq.job, LT_EXIT_STOPPED);
	else
		fprintf(stderr, "ltrun: preempted%s, %s%s%s; exit %d\n", step, saved,
			rq.why[0] ? "; not requeued: " : "", rq.why, LT_EXIT_STOPPED);
	fflush(stderr);
	if (requeue && lt_requeue_run(&rq, &err)) {
		fprintf(stderr, "ltrun: %s%s\n", err.msg, ckpt[0] ? "; the checkpoint is kept" : "");
		return err.status;
	}
	return LT_EXIT_STOPPED;
}

/* Elastic: meets the other agents in the next round, which sets this
 * attempt's nodes, node rank and number. */
static int join_round(struct agent *a, struct lt_plan *mine, const struct lt_plan *plan,
		      struct lt_err *err)
{
	if (!a->elastic)
		return 0;
	if (lt_elastic_join(&mine->topo, plan->topo.num_nodes, a->cfg, a->token, a->run_id,
			    a->restart, &a->restart, err))
		return -1;
	lt_output_set_first_rank(a->out, mine->topo.first_rank);
	fprintf(stderr, "ltrun: rendezvous round %d: %d node%s, this one is node %d (world size %d)\n",
		a->restart, mine->topo.num_nodes, mine->topo.num_nodes == 1 ? "" : "s",
		mine->topo.node_rank, mine->topo.world_size);
	return 0;
}

static int run_agent(const struct lt_plan *plan, const struct lt_config *cfg,
		     struct lt_err *err)
{
	/* An elastic job's rounds change the topology: the agent's copy. */
	struct lt_plan mine = *plan;
	struct agent a = { .plan = &mine, .cfg = cfg, .sigfd = -1, .failed = -1, .left = -1,
			   .watcher_fd = -1, .elastic = lt_elastic(&plan->topo) };
	int status = 0;
	bool preempted = false;

	if (forwarded_signals(&a, err) ||
	    (plan->topo.node_rank == 0 && lt_requeue_check(cfg, err)))
		return -1;
	a.n = plan->topo.local_world_size;
	if (plan->bind.warning[0])
		lt_warn("%s", plan->bind.warning);
	a.procs = calloc((size_t)a.n, sizeof(*a.procs));
	if (!a.procs)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (job_token(&plan->topo, cfg, plan->topo.num_nodes == 1, false, a.token, err))
		goto fail_free;
	hex(a.token, sizeof(a.token), a.token_hex);
	run_id_of(a.token, a.run_id);
	remove_stale();
	if (make_run_dir(&a, err))
		goto fail_free;
	/* What a rank leaves behind outside its group comes back here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	a.out = lt_output_new(a.n, plan->topo.first_rank, cfg->log_dir, cfg->tee, err);
	if (!a.out || start_signals(&a, err) || host_store(&a, err))
		goto fail;

	for (a.restart = 0;; a.restart++) {
		a.failed = -1;
		a.signal_passed = false;
		a.failed_stop_sig = 0;
		a.left = -1;
		a.paused = false;
		a.stopping = false;
		a.pgid = 0;
		if (join_round(&a, &mine, plan, err) || start_watcher(&a, err))
			goto fail;
		for (int i = 0; i < a.n; i++)
			if (spawn(&a, i, err)) {
				begin_stop(&a, SIGKILL, 0);
				supervise(&a);
				release_fatal_lines(&a, -1);
				stop_watcher(&a);
				lt_shm_remove_job(a.run_id);
				goto fail;
			}
		supervise(&a);
		if (cfg->verbose)
			report_peak_rss(&a);
		stop_watcher(&a);
		lt_shm_remove_job(a.run_id); /* what crashed ranks left */
		release_fatal_lines(&a, a.stop_signal ? -1 : a.failed);
		if (a.stop_signal) {
			char sig[16];
			status = stopped_or(&a, 128 + a.stop_signal);
			preempted = status == LT_EXIT_STOPPED;
			if (!preempted) /* else end_preempted() says it */
				fprintf(stderr, "ltrun: stopped by %s: forwarded it to every rank\n",
					lt_signal_name(a.stop_signal, sig));
			break;
		}
		if (a.failed < 0 && !a.remote_failure[0]) {
			heartbeat_done(&a);
			status = stopped_or(&a, 0);
			preempted = status == LT_EXIT_STOPPED;
			break;
		}
		if (a.failed >= 0)
			report_failure(&a, a.restart >= cfg->max_restarts);
		else
			fprintf(stderr, "ltrun: %s: ltrun stopped the %d rank%s of node %d\n",
				a.remote_failure, a.n, a.n == 1 ? "" : "s", plan->topo.node_rank);
		if (a.restart >= cfg->max_restarts) {
			status = a.failed < 0 ? 1
				 : a.failed_stop_sig ? 128 + a.failed_stop_sig
				 : exit_status_of(a.procs[a.failed].status);
			break;
		}
		fprintf(stderr, "ltrun: restarting every rank (restart %d of %d)\n", a.restart + 1,
			cfg->max_restarts);
	}
	/* not a rank's own exit(75), which failed it */
	if (preempted)
		status = end_preempted(&a);
	stop_store(&a);
	sigprocmask(SIG_SETMASK, &a.old_mask, NULL);
	close(a.sigfd);
	lt_output_free(a.out);
	remove_run_dir(&a);
	free(a.procs);
	return status;
fail:
	stop_store(&a);
	if (a.sigfd >= 0) {
		sigprocmask(SIG_SETMASK, &a.old_mask, NULL);
		close(a.sigfd);
	}
	lt_output_free(a.out);
	remove_run_dir(&a);
fail_free:
	free(a.procs);
	return -1;
}

int lt_launch(const struct lt_plan *plan, const struct lt_config *cfg, int argc,
	      char **argv, struct lt_err *err)
{
	if (plan->topo.external)
		return run_adopted(plan, cfg, err);
	if (in_batch_script(plan))
		return relaunch_with_srun(plan, cfg, argc, argv, err);
	return run_agent(plan, cfg, err);
}
