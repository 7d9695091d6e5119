/*
 * test_gpu.c - what needs a GPU, run where there is one and otherwise
 * reported as skipped with the reason (no driver, no device, no nvcc):
 * comm_worker's every collective and dtype over nccl on one GPU, and
 * examples/mlp_cuda trained to the cpu MLP's accuracy, and examples/wide_cuda
 * losing as examples/wide does on the cpu.  bench/gpu runs
 * more of it (several GPUs, the all-reduce figures).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm_job.h"
#include "run.h"
#if LT_HAVE_CUDA
#include "accel/cuda_driver.h"
#endif

/* Skips the test unless a GPU is here. */
static void need_gpu(void)
{
#if LT_HAVE_CUDA
	struct lt_err err = { 0 };
	const struct lt_cuda_driver *d = lt_cuda_driver(&err);
	int n = 0;

	if (!d)
		cr_skip_test("no GPU: %s", err.msg);
	if (d->cuDeviceGetCount(&n) != CUDA_SUCCESS || n < 1)
		cr_skip_test("no GPU: the NVIDIA driver sees no device");
#else
	cr_skip_test("this build has no CUDA headers: the GPU path is not built");
#endif
}

Test(gpu, nccl_every_collective_on_one_gpu, .timeout = 180)
{
	struct comm_job job = { .backend = "nccl", .ranks = 1, .timeout_s = 150 };
	struct run_result r;

	need_gpu();
	cr_assert_eq(comm_job_run(&job, &r), 0, "cannot start comm_worker: build the tests first");
	cr_expect_eq(r.status, 0, "nccl, 1 rank: status %d\nstdout:\n%s\nstderr:\n%s", r.status,
		     r.out, r.err);
	run_result_free(&r);
}

/* Runs a CUDA example (gpu's model `so`, skipped when nvcc did not build
 * it) and its cpu twin, each to a zero exit. */
static void run_twins(const char *so, const char **gpu, const char **cpu, struct run_result *rg,
		      struct run_result *rc)
{
	need_gpu();
	if (access(so, F_OK))
		cr_skip_test("%s is not built: configure found no nvcc", so);
	cr_assert_eq(run_ltrun(gpu, NULL, rg), 0);
	cr_assert_eq(run_ltrun(cpu, NULL, rc), 0);
	cr_assert_eq(rg->status, 0, "%s: status %d\n%s", so, rg->status, rg->err);
	cr_assert_eq(rc->status, 0, "its cpu twin: status %d\n%s", rc->status, rc->err);
}

/* The number after the last `key` ("val_acc ", " loss ") in text, or -1. */
static double last_value(const char *text, const char *key)
{
	const char *p = text, *last = NULL;

	while ((p = strstr(p, key)))
		last = p++;
	return last ? atof(last + strlen(key)) : -1;
}

Test(gpu, mlp_cuda_reaches_the_cpu_mlps_accuracy, .timeout = 300)
{
	const char *so = build_path("examples/mlp_cuda/mlp_cuda.so");
	const char *gpu[] = { "--accelerator", "cuda", "--lr", "0.1", so, "--", "--epochs", "10",
			      NULL };
	const char *cpu[] = { "--lr", "0.1", build_path("examples/fabric/fabric.so"), "--",
			      "--epochs", "10", NULL };
	struct run_result rg, rc;
	double ag, ac;

	run_twins(so, gpu, cpu, &rg, &rc);
	ag = last_value(rg.out, "val_acc ");
	ac = last_value(rc.out, "val_acc ");
	cr_expect(ag >= ac - 0.02 && ag > 0.9, "val_acc %.4f on the GPU, %.4f on the cpu", ag, ac);
	run_result_free(&rg);
	run_result_free(&rc);
}

Test(gpu, wide_cuda_follows_the_cpu_wide, .timeout = 300)
{
	const char *so = build_path("examples/wide_cuda/wide_cuda.so");
	const char *gpu[] = { "--accelerator", "cuda", "--max-steps", "5", so, "--", "--params", "2M",
			      NULL };
	const char *cpu[] = { "--max-steps", "5", build_path("examples/wide/wide.so"), "--",
			      "--params", "2M", NULL };
	struct run_result rg, rc;
	double lg, lc;

	run_twins(so, gpu, cpu, &rg, &rc);
	/* the progress lines go to stderr */
	lg = last_value(rg.err, " loss ");
	lc = last_value(rc.err, " loss ");
	/* the same first values, data and optimizer: the same losses, to f32's
	 * summation order */
	cr_expect(lc > 0 && lg > 0.99 * lc && lg < 1.01 * lc, "loss %.5f on the GPU, %.5f on the cpu",
		  lg, lc);
	run_result_free(&rg);
	run_result_free(&rc);
}
