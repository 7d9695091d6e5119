/*
 * comm.h - communicators: collectives between the ranks of a group, over
 * one of several backends, blocking or not.
 *
 *   shm    ranks of one node, through a shared-memory segment (shm.c)
 *   gloo   any ranks, libgloo's TCP transport (gloo.cc, the C++ shim)
 *   tcp    any ranks, ltrun's own ring over TCP sockets (tcp.c)
 *   mpi    ranks mpirun (or srun --mpi=pmix) started, Open MPI (mpi.c)
 *   auto   shm inside a node, tcp or mpi between nodes, hierarchically
 *          (auto.c); nccl when the accelerator is cuda
 *   nccl   a GPU a rank, NCCL loaded with dlopen (nccl.c; built when
 *          configure finds nccl.h)
 *
 * Two layers.  A backend (struct lt_comm_ops, the ops of its registry
 * entry in catalog.c: a rank opens ctx->choice[LT_KIND_COMM]) implements blocking
 * collectives for SUM, MIN and MAX; the generic layer (comm.c) adds AVG
 * (SUM then a division), argument checks, and the non-blocking forms: one
 * worker thread per communicator runs queued operations in order, so that
 * every rank sees the same sequence and the caller's thread keeps
 * computing.  Blocking calls go through the same queue when it is busy.
 *
 * Groups: a communicator spans `size` ranks numbered 0..size-1 within the
 * group; `scope` names it uniquely in the job ("world", "node0",
 * "rail1"...) and prefixes every rendezvous key it uses, so several
 * communicators (hierarchical auto) can meet through one store.
 */
#ifndef LT_COMM_COMM_H
#define LT_COMM_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/registry.h"
#include "ltrun.h"

struct lt_rdzv;
struct lt_comm;

/* What a backend needs to join its group. */
struct lt_comm_args {
	int rank, size;             /* within the group */
	const char *scope;          /* unique name of the group in the job */
	struct lt_rdzv *rz;         /* for exchanging addresses (put/get) */
	const char *run_id;         /* names shared-memory segments */
	const char *host;           /* this node's address (gloo binds to it) */
	int timeout_ms;             /* how long a collective waits for a peer */
	/* Global ranks of the group's members, size entries (messages name them). */
	const int *global_rank;
	/* --debug-collectives: every collective of the generic layer is first
	 * compared across the group (comm.c); sub-communicators never. */
	bool check_calls;
};

enum lt_comm_kind { LT_COLL_BARRIER, LT_COLL_BROADCAST, LT_COLL_ALL_REDUCE,
		    LT_COLL_ALL_GATHER, LT_COLL_REDUCE_SCATTER,
		    LT_COLL_REDUCE_SCATTER_V };

/* One collective of a group, as a backend's group op gets it (the
 * arguments of the op of that kind; counts: reduce_scatter_v's). */
struct lt_comm_call {
	enum lt_comm_kind kind;
	const void *send;
	void *recv;
	size_t count;
	const size_t *counts;
	enum lt_dtype dt;
	enum lt_op op;
	int root;
};

/* A backend's ops.  Every function returns 0, or -1 with err naming the
 * collective, the peer or resource at fault and the fix; after a failure
 * the communicator can only be closed.  Buffers: in-place all_reduce and
 * broadcast; all_gather writes size*count elements to recv; reduce_scatter
 * reads size*count elements of send and writes count to recv;
 * reduce_scatter_v reads sum(counts) elements of send (counts: size
 * entries, the same on every rank) and writes to recv the counts[rank]
 * elements that start at sum(counts[0..rank)), reduced over the group.
 * In place: the reduce-scatters' recv may be this rank's own block of
 * send (send + its offset), and then the rest of send may be changed;
 * all_gather's send may be this rank's block of recv.  Any other overlap
 * of send and recv the generic layer refuses.  A count may be 0.  op is
 * LT_SUM, LT_MIN or LT_MAX (LT_AVG too when `averages`). */
struct lt_comm_ops {
	bool intra_node; /* carries collectives between ranks on one node */
	bool inter_node; /* ... and between nodes */
	/* Takes LT_AVG itself (else the generic layer sums, then divides on
	 * the host); and moves device memory (the buffers may be a GPU's:
	 * the host must not touch them). */
	bool averages;
	bool device_buffers;
	int (*open)(struct lt_comm *c, const struct lt_comm_args *args,
		    struct lt_err *err);
	int (*barrier)(struct lt_comm *c, struct lt_err *err);
	int (*broadcast)(struct lt_comm *c, void *buf, size_t count,
			 enum lt_dtype dt, int root, struct lt_err *err);
	int (*all_reduce)(struct lt_comm *c, void *buf, size_t count,
			  enum lt_dtype dt, enum lt_op op, struct lt_err *err);
	int (*all_gather)(struct lt_comm *c, const void *send, void *recv,
			  size_t count, enum lt_dtype dt, struct lt_err *err);
	int (*reduce_scatter)(struct lt_comm *c, const void *send, void *recv,
			      size_t count, enum lt_dtype dt, enum lt_op op,
			      struct lt_err *err);
	int (*reduce_scatter_v)(struct lt_comm *c, const void *send, void *recv,
				const size_t *counts, enum lt_dtype dt,
				enum lt_op op, struct lt_err *err);
	/* Frees everything open() made (shared segments included); also
	 * after a failed open(). */
	void (*close)(struct lt_comm *c);
	/* Optional: runs n collectives (a group, lt_comm_group_begin) as one
	 * launch, issued together and then waited for together (NCCL's
	 * group calls).  Returns 0, -1 with err (every one of them failed),
	 * or 1 when it cannot run these together (a host buffer): the
	 * generic layer then runs them one by one.  NULL: one by one. */
	int (*group)(struct lt_comm *c, const struct lt_comm_call *calls, size_t n,
		     struct lt_err *err);
};

struct lt_comm_queue; /* comm.c's worker */

struct lt_comm {
	const struct lt_comm_ops *ops;
	const char *name;            /* the backend's, for messages */
	int rank, size;
	char scope[64];
	void *state;                 /* the backend's */
	struct lt_comm_queue *queue; /* NULL until the first async call */
	int *global;                 /* members' global ranks, size entries */
	bool check_calls;            /* lt_comm_args.check_calls */
	/* The collective in flight, for the watchdog (rank/watchdog.c) on
	 * another thread: read with lt_comm_flight(); atomics, relaxed. */
	uint64_t seq;                /* collectives started, this one included */
	int64_t started_ns;          /* lt_now_ns() when it started; 0: none */
	int in_kind, in_dt;          /* its enum lt_comm_kind, enum lt_dtype */
	size_t in_count;
	uint64_t published;          /* the watchdog's: seq * 2 + in flight, last told */
	struct lt_comm *next_open;   /* the list lt_comm_each() walks */
};

/* The built-in backends' ops (auto composes the others). */
extern const struct lt_comm_ops lt_comm_shm;
extern const struct lt_comm_ops lt_comm_gloo;
extern const struct lt_comm_ops lt_comm_tcp;
extern const struct lt_comm_ops lt_comm_mpi;
extern const struct lt_comm_ops lt_comm_auto;
extern const struct lt_comm_ops lt_comm_nccl; /* when LT_HAVE_CUDA */

/* The ops of a resolved --comm choice. */
static inline const struct lt_comm_ops *lt_comm_of(const struct lt_choice *c)
{
	return (const struct lt_comm_ops *)c->base->ops;
}

/* Removes the shared-memory segments of job run_id (/dev/shm/ltrun-
 * <run_id>-*) whose creating rank is gone, those a crashed rank left
 * included.  For the agent, after an attempt, when its own ranks have
 * ended: a live creator's segment is another node's sharing this
 * /dev/shm (hosts that are network namespaces of one machine), and stays.
 * Cannot fail (what cannot be removed stays). */
void lt_shm_remove_job(const char *run_id);

/* Removes the shared-memory segments of this user whose creator is gone
 * (the ranks of an agent that was killed): /dev/shm/ltrun-* named after a
 * process of this pid namespace that no longer exists.  Another user's
 * segments, a live process's and anything not a regular file are kept.
 * For the agent's start; cannot fail. */
void lt_shm_remove_stale(void);

/* How many nodes an `auto` communicator found its members on (they are
 * told apart by lt_comm_args.host), or -1 for another backend. */
int lt_comm_auto_nodes(const struct lt_comm *c);

/* Opens a communicator of backend b, called name in messages (a string
 * that outlives it: the registry's).  Returns it, or NULL with err set
 * (nothing is left behind). */
struct lt_comm *lt_comm_open(const struct lt_comm_ops *b, const char *name,
			     const struct lt_comm_args *args, struct lt_err *err);
/* Waits for queued work, stops the worker, closes the backend, frees c. */
void lt_comm_close(struct lt_comm *c);

/* Blocking collectives (any op, LT_AVG included).  Return 0 or -1. */
int lt_comm_barrier(struct lt_comm *c, struct lt_err *err);
int lt_comm_broadcast(struct lt_comm *c, void *buf, size_t count,
		      enum lt_dtype dt, int root, struct lt_err *err);
int lt_comm_all_reduce(struct lt_comm *c, void *buf, size_t count,
		       enum lt_dtype dt, enum lt_op op, struct lt_err *err);
int lt_comm_all_gather(struct lt_comm *c, const void *send, void *recv,
		       size_t count, enum lt_dtype dt, struct lt_err *err);
int lt_comm_reduce_scatter(struct lt_comm *c, const void *send, void *recv,
			   size_t count, enum lt_dtype dt, enum lt_op op,
			   struct lt_err *err);
/* The reduce-scatter of uneven blocks (struct lt_comm_ops): rank r gets
 * counts[r] elements, those at sum(counts[0..r)) of send, reduced; every
 * rank passes the same counts.  recv overlaps send only in place: recv =
 * send + sum(counts[0..r)) elements, after which the rest of send is
 * undefined (the reduce-scatters and all_gather: struct lt_comm_ops). */
int lt_comm_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
			     const size_t *counts, enum lt_dtype dt, enum lt_op op,
			     struct lt_err *err);

/* The backends' own timeout (lt_comm_args.timeout_ms) for a --timeout of
 * timeout_s: 10 s beyond it, so that the rank's watchdog, whose report
 * says more (rank/watchdog.h), comes first. */
static inline int lt_comm_timeout_ms(int timeout_s)
{
	return (timeout_s + 10) * 1000;
}

/* Where a communicator stands, read from any thread. */
struct lt_comm_flight {
	uint64_t seq;       /* collectives started (the one in flight included) */
	bool in_flight;
	double waited_s;    /* how long the one in flight has run */
	const char *kind;   /* its name ("all_reduce"), "" when none ran */
	size_t count;
	enum lt_dtype dt;
};
void lt_comm_flight(const struct lt_comm *c, struct lt_comm_flight *f);
/* Calls fn on every open communicator (sub-communicators included), under
 * a lock that lt_comm_open/close also take: fn must not open or close. */
void lt_comm_each(void (*fn)(struct lt_comm *c, void *arg), void *arg);

/* Non-blocking forms: queue the operation and return a request, or NULL
 * with err set when it cannot be queued.  The buffers belong to the
 * communicator until lt_comm_wait() returns. */
struct lt_comm_req;
struct lt_comm_req *lt_comm_start(struct lt_comm *c, enum lt_comm_kind kind,
				  const void *send, void *recv, size_t count,
				  enum lt_dtype dt, enum lt_op op, int root,
				  struct lt_err *err);
/* lt_comm_reduce_scatter_v's non-blocking form; counts is copied. */
struct lt_comm_req *lt_comm_start_v(struct lt_comm *c, const void *send, void *recv,
				    const size_t *counts, enum lt_dtype dt, enum lt_op op,
				    struct lt_err *err);
/* Waits for req and frees it.  Returns 0, or -1 with err: the failure of
 * that operation (or of an earlier one the queue stopped at). */
int lt_comm_wait(struct lt_comm_req *req, struct lt_err *err);
/* True when req has finished (lt_comm_wait then returns at once). */
bool lt_comm_test(struct lt_comm_req *req);
/* A group: the non-blocking operations started between begin and end
 * are held back, then queued together at end, and a backend with a
 * group op runs them as one launch (NCCL's ncclGroupStart/End: the
 * buckets that became ready at once); others, and --debug-collectives,
 * run them one by one.  Every rank must group the same operations.  Wait
 * for them after end; a group holds non-blocking operations only (a
 * blocking call in between is refused), and groups do not nest.  One
 * thread (the caller's) opens and closes a communicator's groups. */
void lt_comm_group_begin(struct lt_comm *c);
void lt_comm_group_end(struct lt_comm *c);

#endif
