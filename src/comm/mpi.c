/*
 * mpi.c - the `mpi` communicator, over Open MPI, for ranks that mpirun (or
 * srun --mpi=pmix) started: MPI's world is then the job, and ltrun's global
 * rank must be MPI's world rank.  A group is carved out of the world with
 * MPI_Comm_create_group, collective over the group's members only, so the
 * hierarchical `auto` can open one per rail without the others taking part.
 * MPI is initialised by the first open (MPI_THREAD_MULTIPLE, or SERIALIZED
 * with a lock around every call: comm.c runs collectives from a worker
 * thread, not the one that opened) and finalised when the last
 * communicator closes, or at exit if one was never closed.  f16 and bf16
 * reduce through user MPI_Ops over MPI_UINT16_T with reduce.h's kernels.
 * MPI has no per-operation timeout: a dead peer is mpirun's to notice, and
 * it tears the job down.
 */
#include "comm/comm.h"
#include "comm/reduce.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

struct mpi_state {
	MPI_Comm comm;
};

/* Process-wide MPI state, under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int users;          /* open communicators */
static bool serialized;    /* provided == SERIALIZED: calls take call_lock */
static bool we_initialized; /* MPI_Init_thread was ours, so Finalize is too */
static bool atexit_done;
static MPI_Op half_ops[2][3]; /* [f16, bf16][sum, min, max] */
static bool have_half_ops;
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ f16 and bf16 ops */

#define HALF_OP(name, dt, op)                                                     \
	static void name(void *in, void *inout, int *len, MPI_Datatype *type)     \
	{                                                                         \
		(void)type;                                                       \
		lt_reduce_into(inout, in, (size_t)*len, dt, op);                  \
	}
HALF_OP(f16_sum, LT_F16, LT_SUM)
HALF_OP(f16_min, LT_F16, LT_MIN)
HALF_OP(f16_max, LT_F16, LT_MAX)
HALF_OP(bf16_sum, LT_BF16, LT_SUM)
HALF_OP(bf16_min, LT_BF16, LT_MIN)
HALF_OP(bf16_max, LT_BF16, LT_MAX)

static MPI_User_function *const half_fns[2][3] = {
	{ f16_sum, f16_min, f16_max },
	{ bf16_sum, bf16_min, bf16_max },
};

static int op_index(enum lt_op op)
{
	return op == LT_MIN ? 1 : op == LT_MAX ? 2 : 0;
}

static MPI_Datatype mpi_type(enum lt_dtype dt)
{
	switch (dt) {
	case LT_F32:
		return MPI_FLOAT;
	case LT_F64:
		return MPI_DOUBLE;
	case LT_I32:
		return MPI_INT32_T;
	case LT_I64:
		return MPI_INT64_T;
	case LT_F16:
	case LT_BF16:
		break;
	}
	return MPI_UINT16_T;
}

static MPI_Op mpi_op(enum lt_dtype dt, enum lt_op op)
{
	if (dt == LT_F16 || dt == LT_BF16)
		return half_ops[dt == LT_BF16][op_index(op)];
	return op == LT_MIN ? MPI_MIN : op == LT_MAX ? MPI_MAX : MPI_SUM;
}

/* ------------------------------------------------------------ errors */

static int mpi_fail(const struct lt_comm *c, const char *what, int rc, struct lt_err *err)
{
	char text[MPI_MAX_ERROR_STRING];
	int len = 0;

	if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
		snprintf(text, sizeof(text), "error %d", rc);
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "mpi %s in '%s' (rank %d of %d) failed: %s; check that every rank "
			  "runs the same collectives with the same count and dtype",
			  what, c->scope, c->rank, c->size, text);
}

/* ------------------------------------------------------------ init and finalize */

static void finalize_locked(void)
{
	int done = 0;

	MPI_Finalized(&done);
	if (done)
		return;
	if (have_half_ops)
		for (int d = 0; d < 2; d++)
			for (int o = 0; o < 3; o++)
				MPI_Op_free(&half_ops[d][o]);
	have_half_ops = false;
	if (we_initialized)
		MPI_Finalize();
}

/* A process that exits with a communicator still open still finalises, so
 * mpirun does not report it as having died. */
static void finalize_at_exit(void)
{
	pthread_mutex_lock(&lock);
	if (users > 0)
		finalize_locked();
	pthread_mutex_unlock(&lock);
}

/* True when a PMIx launcher (mpirun, srun --mpi=pmix) made this process. */
static bool started_by_mpi_launcher(void)
{
	return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK");
}

/* Initialises MPI if this is the first communicator.  Under `lock`. */
static int init_locked(const struct lt_comm_args *args, struct lt_err *err)
{
	int inited = 0, finalized = 0, provided = 0;

	MPI_Finalized(&finalized);
	if (finalized)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'mpi' in '%s': MPI was finalised when this process's last 'mpi' "
				  "communicator closed and cannot start again: keep one open",
				  args->scope);
	MPI_Initialized(&inited);
	if (!inited) {
		if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "comm 'mpi' in '%s': MPI_Init_thread failed: check mpirun's "
					  "messages above",
					  args->scope);
		we_initialized = true;
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
		if (!atexit_done && !atexit(finalize_at_exit))
			atexit_done = true;
	} else {
		MPI_Query_thread(&provided);
	}
	if (!have_half_ops) {
		for (int d = 0; d < 2; d++)
			for (int o = 0; o < 3; o++)
				MPI_Op_create(half_fns[d][o], 1, &half_ops[d][o]);
		have_half_ops = true;
	}
	if (provided < MPI_THREAD_SERIALIZED)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'mpi' in '%s': this MPI gives thread level %d, ltrun needs "
				  "MPI_THREAD_SERIALIZED or better: use an MPI built with threads, or --comm gloo",
				  args->scope, provided);
	serialized = provided < MPI_THREAD_MULTIPLE;
	return 0;
}

/* ------------------------------------------------------------ groups */

static int global_of(const struct lt_comm_args *args, int r)
{
	return args->global_rank ? args->global_rank[r] : r;
}

/* 15 bits of the scope, for MPI_Comm_create_group's tag. */
static int scope_tag(const char *scope)
{
	uint32_t h = 2166136261u;

	for (const char *p = scope; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (int)(h & 0x7fff);
}

/* Makes s->comm: the world itself (duplicated) or the group's members. */
static int make_comm(struct lt_comm *c, const struct lt_comm_args *args, struct mpi_state *s,
		     struct lt_err *err)
{
	int wrank = 0, wsize = 0, rank = -1, rc;
	bool identity = true;
	MPI_Group world, group;
	int *members;

	MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
	MPI_Comm_size(MPI_COMM_WORLD, &wsize);
	if (wrank != global_of(args, args->rank))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'mpi' in '%s': MPI's world rank %d is not ltrun's global rank %d: "
				  "start one ltrun rank per MPI process with mpirun, or use --comm gloo",
				  args->scope, wrank, global_of(args, args->rank));
	members = malloc(sizeof(*members) * (size_t)args->size);
	if (!members)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int r = 0; r < args->size; r++) {
		members[r] = global_of(args, r);
		if (members[r] < 0 || members[r] >= wsize) {
			lt_err_set(err, LT_EXIT_FAILURE,
				   "comm 'mpi' in '%s': member %d is global rank %d but MPI's "
				   "world has %d ranks: start every rank with mpirun -np",
				   args->scope, r, members[r], wsize);
			free(members);
			return -1;
		}
		identity = identity && members[r] == r;
	}
	if (identity && args->size == wsize) {
		free(members);
		rc = MPI_Comm_dup(MPI_COMM_WORLD, &s->comm);
	} else {
		MPI_Comm_group(MPI_COMM_WORLD, &world);
		MPI_Group_incl(world, args->size, members, &group);
		free(members);
		rc = MPI_Comm_create_group(MPI_COMM_WORLD, group, scope_tag(args->scope), &s->comm);
		MPI_Group_free(&group);
		MPI_Group_free(&world);
	}
	if (rc != MPI_SUCCESS) {
		s->comm = MPI_COMM_NULL;
		return mpi_fail(c, "communicator creation", rc, err);
	}
	MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
	MPI_Comm_rank(s->comm, &rank);
	if (rank != args->rank)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'mpi' in '%s': MPI numbers this rank %d, ltrun %d: the group's "
				  "global_rank list is inconsistent between ranks",
				  args->scope, rank, args->rank);
	return 0;
}

static int mpi_open(struct lt_comm *c, const struct lt_comm_args *args, struct lt_err *err)
{
	struct mpi_state *s;
	int rc;

	if (!started_by_mpi_launcher())
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'mpi' needs ranks started by mpirun (or srun --mpi=pmix): "
				  "use --comm auto or tcp");
	s = calloc(1, sizeof(*s));
	if (!s)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	s->comm = MPI_COMM_NULL;
	pthread_mutex_lock(&lock);
	rc = init_locked(args, err);
	if (!rc) {
		users++;
		c->state = s;
		rc = make_comm(c, args, s, err);
	} else {
		free(s);
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static void mpi_close(struct lt_comm *c)
{
	struct mpi_state *s = c->state;

	if (!s)
		return;
	pthread_mutex_lock(&lock);
	if (s->comm != MPI_COMM_NULL)
		MPI_Comm_free(&s->comm);
	free(s);
	c->state = NULL;
	if (--users == 0)
		finalize_locked();
	pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------ collectives */

static MPI_Comm comm_of(struct lt_comm *c)
{
	return ((struct mpi_state *)c->state)->comm;
}

static void call_begin(void)
{
	if (serialized)
		pthread_mutex_lock(&call_lock);
}

static void call_end(void)
{
	if (serialized)
		pthread_mutex_unlock(&call_lock);
}

/* Counts above INT_MAX go in chunks of at most this many elements. */
#define CHUNK ((size_t)1 << 30)

static int mpi_barrier(struct lt_comm *c, struct lt_err *err)
{
	int rc;

	call_begin();
	rc = MPI_Barrier(comm_of(c));
	call_end();
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "barrier", rc, err);
}

static int mpi_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt, int root,
			 struct lt_err *err)
{
	size_t esize = lt_dtype_size(dt);
	int rc = MPI_SUCCESS;

	call_begin();
	for (size_t off = 0; off < count && rc == MPI_SUCCESS; off += CHUNK) {
		size_t n = count - off < CHUNK ? count - off : CHUNK;
		rc = MPI_Bcast((char *)buf + off * esize, (int)n, mpi_type(dt), root, comm_of(c));
	}
	call_end();
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "broadcast", rc, err);
}

static int mpi_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			  enum lt_op op, struct lt_err *err)
{
	size_t esize = lt_dtype_size(dt);
	int rc = MPI_SUCCESS;

	call_begin();
	for (size_t off = 0; off < count && rc == MPI_SUCCESS; off += CHUNK) {
		size_t n = count - off < CHUNK ? count - off : CHUNK;
		rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esize, (int)n, mpi_type(dt),
				   mpi_op(dt, op), comm_of(c));
	}
	call_end();
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "all_reduce", rc, err);
}

static int too_big(struct lt_comm *c, const char *what, size_t count, struct lt_err *err)
{
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "mpi %s in '%s': %zu elements per rank is more than MPI's %d: split "
			  "the buffer",
			  what, c->scope, count, INT_MAX);
}

static int mpi_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			  enum lt_dtype dt, struct lt_err *err)
{
	int rc;

	if (count > INT_MAX)
		return too_big(c, "all_gather", count, err);
	if (!count)
		return 0;
	call_begin();
	if (send == (char *)recv + count * lt_dtype_size(dt) * (size_t)c->rank) /* in place */
		rc = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, (int)count,
				   mpi_type(dt), comm_of(c));
	else
		rc = MPI_Allgather(send, (int)count, mpi_type(dt), recv, (int)count, mpi_type(dt),
				   comm_of(c));
	call_end();
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "all_gather", rc, err);
}

/* MPI_IN_PLACE puts a reduce-scatter's block at the start of the
 * buffer; in place (comm.h) is at this rank's offset: moved there once
 * the call (rc) succeeded. */
static int reduce_scatter_in_place(void *buf, void *block, size_t bytes, int rc)
{
	if (rc == MPI_SUCCESS && block != buf)
		memmove(block, buf, bytes);
	return rc;
}

static int mpi_reduce_scatter(struct lt_comm *c, const void *send, void *recv, size_t count,
			      enum lt_dtype dt, enum lt_op op, struct lt_err *err)
{
	int rc;

	if (count > INT_MAX)
		return too_big(c, "reduce_scatter", count, err);
	if (!count)
		return 0;
	call_begin();
	if (recv == (const char *)send + count * lt_dtype_size(dt) * (size_t)c->rank)
		rc = reduce_scatter_in_place((void *)send, recv, count * lt_dtype_size(dt),
					     MPI_Reduce_scatter_block(MPI_IN_PLACE, (void *)send,
								      (int)count, mpi_type(dt),
								      mpi_op(dt, op), comm_of(c)));
	else
		rc = MPI_Reduce_scatter_block(send, recv, (int)count, mpi_type(dt),
					      mpi_op(dt, op), comm_of(c));
	call_end();
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "reduce_scatter", rc, err);
}

/* MPI_Reduce_scatter: its counts are ints. */
static int mpi_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
				const size_t *counts, enum lt_dtype dt, enum lt_op op,
				struct lt_err *err)
{
	int *n = malloc((size_t)c->size * sizeof(int)), rc;
	size_t at = 0;
	bool any = false;

	if (!n)
		return lt_err_set(err, LT_EXIT_FAILURE, "mpi reduce_scatter_v in '%s': out of memory",
				  c->scope);
	for (int j = 0; j < c->size; j++) {
		if (counts[j] > INT_MAX) {
			free(n);
			return too_big(c, "reduce_scatter_v", counts[j], err);
		}
		n[j] = (int)counts[j];
		at += j < c->rank ? counts[j] : 0;
		any |= n[j] > 0;
	}
	rc = MPI_SUCCESS;
	if (any) {
		size_t es = lt_dtype_size(dt);

		call_begin();
		if (counts[c->rank] && recv == (const char *)send + at * es)
			rc = reduce_scatter_in_place((void *)send, recv, counts[c->rank] * es,
						     MPI_Reduce_scatter(MPI_IN_PLACE, (void *)send, n,
									mpi_type(dt), mpi_op(dt, op),
									comm_of(c)));
		else
			rc = MPI_Reduce_scatter(send, recv, n, mpi_type(dt), mpi_op(dt, op),
						comm_of(c));
		call_end();
	}
	free(n);
	return rc == MPI_SUCCESS ? 0 : mpi_fail(c, "reduce_scatter_v", rc, err);
}

const struct lt_comm_ops lt_comm_mpi = {
	.intra_node = true,
	.inter_node = true,
	.open = mpi_open,
	.barrier = mpi_barrier,
	.broadcast = mpi_broadcast,
	.all_reduce = mpi_all_reduce,
	.all_gather = mpi_all_gather,
	.reduce_scatter = mpi_reduce_scatter,
	.reduce_scatter_v = mpi_reduce_scatter_v,
	.close = mpi_close,
};
