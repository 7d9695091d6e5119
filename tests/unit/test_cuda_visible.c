/*
 * test_cuda_visible.c - which GPU a rank takes, without a GPU
 * (accel/cuda_visible.c): CUDA_VISIBLE_DEVICES as the CUDA runtime reads
 * it, each bad list refused naming the entry; the device of each local
 * rank, and too few devices refused; two ranks on one GPU found by their
 * UUIDs; a UUID printed as nvidia-smi -L does.  Table-driven.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include "params.h"
#include "accel/cuda_visible.h"

struct parse_case {
	const char *value;   /* NULL: unset */
	int n;               /* entries, or -1: refused */
	const char *entries; /* the entries joined by '|', or the message's part */
};

static const struct parse_case parse_cases[] = {
	{ NULL, 0, "" },
	{ "", 0, "" },
	{ "0", 1, "0" },
	{ "0,1,2,3", 4, "0|1|2|3" },
	{ "3,1", 2, "3|1" },
	{ " 2 , 0 ", 2, "2|0" },
	{ "-1", 0, "" },
	{ "1,-1,0", 1, "1" },
	{ "GPU-8f1e2a3b-1c2d-3e4f-5a6b-7c8d9e0f1a2b", 1, "GPU-8f1e2a3b-1c2d-3e4f-5a6b-7c8d9e0f1a2b" },
	{ "MIG-GPU-8f1e2a3b-1c2d-3e4f-5a6b-7c8d9e0f1a2b/1/0,1", 2,
	  "MIG-GPU-8f1e2a3b-1c2d-3e4f-5a6b-7c8d9e0f1a2b/1/0|1" },
	{ "007", 1, "7" },
	{ "0,x", -1, "entry 2 ('x') is neither a device number" },
	{ "gpu0", -1, "entry 1 ('gpu0')" },
	{ "0,,1", -1, "entry 2 ('')" },
	{ "0,1,", -1, "ends with a comma" },
	{ "1,1", -1, "device '1' is listed twice" },
	{ "1,01", -1, "device '1' is listed twice" },
	{ "GPU-", -1, "entry 1 ('GPU-')" },
	{ "GPU-zz", -1, "entry 1 ('GPU-zz')" },
	{ "1.5", -1, "entry 1 ('1.5')" },
};

ParameterizedTestParameters(cuda_visible, parse)
{
	return LT_TABLE_PARAMS(parse_cases);
}

ParameterizedTest(size_t *idx, cuda_visible, parse)
{
	const struct parse_case *c = &parse_cases[*idx];
	struct lt_cuda_visible v;
	struct lt_err err = { 0 };
	char joined[512] = "";
	int rc = lt_cuda_visible_parse(c->value, &v, &err);

	if (c->n < 0) {
		cr_assert_eq(rc, -1, "'%s' was taken", c->value);
		cr_expect_eq(err.status, LT_EXIT_USAGE);
		cr_expect(strstr(err.msg, "CUDA_VISIBLE_DEVICES='"), "%s", err.msg);
		cr_expect(strstr(err.msg, c->entries), "'%s': %s (want '%s')", c->value, err.msg,
			  c->entries);
		cr_expect(!strchr(err.msg, '\n'), "one line: %s", err.msg);
		return;
	}
	cr_assert_eq(rc, 0, "'%s': %s", c->value, err.msg);
	cr_expect_eq(v.set, c->value != NULL);
	cr_assert_eq(v.n, c->n, "'%s': %d entries, want %d", c->value, v.n, c->n);
	for (int i = 0; i < v.n; i++) {
		if (i)
			strcat(joined, "|");
		strcat(joined, v.entry[i]);
	}
	cr_expect_str_eq(joined, c->entries, "'%s'", c->value);
}

Test(cuda_visible, too_many_entries_refused)
{
	char value[1024] = "";
	struct lt_cuda_visible v;
	struct lt_err err = { 0 };

	for (int i = 0; i <= LT_CUDA_VISIBLE_MAX; i++)
		sprintf(value + strlen(value), "%s%d", i ? "," : "", i);
	cr_assert_eq(lt_cuda_visible_parse(value, &v, &err), -1);
	cr_expect(strstr(err.msg, "more than 64 devices"), "%s", err.msg);
}

struct pick_case {
	int local_rank, local_world, count;
	const char *visible; /* NULL: unset */
	int ordinal;         /* -1: refused */
	const char *msg;
};

static const struct pick_case pick_cases[] = {
	{ 0, 1, 1, NULL, 0, NULL },
	{ 3, 4, 4, NULL, 3, NULL },
	{ 1, 2, 8, "4,5", 1, NULL },
	/* srun --gpus-per-task=1: each rank its own one device */
	{ 2, 4, 1, "2", 0, NULL },
	{ 1, 2, 1, NULL, -1, "2 ranks on this node but 1 CUDA device is visible" },
	{ 3, 4, 2, "0,1", -1, "4 ranks on this node but 2 CUDA devices are visible (CUDA_VISIBLE_DEVICES='0,1')" },
	{ 0, 1, 0, NULL, -1, "no CUDA device is visible" },
	{ 0, 1, 0, "-1", -1, "(CUDA_VISIBLE_DEVICES='-1')" },
};

ParameterizedTestParameters(cuda_visible, pick)
{
	return LT_TABLE_PARAMS(pick_cases);
}

ParameterizedTest(size_t *idx, cuda_visible, pick)
{
	const struct pick_case *c = &pick_cases[*idx];
	struct lt_cuda_visible v;
	struct lt_err err = { 0 };
	int ordinal = -7;

	cr_assert_eq(lt_cuda_visible_parse(c->visible, &v, &err), 0, "%s", err.msg);
	if (c->ordinal < 0) {
		cr_assert_eq(lt_cuda_pick_device(c->local_rank, c->local_world, c->count, &v,
						 &ordinal, &err), -1, "case %zu was taken", *idx);
		cr_expect(strstr(err.msg, c->msg), "%s (want '%s')", err.msg, c->msg);
		return;
	}
	cr_assert_eq(lt_cuda_pick_device(c->local_rank, c->local_world, c->count, &v, &ordinal,
					 &err), 0, "%s", err.msg);
	cr_expect_eq(ordinal, c->ordinal, "case %zu: device %d, want %d", *idx, ordinal,
		     c->ordinal);
}

Test(cuda_visible, two_ranks_on_one_gpu_found)
{
	const char *ids[] = { "a/GPU-1", "a/GPU-2", "b/GPU-1", "a/GPU-2", "a/GPU-1" };
	const char *apart[] = { "a/GPU-1", "a/GPU-2", "b/GPU-1" };
	int first = -1, second = -1;

	cr_assert(lt_cuda_find_shared(ids, 5, &first, &second));
	cr_expect_eq(first, 1);
	cr_expect_eq(second, 3);
	cr_expect_not(lt_cuda_find_shared(apart, 3, &first, &second));
	cr_expect_not(lt_cuda_find_shared(apart, 1, &first, &second));
}

Test(cuda_visible, uuid_text_as_nvidia_smi_prints_it)
{
	const unsigned char b[16] = { 0x8f, 0x1e, 0x2a, 0x3b, 0x1c, 0x2d, 0x3e, 0x4f,
				      0x5a, 0x6b, 0x7c, 0x8d, 0x9e, 0x0f, 0x1a, 0x2b };
	char out[48];

	lt_cuda_uuid_text(b, out, sizeof(out));
	cr_expect_str_eq(out, "GPU-8f1e2a3b-1c2d-3e4f-5a6b-7c8d9e0f1a2b");
}
