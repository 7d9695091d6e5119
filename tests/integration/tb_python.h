/*
 * tb_python.h - TensorBoard's own reader for the tests: a virtual
 * environment beside the build ($LTRUN_BUILD/tb-venv, made once by
 * tests/scripts/py-venv from PyPI) and tests/scripts/tb_read.py, which
 * prints what TensorBoard's EventAccumulator loads from a directory.
 */
#ifndef LT_TEST_TB_PYTHON_H
#define LT_TEST_TB_PYTHON_H

#include <stddef.h>

/* The virtual environment's python into python, or skips the calling
 * test saying why (no PyPI, no python3-venv). */
void tb_python(char *python, size_t size);

/* What tb_read.py prints for dir ("TAG,STEP,VALUE" lines, then text and
 * hparams lines): its stdout, which the caller frees.  Fails the test if
 * the reader fails. */
char *tb_read(const char *python, const char *dir);

#endif
