/*
 * test_zero_files.c - stage 3's parameters in files (offload_params=nvme,
 * src/strategy/zero_files.c): with and without the optimizer state in
 * files too, on 1 to 3 ranks, in 32-true and bf16-mixed, training ends
 * bit-identical to stage 3 with the shards in memory and within 1e-5 of
 * ddp, on zero_lin (shards cutting through parameters) and on
 * examples/wide (units of several pages, cut anywhere); a resume from a
 * sharded (or, on one rank, whole) checkpoint is bit-identical to an
 * uninterrupted run; a rank's own values really leave memory (a read of
 * them outside the unit faults); the preset puts the parameters in
 * files; a bad directory, a full disk or a file size limit at setup and
 * a write failing mid-step (EFBIG) each end the run with one line naming
 * them.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "training.h"

#define ZERO_LIN build_path("tests/models/zero_lin.so")
#define PROBE build_path("tests/models/zero_files_probe.so")
#define WIDE build_path("examples/wide/wide.so")
#define NPARAMS 41
#define MAXARGS 48

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

TestSuite(zero_files, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 240);

/* Appends the NULL-terminated list b to a (n entries so far). */
static int append(const char **a, int n, const char *const *b)
{
	for (int i = 0; b[i]; i++) {
		cr_assert_lt(n, MAXARGS - 1);
		a[n++] = b[i];
	}
	a[n] = NULL;
	return n;
}

/* Runs ltrun with args, env; asserts it succeeded. */
static void run_ok(const char *what, const char *const *args, const char *const *env)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, env, &r), 0, "%s: cannot start ltrun", what);
	cr_assert_eq(r.status, 0, "%s: status %d\n%s", what, r.status, r.err);
	run_result_free(&r);
}

/* zero_lin under strategy on ranks ranks, 12 steps (or what extra
 * says), its parameters into out. */
static void lin(const char *strategy, const char *ranks, const char *const *extra, float *out)
{
	const char *argv[MAXARGS] = { "--strategy", strategy, "--devices", ranks, "--batch-size",
				      "4", "--max-steps", "12", "--optimizer", "adamw", "--lr",
				      "0.05", "--seed", "3", NULL };
	char dump[512], env_dump[600], what[700];
	int n = append(argv, 14, extra);
	FILE *f;

	append(argv, n, LIST(ZERO_LIN));
	path_in_tmp(dump, sizeof(dump), "lin.f32");
	remove(dump);
	snprintf(env_dump, sizeof(env_dump), "ZERO_LIN_DUMP=%s", dump);
	snprintf(what, sizeof(what), "%s on %s ranks", strategy, ranks);
	run_ok(what, argv, LIST(env_dump));
	f = fopen(dump, "rb");
	cr_assert_not_null(f, "%s wrote no parameters", what);
	cr_assert_eq(fread(out, sizeof(float), NPARAMS, f), NPARAMS, "%s: short dump", what);
	fclose(f);
}

static double rel_l2(const float *a, const float *b, int n)
{
	double d = 0.0, s = 0.0;

	for (int i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		s += (double)a[i] * a[i];
	}
	return sqrt(d / s);
}

/* "zero:stage=3,offload_params=nvme[,offload_optimizer=nvme],offload_dir=<tmp>/files" */
static const char *in_files(char *buf, size_t len, bool optim)
{
	char dir[512];

	path_in_tmp(dir, sizeof(dir), "files");
	snprintf(buf, len, "zero:stage=3,offload_params=nvme%s,offload_dir=%s",
		 optim ? ",offload_optimizer=nvme" : "", dir);
	return buf;
}

Test(zero_files, zero_lin_matches_ddp_and_stage_3_in_memory)
{
	static const char *const ranks[] = { "2", "3" };
	static const char *const prec[] = { "32-true", "bf16-mixed" };

	for (int r = 0; r < 2; r++)
		for (int k = 0; k < 2; k++) {
			const char *const *extra = LIST("--precision", prec[k]);
			float ddp[NPARAMS], mem[NPARAMS], got[NPARAMS];

			lin("ddp", ranks[r], extra, ddp);
			lin("zero:stage=3", ranks[r], extra, mem);
			for (int o = 0; o < 2; o++) {
				char s[700];

				lin(in_files(s, sizeof(s), o), ranks[r], extra, got);
				cr_expect_eq(memcmp(got, mem, sizeof(got)), 0,
					     "%s on %s ranks, %s: not what stage 3 in memory ends with",
					     s, ranks[r], prec[k]);
				cr_expect_leq(rel_l2(ddp, got, NPARAMS), 1e-5,
					      "%s on %s ranks, %s: %g from ddp (relative L2)", s,
					      ranks[r], prec[k], rel_l2(ddp, got, NPARAMS));
			}
		}
}

/* examples/wide at 50K parameters of width 64: 12 units of 4160
 * elements (4 pages and a bit), the shards of 3 ranks cutting them
 * anywhere; the text dumps compared. */
static void wide(const char *strategy, const char *prec, const char *name, char *dump,
		 size_t len)
{
	const char *argv[] = { "--strategy", strategy, "--devices", "3", "--max-steps", "12",
			       "--batch-size", "8", "--optimizer", "adamw", "--lr", "0.01",
			       "--seed", "3", "--precision", prec, WIDE, "--", "--params", "50K",
			       "--width", "64", "--samples", "512", NULL };

	train_dumping(strategy, argv, name, dump, len);
}

/* The whole of file a equals file b. */
static void expect_same_file(const char *what, const char *a, const char *b)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	cr_expect_eq(system(cmd), 0, "%s: %s and %s differ", what, a, b);
}

Test(zero_files, units_of_several_pages_match_ddp_and_stage_3_in_memory)
{
	static const char *const prec[] = { "32-true", "bf16-mixed" };

	for (int k = 0; k < 2; k++) {
		char ddp[512], mem[512], got[512], s[700];
		double big, diff;

		wide("ddp", prec[k], "ddp.txt", ddp, sizeof(ddp));
		wide("zero:stage=3", prec[k], "mem.txt", mem, sizeof(mem));
		for (int o = 0; o < 2; o++) {
			wide(in_files(s, sizeof(s), o), prec[k], "files.txt", got, sizeof(got));
			expect_same_file(s, mem, got);
			diff = dump_max_diff(ddp, got, &big);
			cr_expect_leq(diff, 1e-5 * big, "%s, %s: %g from ddp", s, prec[k], diff);
		}
	}
}

/* 4 steps, a resume to 8, and 8 steps at once: the same bits.  On 3
 * ranks the checkpoint is sharded; on one, rank 0 saves the whole space
 * (in the background, while the next steps run). */
Test(zero_files, a_resume_is_bit_identical_to_one_run)
{
	static const char *const ranks[] = { "1", "3" };
	static const char *const prec[] = { "32-true", "bf16-mixed" };
	char ck[512], s[700], cmd[600];

	path_in_tmp(ck, sizeof(ck), "ck");
	in_files(s, sizeof(s), true);
	for (int r = 0; r < 2; r++)
		for (int k = 0; k < 2; k++) {
			float once[NPARAMS], resumed[NPARAMS], first[NPARAMS];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ck);
			cr_assert_eq(system(cmd), 0);
			lin(s, ranks[r], LIST("--precision", prec[k], "--max-steps", "4", "--ckpt-dir", ck),
			    first);
			lin(s, ranks[r], LIST("--precision", prec[k], "--max-steps", "8", "--ckpt-dir",
					      ck, "--resume", "last"), resumed);
			lin(s, ranks[r], LIST("--precision", prec[k], "--max-steps", "8"), once);
			cr_expect_neq(memcmp(first, once, sizeof(once)), 0, "steps 5 to 8 changed nothing");
			cr_expect_eq(memcmp(once, resumed, sizeof(once)), 0,
				     "%s on %s ranks, %s: resumed at step 4, %g from one run", s,
				     ranks[r], prec[k], rel_l2(once, resumed, NPARAMS));
		}
}

/* Stage 3 keeps a rank's own shard in memory, so rank 0 may read its
 * element 0 outside the unit; in files, that shard is released too. */
Test(zero_files, the_own_shard_leaves_memory)
{
	const char *env[] = { "ZERO_FILES_READ_OWN=1", NULL };
	char s[700];
	const char *files[] = { "--strategy", in_files(s, sizeof(s), false), "--devices", "2",
				"--max-steps", "2", PROBE, NULL };
	struct run_result r;

	run_ok("stage 3, shards in memory",
	       LIST("--strategy", "zero:stage=3", "--devices", "2", "--max-steps", "2", PROBE), env);
	cr_assert_eq(run_ltrun(files, env, &r), 0);
	cr_expect_neq(r.status, 0, "rank 0 read its own value, which should be in a file:\n%s",
		      r.err);
	cr_expect_not_null(strstr(r.err, "parameter 'w' (unit 'w') was used outside lt_unit_begin/lt_unit_end"),
			   "the fault does not name the parameter:\n%s", r.err);
	run_result_free(&r);
}

Test(zero_files, the_nvme_preset_puts_the_parameters_in_files)
{
	char tmp[512], env_tmp[600], want[600];
	const char *argv[] = { "--strategy", "deepspeed_stage_3_offload_nvme", "--devices", "2",
			       "--max-steps", "2", "--verbose", ZERO_LIN, NULL };
	struct run_result r;

	/* the default directory: $TMPDIR/ltrun-params-rank<R> */
	path_in_tmp(tmp, sizeof(tmp), "");
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", tmp);
	cr_assert_eq(run_ltrun(argv, LIST(env_tmp), &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	snprintf(want, sizeof(want), "parameters in files under '%s/ltrun-params-rank0'", tmp);
	cr_expect_not_null(strstr(r.err, want), "no \"%s\" in\n%s", want, r.err);
	run_result_free(&r);
}

/* Runs a run that must fail; expects each of msgs in its stderr. */
static void expect_failure(const char *what, const char *const *argv, const char *const *env,
			   const char *const *msgs)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(argv, env, &r), 0);
	cr_expect_neq(r.status, 0, "%s: accepted", what);
	for (int i = 0; msgs[i]; i++)
		cr_expect_not_null(strstr(r.err, msgs[i]), "%s: no '%s' in\n%s", what, msgs[i],
				   r.err);
	run_result_free(&r);
}

Test(zero_files, a_bad_directory_or_stage_is_refused)
{
	char file[512], s[700];
	FILE *f;

	path_in_tmp(file, sizeof(file), "a-file");
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	snprintf(s, sizeof(s), "zero:stage=3,offload_params=nvme,offload_dir=%s", file);
	expect_failure("a file as offload_dir",
		       LIST("--strategy", s, "--devices", "2", "--max-steps", "1", PROBE), NULL,
		       LIST("offload_dir '", "a-file' is not a directory"));
	expect_failure("stage 2",
		       LIST("--strategy", "zero:stage=2,offload_params=nvme", "--devices", "2",
			    "--max-steps", "1", PROBE),
		       NULL, LIST("offload_params=nvme shards parameters, which stage 2 does not: use stage=3"));
}

/* A file size limit set by the model at step 2: the step's write back
 * fails, naming the file and EFBIG. */
Test(zero_files, a_write_failing_mid_step_ends_the_run)
{
	char s[700];

	expect_failure("a write past RLIMIT_FSIZE",
		       LIST("--strategy", in_files(s, sizeof(s), false), "--devices", "2",
			    "--max-steps", "4", PROBE),
		       LIST("ZERO_FILES_FSIZE_AT=2"),
		       LIST("optimizer step 3", "parameters in files: cannot write '", "/ltrun-params-r",
			    strerror(EFBIG)));
}

/* In a child of a mount namespace of its own: a 4 KiB tmpfs on dir,
 * where each of 2 ranks needs 8 KiB of values.  Exits 0, 77 when no
 * tmpfs can be mounted, or 1 after saying what went wrong. */
static void full_disk_child(const char *dir)
{
	char s[700];
	const char *argv[] = { "--strategy", s, "--devices", "2", "--max-steps", "1", PROBE, NULL };
	struct run_result r;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("none", dir, "tmpfs", 0, "size=4k"))
		_exit(77);
	snprintf(s, sizeof(s), "zero:stage=3,offload_params=nvme,offload_dir=%s", dir);
	if (run_ltrun(argv, NULL, &r))
		_exit(1);
	if (!r.status || !strstr(r.err, "4096 bytes free, the parameter shard needs 8192") ||
	    !strstr(r.err, dir)) {
		fprintf(stderr, "8 KiB of values on a 4 KiB disk: status %d\n%s\n", r.status, r.err);
		_exit(1);
	}
	_exit(0);
}

Test(zero_files, a_full_disk_is_found_at_setup)
{
	char dir[512];
	int status;
	pid_t pid;

	path_in_tmp(dir, sizeof(dir), "tiny");
	cr_assert_eq(mkdir(dir, 0700), 0, "%s", strerror(errno));
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		full_disk_child(dir);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("cannot mount a tmpfs in a mount namespace here (needs root)");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "a full disk was not refused as it should be (status %d, see above)", status);
}

/* In a child: a file size limit of 8 KiB (SIGXFSZ ignored, as the ranks
 * inherit it) where one rank's values take 16 KiB: the preallocation
 * fails at setup, naming the file.  Exits 0, or 1 after saying what went
 * wrong. */
static void small_files_child(const char *dir)
{
	struct rlimit rl = { .rlim_cur = 8192, .rlim_max = RLIM_INFINITY };
	char s[700];
	const char *argv[] = { "--strategy", s, "--devices", "1", "--max-steps", "1", PROBE, NULL };
	struct run_result r;

	snprintf(s, sizeof(s), "zero:stage=3,offload_params=nvme,offload_dir=%s", dir);
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) || run_ltrun(argv, NULL, &r))
		_exit(1);
	if (!r.status || !strstr(r.err, "cannot preallocate 16384 bytes for '") ||
	    !strstr(r.err, "/ltrun-params-r0-") || !strstr(r.err, strerror(EFBIG))) {
		fprintf(stderr, "16 KiB of values under an 8 KiB file size limit: status %d\n%s\n",
			r.status, r.err);
		_exit(1);
	}
	_exit(0);
}

Test(zero_files, a_file_size_limit_is_found_at_setup)
{
	char dir[512];
	int status;
	pid_t pid;

	path_in_tmp(dir, sizeof(dir), "limited");
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		small_files_child(dir);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "a file size limit was not found at setup (status %d, see above)", status);
}
