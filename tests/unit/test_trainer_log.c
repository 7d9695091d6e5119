/*
 * test_trainer_log.c - metrics.csv (header order, a column that appears
 * later, empty cells, the atomic rewrite leaving no temporary file,
 * lt_metrics_last, a path that cannot be written) and the progress display
 * (plain lines every log_every steps, the terminal bar's redraws and notes)
 * written into memory.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/metrics.h"
#include "trainer/progress.h"

static char dir[] = "/tmp/ltrun-metrics-XXXXXX";
static char path[128];

static void mkdir_setup(void)
{
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics.csv", dir);
}

static void rmdir_teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(trainer_metrics, .init = mkdir_setup, .fini = rmdir_teardown);

static char *slurp(const char *p)
{
	static char buf[4096];
	FILE *f = fopen(p, "r");
	size_t n;

	cr_assert(f, "cannot read %s", p);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

Test(trainer_metrics, csv_with_a_later_column)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new(path, -1, &err);

	cr_assert(m, "%s", err.msg);
	cr_expect_str_eq(slurp(path), "step,epoch\n", "created at once with its header");
	lt_metrics_set(m, "train_loss", 0.5);
	lt_metrics_set(m, "lr", 0.01);
	cr_assert_eq(lt_metrics_commit(m, 50, 0, &err), 0, "%s", err.msg);
	cr_expect_str_eq(slurp(path), "step,epoch,train_loss,lr\n50,0,0.5,0.01\n");
	lt_metrics_set(m, "val_loss", 0.25);
	lt_metrics_set(m, "val_acc", 0.961);
	cr_assert_eq(lt_metrics_commit(m, 60, 0, &err), 0);
	lt_metrics_set(m, "train_loss", 0.125);
	lt_metrics_set(m, "train_loss", 0.375); /* the later set wins */
	cr_assert_eq(lt_metrics_commit(m, 100, 1, &err), 0);
	cr_expect_str_eq(slurp(path),
			 "step,epoch,train_loss,lr,val_loss,val_acc\n"
			 "50,0,0.5,0.01,,\n"
			 "60,0,,,0.25,0.961\n"
			 "100,1,0.375,,,\n");
	cr_expect_eq(files_in_dir(), 1, "no temporary file left behind");
	cr_expect_eq(lt_metrics_last(m, "train_loss"), 0.375);
	cr_expect_eq(lt_metrics_last(m, "val_acc"), 0.961);
	cr_expect(isnan(lt_metrics_last(m, "nothing")));
	lt_metrics_free(m);
}

Test(trainer_metrics, empty_commit_adds_nothing_and_set_is_not_last)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new(path, -1, &err);

	cr_assert(m);
	cr_assert_eq(lt_metrics_commit(m, 1, 0, &err), 0);
	cr_expect_str_eq(slurp(path), "step,epoch\n");
	lt_metrics_set(m, "loss", 2);
	cr_expect(isnan(lt_metrics_last(m, "loss")), "uncommitted values are not 'last'");
	lt_metrics_set(m, "loss", NAN);
	cr_assert_eq(lt_metrics_commit(m, 2, 0, &err), 0);
	cr_expect_str_eq(slurp(path), "step,epoch,loss\n2,0,nan\n", "a diverged loss is written");
	lt_metrics_free(m);
}

/* The rewrite goes through rename(): a reader that opened the old file
 * keeps reading the old, whole contents. */
Test(trainer_metrics, rewrite_is_atomic)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new(path, -1, &err);
	struct stat before, after;
	FILE *old;
	char buf[64] = "";

	cr_assert(m);
	lt_metrics_set(m, "a", 1);
	cr_assert_eq(lt_metrics_commit(m, 1, 0, &err), 0);
	old = fopen(path, "r");
	cr_assert(old);
	cr_assert_eq(stat(path, &before), 0);
	lt_metrics_set(m, "b", 2);
	cr_assert_eq(lt_metrics_commit(m, 2, 0, &err), 0);
	cr_assert_eq(stat(path, &after), 0);
	cr_expect_neq(before.st_ino, after.st_ino, "a new file replaced the old one");
	cr_expect_eq(fread(buf, 1, sizeof(buf) - 1, old), strlen("step,epoch,a\n1,0,1\n"));
	cr_expect_str_eq(buf, "step,epoch,a\n1,0,1\n");
	fclose(old);
	cr_expect_str_eq(slurp(path), "step,epoch,a,b\n1,0,1,\n2,0,,2\n");
	lt_metrics_free(m);
}

Test(trainer_metrics, unwritable_path_names_the_file)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new("/nonexistent-dir/metrics.csv", -1, &err);

	cr_expect_null(m);
	cr_expect(strstr(err.msg, "cannot write metrics file '/nonexistent-dir/metrics.csv") != NULL,
		  "%s", err.msg);
	cr_expect(!strchr(err.msg, '\n'));
}

Test(trainer_metrics, no_path_keeps_values_only)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new(NULL, -1, &err);

	cr_assert(m);
	lt_metrics_set(m, "val_loss", 0.5);
	cr_assert_eq(lt_metrics_commit(m, 10, 0, &err), 0);
	cr_expect_eq(lt_metrics_last(m, "val_loss"), 0.5);
	lt_metrics_free(m);
	lt_metrics_free(NULL);
}

Test(trainer_metrics, many_columns_and_rows)
{
	struct lt_err err = { 0 };
	struct lt_metrics *m = lt_metrics_new(NULL, -1, &err);
	char name[16];
	int i;

	cr_assert(m);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "m%d", i % 40);
		lt_metrics_set(m, name, i);
		cr_assert_eq(lt_metrics_commit(m, i, 0, &err), 0);
	}
	cr_expect_eq(lt_metrics_last(m, "m39"), 279);
	lt_metrics_free(m);
}

/* ------------------------------------------------------------ progress */

static char *text;
static size_t text_len;
static FILE *mem;

static void mem_setup(void)
{
	mem = open_memstream(&text, &text_len);
	cr_assert(mem);
}

static void mem_teardown(void)
{
	fclose(mem);
	free(text);
}

TestSuite(trainer_progress, .init = mem_setup, .fini = mem_teardown);

/* A clock the tests move: redraws depend on it only. */
static double fake_now;

static double fake_clock(void)
{
	return fake_now;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

Test(trainer_progress, plain_lines_every_log_every_steps)
{
	struct lt_progress *p = lt_progress_new(mem, false, 10, 4);
	int64_t s;

	cr_assert(p);
	lt_progress_set_clock(p, fake_clock);
	fake_now = 1e6;
	for (s = 1; s <= 10; s++, fake_now += 30)
		lt_progress_step(p, s, (int)(s / 6), 0.5 / (double)s, 0.01, 1234.4);
	lt_progress_note(p, "epoch 1 step 10: val_loss 0.12 val_acc 0.961");
	lt_progress_free(p);
	fflush(mem);
	cr_expect_eq(count(text, "\n"), 4, "steps 4, 8, 10 (the last) and the note:\n%s", text);
	cr_expect(strstr(text, "step 4/10 (40%) epoch 0 loss 0.125 lr 0.01 samples/s 1234 eta 3:00\n") == text,
		  "3 steps in 90 s, 6 to go: %s", text);
	cr_expect(strstr(text, "\nstep 8/10 (80%) epoch 1 loss 0.0625 ") != NULL, "%s", text);
	cr_expect(strstr(text, "\nstep 10/10 (100%) epoch 1 loss 0.05 ") != NULL, "%s", text);
	cr_expect(strstr(text, " eta 0:00\n") != NULL, "nothing left at the end: %s", text);
	cr_expect(strstr(text, "\nepoch 1 step 10: val_loss 0.12 val_acc 0.961\n") != NULL, "%s", text);
	cr_expect(!strchr(text, '\r'), "no carriage returns in a log file");
	cr_expect(!strchr(text, '\033'), "no escape sequences in a log file");
}

Test(trainer_progress, unknown_total_has_no_eta)
{
	struct lt_progress *p = lt_progress_new(mem, false, -1, 1);

	lt_progress_step(p, 1, 0, 2.0, 0.1, 3.25);
	lt_progress_free(p);
	fflush(mem);
	cr_expect_str_eq(text, "step 1 epoch 0 loss 2 lr 0.1 samples/s 3.2\n");
}

Test(trainer_progress, bar_redraws_in_place_and_notes_go_above)
{
	struct lt_progress *p = lt_progress_new(mem, true, 1000, 50);
	int64_t s;

	cr_assert(p);
	lt_progress_set_clock(p, fake_clock);
	fake_now = 1e6; /* a large clock: no rounding may hide the first draw */
	for (s = 1; s <= 999; s++, fake_now += 0.001)
		lt_progress_step(p, s, 0, 1.0, 0.01, 100);
	lt_progress_note(p, "epoch 0 step 999: val_loss 0.5\n");
	lt_progress_free(p);
	fflush(mem);
	/* A step a millisecond: a redraw every 100 steps (10 a second), the
	 * first at once, and free() draws the latest before its newline. */
	cr_expect(count(text, "\rstep ") >= 10 && count(text, "\rstep ") <= 12, "%d redraws: %s",
		  count(text, "\rstep "), text);
	cr_expect(strstr(text, "\rstep 1/1000 (0%) epoch 0 loss 1 lr 0.01 samples/s 100 eta ?\033[K") == text,
		  "%s", text);
	cr_expect(strstr(text, "\r\033[Kepoch 0 step 999: val_loss 0.5\nstep 9") != NULL,
		  "the note clears the bar, then the bar comes back: %s", text);
	cr_expect(strstr(text, "\rstep 999/1000 (99%)") != NULL, "%s", text);
	cr_expect_eq(text[text_len - 1], '\n', "ends with a newline");
	cr_expect_eq(count(text, "\n"), 2);
}

Test(trainer_progress, last_step_is_always_drawn)
{
	struct lt_progress *p = lt_progress_new(mem, true, 3, 50);

	lt_progress_set_clock(p, fake_clock);
	fake_now = 5e5;
	lt_progress_step(p, 1, 0, 1.0, 0.01, 100);
	lt_progress_step(p, 2, 0, 1.0, 0.01, 100);
	lt_progress_step(p, 3, 0, 1.0, 0.01, 100);
	fflush(mem);
	cr_expect(strstr(text, "\rstep 3/3 (100%)") != NULL, "%s", text);
	cr_expect(strstr(text, "\rstep 2/3") == NULL, "step 2 came too soon to draw: %s", text);
	lt_progress_free(p);
	fflush(mem);
	cr_expect_eq(count(text, "\rstep 3/3"), 1, "not drawn twice: %s", text);
}
