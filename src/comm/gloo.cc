/*
 * gloo.cc - the `gloo` communicator: a small C++ shim over Debian's libgloo
 * (TCP transport, new-style collectives), the only C++ file of ltrun.  The
 * ranks meet through our own rendezvous (rdzv/rdzv.h), wrapped in a
 * gloo::rendezvous::Store whose keys are prefixed with the communicator's
 * scope, so several communicators share one store; every collective gets
 * the next tag of a per-communicator counter, the same on every rank
 * because every rank calls the same collectives in the same order.  f32,
 * f64, f16, i32 and i64 are reduced by gloo's own functions; bf16 is not a
 * gloo type and goes through f32 (reduce.h's conversions).
 * reduce_scatter and reduce_scatter_v all-reduce a scratch copy of the
 * whole buffer and keep this rank's block: libgloo's only reduce-scatter
 * is an old-style algorithm built per buffer, and a gloo::reduce to each
 * owner measured slower than that all-reduce (in place: the send buffer
 * itself is all-reduced, no copy).  No C++
 * exception crosses into C: each extern "C" entry point catches them all
 * and turns them into a one-line struct lt_err.
 *
 * Two things make libgloo fast on a busy node; both are off by default
 * (opt-in, below), because with them on the three-host ssh test
 * (tests/integration/test_ssh.c) failed 1 to 4 times in 8 at open
 * ("Connection closed by peer" naming an ephemeral port of node 0, while a
 * rail's mesh connected), against 8 of 8 passes without; an hour later the
 * same code with both set through the environment passed 28 of 28.  The
 * failure is intermittent and its cause not found:
 * - LTRUN_GLOO_LOOP_IDLE=1: libgloo's TCP device reads every socket on a
 *   thread of its own (the loop); once the meshes are connected, ltrun puts
 *   that thread under SCHED_IDLE (calm_loop).  A loop thread woken by
 *   incoming data preempts the rank's thread while that holds the pair's
 *   lock in a write, then spins, unable to read, until the scheduler's tick
 *   (4 ms at 250 Hz): a 1 MB all-reduce of 2 ranks takes 4 ms bound to a
 *   core each, and 0.4 or 4 ms by luck unbound; 0.27 ms in the idle class.
 *   An idle-class thread never preempts one of the rank's; it runs when
 *   they wait, which is when it has work.
 * - LTRUN_GLOO_SYNC_MAX=N: all-reduces up to N bytes (at most 256 KiB) go
 *   over a second full mesh, on a device of its own, whose pairs are in
 *   libgloo's sync mode: the calling thread writes and reads its sockets
 *   itself (no hand-off to the loop thread), busy-polling when this node's
 *   ranks have a cpu each, and the algorithm is halving-doubling (log2
 *   steps).  Between two hosts it took 4 KB in 0.03 ms and 256 KB in 0.07
 *   against the ring's 0.19 and 0.29.  Sends are blocking there, so every
 *   message must fit in the socket's buffer (libgloo sizes it to the
 *   message): that bounds the path to small buffers.  The second mesh costs
 *   its connections at open (4 ranks on one node: 0.09 -> 0.11-0.14 s for
 *   the whole job; libgloo waits a turn of its loop, up to 10 ms, for each
 *   pair it connects).
 */
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/address.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/types.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

extern "C" {
#include "comm/comm.h"
#include "comm/reduce.h"
#include "rdzv/rdzv.h"
}

namespace {

/* gloo's Store interface over our rendezvous.  Values are fetched once and
 * cached: get() after wait() does not ask the rendezvous again.  A key is
 * written at most once (connectFullMesh writes "rank_<r>" for its own r). */
class RdzvStore : public gloo::rendezvous::Store {
public:
	RdzvStore(struct lt_rdzv *rz, const std::string &prefix, std::vector<int> globals)
		: rz_(rz), prefix_(prefix), globals_(std::move(globals))
	{
	}

	void set(const std::string &key, const std::vector<char> &data) override
	{
		struct lt_err err = {};
		std::string k = prefix_ + key;

		if (rz_->ops->put(rz_, k.c_str(), data.data(), data.size(), &err))
			throw std::runtime_error(err.msg);
	}

	std::vector<char> get(const std::string &key) override
	{
		fetch(key);
		return cache_[key];
	}

	void wait(const std::vector<std::string> &keys) override
	{
		for (const auto &k : keys)
			fetch(k);
	}

	/* The rendezvous has its own timeout (rz->timeout_ms). */
	void wait(const std::vector<std::string> &keys, const std::chrono::milliseconds &) override
	{
		wait(keys);
	}

private:
	/* The global rank of the writer of "<r>" and "rank_<r>" (the keys
	 * connectFullMesh uses): group rank r's, as the pmix rendezvous
	 * reads a key from its writer's data. */
	int writer_of(const std::string &key) const
	{
		size_t i = key.size();
		int r = 0;

		while (i > 0 && key[i - 1] >= '0' && key[i - 1] <= '9')
			i--;
		if (i < key.size())
			r = std::atoi(key.c_str() + i);
		return r >= 0 && (size_t)r < globals_.size() ? globals_[(size_t)r] : r;
	}

	void fetch(const std::string &key)
	{
		struct lt_err err = {};
		std::string k = prefix_ + key;
		void *value = nullptr;
		size_t len = 0;

		if (cache_.count(key))
			return;
		if (rz_->ops->get(rz_, k.c_str(), writer_of(key), &value, &len, &err))
			throw std::runtime_error(err.msg);
		const char *p = static_cast<const char *>(value);
		cache_[key] = std::vector<char>(p, p + len);
		std::free(value);
		note_peer(key);
	}

	/* Key "<r>" holds r's address for each of its size-1 pairs, all on
	 * r's one listening socket ("rank_<r>" its host name): remember that
	 * address as r's, so that an exception quoting it ("[10.0.0.2]:41437")
	 * can name the rank. */
	void note_peer(const std::string &key)
	{
		const std::vector<char> &all = cache_[key];
		size_t n = globals_.size();

		if (key.empty() || key.find_first_not_of("0123456789") != std::string::npos ||
		    n < 2 || all.size() % (n - 1))
			return;
		try {
			std::vector<char> first(all.begin(), all.begin() + (long)(all.size() / (n - 1)));
			peers_[gloo::transport::tcp::Address(first).str()] = writer_of(key);
		} catch (...) {
		}
	}

	struct lt_rdzv *rz_;
	std::string prefix_;
	std::vector<int> globals_; /* global rank of each group rank */
	std::map<std::string, std::vector<char>> cache_;

public:
	std::map<std::string, int> peers_; /* "[addr]:port" -> global rank */
};

struct gloo_comm {
	std::shared_ptr<gloo::Context> ctx; /* NULL when size is 1 */
	/* Pairs in sync mode, for all-reduces up to sync_max bytes; NULL
	 * when the size is 1 or LTRUN_GLOO_SYNC_MAX is 0. */
	std::shared_ptr<gloo::Context> sync_ctx;
	size_t sync_max = 0;
	std::chrono::milliseconds timeout{ 0 };
	uint32_t tag = 0;
	std::vector<float> wide; /* bf16 as f32 */
	std::vector<char> tmp;   /* reduce_scatter's full result */
	std::map<std::string, int> peers; /* "[addr]:port" -> global rank */
};

gloo_comm *state_of(struct lt_comm *c)
{
	return static_cast<gloo_comm *>(c->state);
}

/* "gloo all_reduce in 'world' (rank 1 of 4) failed: <why> (peer: rank
 * 3)" plus the fix; the peer when why quotes an address we know. */
int fail(struct lt_comm *c, const char *what, const char *why, struct lt_err *err)
{
	gloo_comm *g = state_of(c);
	char peer[48] = "";

	for (const auto &p : g->peers)
		if (std::strstr(why, p.first.c_str())) {
			std::snprintf(peer, sizeof(peer), " (peer: rank %d)", p.second);
			break;
		}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "gloo %s in '%s' (rank %d of %d) failed: %s%s; check that every rank "
			  "runs the same collectives and can reach the others (GLOO_SOCKET_IFNAME)",
			  what, c->scope, c->rank, c->size, why, peer);
}

using ReduceFn = void (*)(void *, const void *, const void *, size_t);

template <typename T> ReduceFn reduce_fn(enum lt_op op)
{
	switch (op) {
	case LT_MIN:
		return &gloo::min<T>;
	case LT_MAX:
		return &gloo::max<T>;
	default:
		return &gloo::sum<T>;
	}
}

/* The ring's largest segment (libgloo's default: 1 MB).  The ring splits
 * the buffer into at least 2 segments a rank and hands each to the peer
 * after a ready/notify exchange: fewer, larger segments cost fewer
 * exchanges.  Measured between two network-namespace hosts, 2 ranks, f32,
 * median of 40, two rounds: 64 MB in 58 ms with 4 MB segments against
 * 65-68 ms with 1 MB ones; level at 1 MB and below (the ring makes 4
 * segments there whatever the limit).  bcube, libgloo's other algorithm,
 * was faster alone at 64 KB-4 MB (0.17-0.19 ms at 64 KB against 0.25-0.28)
 * but took a flat 4 ms under ltrun's all-reduce up to 1 MB, and 69-85 ms at
 * 64 MB: not used. */
constexpr size_t kRingSegmentBytes = 4u << 20;

template <typename T> const gloo::ReductionFunction<T> *reduction(enum lt_op op)
{
	switch (op) {
	case LT_MIN:
		return gloo::ReductionFunction<T>::min;
	case LT_MAX:
		return gloo::ReductionFunction<T>::max;
	default:
		return gloo::ReductionFunction<T>::sum;
	}
}

template <typename T> void allreduce(gloo_comm *g, T *buf, size_t count, enum lt_op op)
{
	if (g->sync_ctx && count * sizeof(T) <= g->sync_max) {
		/* built per call: it takes the context's next slots, the same
		 * on every rank whatever the buffer's address */
		gloo::AllreduceHalvingDoubling<T> hd(g->sync_ctx, { buf }, (int)count, reduction<T>(op));
		hd.run();
		return;
	}
	gloo::AllreduceOptions opts(g->ctx);

	opts.setOutput(buf, count);
	opts.setReduceFunction(reduce_fn<T>(op));
	opts.setTag(g->tag);
	opts.setTimeout(g->timeout);
	opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
	opts.setMaxSegmentSize(kRingSegmentBytes);
	gloo::allreduce(opts);
}

/* The bf16 path: widen to f32, reduce, round back. */
void allreduce_bf16(gloo_comm *g, uint16_t *buf, size_t count, enum lt_op op)
{
	g->wide.resize(count);
	for (size_t i = 0; i < count; i++)
		g->wide[i] = lt_bf16_to_f32(buf[i]);
	allreduce(g, g->wide.data(), count, op);
	for (size_t i = 0; i < count; i++)
		buf[i] = lt_f32_to_bf16(g->wide[i]);
}

void allreduce_any(gloo_comm *g, void *buf, size_t count, enum lt_dtype dt, enum lt_op op)
{
	switch (dt) {
	case LT_F32:
		return allreduce(g, static_cast<float *>(buf), count, op);
	case LT_F64:
		return allreduce(g, static_cast<double *>(buf), count, op);
	case LT_F16:
		return allreduce(g, static_cast<gloo::float16 *>(buf), count, op);
	case LT_BF16:
		return allreduce_bf16(g, static_cast<uint16_t *>(buf), count, op);
	case LT_I32:
		return allreduce(g, static_cast<int32_t *>(buf), count, op);
	case LT_I64:
		return allreduce(g, static_cast<int64_t *>(buf), count, op);
	}
	throw std::invalid_argument("unknown dtype");
}

/* Runs body(g), turning any exception into err.  The tag advances on every
 * rank whatever happens, so it stays in step. */
template <typename F> int guarded(struct lt_comm *c, const char *what, struct lt_err *err, F body)
{
	gloo_comm *g = state_of(c);

	g->tag++;
	try {
		body(g);
		return 0;
	} catch (const std::exception &e) {
		return fail(c, what, e.what(), err);
	} catch (...) {
		return fail(c, what, "unknown C++ exception", err);
	}
}

constexpr size_t kSyncMaxBytes = 256u << 10;

/* The thread ids of this process (/proc/self/task). */
std::vector<pid_t> own_threads()
{
	std::vector<pid_t> tids;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return tids;
	while (struct dirent *e = readdir(d))
		if (e->d_name[0] != '.')
			tids.push_back((pid_t)std::atoi(e->d_name));
	closedir(d);
	return tids;
}

/* The one thread that is in now and not in before (libgloo's loop, when
 * taken around CreateDevice), or 0 when that is not exactly one thread
 * (another thread of the process started meanwhile: then it is left be). */
pid_t new_thread(const std::vector<pid_t> &before, const std::vector<pid_t> &now)
{
	pid_t found = 0;

	for (pid_t t : now) {
		bool old = false;
		for (pid_t b : before)
			old = old || b == t;
		if (old)
			continue;
		if (found)
			return 0;
		found = t;
	}
	return found;
}

/* Binds the TCP device: GLOO_SOCKET_IFNAME names an interface, else the
 * node's address from args (127.0.0.1 when it has none).  *loop gets the
 * thread libgloo starts for it (0 if unknown), for calm_loop once
 * the meshes are connected (see the top). */
std::shared_ptr<gloo::transport::Device> make_device(const struct lt_comm_args *args, pid_t *loop)
{
	gloo::transport::tcp::attr attr;
	const char *ifname = std::getenv("GLOO_SOCKET_IFNAME");

	if (ifname && *ifname)
		attr.iface = ifname;
	else
		attr.hostname = args->host && *args->host ? args->host : "127.0.0.1";
	auto before = own_threads();
	auto dev = gloo::transport::tcp::CreateDevice(attr);
	*loop = new_thread(before, own_threads());
	return dev;
}

/* With LTRUN_GLOO_LOOP_IDLE=1, puts libgloo's loop thread in the idle
 * class, after the connections (off by default: see the top):
 * while the meshes connect, the loop accepts and reads the peers'
 * handshakes, and starved by busy normal threads (three hosts' agents and
 * ranks on 2 cpus) some of those handshakes failed ("Connection closed by
 * peer").  Lowering needs no privilege; a failure leaves it as it was. */
void calm_loop(pid_t loop)
{
	const char *on = std::getenv("LTRUN_GLOO_LOOP_IDLE");
	struct sched_param sp = {};

	if (loop > 0 && on && !std::strcmp(on, "1"))
		sched_setscheduler(loop, SCHED_IDLE, &sp);
}

/* LTRUN_GLOO_SYNC_MAX: bytes, 0 (no sync mesh, the default) to 256 KiB:
 * above, a blocking exchange could wait on a socket buffer that
 * net.core.wmem_max keeps small.  -1 with err for a bad value. */
int sync_max_of_env(size_t *max, struct lt_err *err)
{
	const char *v = std::getenv("LTRUN_GLOO_SYNC_MAX");
	char *end = nullptr;

	*max = 0;
	if (!v || !*v)
		return 0;
	errno = 0;
	unsigned long long n = std::strtoull(v, &end, 10);
	if (errno || *end || *v == '-' || *v == '+' || n > kSyncMaxBytes)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "LTRUN_GLOO_SYNC_MAX='%.64s' is not a byte count from 0 to %zu; "
				  "unset it or set 0 to send every all-reduce through libgloo's ring",
				  v, kSyncMaxBytes);
	*max = (size_t)n;
	return 0;
}

/* Busy-poll a sync pair when this node's ranks have a cpu each
 * (LOCAL_WORLD_SIZE against the cpus this rank may run on), else sleep in
 * recv(); LTRUN_GLOO_BUSY_POLL=0 or 1 decides instead. */
bool busy_poll()
{
	const char *force = std::getenv("LTRUN_GLOO_BUSY_POLL");
	const char *local = std::getenv("LOCAL_WORLD_SIZE");
	cpu_set_t set;
	int cpus = 1;

	if (force && (!std::strcmp(force, "0") || !std::strcmp(force, "1")))
		return *force == '1';
	if (!sched_getaffinity(0, sizeof(set), &set))
		cpus = CPU_COUNT(&set);
	return (local ? std::atoi(local) : 1) <= cpus;
}

/* Switches every pair of ctx to sync mode, 64 at a time: each switch waits
 * for a turn of libgloo's loop (up to its 10 ms epoll timeout) to be sure
 * the loop no longer reads that socket, and one turn serves them all. */
void sync_pairs(const std::shared_ptr<gloo::rendezvous::Context> &ctx, int rank, int size,
		bool busy)
{
	std::exception_ptr failed;
	std::mutex m;

	for (int first = 0; first < size; first += 64) {
		std::vector<std::thread> switching;

		for (int r = first; r < size && r < first + 64; r++)
			if (r != rank)
				switching.emplace_back([&, r] {
					try {
						ctx->getPair(r)->setSync(true, busy);
					} catch (...) {
						std::lock_guard<std::mutex> hold(m);
						if (!failed)
							failed = std::current_exception();
					}
				});
		for (auto &t : switching)
			t.join();
	}
	if (failed)
		std::rethrow_exception(failed);
}

int gloo_open_impl(struct lt_comm *c, const struct lt_comm_args *args, size_t sync_max,
		   struct lt_err *err)
{
	auto *g = new gloo_comm();

	c->state = g;
	g->sync_max = sync_max;
	g->timeout = std::chrono::milliseconds(args->timeout_ms > 0 ? args->timeout_ms : 300000);
	if (args->size == 1)
		return 0;
	if (!args->rz)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'gloo' in '%s' needs a rendezvous to meet its %d ranks: "
				  "open it from a rank process (or set LTRUN_RDZV_DIR)",
				  args->scope, args->size);
	pid_t loop = 0;
	auto dev = make_device(args, &loop);
	std::vector<int> globals((size_t)args->size);
	for (int r = 0; r < args->size; r++)
		globals[(size_t)r] = args->global_rank ? args->global_rank[r] : r;

	auto ctx = std::make_shared<gloo::rendezvous::Context>(args->rank, args->size);
	RdzvStore store(args->rz, std::string(args->scope) + "/gloo/", globals);
	ctx->setTimeout(g->timeout);
	ctx->connectFullMesh(store, dev);
	g->ctx = ctx;
	g->peers = store.peers_;
	if (!g->sync_max) {
		calm_loop(loop);
		return 0;
	}

	auto sync = std::make_shared<gloo::rendezvous::Context>(args->rank, args->size);
	RdzvStore sync_store(args->rz, std::string(args->scope) + "/gloo-sync/", globals);
	bool busy = busy_poll();
	pid_t sync_loop = 0;
	/* a device of its own: nothing shared with the first mesh's listener
	 * and loop while the peers still connect to either */
	auto sync_dev = make_device(args, &sync_loop);
	sync->setTimeout(g->timeout);
	sync->connectFullMesh(sync_store, sync_dev);
	sync_pairs(sync, args->rank, args->size, busy);
	g->sync_ctx = sync;
	g->peers.insert(sync_store.peers_.begin(), sync_store.peers_.end());
	calm_loop(loop);
	calm_loop(sync_loop);
	return 0;
}

int gloo_open(struct lt_comm *c, const struct lt_comm_args *args, struct lt_err *err)
{
	const char *host = args->host && *args->host ? args->host : "127.0.0.1";
	size_t sync_max;

	if (sync_max_of_env(&sync_max, err))
		return -1;
	try {
		return gloo_open_impl(c, args, sync_max, err);
	} catch (const std::exception &e) {
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'gloo' in '%s': rank %d of %d cannot connect to its peers "
				  "(bound to %s): %s; check GLOO_SOCKET_IFNAME and that every rank started",
				  args->scope, args->rank, args->size,
				  std::getenv("GLOO_SOCKET_IFNAME") ? std::getenv("GLOO_SOCKET_IFNAME") : host,
				  e.what());
	} catch (...) {
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "comm 'gloo' in '%s': rank %d of %d cannot connect: unknown C++ exception",
				  args->scope, args->rank, args->size);
	}
}

int gloo_barrier(struct lt_comm *c, struct lt_err *err)
{
	return guarded(c, "barrier", err, [](gloo_comm *g) {
		if (!g->ctx)
			return;
		gloo::BarrierOptions opts(g->ctx);
		opts.setTag(g->tag);
		opts.setTimeout(g->timeout);
		gloo::barrier(opts);
	});
}

int gloo_broadcast(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			      int root, struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt);

	return guarded(c, "broadcast", err, [&](gloo_comm *g) {
		if (!g->ctx || !bytes)
			return;
		gloo::BroadcastOptions opts(g->ctx);
		char *p = static_cast<char *>(buf);
		if (c->rank == root)
			opts.setInput(p, bytes);
		opts.setOutput(p, bytes);
		opts.setRoot(root);
		opts.setTag(g->tag);
		opts.setTimeout(g->timeout);
		gloo::broadcast(opts);
	});
}

int gloo_all_reduce(struct lt_comm *c, void *buf, size_t count, enum lt_dtype dt,
			       enum lt_op op, struct lt_err *err)
{
	return guarded(c, "all_reduce", err, [&](gloo_comm *g) {
		if (g->ctx && count)
			allreduce_any(g, buf, count, dt, op);
	});
}

int gloo_all_gather(struct lt_comm *c, const void *send, void *recv, size_t count,
			       enum lt_dtype dt, struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt);

	return guarded(c, "all_gather", err, [&](gloo_comm *g) {
		if (!bytes)
			return;
		if (!g->ctx) {
			std::memmove(recv, send, bytes);
			return;
		}
		gloo::AllgatherOptions opts(g->ctx);
		/* no input: gloo gathers in place */
		if (send != static_cast<char *>(recv) + bytes * (size_t)c->rank)
			opts.setInput(const_cast<char *>(static_cast<const char *>(send)), bytes);
		opts.setOutput(static_cast<char *>(recv), bytes * (size_t)c->size);
		opts.setTag(g->tag);
		opts.setTimeout(g->timeout);
		gloo::allgather(opts);
	});
}

/* All-reduce of the whole send buffer into a scratch copy, then this
 * rank's block: twice the traffic of a true reduce-scatter, but simple. */
int gloo_reduce_scatter(struct lt_comm *c, const void *send, void *recv,
				   size_t count, enum lt_dtype dt, enum lt_op op,
				   struct lt_err *err)
{
	size_t bytes = count * lt_dtype_size(dt);

	return guarded(c, "reduce_scatter", err, [&](gloo_comm *g) {
		if (!bytes)
			return;
		if (!g->ctx) {
			std::memmove(recv, send, bytes);
			return;
		}
		if (recv == static_cast<const char *>(send) + bytes * (size_t)c->rank) {
			/* in place: the whole buffer is summed where it is */
			allreduce_any(g, const_cast<void *>(send), count * (size_t)c->size, dt, op);
			return;
		}
		g->tmp.resize(bytes * (size_t)c->size);
		std::memcpy(g->tmp.data(), send, g->tmp.size());
		allreduce_any(g, g->tmp.data(), count * (size_t)c->size, dt, op);
		std::memcpy(recv, g->tmp.data() + bytes * (size_t)c->rank, bytes);
	});
}

/* The whole send buffer all-reduced in a scratch copy, then this rank's
 * block: gloo::reduce to each owner in turn measured twice as slow as
 * its all-reduce here (2 ranks on loopback, 25 MB buckets). */
int gloo_reduce_scatter_v(struct lt_comm *c, const void *send, void *recv,
			  const size_t *counts, enum lt_dtype dt, enum lt_op op,
			  struct lt_err *err)
{
	size_t es = lt_dtype_size(dt), total = 0, at = 0;

	for (int j = 0; j < c->size; j++) {
		at += j < c->rank ? counts[j] : 0;
		total += counts[j];
	}
	return guarded(c, "reduce_scatter_v", err, [&](gloo_comm *g) {
		if (!total)
			return;
		if (!g->ctx) {
			std::memmove(recv, send, counts[0] * es);
			return;
		}
		if (recv == static_cast<const char *>(send) + at * es) {
			/* in place: the whole buffer is summed where it is */
			allreduce_any(g, const_cast<void *>(send), total, dt, op);
			return;
		}
		g->tmp.resize(total * es);
		std::memcpy(g->tmp.data(), send, total * es);
		allreduce_any(g, g->tmp.data(), total, dt, op);
		if (counts[c->rank])
			std::memcpy(recv, g->tmp.data() + at * es, counts[c->rank] * es);
	});
}

void gloo_close(struct lt_comm *c)
{
	try {
		delete state_of(c);
	} catch (...) {
	}
	c->state = nullptr;
}

} // namespace

extern "C" const struct lt_comm_ops lt_comm_gloo = {
	true,  /* intra_node */
	true,  /* inter_node */
	false, /* averages */
	false, /* device_buffers */
	gloo_open,
	gloo_barrier,
	gloo_broadcast,
	gloo_all_reduce,
	gloo_all_gather,
	gloo_reduce_scatter,
	gloo_reduce_scatter_v,
	gloo_close,
	nullptr, /* group: one by one */
};
