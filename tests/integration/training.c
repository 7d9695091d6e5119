/*
 * training.c - the helpers of training.h.
 */
#include "training.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

#define MAX_FLOATS 64
#define MAX_ARGS 40

char training_tmpdir[] = "/tmp/ltrun-train-XXXXXX";

void training_make_tmp(void)
{
	cr_assert_not_null(mkdtemp(training_tmpdir), "mkdtemp");
}

void training_remove_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", training_tmpdir);
	cr_expect_eq(system(cmd), 0);
}

const char *path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", training_tmpdir, name);
	return buf;
}

char *train(const char *what, const char *const *args, int keep_err)
{
	struct run_result r;
	char *err = NULL;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0, "%s: cannot start ltrun", what);
	cr_assert_eq(r.status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%s", what, r.status, r.out,
		     r.err);
	if (keep_err) {
		err = r.err;
		r.err = NULL;
	}
	run_result_free(&r);
	return err;
}

static size_t read_floats(const char *path, float *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	cr_assert_not_null(f, "no parameter dump '%s'", path);
	n = fread(out, sizeof(float), MAX_FLOATS, f);
	fclose(f);
	cr_assert_gt(n, 0, "empty parameter dump '%s'", path);
	return n;
}

void expect_same_params(const char *what, const char *a, const char *b, double rel)
{
	float x[MAX_FLOATS], y[MAX_FLOATS];
	size_t n = read_floats(a, x), m = read_floats(b, y);
	double max_abs = 0.0, max_diff = 0.0;

	cr_assert_eq(n, m, "%s: %zu vs %zu parameters", what, n, m);
	for (size_t i = 0; i < n; i++) {
		max_abs = fmax(max_abs, fabs((double)x[i]));
		max_diff = fmax(max_diff, fabs((double)x[i] - (double)y[i]));
	}
	cr_expect_leq(max_diff, rel * max_abs, "%s: parameters differ by %g (largest %g, relative %g > %g)",
		      what, max_diff, max_abs, max_diff / max_abs, rel);
}

void train_dumping(const char *what, const char *const *args, const char *name,
		   char *dump, size_t len)
{
	const char *argv[MAX_ARGS + 3];
	int n = 0;

	path_in_tmp(dump, len, name);
	while (args[n] && n < MAX_ARGS) {
		argv[n] = args[n];
		n++;
	}
	argv[n++] = "--dump";
	argv[n++] = dump;
	argv[n] = NULL;
	train(what, argv, 0);
}

void expect_runs_agree(const char *what, const char *const *a, const char *const *b,
		       double rel)
{
	char da[512], db[512];

	train_dumping(what, a, "a.f32", da, sizeof(da));
	train_dumping(what, b, "b.f32", db, sizeof(db));
	expect_same_params(what, da, db, rel);
}

int count_steps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "no %s", dir);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "step-", 5);
	closedir(d);
	return n;
}

void newest_checkpoint_file(const char *dir, char *out, size_t len)
{
	char last[600], name[64] = "";
	FILE *f;

	snprintf(last, sizeof(last), "%s/last", dir);
	f = fopen(last, "r");
	cr_assert_not_null(f, "no %s", last);
	cr_assert_not_null(fgets(name, sizeof(name), f));
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	snprintf(out, len, "%s/%s/model.safetensors", dir, name);
}

/* The last "val_acc X" rank 0 printed. */
double final_val_acc(const char *what, const char *err)
{
	const char *p = NULL;
	double acc;

	for (const char *q = err; (q = strstr(q, "val_acc ")); q++)
		p = q;
	cr_assert_not_null(p, "%s: no val_acc line:\n%s", what, err);
	cr_assert_eq(sscanf(p, "val_acc %lf", &acc), 1, "%s: bad val_acc line", what);
	return acc;
}

/* Reads an examples/common/params.h dump ("name index value" lines). */
size_t read_text_dump(const char *path, double *out, size_t max)
{
	FILE *f = fopen(path, "r");
	char name[128];
	long idx;
	double v;
	size_t n = 0;

	cr_assert_not_null(f, "no dump '%s'", path);
	while (n < max && fscanf(f, "%127s %ld %lf", name, &idx, &v) == 3)
		out[n++] = v;
	fclose(f);
	return n;
}

double dump_max_diff(const char *a_path, const char *b_path, double *big)
{
	static double a[20000], b[20000];
	size_t n = read_text_dump(a_path, a, 20000), m = read_text_dump(b_path, b, 20000);
	double diff = 0.0;

	cr_assert_eq(n, m, "%zu vs %zu values", n, m);
	cr_assert_gt(n, 2000);
	*big = 0.0;
	for (size_t i = 0; i < n; i++) {
		*big = fmax(*big, fabs(a[i]));
		diff = fmax(diff, fabs(a[i] - b[i]));
	}
	return diff;
}

void expect_one_line_failure(const char *const *args, const char *needle)
{
	struct run_result r;
	const char *at;

	cr_assert_eq(run_ltrun(args, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "the run succeeded:\n%s", r.err);
	at = strstr(r.err, needle);
	cr_expect_not_null(at, "no '%s' in:\n%s", needle, r.err);
	if (at) {
		const char *eol = strchr(at, '\n');
		cr_expect(eol && (size_t)(eol - at) < 400, "the message is not one short line:\n%s", r.err);
	}
	run_result_free(&r);
}

bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca, cb;

	cr_assert(fa && fb, "%s or %s missing", a, b);
	do {
		ca = fgetc(fa);
		cb = fgetc(fb);
	} while (ca == cb && ca != EOF);
	fclose(fa);
	fclose(fb);
	return ca == cb;
}
