/*
 * comm_job.c - starts a job of comm_worker processes for the communicator
 * tests (comm_job.h): one shell line per rank, each rank in the background
 * under `timeout`, then a wait for every one; the shell's status is 0 only
 * when every rank's is.  The rendezvous directory is made here and removed
 * after the job, so no job sees another's keys.
 */
#define _XOPEN_SOURCE 700
#include "comm_job.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RANKS 16

char *make_temp_dir(char *tmpl)
{
	return mkdtemp(tmpl);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

void remove_dir(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int comm_job_run(const struct comm_job *job, struct run_result *r)
{
	static int serial;
	char dir[] = "/tmp/ltrun-comm-XXXXXX", worker[PATH_MAX], script[8192];
	char rdzv[PATH_MAX + 32], run_id[64], world[32], prog[128];
	const char *env[80];
	size_t len = 0;
	int m = 0, rc;

	snprintf(prog, sizeof(prog), "tests/progs/%s", job->worker ? job->worker : "comm_worker");
	if (job->ranks < 1 || job->ranks > MAX_RANKS || !realpath(build_path(prog), worker) ||
	    !make_temp_dir(dir))
		return -1;
	snprintf(rdzv, sizeof(rdzv), "LTRUN_RDZV_DIR=%s", dir);
	snprintf(run_id, sizeof(run_id), "LTRUN_RUN_ID=comm-%d-%d", (int)getpid(), serial++);
	snprintf(world, sizeof(world), "WORLD_SIZE=%d", job->ranks);
	env[m++] = rdzv;
	env[m++] = run_id;
	env[m++] = world;
	for (const char *const *e = job->env; e && *e && m < 78; e++)
		env[m++] = *e;
	env[m] = NULL;

	/* $0 is the worker, $1 the backend. */
	for (int k = 0; k < job->ranks; k++)
		len += (size_t)snprintf(script + len, sizeof(script) - len,
					"RANK=%d %s%s%s%s%s%stimeout %d \"$0\" \"$1\" & p%d=$!\n", k,
					job->hosts ? COMM_HOST_ENV "=" : "",
					job->hosts ? job->hosts[k] : "", job->hosts ? " " : "",
					job->netns ? "ip netns exec " : "",
					job->netns ? job->netns[k] : "", job->netns ? " " : "",
					job->timeout_s, k);
	len += (size_t)snprintf(script + len, sizeof(script) - len, "s=0\n");
	for (int k = 0; k < job->ranks; k++)
		len += (size_t)snprintf(script + len, sizeof(script) - len,
					"wait $p%d; c=$?; [ $c = 0 ] || { echo \"rank %d: status $c\" >&2; s=1; }\n",
					k, k);
	snprintf(script + len, sizeof(script) - len, "exit $s\n");
	rc = run_command((const char *[]){ "sh", "-c", script, worker, job->backend, NULL }, env,
			 job->timeout_s + 15, r);
	remove_dir(dir);
	return rc;
}

int comm_mpirun(const char *dir, int np, const char *const *argv, int timeout_s,
		struct run_result *r)
{
	static int serial;
	char tmpdir[PATH_MAX + 8], rdzv[PATH_MAX + 32], run_id[64], lsan[PATH_MAX + 128];
	char cwd[PATH_MAX], nps[16], limit[16];
	const char *args[64];
	int n = 0;

	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", dir);
	snprintf(rdzv, sizeof(rdzv), "LTRUN_RDZV_DIR=%s", dir);
	snprintf(run_id, sizeof(run_id), "LTRUN_RUN_ID=comm-mpi-%d-%d", (int)getpid(), serial++);
	/* Open MPI's libraries lack frame pointers: only the slow unwinder
	 * reaches their frames, and only undlclosed components keep names. */
	snprintf(lsan, sizeof(lsan),
		 "LSAN_OPTIONS=suppressions=%s/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0",
		 getcwd(cwd, sizeof(cwd)) ? cwd : ".");
	snprintf(nps, sizeof(nps), "%d", np);
	snprintf(limit, sizeof(limit), "%d", timeout_s);
	for (const char *const *a = (const char *[]){
		     "timeout", limit, "mpirun", "--allow-run-as-root", "--oversubscribe", "--mca",
		     "oob_tcp_if_include", "lo", "--mca", "btl_tcp_if_include", "lo", "-x",
		     "LTRUN_RDZV_DIR", "-x", "LTRUN_RUN_ID", "-x",
		     "OMPI_MCA_mca_base_component_disable_dlclose", "-x", lsan, "-np", nps, NULL };
	     *a; a++)
		args[n++] = *a;
	for (; *argv && n < 63; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	return run_command(args,
			   (const char *[]){ tmpdir, rdzv, run_id,
					     "OMPI_MCA_mca_base_component_disable_dlclose=1", NULL },
			   timeout_s + 15, r);
}

bool comm_mpirun_works(const char *dir, char *why, size_t len)
{
	struct run_result r;
	bool ok;

	if (comm_mpirun(dir, 1, (const char *[]){ "true", NULL }, 60, &r)) {
		snprintf(why, len, "cannot run mpirun under timeout");
		return false;
	}
	ok = r.status == 0;
	if (!ok && r.status == 127)
		snprintf(why, len, "mpirun is not installed (openmpi-bin)");
	else if (!ok)
		snprintf(why, len, "mpirun cannot start even 'true': %.200s", r.err);
	run_result_free(&r);
	return ok;
}
