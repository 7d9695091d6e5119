/*
 * test_ckpt_safety.c - checkpoints must not lose data, through the real
 * ltrun binary: a backup made with `cp -al` survives later saves (no
 * spare is written over in place while another name shares it); a second
 * run on the same --ckpt-dir is refused up front (exit 2) naming the
 * first, while the first goes on, and another user's directory is not
 * touched; restarted ranks take the lock again; what killed saves left
 * (temporaries, in a finished step too, spares, incomplete steps) is
 * removed at the next start; a save that runs out of space (a small
 * tmpfs) leaves no partial step; and by default only the last
 * checkpoint is kept.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "training.h"
#include "unit/ckpt_cases.h"

TestSuite(ckpt_safety, .init = training_make_tmp, .fini = training_remove_tmp, .timeout = 120);

#define WIDE build_path("examples/wide/wide.so")

/* Writes len zero bytes to dir/rel. */
static void plant(const char *dir, const char *rel, size_t len)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot make %s", path);
	for (size_t i = 0; i < len; i++)
		fputc(0, f);
	cr_assert_eq(fclose(f), 0);
}

static void expect_verified(const char *path)
{
	struct run_result r;

	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "verify", path, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "ltrun ckpt verify %s: %s%s", path, r.out, r.err);
	run_result_free(&r);
}

/* The probe: a checkpoint backed up with `cp -al`, then more
 * training with --ckpt-keep 1 (spares in play): the backup keeps its
 * bytes and still verifies as the step it was. */
Test(ckpt_safety, a_cp_al_backup_survives_later_saves)
{
	const char *wide[] = { "--", "--params", "1M", "--width", "256", "--samples", "4096", NULL };
	char dir[512], backup[512], ref[512], file[700], cmd[2200];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	path_in_tmp(backup, sizeof(backup), "backup");
	path_in_tmp(ref, sizeof(ref), "ref.safetensors");
	train("first steps", (const char *const[]){ "--devices", "1", "--batch-size", "8",
		"--max-steps", "2", "--ckpt-every-n-steps", "1", "--ckpt-keep", "1", "--ckpt-dir", dir,
		WIDE, wide[0], wide[1], wide[2], wide[3], wide[4], wide[5], wide[6], NULL }, 0);
	snprintf(cmd, sizeof(cmd), "cp -al '%s' '%s' && cp '%s/step-2/model.safetensors' '%s'", dir,
		 backup, dir, ref);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", cmd, NULL }, NULL, 30, &r), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	train("more steps", (const char *const[]){ "--devices", "1", "--batch-size", "8",
		"--max-steps", "8", "--ckpt-every-n-steps", "1", "--ckpt-keep", "1", "--ckpt-dir", dir,
		"--resume", "last", WIDE, wide[0], wide[1], wide[2], wide[3], wide[4], wide[5],
		wide[6], NULL }, 0);
	snprintf(file, sizeof(file), "%s/step-2/model.safetensors", backup);
	snprintf(cmd, sizeof(cmd), "cmp '%s' '%s'", ref, file);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", cmd, NULL }, NULL, 30, &r), 0);
	cr_expect_eq(r.status, 0, "the backup's step-2 was written over: %s%s", r.out, r.err);
	run_result_free(&r);
	expect_verified(file);
	cr_assert_eq(run_ltrun((const char *const[]){ "ckpt", "inspect", file, NULL }, NULL, &r), 0);
	cr_expect(strstr(r.out, "\n  step                   2\n") != NULL,
		  "the backup still holds step 2:\n%s", r.out);
	run_result_free(&r);
}

/* A long run holds its --ckpt-dir; a second run on it is refused before
 * it trains, naming the first, and the first goes on to save. */
static const char two_runs_sh[] =
	"\"$1\" --devices 2 --batch-size 8 --max-epochs 1000000 --ckpt-dir \"$2\" \"$3\" 2>/dev/null &\n"
	"p=$!\n"
	"i=0; while [ ! -s \"$2/last\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n"
	"\"$1\" --devices 1 --max-steps 40 --ckpt-dir \"$2\" \"$3\"\n"
	"echo \"second $?\"\n"
	"kill -TERM $p\n"
	"wait $p\n"
	"echo \"first $?\"\n";

Test(ckpt_safety, a_second_run_on_one_dir_is_refused_naming_the_first)
{
	char dir[512], host[256] = "", want[300];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	gethostname(host, sizeof(host) - 1);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", two_runs_sh, "sh", build_path("ltrun"),
						   dir, LINREG, NULL }, NULL, 90, &r), 0);
	cr_expect(strstr(r.out, "second 2\n") != NULL, "the second run must be refused (exit 2):\n%s\n%s",
		  r.out, r.err);
	snprintf(want, sizeof(want), "on host %s, run ", host);
	cr_expect(strstr(r.err, "is in use by another run (pid ") && strstr(r.err, want) &&
			  strstr(r.err, "give each run its own --ckpt-dir"),
		  "the refusal names the holder:\n%s", r.err);
	cr_expect(!strstr(r.err, "trained"), "the second run trained:\n%s", r.err);
	cr_expect(strstr(r.out, "first 75\n") != NULL,
		  "the first run went on until stopped, saved (exit 75, preempted):\n%s", r.out);
	run_result_free(&r);
	expect_verified(dir);
}

/* --max-restarts: the restarted rank 0 takes the lock its dead
 * predecessor held. */
Test(ckpt_safety, restarted_ranks_take_the_lock_again)
{
	char dir[512];
	struct run_result r;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "2", "--batch-size", "8",
			       "--max-steps", "10", "--max-restarts", "1", "--ckpt-dir", dir,
			       "--ckpt-every-n-steps", "1", LINREG, "--", "--fail-step", "3", NULL },
			       NULL, &r), 0);
	cr_expect_neq(r.status, 0, "rank 1 fails at step 3 in both attempts");
	cr_expect(strstr(r.err, "restarting every rank") != NULL, "%s", r.err);
	cr_expect(!strstr(r.err, "in use"), "the restart was refused its own lock:\n%s", r.err);
	cr_expect(strstr(strstr(r.err, "restarting every rank") ?: "", "step 3") != NULL,
		  "the restarted ranks trained again:\n%s", r.err);
	run_result_free(&r);
}

/* Another user's run left its checkpoints in a shared (1777) directory:
 * ours is refused rather than pruning or overwriting them. */
Test(ckpt_safety, another_users_dir_is_not_touched)
{
	char shared[512], dir[600], cmd[2400];
	struct run_result r;

	if (geteuid() != 0)
		cr_skip_test("needs root to run ltrun as another user");
	path_in_tmp(shared, sizeof(shared), "shared");
	cr_assert_eq(mkdir(shared, 0777), 0);
	cr_assert_eq(chmod(shared, 01777), 0);
	cr_assert_eq(chmod(training_tmpdir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/ckpt", shared);
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid=65534 --regid=65534 --clear-groups '%s' --devices 1 --max-steps 3 --ckpt-dir '%s' '%s'",
		 build_path("ltrun"), dir, LINREG);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", cmd, NULL }, NULL, 60, &r), 0);
	if (r.status != 0 && strstr(r.err, "setpriv"))
		cr_skip_test("setpriv cannot switch to uid 65534: %s", r.err);
	cr_assert_eq(r.status, 0, "the other user's run: %s", r.err);
	run_result_free(&r);
	cr_assert(exists_in(dir, "step-3", NULL));
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "1", "--max-steps", "5",
			       "--ckpt-dir", dir, LINREG, NULL }, NULL, &r), 0);
	cr_expect_eq(r.status, 2, "our run on their directory must be refused: %s", r.err);
	cr_expect(strstr(r.err, "another user's runs") != NULL, "%s", r.err);
	run_result_free(&r);
	cr_expect(exists_in(dir, "step-3", NULL) && !exists_in(dir, "step-5", NULL), "their checkpoints were touched");
}

/* What saves killed mid-way leave: temporaries in the directory and in a
 * finished step, a spare, an incomplete step; the next run removes them
 * (holding the lock) and says so. */
Test(ckpt_safety, leftovers_of_killed_saves_are_removed_at_start)
{
	char dir[512], step8[600];
	char *err;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("saves", (const char *const[]){ "--devices", "2", "--batch-size", "8", "--max-epochs",
		"10", "--max-steps", "8", "--ckpt-every-n-steps", "4", "--ckpt-keep", "0", "--ckpt-dir", dir, LINREG,
		NULL }, 0);
	cr_assert(exists_in(dir, "step-8/index.json", NULL));
	plant(dir, ".last.tmp-999999-0", 1 << 20);
	plant(dir, "step-8/.model.safetensors.tmp-999999-1", 2 << 20);
	plant(dir, ".ltrun-spare-0", 1 << 20);
	snprintf(step8, sizeof(step8), "%s/step-20", dir);
	cr_assert_eq(mkdir(step8, 0755), 0);
	plant(dir, "step-20/model.safetensors", 1 << 20);
	err = train("resumed", (const char *const[]){ "--devices", "2", "--batch-size", "8",
		    "--max-epochs", "10", "--max-steps", "10", "--ckpt-keep", "0", "--ckpt-dir", dir,
		    "--resume", "last",
		    LINREG, NULL }, 1);
	cr_expect(strstr(err, "removed what interrupted saves left") && strstr(err, "3 files (4.2 MB)") &&
			  strstr(err, "1 incomplete checkpoint"),
		  "the run says what it removed:\n%s", err);
	free(err);
	cr_expect(!exists_in(dir, ".last.tmp-999999-0", NULL) && !exists_in(dir, ".ltrun-spare-0", NULL) &&
			  !exists_in(dir, "step-8/.model.safetensors.tmp-999999-1", NULL) &&
			  !exists_in(dir, "step-20", NULL),
		  "leftovers remain");
	cr_expect(exists_in(dir, "step-4/index.json", NULL) && exists_in(dir, "step-8/index.json", NULL) &&
		  exists_in(dir, "step-10/index.json", NULL));
	snprintf(step8, sizeof(step8), "%s/step-8", dir);
	expect_verified(step8);
}

/* By default only the last checkpoint stays, however many epochs. */
Test(ckpt_safety, the_default_keeps_the_last_checkpoint)
{
	char dir[512], last[600], name[64] = "";
	FILE *f;

	path_in_tmp(dir, sizeof(dir), "ckpt");
	train("5 epochs", (const char *const[]){ "--devices", "2", "--batch-size", "8",
		"--max-epochs", "5", "--ckpt-dir", dir, LINREG, NULL }, 0);
	cr_expect_eq(count_steps(dir), 1, "5 epochs left %d checkpoints", count_steps(dir));
	snprintf(last, sizeof(last), "%s/last", dir);
	f = fopen(last, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(name, sizeof(name), f));
	fclose(f);
	cr_expect_str_eq(name, "step-30\n");
}

/* A save that runs out of space (a 6 MB tmpfs, checkpoints of 4 MB:
 * 500K parameters and their momentum):
 * the run fails, naming the cause, and leaves no partial step and no
 * temporary; the last complete checkpoint still verifies. */
static char small_fs[512];

static void unmount_small_fs(void)
{
	if (small_fs[0])
		umount2(small_fs, MNT_DETACH);
	training_remove_tmp();
}

Test(ckpt_safety, no_space_leaves_no_partial_step, .fini = unmount_small_fs)
{
	char name[64];
	struct run_result r;
	DIR *d;
	struct dirent *e;

	path_in_tmp(small_fs, sizeof(small_fs), "small");
	cr_assert_eq(mkdir(small_fs, 0755), 0);
	if (mount("tmpfs", small_fs, "tmpfs", 0, "size=6m")) {
		small_fs[0] = '\0';
		cr_skip_test("cannot mount a tmpfs (needs root): %s", strerror(errno));
	}
	cr_assert_eq(run_ltrun((const char *const[]){ "--devices", "1", "--batch-size", "8",
			       "--max-steps", "3", "--ckpt-every-n-steps", "1", "--ckpt-dir", small_fs,
			       WIDE, "--", "--params", "500K", "--width", "256", "--samples", "4096",
			       NULL }, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "the second save cannot fit");
	cr_expect(strstr(r.err, "No space left") != NULL, "%s", r.err);
	run_result_free(&r);
	cr_expect(exists_in(small_fs, "step-1/index.json", NULL));
	for (int s = 2; s <= 3; s++) {
		snprintf(name, sizeof(name), "step-%d", s);
		cr_expect(!exists_in(small_fs, name, NULL), "the failed save left %s", name);
	}
	d = opendir(small_fs);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		cr_expect(!strstr(e->d_name, ".tmp-"), "a temporary is left: %s", e->d_name);
	closedir(d);
	expect_verified(small_fs);
}
