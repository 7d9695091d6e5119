/*
 * run.h - runs the ltrun binary under test as a real process, with an exact
 * argument list and environment, and captures its output and exit status.
 */
#ifndef LT_TEST_RUN_H
#define LT_TEST_RUN_H

#include <stddef.h>

struct run_result {
	int status;  /* exit status, or 128 + signal */
	char *out;   /* stdout, NUL-terminated */
	char *err;   /* stderr, NUL-terminated */
};

/* Path of a file in the build under test ($LTRUN_BUILD, default build/check). */
const char *build_path(const char *rel);

/* Runs `ltrun args...` (args NULL-terminated, without argv[0]) with env
 * (NULL-terminated "NAME=value"; PATH and sanitizer options are added).
 * Returns 0, or -1 if the process could not be started. */
int run_ltrun(const char *const *args, const char *const *env, struct run_result *r);
void run_result_free(struct run_result *r);

/* Seconds on the monotonic clock, for timing what a test runs. */
double run_clock_s(void);

/* Makes a fresh directory "/tmp/<prefix>.XXXXXX" into dir (size bytes).
 * Returns 0, or -1 with errno set. */
int tmp_dir_make(char *dir, size_t size, const char *prefix);
/* Removes dir and the files in it (not its subdirectories). */
void tmp_dir_remove(const char *dir);

/* Number of lines in text (a last line without '\n' counts). */
int count_lines(const char *text);

/* Runs any program: argv[0] (a path, or a name looked up in the PATH below),
 * argv NULL-terminated, with env as run_ltrun() builds it (PATH with the
 * sbin directories, sanitizer options, then env).  The program runs in its
 * own process group; after timeout_s seconds the whole group gets SIGKILL
 * (status then 128 + 9).  Returns 0, or -1 if it could not be started. */
int run_command(const char *const *argv, const char *const *env, int timeout_s,
		struct run_result *r);

/* A program started in the background, for tests that act on it while it
 * runs (signals, a terminal): argv and env as run_command(), in its own
 * process group, stdin from stdin_fd (-1: this process's).  NULL if it
 * could not be started. */
struct run_job;
struct run_job *run_start(const char *const *argv, const char *const *env, int stdin_fd);
/* Its pid (and process group). */
int run_job_pid(const struct run_job *j);
/* Collects its output until its stdout holds needle (true) or timeout_ms
 * passed (false). */
int run_job_wait_for(struct run_job *j, const char *needle, int timeout_ms);
/* Its stdout so far. */
const char *run_job_out(const struct run_job *j);
/* Waits for it to end, at most timeout_s seconds (then SIGKILL to its
 * group, status 128 + 9), fills r and frees j. */
void run_job_finish(struct run_job *j, int timeout_s, struct run_result *r);

#endif
