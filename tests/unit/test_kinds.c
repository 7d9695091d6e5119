/*
 * test_kinds.c - every kind but strategy and cluster is found through the
 * registry only: the rdzv backends (auto picks tcp for ranks ltrun made,
 * etcd's ranks meet through the store as tcp's do, a typo lists the valid names), the
 * communicators' reach, the cpu accelerator, the checkpoint IOs'
 * parameters, and the check of a precision's dtypes.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "accel/accel.h"
#include "core/built.h"
#include "ckpt/io.h"
#include "comm/comm.h"
#include "precision/precision.h"
#include "rdzv/rdzv.h"

static struct lt_registry *reg;
static struct lt_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
}

static void teardown(void)
{
	lt_registry_free(reg);
}

TestSuite(kinds, .init = setup, .fini = teardown);

Test(kinds, rdzv_backends_come_from_the_registry)
{
	const struct lt_rdzv_ops *ops = NULL;

	cr_expect_eq(lt_registry_count(reg, LT_KIND_RDZV), 3 + LT_HAVE_CURL + LT_HAVE_PMIX);
	cr_assert_eq(lt_rdzv_lookup(reg, "auto", false, &ops, &err), 0, "%s", err.msg);
	cr_expect_eq(ops, &lt_rdzv_tcp, "auto is tcp for ranks ltrun made");
	cr_assert_eq(lt_rdzv_lookup(reg, "file", false, &ops, &err), 0, "%s", err.msg);
	cr_expect_eq(ops, &lt_rdzv_file);
	cr_expect(lt_rdzv_uses_store("tcp", false) && lt_rdzv_uses_store("auto", false));
	cr_expect_not(lt_rdzv_uses_store("file", false));
	if (LT_HAVE_CURL) {
		cr_assert_eq(lt_rdzv_lookup(reg, "etcd", false, &ops, &err), 0, "%s", err.msg);
		cr_expect_eq(ops, &lt_rdzv_tcp, "etcd keeps the agents' rounds; the ranks meet as tcp's");
		cr_expect(lt_rdzv_uses_store("etcd", false));
	} else {
		cr_expect_neq(lt_rdzv_lookup(reg, "etcd", false, &ops, &err), 0);
		cr_expect(strstr(err.msg, "(./configure --without-curl)"), "%s", err.msg);
	}
	cr_expect_neq(lt_rdzv_lookup(reg, "tpc", false, &ops, &err), 0);
	cr_expect(strstr(err.msg, "'tcp'") && strstr(err.msg, "file"), "%s", err.msg);
}

Test(kinds, comm_and_accelerator_ops_are_the_registry_entries)
{
	struct lt_choice c;

	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_COMM, "shm", &c, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_comm_of(&c), &lt_comm_shm);
	cr_expect(lt_comm_of(&c)->intra_node && !lt_comm_of(&c)->inter_node);
	lt_choice_free(&c);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_COMM, "auto", &c, &err), 0, "%s", err.msg);
	cr_expect(lt_comm_of(&c)->inter_node && lt_comm_of(&c)->open);
	lt_choice_free(&c);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_ACCELERATOR, "cpu", &c, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(lt_accel_of(&c)->kind, LT_DEVICE_CPU);
	cr_expect_eq(lt_accel_of(&c)->auto_devices(), 1);
	cr_expect_not_null(lt_accel_of(&c)->alloc);
	lt_choice_free(&c);
#if LT_HAVE_CUDA
	/* built against CUDA's headers: its ops say device memory, and nccl's
	 * moves it */
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_ACCELERATOR, "cuda", &c, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(lt_accel_of(&c)->kind, LT_DEVICE_CUDA);
	cr_expect_not(lt_accel_of(&c)->host_access);
	cr_expect_not_null(lt_accel_of(&c)->open);
	lt_choice_free(&c);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_COMM, "nccl", &c, &err), 0, "%s", err.msg);
	cr_expect(lt_comm_of(&c)->device_buffers && lt_comm_of(&c)->averages);
	lt_choice_free(&c);
#else
	cr_expect_neq(lt_registry_resolve(reg, LT_KIND_ACCELERATOR, "cuda", &c, &err), 0);
	cr_expect(strstr(err.msg, "not built"), "%s", err.msg);
#endif
}

Test(kinds, ckpt_io_parameters_are_checked_against_the_schema)
{
	struct lt_choice c;

#if LT_HAVE_CURL /* else http is not built (./configure --without-curl) */
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, "http", &c, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_params_int(c.params, "retries"), 4, "http retries 4 times by default");
	cr_expect_eq(lt_ckpt_io_of(&c), &lt_ckpt_io_http);
	lt_choice_free(&c);
	cr_expect_neq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, "http:retries=many", &c, &err), 0);
	cr_expect(strstr(err.msg, "retries"), "%s", err.msg);
#endif
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, "async", &c, &err), 0, "%s",
		     err.msg);
	cr_expect_null(lt_params_str(c.params, "inner"), "async wraps http or file by the base");
	cr_expect_not_null(lt_ckpt_io_of(&c)->save_deferred);
	lt_choice_free(&c);
	cr_expect_neq(lt_registry_resolve(reg, LT_KIND_CKPT_IO, "file:retries=1", &c, &err), 0);
	cr_expect(strstr(err.msg, "retries"), "%s", err.msg);
}

/* A user precision with dtypes the runtime cannot run is refused by name. */
static const struct lt_precision_ops bad_ops = { .compute = LT_BF16, .state = LT_F32 };
static const struct lt_plugin bad = { .kind = LT_KIND_PRECISION, .name = "bad-prec",
				      .description = "d", .recommended_when = "r",
				      .ops = &bad_ops };

Test(kinds, a_precision_whose_dtypes_cannot_run_is_refused_by_name)
{
	struct lt_choice c;

	cr_assert_eq(lt_registry_add(reg, &bad, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_registry_resolve(reg, LT_KIND_PRECISION, "bad-prec", &c, &err), 0, "%s",
		     err.msg);
	cr_expect_neq(lt_precision_check(&c, &err), 0);
	cr_expect(strstr(err.msg, "precision 'bad-prec'") && strstr(err.msg, "state dtype"), "%s",
		  err.msg);
	lt_choice_free(&c);
	for (const char *const *n = (const char *const[]){ "32-true", "16-mixed", "bf16-true",
							    "64", NULL };
	     *n; n++) {
		cr_assert_eq(lt_registry_resolve(reg, LT_KIND_PRECISION, *n, &c, &err), 0, "%s",
			     err.msg);
		cr_expect_eq(lt_precision_check(&c, &err), 0, "%s: %s", *n, err.msg);
		lt_choice_free(&c);
	}
}
