/*
 * test_logger.c - the loggers of a real training run (--logger): the MLP
 * on 2 ranks with csv and tensorboard, whose event files TensorBoard's own
 * EventAccumulator reads back (tb_python.h) with every value of
 * metrics.csv at its step; a run resumed from an earlier checkpoint into
 * the same --log-dir shows no step twice in either; a logger plugin
 * (examples/plugins/jsonl_logger.so) and `--list logger`; bad --logger
 * values refused in one line; a full disk and an unwritable metrics file
 * cost a warning, not the run.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "tb_python.h"

#define MLP build_path("examples/mlp/mlp.so")
#define JSONL build_path("examples/plugins/jsonl_logger.so")

static char dir[64];

static void remove_dir(void)
{
	char rm[128];

	if (!dir[0])
		return;
	umount(dir); /* the full-disk test's tmpfs, if any */
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm)) {
		/* a leftover temporary directory only */
	}
	dir[0] = '\0';
}

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ltrun-logger-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

TestSuite(logger, .fini = remove_dir, .timeout = 700);

/* Runs ltrun args...; expects exit status want. */
static void train(const char *const *args, int want, struct run_result *r)
{
	cr_assert_eq(run_ltrun(args, NULL, r), 0);
	cr_assert_eq(r->status, want, "ltrun exited %d:\n%s", r->status, r->err);
}

/* metrics.csv, parsed: the columns, and each row's cells (NAN: empty). */
struct csv {
	char names[16][48];
	int ncols;
	long long step[2048];
	double v[2048][16];
	int nrows;
};

static void read_csv(const char *path, struct csv *c)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	memset(c, 0, sizeof(*c));
	cr_assert_not_null(fgets(line, sizeof(line), f));
	line[strcspn(line, "\r\n")] = '\0';
	cr_assert(!strncmp(line, "step,epoch,", 11), "%s", line);
	for (char *p = line + 11, *e; *p && c->ncols < 16; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ",");
		snprintf(c->names[c->ncols++], sizeof(c->names[0]), "%.*s", (int)(e - p), p);
	}
	while (fgets(line, sizeof(line), f) && c->nrows < 2048) {
		char *p = line;
		c->step[c->nrows] = strtoll(p, &p, 10);
		p = strchr(p + 1, ','); /* past the epoch */
		for (int k = 0; k < c->ncols; k++) {
			char *end;
			double x;
			cr_assert_not_null(p, "short row: %s", line);
			x = strtod(p + 1, &end);
			c->v[c->nrows][k] = end == p + 1 ? NAN : x;
			p = strchr(p + 1, ',');
		}
		c->nrows++;
	}
	fclose(f);
}

/* The column of TensorBoard tag "train/X" (X) or "val/X" (val_X). */
static int column_of(const struct csv *c, const char *tag)
{
	char name[64];

	if (!strncmp(tag, "train/", 6))
		snprintf(name, sizeof(name), "%s", tag + 6);
	else if (!strncmp(tag, "val/", 4))
		snprintf(name, sizeof(name), "val_%s", tag + 4);
	else
		return -1;
	for (int k = 0; k < c->ncols; k++)
		if (!strcmp(c->names[k], name))
			return k;
	return -1;
}

/* TensorBoard holds the float32 of the value, metrics.csv its 9 significant
 * digits: rounding the printed digits to float32 can land one float32 step
 * away from rounding the value itself (100229.99609... is 100230 as float32,
 * 100229.996 is 100229.992), so they agree within one float32 step. */
static bool same_float32(double csv, double tb)
{
	float a = (float)csv, b = (float)tb;

	return a == b || nextafterf(a, b) == b;
}

/* Every scalar TensorBoard reads is a cell of metrics.csv at its step (as
 * float32), every cell is one scalar, and no tag has a step twice. */
static void expect_same(const struct csv *c, const char *tb)
{
	int cells = 0, scalars = 0;
	char last_tag[64] = "";
	long long last_step = -1;

	for (int i = 0; i < c->nrows; i++)
		for (int k = 0; k < c->ncols; k++)
			cells += !isnan(c->v[i][k]);
	for (const char *line = tb; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
		char tag[64];
		long long step;
		double value;
		int k, hits = 0;

		if (sscanf(line, "%63[^,],%lld,%lf", tag, &step, &value) != 3 ||
		    !strcmp(tag, "text") || !strcmp(tag, "hparams"))
			continue;
		scalars++;
		cr_expect(strcmp(tag, last_tag) || step > last_step, "%s has step %lld twice", tag,
			  step);
		snprintf(last_tag, sizeof(last_tag), "%s", tag);
		last_step = step;
		k = column_of(c, tag);
		cr_assert_geq(k, 0, "tag %s has no column in metrics.csv", tag);
		for (int i = 0; i < c->nrows; i++)
			if (c->step[i] == step && !isnan(c->v[i][k])) {
				hits++;
				cr_expect(same_float32(c->v[i][k], value),
					  "%s at step %lld: csv %.9g, TensorBoard %.9g", tag, step,
					  c->v[i][k], value);
			}
		cr_expect_eq(hits, 1, "%s at step %lld: %d cells in metrics.csv", tag, step, hits);
	}
	cr_expect_eq(scalars, cells, "TensorBoard has %d scalars, metrics.csv %d cells", scalars,
		     cells);
}

Test(logger, tensorboard_holds_every_value_of_metrics_csv)
{
	char python[512], csv_path[128];
	struct run_result r;
	static struct csv c;
	char *tb;

	tb_python(python, sizeof(python));
	make_dir();
	train((const char *[]){ "--devices", "2", "--max-epochs", "3", "--lr", "0.1",
				"--log-every-n-steps", "10", "--log-dir", dir, "--logger",
				"csv,tensorboard", MLP, NULL },
	      0, &r);
	run_result_free(&r);
	snprintf(csv_path, sizeof(csv_path), "%s/metrics.csv", dir);
	read_csv(csv_path, &c);
	cr_assert_geq(c.nrows, 9, "rows: %d", c.nrows);
	tb = tb_read(python, dir);
	expect_same(&c, tb);
	cr_expect(strstr(tb, "text,config,0,| setting | value |") != NULL, "the settings:\n%s", tb);
	cr_expect(strstr(tb, "hparams,world_size,2.0") != NULL, "hparams:\n%s", tb);
	free(tb);
}

Test(logger, a_resumed_run_shows_no_step_twice)
{
	char python[512], csv_path[128], ckpt[96], from[128];
	struct run_result r;
	static struct csv c;
	char *tb;

	tb_python(python, sizeof(python));
	make_dir();
	snprintf(ckpt, sizeof(ckpt), "%s/ckpt", dir);
	snprintf(from, sizeof(from), "%s/step-20", ckpt);
	/* steps 5..30 logged, checkpoints at 10, 20, 30 */
	train((const char *[]){ "--devices", "2", "--max-steps", "30", "--log-every-n-steps", "5",
				"--ckpt-dir", ckpt, "--ckpt-every-n-steps", "10", "--ckpt-keep", "0",
				"--log-dir", dir, "--logger", "csv,tensorboard", MLP, NULL },
	      0, &r);
	run_result_free(&r);
	/* on from step 20: 25 and 30 again, then to 40 */
	train((const char *[]){ "--devices", "2", "--max-steps", "40", "--log-every-n-steps", "5",
				"--ckpt-dir", ckpt, "--resume", from, "--log-dir", dir, "--logger",
				"csv,tensorboard", MLP, NULL },
	      0, &r);
	run_result_free(&r);
	snprintf(csv_path, sizeof(csv_path), "%s/metrics.csv", dir);
	read_csv(csv_path, &c);
	{
		long long prev = 0;
		int loss = -1, rows = 0;
		for (int k = 0; k < c.ncols; k++)
			if (!strcmp(c.names[k], "loss"))
				loss = k;
		cr_assert_geq(loss, 0);
		for (int i = 0; i < c.nrows; i++) {
			if (isnan(c.v[i][loss]))
				continue;
			cr_expect_gt(c.step[i], prev, "step %lld after %lld in metrics.csv", c.step[i],
				     prev);
			prev = c.step[i];
			rows++;
		}
		cr_expect_eq(rows, 8, "training rows at 5, 10, ..., 40: %d", rows);
	}
	tb = tb_read(python, dir);
	expect_same(&c, tb);
	free(tb);
}

Test(logger, a_plugin_logger_and_the_list)
{
	char csv_path[128], jsonl_path[128], line[512];
	struct run_result r;
	static struct csv c;
	FILE *f;
	int lines = 0;

	train((const char *[]){ "--list", "logger", NULL }, 0, &r);
	cr_expect(strstr(r.out, "csv") && strstr(r.out, "tensorboard"), "%s", r.out);
	run_result_free(&r);
	train((const char *[]){ "--plugin", JSONL, "--list", "logger", NULL }, 0, &r);
	cr_expect(strstr(r.out, "jsonl") != NULL, "%s", r.out);
	run_result_free(&r);

	make_dir();
	train((const char *[]){ "--plugin", JSONL, "--devices", "2", "--max-epochs", "2",
				"--log-dir", dir, "--logger", "csv,jsonl", MLP, NULL },
	      0, &r);
	run_result_free(&r);
	snprintf(csv_path, sizeof(csv_path), "%s/metrics.csv", dir);
	snprintf(jsonl_path, sizeof(jsonl_path), "%s/metrics.jsonl", dir);
	read_csv(csv_path, &c);
	f = fopen(jsonl_path, "r");
	cr_assert_not_null(f, "%s", jsonl_path);
	while (fgets(line, sizeof(line), f)) {
		cr_expect(!strncmp(line, "{\"step\": ", 9), "%s", line);
		lines++;
	}
	fclose(f);
	cr_expect_eq(lines, c.nrows, "a JSON line per metrics.csv row");
}

Test(logger, bad_logger_values_get_one_line)
{
	static const struct {
		const char *value, *needle;
	} bad[] = {
		{ "bogus", "bogus" },
		{ "csv,csv", "twice" },
		{ "tensorboard:flush_secs=0", "flush_secs" },
		{ "tensorboard:nope=1", "nope" },
		{ "csv,", "separated by commas" },
		{ "flush_secs=5", "separated by commas" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run_result r;
		cr_assert_eq(run_ltrun((const char *[]){ "--logger", bad[i].value, "--dry-run", NULL },
				       NULL, &r),
			     0);
		cr_expect_eq(r.status, 2, "--logger %s: %d\n%s", bad[i].value, r.status, r.err);
		cr_expect(strstr(r.err, bad[i].needle) != NULL, "--logger %s:\n%s", bad[i].value,
			  r.err);
		cr_expect_eq(count_lines(r.err), 1, "%s", r.err);
		run_result_free(&r);
	}
}

Test(logger, an_unwritable_metrics_file_costs_a_warning_not_the_run)
{
	char path[128];
	struct run_result r;

	make_dir();
	snprintf(path, sizeof(path), "%s/metrics.csv", dir);
	cr_assert_eq(mkdir(path, 0755), 0); /* in the way of the file */
	train((const char *[]){ "--devices", "2", "--max-epochs", "1", "--log-dir", dir, "--tee",
				"--logger", "csv,tensorboard", MLP, NULL },
	      0, &r);
	cr_expect(strstr(r.err, "ltrun: warning: logger 'csv': cannot write metrics file") != NULL,
		  "%s", r.err);
	cr_expect(strstr(r.err, "training goes on") != NULL, "%s", r.err);
	run_result_free(&r);
}

Test(logger, a_full_disk_costs_a_warning_not_the_run)
{
	char logs[96];
	struct run_result r;

	if (geteuid() != 0)
		cr_skip_test("needs root, to mount a small tmpfs");
	make_dir();
	if (mount("tmpfs", dir, "tmpfs", 0, "size=32k"))
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	snprintf(logs, sizeof(logs), "%s/logs", dir);
	train((const char *[]){ "--devices", "2", "--max-epochs", "20", "--lr", "0.1",
				"--log-every-n-steps", "1", "--log-dir", logs, "--tee", "--logger",
				"csv,tensorboard:flush_secs=0.01", MLP, NULL },
	      0, &r);
	cr_expect(strstr(r.err, "No space left on device") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "training goes on") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "val_acc") != NULL, "validation ran to the end:\n%s", r.err);
	run_result_free(&r);
}

Test(logger, a_metric_name_no_logger_takes_costs_a_warning_not_the_run)
{
	char path[128];
	struct run_result r;
	FILE *f;
	char header[512] = "";

	make_dir();
	train((const char *[]){ "--devices", "2", "--max-epochs", "2", "--log-dir", dir, "--tee",
				"--logger", "csv,tensorboard", build_path("tests/models/linreg.so"),
				"--", "--log-name", "bad name!", NULL },
	      0, &r);
	cr_expect(strstr(r.err, "ltrun: warning: lt_log(): bad metric name 'bad name!'") != NULL,
		  "%s", r.err);
	cr_expect_eq(strstr(r.err, "bad metric name") == strstr(r.err, "bad metric name") &&
			     strstr(strstr(r.err, "bad metric name") + 1, "bad metric name") == NULL,
		     1, "warned once:\n%s", r.err);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/metrics.csv", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(header, sizeof(header), f));
	fclose(f);
	cr_expect(strstr(header, "loss") && !strstr(header, "bad"), "%s", header);
}

Test(logger, two_jobs_in_one_log_dir_do_not_mix)
{
	char python[512], path[128];
	struct run_result first, second;
	struct run_job *j;
	static struct csv c;
	char *tb;
	int files = 0;

	tb_python(python, sizeof(python));
	make_dir();
	/* long enough to be running when the second one starts */
	j = run_start((const char *[]){ build_path("ltrun"), "--devices", "2", "--max-epochs", "1500",
					"--log-every-n-steps", "1000", "--log-dir", dir, "--tee", "--logger", "csv,tensorboard", MLP,
					NULL },
		      NULL, -1);
	cr_assert_not_null(j);
	/* the first job logs (its first validation row is out) */
	snprintf(path, sizeof(path), "%s/metrics.csv", dir);
	for (int waited = 0; waited < 60000; waited += 100) {
		struct stat st;
		if (!stat(path, &st) && st.st_size > 60)
			break;
		usleep(100000);
	}
	train((const char *[]){ "--devices", "2", "--max-epochs", "1", "--log-dir", dir, "--tee",
				"--logger", "csv,tensorboard", MLP, NULL },
	      0, &second);
	cr_expect(strstr(second.err, "writes '") && strstr(second.err, "metrics.csv': give this run a --log-dir of its own"),
		  "the second job's csv is refused:\n%s", second.err);
	run_result_free(&second);
	run_job_finish(j, 300, &first);
	cr_expect_eq(first.status, 0, "%s", first.err);
	cr_expect(!strstr(first.err, "warning: logger"), "the first job logs on:\n%s", first.err);
	run_result_free(&first);
	/* metrics.csv is the first job's alone: a validation row per epoch,
	 * the steps never going back */
	read_csv(path, &c);
	{
		int val = -1, vals = 0;
		for (int k = 0; k < c.ncols; k++)
			if (!strcmp(c.names[k], "val_loss"))
				val = k;
		cr_assert_geq(val, 0);
		for (int i = 0; i < c.nrows; i++) {
			vals += !isnan(c.v[i][val]);
			if (i)
				cr_expect_geq(c.step[i], c.step[i - 1], "row %d goes back", i);
		}
		cr_expect_eq(vals, 1500, "validation rows: %d", vals);
	}
	/* two event files, each whole: TensorBoard reads both */
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			files += !strncmp(e->d_name, "events.out.tfevents.", 20);
		if (d)
			closedir(d);
	}
	cr_expect_eq(files, 2);
	tb = tb_read(python, dir);
	cr_expect(strstr(tb, "val/acc,") != NULL, "%s", tb);
	free(tb);
}

Test(logger, a_log_dir_that_cannot_be_made_costs_warnings_not_the_run)
{
	struct run_result r;

	/* /proc takes no new directory, whoever asks */
	train((const char *[]){ "--devices", "2", "--max-epochs", "1", "--log-dir",
				"/proc/ltrun-no-such-dir", "--logger", "csv,tensorboard", MLP, NULL },
	      0, &r);
	cr_expect(strstr(r.err, "ltrun: warning: cannot create --log-dir '/proc/ltrun-no-such-dir'") != NULL,
		  "%s", r.err);
	cr_expect(strstr(r.err, "[rank 0] ltrun: warning: logger 'csv'") != NULL, "%s", r.err);
	cr_expect(strstr(r.err, "[rank 0] ltrun: warning: logger 'tensorboard'") != NULL, "%s",
		  r.err);
	cr_expect(strstr(r.err, "val_acc") != NULL, "trained and validated:\n%s", r.err);
	run_result_free(&r);
}
