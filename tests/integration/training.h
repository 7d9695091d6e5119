/*
 * training.h - what the training tests share: a temporary directory per
 * test, running ltrun to success, parameter dumps of the test models
 * (raw f32, tests/models/linreg.c) and comparing two trainings.
 */
#ifndef LT_TEST_TRAINING_H
#define LT_TEST_TRAINING_H

#include <stdbool.h>
#include <stddef.h>

/* This test's temporary directory (made by training_make_tmp, a suite's
 * .init; removed by training_remove_tmp, its .fini). */
extern char training_tmpdir[];
void training_make_tmp(void);
void training_remove_tmp(void);
/* tmpdir/name into buf; returns buf. */
const char *path_in_tmp(char *buf, size_t len, const char *name);

/* Runs ltrun with args (NULL-terminated) and asserts it succeeded;
 * returns its stderr (malloc'ed) when keep_err, else NULL. */
char *train(const char *what, const char *const *args, int keep_err);
/* The same, the model's options ending args and "--dump tmpdir/name"
 * appended; the dump's path goes to dump. */
void train_dumping(const char *what, const char *const *args, const char *name,
		   char *dump, size_t len);
/* Expects the two raw f32 dumps equal within rel (relative to their
 * largest value). */
void expect_same_params(const char *what, const char *a, const char *b, double rel);
/* Runs both trainings and expects them to end with the same parameters
 * (within rel). */
void expect_runs_agree(const char *what, const char *const *a, const char *const *b,
		       double rel);

/* The last "val_acc X" rank 0 printed in err (a run's stderr). */
double final_val_acc(const char *what, const char *err);

/* Reads up to max values of an examples/common/params.h dump ("name
 * index value" lines) into out; returns how many. */
size_t read_text_dump(const char *path, double *out, size_t max);
/* The largest difference between two such dumps of one model (more than
 * 2000 values each, as many in both), and in *big the largest value of
 * the first. */
double dump_max_diff(const char *a_path, const char *b_path, double *big);

/* The number of step-* entries in the checkpoint directory dir. */
int count_steps(const char *dir);

/* Whether files a and b hold the same bytes (both must exist). */
bool same_file(const char *a, const char *b);
/* The model.safetensors of the checkpoint dir/last names, into out. */
void newest_checkpoint_file(const char *dir, char *out, size_t len);

/* Runs ltrun with args, expects it to fail with needle in its stderr,
 * the message one short line. */
void expect_one_line_failure(const char *const *args, const char *needle);

#define LINREG build_path("tests/models/linreg.so")

#endif
