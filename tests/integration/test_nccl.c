/*
 * test_nccl.c - the GPU path where there is no GPU: what runs without a
 * device, and every "not available here" message.
 *   - the nccl communicator's unique-id exchange through the rendezvous,
 *     with the real ncclGetUniqueId (NCCL's library, no GPU): one id for
 *     every rank, a fresh one for each communicator, and two ranks on
 *     one GPU refused on every rank, naming both
 *     (tests/progs/nccl_id_worker.c);
 *   - ltrun's messages: no NVIDIA driver, a bad CUDA_VISIBLE_DEVICES,
 *     a communicator that does not fit the accelerator, and --list.
 * Skipped, with the reason, where the build has no CUDA headers or the
 * machine no libnccl.  What needs a GPU is bench/gpu's.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_job.h"
#include "run.h"

/* A job of n id workers, with one more NAME=value (or NULL). */
static void run_ids(int n, const char *setting, struct run_result *r)
{
	struct comm_job job = {
		.worker = "nccl_id_worker",
		.backend = "nccl",
		.ranks = n,
		.env = (const char *[]){ setting, NULL },
		.timeout_s = 60,
	};

	cr_assert_eq(comm_job_run(&job, r), 0, "cannot start nccl_id_worker: build the tests first");
	if (strstr(r->out, "skip: ")) {
		char why[300];

		snprintf(why, sizeof(why), "%s", strstr(r->out, "skip: ") + 6);
		why[strcspn(why, "\n")] = '\0';
		run_result_free(r);
		cr_skip_test("%s", why);
	}
}

/* The n-th "id N <hex>" line of out, at most 300 bytes, or "". */
static void id_line(const char *out, int nth, int which, char *line, size_t len)
{
	char want[16];
	const char *p = out;

	snprintf(want, sizeof(want), "id %d ", which);
	line[0] = '\0';
	for (int k = 0; (p = strstr(p, want)); p++)
		if (k++ == nth) {
			snprintf(line, len, "%.*s", (int)strcspn(p, "\n"), p);
			return;
		}
}

Test(nccl, unique_id_reaches_every_rank, .timeout = 90)
{
	struct run_result r;
	char first[300], line[300], other[300];

	run_ids(3, NULL, &r);
	cr_assert_eq(r.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	for (int which = 0; which < 2; which++) {
		id_line(r.out, 0, which, first, sizeof(first));
		cr_assert(strlen(first) > 200, "no id %d line:\n%s", which, r.out);
		cr_expect(strspn(first + 5, "0") < 200, "an id of zeros: %s", first);
		for (int k = 1; k < 3; k++) {
			id_line(r.out, k, which, line, sizeof(line));
			cr_expect_str_eq(line, first, "rank %d got another id %d", k, which);
		}
	}
	id_line(r.out, 0, 0, first, sizeof(first));
	id_line(r.out, 0, 1, other, sizeof(other));
	cr_expect_str_neq(first + 5, other + 5, "two communicators got one id");
	run_result_free(&r);
}

Test(nccl, two_ranks_on_one_gpu_refused_on_every_rank, .timeout = 90)
{
	struct run_result r;
	const char *p = NULL;
	int n = 0;

	run_ids(3, "NCCL_ID_WORKER_SHARED=1,2", &r);
	cr_expect_neq(r.status, 0, "accepted:\n%s", r.out);
	for (p = r.err; (p = strstr(p, "ranks 1 and 2 are both on GPU-shared of host host")); p++)
		n++;
	cr_expect_eq(n, 3, "%d of 3 ranks said so:\n%s", n, r.err);
	cr_expect_null(strstr(r.out, "id 0 "), "an id was handed out:\n%s", r.out);
	run_result_free(&r);
}

/* --- ltrun's messages --- */

static void expect_refused(const char *const *args, const char *const *env, int status,
			   const char *want)
{
	struct run_result r;

	cr_assert_eq(run_ltrun(args, env, &r), 0, "cannot start ltrun");
	cr_expect_eq(r.status, status, "exit %d, want %d:\n%s", r.status, status, r.err);
	cr_expect(strstr(r.err, want), "lacks '%s':\n%s", want, r.err);
	run_result_free(&r);
}

Test(nccl, cuda_without_a_driver_says_so, .timeout = 60)
{
	const char *args[] = { "--accelerator", "cuda", "--devices", "2",
			       build_path("examples/fabric/fabric.so"), NULL };
	const char *env[] = { "LTRUN_CUDA_DRIVER=/nonexistent/libcuda.so.1", NULL };

#if !LT_HAVE_CUDA
	cr_skip_test("this build has no CUDA headers: --accelerator cuda is not built");
#endif
	expect_refused(args, env, 1,
		       "--accelerator cuda: cannot load the NVIDIA driver's /nonexistent/libcuda.so.1");
}

Test(nccl, bad_cuda_visible_devices_named, .timeout = 60)
{
	const char *args[] = { "--accelerator", "cuda", build_path("examples/fabric/fabric.so"),
			       NULL };
	const char *env[] = { "CUDA_VISIBLE_DEVICES=0,gpu1", NULL };

#if !LT_HAVE_CUDA
	cr_skip_test("this build has no CUDA headers: --accelerator cuda is not built");
#endif
	expect_refused(args, env, 1, "CUDA_VISIBLE_DEVICES='0,gpu1': entry 2 ('gpu1')");
}

Test(nccl, comm_must_fit_the_accelerator, .timeout = 60)
{
	const char *nccl_on_cpu[] = { "--comm", "nccl", "--devices", "2",
				      build_path("examples/fabric/fabric.so"), NULL };
	const char *shm_on_cuda[] = { "--accelerator", "cuda", "--comm", "shm",
				      build_path("examples/fabric/fabric.so"), NULL };

#if !LT_HAVE_CUDA
	expect_refused(nccl_on_cpu, NULL, 2, "comm 'nccl' is not built in this version");
	(void)shm_on_cuda;
#else
	expect_refused(nccl_on_cpu, NULL, 2,
		       "--comm nccl moves GPU memory, but --accelerator cpu keeps the tensors in host memory");
	expect_refused(shm_on_cuda, NULL, 2,
		       "--comm shm moves host memory, but --accelerator cuda keeps the tensors in device memory: use --comm auto (nccl)");
#endif
}

Test(nccl, list_names_cuda_and_nccl, .timeout = 60)
{
	const char *acc[] = { "--list", "accelerator", NULL };
	const char *comm[] = { "--list", "comm", NULL };
	struct run_result r;

	cr_assert_eq(run_ltrun(acc, NULL, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.out, "cuda"), "%s", r.out);
#if LT_HAVE_CUDA
	cr_expect(strstr(r.out, "32-true, 16-mixed and bf16-mixed under ddp in this version"), "%s", r.out);
#else
	cr_expect(strstr(r.out, "not built in this version"), "%s", r.out);
#endif
	run_result_free(&r);
	cr_assert_eq(run_ltrun(comm, NULL, &r), 0);
	cr_expect(strstr(r.out, "nccl"), "%s", r.out);
	run_result_free(&r);
}
