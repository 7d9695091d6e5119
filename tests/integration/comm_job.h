/*
 * comm_job.h - runs one job of tests/progs/comm_worker (or another worker)
 * processes for the communicator tests: N ranks started at once by a shell, each with RANK,
 * WORLD_SIZE, a private rendezvous directory (LTRUN_RDZV_DIR) and run id,
 * optionally its own host identity and network namespace, all under one
 * deadline.
 */
#ifndef LT_TEST_COMM_JOB_H
#define LT_TEST_COMM_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "run.h"

/* The variable through which comm_worker takes its node's address
 * (lt_comm_args.host). */
#define COMM_HOST_ENV "COMM_WORKER_HOST"

struct comm_job {
	const char *worker;       /* tests/progs/ program, NULL: comm_worker */
	const char *backend;      /* the worker's argument: gloo, mpi, shm, auto */
	int ranks;
	const char *const *hosts; /* ranks entries for COMM_HOST_ENV, or NULL */
	const char *const *netns; /* ranks namespaces to run in, or NULL */
	const char *const *env;   /* more NAME=value, NULL-terminated, or NULL */
	int timeout_s;            /* for the whole job */
};

/* Runs the job; r gets every rank's output and status 0 when all ranks
 * exited 0.  Returns 0, or -1 when it could not start (r is then unset). */
int comm_job_run(const struct comm_job *job, struct run_result *r);

/* Runs `mpirun -np np argv...` as the communicator tests need it: as root,
 * oversubscribed, pinned to loopback, its session directory and the file
 * rendezvous in dir, a fresh LTRUN_RUN_ID, and (for ASan builds) leak
 * reports that Open MPI's frames can be told apart in (tests/lsan.supp).
 * Returns 0, or -1 when it could not start. */
int comm_mpirun(const char *dir, int np, const char *const *argv, int timeout_s,
		struct run_result *r);

/* True when mpirun can start `true` here; else why says why. */
bool comm_mpirun_works(const char *dir, char *why, size_t len);

/* Makes a temporary directory from tmpl ("/tmp/x-XXXXXX"); remove_dir()
 * deletes it and everything in it. */
char *make_temp_dir(char *tmpl);
void remove_dir(const char *dir);

#endif
