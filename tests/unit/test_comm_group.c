/*
 * test_comm_group.c - the generic layer's groups (comm.h,
 * lt_comm_group_begin/end), over a one-rank backend of this file that
 * records what it is asked (its all-reduce adds 1 to every element, so
 * that running an operation twice, or not at all, shows): a group is
 * held back until its end, then handed to the backend's group op in one
 * call, in order; more than 64 go in slices of 64; a backend without a
 * group op, one whose group op declines (a host buffer), and
 * --debug-collectives run them one by one; a failed group fails every
 * request in it and what follows; a blocking call inside a group is
 * refused.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "comm/comm.h"
#include "ltrun.h"

enum group_mode { GROUP_RUN, GROUP_DECLINE, GROUP_FAIL };

static struct {
	enum group_mode mode;
	int singles;     /* all_reduce calls */
	int groups;      /* group calls that ran */
	size_t sizes[8]; /* the first groups' sizes */
	const void *order[200]; /* buffers, in the order they ran */
	size_t ran;
} rec;

static void add_one(void *buf, size_t count)
{
	float *x = buf;

	for (size_t i = 0; i < count; i++)
		x[i] += 1.0f;
	if (rec.ran < sizeof(rec.order) / sizeof(rec.order[0]))
		rec.order[rec.ran++] = buf;
}

static int rec_open(struct lt_comm *c, const struct lt_comm_args *a, struct lt_err *err)
{
	(void)c, (void)a, (void)err;
	return 0;
}

static int rec_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			  enum lt_op op, struct lt_err *err)
{
	(void)c, (void)dt, (void)op, (void)err;
	rec.singles++;
	add_one(buf, count);
	return 0;
}

/* --debug-collectives' check of each call: one rank, a copy */
static int rec_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			  enum lt_dtype dt, struct lt_err *err)
{
	(void)c, (void)err;
	memmove(recv, send, count * lt_dtype_size(dt));
	return 0;
}

static int rec_group(struct lt_comm *c, const struct lt_comm_call *calls, size_t n,
		     struct lt_err *err)
{
	(void)c;
	if (rec.mode == GROUP_DECLINE)
		return 1;
	if (rec.mode == GROUP_FAIL)
		return lt_err_set(err, LT_EXIT_FAILURE, "the group of %zu failed on the device", n);
	if (rec.groups < 8)
		rec.sizes[rec.groups] = n;
	rec.groups++;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(calls[i].kind, LT_COLL_ALL_REDUCE);
		cr_assert_eq(calls[i].dt, LT_F32);
		add_one(calls[i].recv, calls[i].count);
	}
	return 0;
}

static void rec_close(struct lt_comm *c)
{
	(void)c;
}

static const struct lt_comm_ops with_group = {
	.intra_node = true, .averages = true, .open = rec_open, .all_reduce = rec_all_reduce,
	.all_gather = rec_all_gather, .close = rec_close, .group = rec_group,
};
static const struct lt_comm_ops without_group = {
	.intra_node = true, .averages = true, .open = rec_open, .all_reduce = rec_all_reduce,
	.all_gather = rec_all_gather, .close = rec_close,
};

static struct lt_comm *open_rec(const struct lt_comm_ops *ops, bool check_calls)
{
	struct lt_comm_args a = { .rank = 0, .size = 1, .scope = "world",
				  .check_calls = check_calls };
	struct lt_err err = { 0 };
	struct lt_comm *c = lt_comm_open(ops, "rec", &a, &err);

	cr_assert_not_null(c, "%s", err.msg);
	return c;
}

static void reset(void)
{
	memset(&rec, 0, sizeof(rec));
}

TestSuite(comm_group, .init = reset);

#define NB 5

/* Starts NB all-reduces of bucket[i] (i + 1 floats) as one group. */
static void start_group(struct lt_comm *c, float bucket[NB][NB], struct lt_comm_req **req)
{
	struct lt_err err = { 0 };

	lt_comm_group_begin(c);
	for (int i = 0; i < NB; i++) {
		req[i] = lt_comm_start(c, LT_COLL_ALL_REDUCE, bucket[i], bucket[i], (size_t)i + 1,
				       LT_F32, LT_SUM, 0, &err);
		cr_assert_not_null(req[i], "%s", err.msg);
	}
	/* held back: nothing runs before the group ends */
	cr_expect_eq(rec.ran, 0, "%zu operations ran inside an open group", rec.ran);
	lt_comm_group_end(c);
}

static void wait_all(struct lt_comm_req **req, int n, int want_rc, const char *want_msg)
{
	for (int i = 0; i < n; i++) {
		struct lt_err err = { 0 };
		int rc = lt_comm_wait(req[i], &err);

		cr_expect_eq(rc, want_rc, "request %d: rc %d (%s)", i, rc, err.msg);
		if (want_msg)
			cr_expect(strstr(err.msg, want_msg) != NULL, "request %d: %s", i, err.msg);
	}
}

/* Every bucket ran once, in order. */
static void expect_each_once(float bucket[NB][NB])
{
	cr_assert_eq(rec.ran, NB, "%zu operations ran, want %d", rec.ran, NB);
	for (int i = 0; i < NB; i++) {
		cr_expect_eq(rec.order[i], bucket[i], "operation %d ran out of order", i);
		for (int k = 0; k <= i; k++)
			cr_expect_eq(bucket[i][k], 1.0f, "bucket %d element %d is %g", i, k,
				     (double)bucket[i][k]);
	}
}

Test(comm_group, a_group_reaches_the_backend_in_one_call)
{
	struct lt_comm *c = open_rec(&with_group, false);
	float bucket[NB][NB] = { { 0 } };
	struct lt_comm_req *req[NB];

	start_group(c, bucket, req);
	wait_all(req, NB, 0, NULL);
	cr_expect_eq(rec.groups, 1);
	cr_expect_eq(rec.sizes[0], NB);
	cr_expect_eq(rec.singles, 0);
	expect_each_once(bucket);
	lt_comm_close(c);
}

Test(comm_group, waiting_on_the_last_first_and_a_lone_start_after)
{
	struct lt_comm *c = open_rec(&with_group, false);
	float bucket[NB][NB] = { { 0 } }, lone = 0;
	struct lt_comm_req *req[NB], *after;
	struct lt_err err = { 0 };

	start_group(c, bucket, req);
	after = lt_comm_start(c, LT_COLL_ALL_REDUCE, &lone, &lone, 1, LT_F32, LT_SUM, 0, &err);
	cr_assert_not_null(after, "%s", err.msg);
	cr_expect_eq(lt_comm_wait(after, &err), 0, "%s", err.msg);
	for (int i = NB - 1; i >= 0; i--)
		cr_expect_eq(lt_comm_wait(req[i], &err), 0, "%s", err.msg);
	cr_expect_eq(rec.groups, 1);
	cr_expect_eq(rec.singles, 1, "the start after the group is one by one");
	cr_expect_eq(lone, 1.0f);
	cr_expect_eq(rec.order[NB], &lone, "the start after the group ran before it");
	lt_comm_close(c);
}

Test(comm_group, more_than_64_go_in_slices_of_64)
{
	struct lt_comm *c = open_rec(&with_group, false);
	static float x[150];
	struct lt_comm_req *req[150];
	struct lt_err err = { 0 };

	lt_comm_group_begin(c);
	for (int i = 0; i < 150; i++)
		cr_assert_not_null(req[i] = lt_comm_start(c, LT_COLL_ALL_REDUCE, &x[i], &x[i], 1,
							  LT_F32, LT_SUM, 0, &err),
				   "%s", err.msg);
	lt_comm_group_end(c);
	for (int i = 0; i < 150; i++)
		cr_expect_eq(lt_comm_wait(req[i], &err), 0, "%s", err.msg);
	cr_expect_eq(rec.groups, 3);
	cr_expect_eq(rec.sizes[0], 64);
	cr_expect_eq(rec.sizes[1], 64);
	cr_expect_eq(rec.sizes[2], 22);
	for (int i = 0; i < 150; i++)
		cr_expect_eq(x[i], 1.0f, "x[%d] = %g", i, (double)x[i]);
	lt_comm_close(c);
}

Test(comm_group, without_a_group_op_they_run_one_by_one)
{
	const struct lt_comm_ops *ops[] = { &without_group, &with_group, &with_group };
	const bool check[] = { false, false, true };

	for (int k = 0; k < 3; k++) {
		struct lt_comm *c;
		float bucket[NB][NB] = { { 0 } };
		struct lt_comm_req *req[NB];

		reset();
		rec.mode = k == 1 ? GROUP_DECLINE : GROUP_RUN;
		c = open_rec(ops[k], check[k]);
		start_group(c, bucket, req);
		wait_all(req, NB, 0, NULL);
		cr_expect_eq(rec.groups, 0, "case %d", k);
		cr_expect_eq(rec.singles, NB, "case %d", k);
		expect_each_once(bucket);
		lt_comm_close(c);
	}
}

Test(comm_group, a_failed_group_fails_every_request_and_what_follows)
{
	struct lt_comm *c = open_rec(&with_group, false);
	float bucket[NB][NB] = { { 0 } }, one = 0;
	struct lt_comm_req *req[NB];
	struct lt_err err = { 0 };

	rec.mode = GROUP_FAIL;
	start_group(c, bucket, req);
	wait_all(req, NB, -1, "the group of 5 failed on the device");
	cr_expect_neq(lt_comm_all_reduce(c, &one, 1, LT_F32, LT_SUM, &err), 0);
	cr_expect(strstr(err.msg, "failed on the device") != NULL, "%s", err.msg);
	lt_comm_close(c);
}

Test(comm_group, a_blocking_call_inside_a_group_is_refused)
{
	struct lt_comm *c = open_rec(&with_group, false);
	float x = 0, y = 0;
	struct lt_comm_req *req;
	struct lt_err err = { 0 };

	lt_comm_group_begin(c);
	req = lt_comm_start(c, LT_COLL_ALL_REDUCE, &x, &x, 1, LT_F32, LT_SUM, 0, &err);
	cr_assert_not_null(req, "%s", err.msg);
	cr_expect_neq(lt_comm_all_reduce(c, &y, 1, LT_F32, LT_SUM, &err), 0);
	cr_expect(strstr(err.msg, "inside a group") != NULL, "%s", err.msg);
	lt_comm_group_end(c);
	cr_expect_eq(lt_comm_wait(req, &err), 0, "%s", err.msg);
	cr_expect_eq(x, 1.0f);
	cr_expect_eq(y, 0.0f, "the refused call ran");
	lt_comm_close(c);
}
