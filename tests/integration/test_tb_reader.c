/*
 * test_tb_reader.c - TensorBoard itself reads what src/logger/tb_event.c
 * writes: tests/scripts/tb_read.py loads a directory with TensorBoard's
 * EventAccumulator (which checks each record's CRCs), from PyPI into a
 * virtual environment beside the build ($LTRUN_BUILD/tb-venv, made once
 * by tests/scripts/py-venv; the tests skip, saying why, where PyPI cannot
 * be reached).  Every scalar comes back as the float32 written, text and
 * hparams as written; a last record cut in half (a crash mid-write) hides
 * only itself; a SessionLog START at step S in a later file drops what
 * the earlier file logged at S and after, as a resumed run needs.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/tb_event.h"
#include "run.h"
#include "tb_python.h"

TestSuite(tb_reader, .timeout = 700);

#define WALL 1700000000.0

static void make_dir(char *dir, size_t size)
{
	cr_assert_eq(tmp_dir_make(dir, size, "tb_reader"), 0, "mkdtemp: %s", strerror(errno));
}

static void rm_dir(const char *dir)
{
	tmp_dir_remove(dir);
}

struct scalar {
	char tag[32];
	long long step;
	float value;
};

/* Checks that the scalar lines of out ("tag,step,value") are exactly
 * want[0..n), in order, each value the same float32 bits. */
static void expect_scalars(const char *out, const struct scalar *want, size_t n)
{
	const char *line = out;
	size_t i = 0;

	for (; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
		char tag[64];
		long long step;
		double value;
		float got;

		if (!strncmp(line, "text,", 5) || !strncmp(line, "hparams,", 8))
			continue;
		cr_assert_eq(sscanf(line, "%63[^,],%lld,%lf", tag, &step, &value), 3,
			     "not a scalar line: %.80s", line);
		cr_assert_lt(i, n, "more scalars than written: %.80s", line);
		got = (float)value;
		cr_expect_str_eq(tag, want[i].tag);
		cr_expect_eq(step, want[i].step, "%s", tag);
		cr_expect(!memcmp(&got, &want[i].value, sizeof(got)), "%s step %lld: %.9g read, %.9g written",
			  tag, step, got, want[i].value);
		i++;
	}
	cr_expect_eq(i, n, "%zu scalars read, %zu written", i, n);
}

Test(tb_reader, every_scalar_text_and_hparam_reads_back)
{
	static const char *const tags[] = { "loss", "lr", "train/acc" };
	static const char *const names[] = { "lr", "optimizer", "batch_size" };
	static const char *const values[] = { "0.001", "adamw", "32" };
	struct scalar want[3 * 40];
	struct lt_err err = { 0, "" };
	struct lt_tb_writer *w;
	char python[600], dir[64];
	size_t n = 0;
	char *out;

	tb_python(python, sizeof(python));
	make_dir(dir, sizeof(dir));
	w = lt_tb_open(dir, "node1", WALL, &err);
	cr_assert(w, "%s", err.msg);
	/* Values whose float32 bits a reader could easily lose: thirds,
	 * tiny and huge magnitudes, subnormals, negative zero, infinity. */
	for (size_t t = 0; t < 3; t++) {
		for (int s = 0; s < 40; s++) {
			float v = (float)((s % 7 - 3) / 3.0 * pow(10.0, (s % 11) * 7 - 35));

			if (s == 5)
				v = -0.0f;
			else if (s == 6)
				v = INFINITY;
			else if (s == 7)
				v = 1e-40f;
			snprintf(want[n].tag, sizeof(want[n].tag), "%s", tags[t]);
			want[n].step = s * 1000LL + (long long)t;
			want[n].value = v * (float)(t + 1);
			n++;
		}
	}
	/* Written step by step, the tags interleaved, as a trainer does. */
	for (int s = 0; s < 40; s++)
		for (size_t t = 0; t < 3; t++)
			cr_assert_eq(lt_tb_scalar(w, tags[t], want[t * 40 + (size_t)s].step, WALL + s,
						  want[t * 40 + (size_t)s].value, &err),
				     0, "%s", err.msg);
	cr_assert_eq(lt_tb_text(w, "config", 0, WALL, "lr = 0.001\nbatch_size = 32", &err), 0);
	cr_assert_eq(lt_tb_hparams(w, names, values, 3, WALL, &err), 0, "%s", err.msg);
	lt_tb_close(w);

	out = tb_read(python, dir);
	expect_scalars(out, want, n);
	cr_expect(strstr(out, "\ntext,config,0,lr = 0.001\\nbatch_size = 32\n"), "%s", out);
	cr_expect(strstr(out, "\nhparams,batch_size,32.0\nhparams,lr,0.001\nhparams,optimizer,'adamw'\n"),
		  "%s", out);
	free(out);
	rm_dir(dir);
}

Test(tb_reader, a_torn_last_record_hides_only_itself)
{
	struct lt_err err = { 0, "" };
	struct scalar want[10];
	struct lt_tb_writer *w;
	char python[600], dir[64], path[512];
	struct stat before, after;
	char *out;

	tb_python(python, sizeof(python));
	make_dir(dir, sizeof(dir));
	w = lt_tb_open(dir, "node1", WALL, &err);
	cr_assert(w, "%s", err.msg);
	snprintf(path, sizeof(path), "%s", lt_tb_path(w));
	for (int s = 0; s < 9; s++) {
		snprintf(want[s].tag, sizeof(want[s].tag), "loss");
		want[s].step = s;
		want[s].value = 1.0f / (float)(s + 1);
		cr_assert_eq(lt_tb_scalar(w, "loss", s, WALL + s, want[s].value, &err), 0);
	}
	cr_assert_eq(lt_tb_flush(w, false, &err), 0, "%s", err.msg);
	cr_assert_eq(stat(path, &before), 0);
	cr_assert_eq(lt_tb_scalar(w, "loss", 9, WALL + 9, 0.5f, &err), 0);
	lt_tb_close(w);
	cr_assert_eq(stat(path, &after), 0);
	/* Cut in the middle of the last record's Event. */
	cr_assert_eq(truncate(path, before.st_size + (after.st_size - before.st_size) / 2), 0);

	out = tb_read(python, dir);
	expect_scalars(out, want, 9);
	free(out);
	rm_dir(dir);
}

Test(tb_reader, a_session_start_drops_the_earlier_files_later_steps)
{
	struct lt_err err = { 0, "" };
	struct scalar want[12];
	struct lt_tb_writer *w;
	char python[600], dir[64];
	size_t n = 0;
	char *out;

	tb_python(python, sizeof(python));
	make_dir(dir, sizeof(dir));
	/* The first run logs steps 0 to 9, its checkpoint was at step 4. */
	w = lt_tb_open(dir, "node1", WALL, &err);
	cr_assert(w, "%s", err.msg);
	for (int s = 0; s < 10; s++)
		cr_assert_eq(lt_tb_scalar(w, "loss", s, WALL + s, (float)s, &err), 0);
	lt_tb_close(w);
	/* The resumed run: a new file (a later second, so read after the
	 * first), from step 5 again with other values. */
	w = lt_tb_open(dir, "node1", WALL + 100, &err);
	cr_assert(w, "%s", err.msg);
	cr_assert_eq(lt_tb_session_start(w, 5, WALL + 100, &err), 0);
	for (int s = 5; s < 12; s++)
		cr_assert_eq(lt_tb_scalar(w, "loss", s, WALL + 100 + s, 100.0f + (float)s, &err), 0);
	lt_tb_close(w);

	for (int s = 0; s < 12; s++) {
		snprintf(want[n].tag, sizeof(want[n].tag), "loss");
		want[n].step = s;
		want[n].value = s < 5 ? (float)s : 100.0f + (float)s;
		n++;
	}
	out = tb_read(python, dir);
	expect_scalars(out, want, n);
	free(out);
	rm_dir(dir);
}
