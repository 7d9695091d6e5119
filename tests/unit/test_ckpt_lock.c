/*
 * test_ckpt_lock.c - one run per checkpoint directory and what interrupted
 * saves leave: the lock refuses a second holder naming the first, is free
 * again once released, is made 0600 and refuses a lock file that is not a
 * regular file of ours (another user's, a symbolic link); the clean-up
 * removes temporaries, spares and incomplete step directories of this
 * user, and nothing else.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_cases.h"
#include "ckpt/file.h"
#include "ckpt/lock.h"

static void put(const char *dir, const char *rel, size_t len)
{
	char path[200];
	char *p = calloc(1, len + 1);

	cr_assert(p);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	spit(path, p, len);
	free(p);
}

Test(ckpt_lock, a_second_holder_is_refused_naming_the_first)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_lock *first, *second;
	struct ckpt_dir d;
	char want[64], path[200];
	struct stat st;

	ckpt_dir_make(&d);
	cr_assert_eq(lt_ckpt_lock_take(d.path, "node7", "abc123", &first, &err), 0, "%s", err.msg);
	cr_expect(lt_ckpt_lock_held(first));
	/* another open of the file: as another process would */
	cr_assert_eq(lt_ckpt_lock_take(d.path, "node8", "def456", &second, &err), -1);
	cr_expect_null(second);
	cr_expect_eq(err.status, LT_EXIT_USAGE);
	snprintf(want, sizeof(want), "pid %ld on host node7, run abc123, since ", (long)getpid());
	cr_expect(strstr(err.msg, "is in use by another run") && strstr(err.msg, want) &&
			  strstr(err.msg, "give each run its own --ckpt-dir"),
		  "%s", err.msg);
	/* a probe is refused too */
	cr_expect_eq(lt_ckpt_lock_take(d.path, NULL, NULL, &second, &err), -1);
	snprintf(path, sizeof(path), "%s/.lock", d.path);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "another user must not be able to take it");
	lt_ckpt_lock_release(first);
	cr_expect_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, 0, "released: the holder is forgotten");
	cr_assert_eq(lt_ckpt_lock_take(d.path, "node8", "def456", &second, &err), 0, "%s", err.msg);
	lt_ckpt_lock_release(second);
	ckpt_dir_done(&d);
}

Test(ckpt_lock, makes_the_directory)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_lock *l;
	struct ckpt_dir d;
	char sub[160];

	ckpt_dir_make(&d);
	snprintf(sub, sizeof(sub), "%s/a/b", d.path);
	cr_assert_eq(lt_ckpt_lock_take(sub, "h", "r", &l, &err), 0, "%s", err.msg);
	cr_expect(exists_in(d.path, "a/b/.lock", NULL));
	lt_ckpt_lock_release(l);
	ckpt_dir_done(&d);
}

Test(ckpt_lock, a_lock_file_not_ours_is_refused)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_lock *l;
	struct ckpt_dir d;
	char path[200], target[200];

	ckpt_dir_make(&d);
	/* a symbolic link planted as .lock: never followed */
	snprintf(path, sizeof(path), "%s/.lock", d.path);
	snprintf(target, sizeof(target), "%s/target", d.path);
	put(d.path, "target", 5);
	cr_assert_eq(symlink(target, path), 0);
	cr_expect_eq(lt_ckpt_lock_take(d.path, "h", "r", &l, &err), -1);
	cr_expect(strstr(err.msg, "cannot lock --ckpt-dir"), "%s", err.msg);
	{
		struct stat st;

		cr_assert_eq(stat(target, &st), 0);
		cr_expect_eq(st.st_size, 5, "the link's target was written");
	}
	cr_assert_eq(unlink(path), 0);
	/* another user's file */
	if (geteuid() == 0) {
		put(d.path, ".lock", 0);
		cr_assert_eq(chown(path, 65534, 65534), 0);
		cr_expect_eq(lt_ckpt_lock_take(d.path, "h", "r", &l, &err), -1);
		cr_expect(strstr(err.msg, "in use by another user's runs (its .lock belongs to uid 65534)"),
			  "%s", err.msg);
		cr_expect_eq(err.status, LT_EXIT_USAGE);
	}
	ckpt_dir_done(&d);
}

Test(ckpt_lock, local_directories_only)
{
	cr_expect(lt_ckpt_dir_is_local("ckpt", "file"));
	cr_expect(lt_ckpt_dir_is_local("/x/y", "async"));
	cr_expect(!lt_ckpt_dir_is_local("http://h/x", "async"));
	cr_expect(!lt_ckpt_dir_is_local("https://h/x", "http"));
	cr_expect(!lt_ckpt_dir_is_local("/x", "http"));
	/* inline parameters name the same IO */
	cr_expect(!lt_ckpt_dir_is_local("/x", "http:retries=8"));
	cr_expect(lt_ckpt_dir_is_local("/x", "file:"));
	cr_expect(lt_ckpt_dir_is_local("/x", "https3"));
	cr_expect(!lt_ckpt_dir_is_local(NULL, "file"));
}

/* What killed saves leave: temporaries in the base and in a finished
 * step, a spare, an incomplete step; and what must stay. */
Test(ckpt_clean, removes_leftovers_of_interrupted_saves)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_cleaned c;
	struct ckpt_dir d;
	struct model m;
	char path[200];

	ckpt_dir_make(&d);
	model_make(&m, 1);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 8, m.t, MODEL_TENSORS, NULL, 0, &err), 0,
		     "%s", err.msg);
	put(d.path, ".last.tmp-4242-0", 10);
	put(d.path, "step-8/.model.safetensors.tmp-4242-7", 1000);
	put(d.path, ".ltrun-spare-1", 100);
	snprintf(path, sizeof(path), "%s/step-12", d.path);
	cr_assert_eq(mkdir(path, 0755), 0);
	put(d.path, "step-12/model.safetensors", 500);
	/* not leftovers */
	put(d.path, "notes.txt", 3);
	put(d.path, "step-8/extra", 3);
	snprintf(path, sizeof(path), "%s/other", d.path);
	cr_assert_eq(mkdir(path, 0755), 0);
	put(d.path, "other/.x.tmp-1-1", 3);
	snprintf(path, sizeof(path), "%s/step-13", d.path);
	cr_assert_eq(symlink("other", path), 0);
	if (geteuid() == 0) {
		put(d.path, ".theirs.tmp-1-1", 3);
		snprintf(path, sizeof(path), "%s/.theirs.tmp-1-1", d.path);
		cr_assert_eq(chown(path, 65534, 65534), 0);
	}

	cr_assert_eq(lt_ckpt_io_file_clean(d.path, &c, &err), 0, "%s", err.msg);
	cr_expect_eq(c.files, 3, "%u", c.files);
	cr_expect_eq(c.dirs, 1, "%u", c.dirs);
	cr_expect_eq(c.bytes, 1110, "%llu", (unsigned long long)c.bytes);
	cr_expect(!exists_in(d.path, ".last.tmp-4242-0", NULL) && !exists_in(d.path, ".ltrun-spare-1", NULL) &&
		  !exists_in(d.path, "step-8/.model.safetensors.tmp-4242-7", NULL) && !exists_in(d.path, "step-12", NULL));
	cr_expect(exists_in(d.path, "step-8/model.safetensors", NULL) && exists_in(d.path, "step-8/index.json", NULL) &&
		  exists_in(d.path, "last", NULL) && exists_in(d.path, "notes.txt", NULL) && exists_in(d.path, "step-8/extra", NULL) &&
		  exists_in(d.path, "other/.x.tmp-1-1", NULL) && exists_in(d.path, "step-13", NULL));
	if (geteuid() == 0)
		cr_expect(exists_in(d.path, ".theirs.tmp-1-1", NULL), "another user's file was removed");
	{
		struct lt_ckpt_reader *r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);

		cr_assert_not_null(r, "%s", err.msg);
		cr_expect_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
		lt_ckpt_close(r);
	}
	model_free(&m);
	ckpt_dir_done(&d);
}

Test(ckpt_clean, a_missing_directory_is_clean)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_cleaned c;

	cr_expect_eq(lt_ckpt_io_file_clean("/nonexistent/ltrun-ckpt", &c, &err), 0);
	cr_expect_eq(c.files + c.dirs, 0);
}
