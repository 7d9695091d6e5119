/*
 * store_scale.c - how long N clients take to meet at the embedded store,
 * and what each of their connections costs the server.
 *
 * The server runs in a child process of its own, with the default limits,
 * as node 0's agent hosts it; N threads of this process are released
 * together, and each connects on loopback, proves the token, add()s one to
 * a counter and waits for the key that the last to arrive sets.  The time
 * is from the release to the last client's return from that wait (its
 * close and its thread's end are not counted); as ranks do at job start,
 * no connection exists before it.  The memory is the server's peak
 * resident set (VmHWM) less its resident set before the first client,
 * divided by N: every byte the server's process took for the connections
 * (its buffers and bookkeeping; not the kernel's socket buffers).
 *
 *   build/bench/store_scale [N...]     (default: 1024 4096 16384)
 *
 * The clients spread over BENCH_STORE_HOSTS loopback addresses (default
 * 64: 127.0.0.1 to 127.0.0.64, the server listening on every address of
 * the host for the run, guarded by its token as always): ranks on many
 * hosts each have their own ephemeral ports, while one host's 16384
 * connections to one address and port need 16384 distinct ports, and
 * Linux then scans its range at every connect() (30% of the CPU of a
 * 16384 run).  BENCH_STORE_HOSTS=1: every client to 127.0.0.1, the
 * server on it alone.
 *
 * Environment: BENCH_REPS, runs per size (default 5).  Prints, per size,
 * "median [min-max]" of the seconds, the median KiB per connection, and
 * the handshakes the host's listen queues dropped meanwhile (TcpExt
 * ListenOverflows: net.core.somaxconn caps the server's backlog, and a
 * dropped one costs its client a retransmission, 1 s or more).
 * Each side needs N descriptors and some: the soft limit is raised to the
 * hard one (ulimit -Hn), and a size beyond that is reported, not run.
 * Build: make build/bench/store_scale.
 */
#include "core/clock.h"
#include "core/parse.h"
#include "rdzv/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (64 * 1024)
#define TIMEOUT_MS 60000
/* Descriptors a side needs beyond one per client. */
#define SPARE_FDS 64

/* The loopback addresses the clients spread over (BENCH_STORE_HOSTS). */
static long hosts = 64;

struct run {
	int port, clients;
	atomic_int next_client; /* numbers the clients, for their address */
	uint8_t token[LT_STORE_TOKEN_BYTES];
	pthread_barrier_t go;
	atomic_int failures;
	_Atomic double last_done; /* when the last client returned from its wait */
	struct lt_err first_error;
	pthread_mutex_t lock;
};

struct result {
	double seconds;
	double kib_per_conn;
	long overflows; /* connections the listen queue dropped meanwhile */
};

static void fail(struct run *r, const struct lt_err *err)
{
	if (atomic_fetch_add(&r->failures, 1) == 0) {
		pthread_mutex_lock(&r->lock);
		r->first_error = *err;
		pthread_mutex_unlock(&r->lock);
	}
}

static void note_done(struct run *r, double t)
{
	double seen = atomic_load(&r->last_done);

	while (t > seen && !atomic_compare_exchange_weak(&r->last_done, &seen, t))
		;
}

static void *client(void *arg)
{
	struct run *r = arg;
	struct lt_store *st = NULL;
	struct lt_err err = { 0 };
	int64_t arrived;
	int rc, i = atomic_fetch_add(&r->next_client, 1);
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.%ld", 1 + i % hosts);
	pthread_barrier_wait(&r->go);
	rc = lt_store_connect(addr, r->port, r->token, "bench client", TIMEOUT_MS, &st, &err);
	if (!rc)
		rc = lt_store_add(st, "arrived", 1, &arrived, &err);
	if (!rc && arrived == r->clients)
		rc = lt_store_set(st, "all here", "1", 1, &err);
	else if (!rc)
		rc = lt_store_wait(st, (const char *const[]){ "all here" }, 1, TIMEOUT_MS,
				   "the last client", &err);
	if (rc)
		fail(r, &err);
	note_done(r, lt_now_s());
	lt_store_close(st);
	return NULL;
}

/* The soft descriptor limit, raised to the hard one.  Returns it. */
static long raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return -1;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
		getrlimit(RLIMIT_NOFILE, &r);
	}
	return r.rlim_cur == RLIM_INFINITY ? (long)1 << 30 : (long)r.rlim_cur;
}

/* A field of /proc/PID/status in KiB ("VmRSS:", "VmHWM:"), -1 if absent. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kib = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return kib;
}

/* TcpExt ListenOverflows of /proc/net/netstat: handshakes this host's
 * listen queues were too full to take (the client tries again after 1 s,
 * 2 s, ...), or -1. */
static long listen_overflows(void)
{
	char names[4096], values[4096], *ns, *vs, *n, *v;
	long found = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &ns);
		v = strtok_r(values, " \n", &vs);
		while ((n = strtok_r(NULL, " \n", &ns)) && (v = strtok_r(NULL, " \n", &vs)))
			if (!strcmp(n, "ListenOverflows"))
				found = strtol(v, NULL, 10);
	}
	fclose(f);
	return found;
}

/* The server's process: starts the store, writes its port to port_fd and
 * serves until stop_fd reaches its end.  Never returns. */
static void serve(const uint8_t token[LT_STORE_TOKEN_BYTES], int port_fd, int stop_fd)
{
	struct lt_store_server *srv;
	struct lt_err err = { 0 };
	int port = -1;
	char c;

	if (lt_store_server_start(hosts > 1 ? "0.0.0.0" : "127.0.0.1", 0, token, stderr, &srv,
				  &port, &err))
		fprintf(stderr, "store_scale: %s\n", err.msg);
	if (write(port_fd, &port, sizeof(port)) != sizeof(port) || port < 0)
		_exit(1);
	while (read(stop_fd, &c, 1) < 0 && errno == EINTR)
		;
	lt_store_server_stop(srv);
	_exit(0);
}

/* Forks the server's process.  Returns its pid with *port and *stop_fd
 * (close it to stop the server) set, or -1. */
static pid_t start_server(const uint8_t token[LT_STORE_TOKEN_BYTES], int *port, int *stop_fd)
{
	int port_pipe[2], stop_pipe[2];
	pid_t pid;

	if (pipe(port_pipe))
		return -1;
	if (pipe(stop_pipe)) {
		close(port_pipe[0]);
		close(port_pipe[1]);
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(port_pipe[0]);
		close(stop_pipe[1]);
		serve(token, port_pipe[1], stop_pipe[0]);
	}
	close(port_pipe[1]);
	close(stop_pipe[0]);
	if (pid < 0 || read(port_pipe[0], port, sizeof(*port)) != sizeof(*port) || *port < 0) {
		close(port_pipe[0]);
		close(stop_pipe[1]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return -1;
	}
	close(port_pipe[0]);
	*stop_fd = stop_pipe[1];
	return pid;
}

/* Starts n client threads, all waiting at r->go.  Returns 0, or -1 after
 * printing why. */
static int start_clients(struct run *r, pthread_t *threads, int n)
{
	pthread_attr_t attr;
	int started = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (; started < n; started++)
		if (pthread_create(&threads[started], &attr, client, r))
			break;
	pthread_attr_destroy(&attr);
	if (started == n)
		return 0;
	/* The barrier never opens: report and give up on the process. */
	fprintf(stderr, "store_scale: could start only %d of %d threads\n", started, n);
	exit(1);
}

/* One rendezvous of n clients on a fresh server.  Returns 0 with *out
 * filled, or -1 after printing why it failed. */
static int rendezvous(int n, struct result *out)
{
	struct run r = { .clients = n, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct lt_err err = { 0 };
	pthread_t *threads = calloc((size_t)n, sizeof(*threads));
	char hex[LT_STORE_TOKEN_HEX];
	long rss0, hwm, overflows0 = listen_overflows();
	int stop_fd, rc = -1;
	double t0;
	pid_t pid;

	if (!threads || lt_store_token_new(hex, &err) ||
	    lt_store_token_parse(hex, "the bench token", r.token, &err)) {
		fprintf(stderr, "store_scale: %s\n", threads ? err.msg : "out of memory");
		free(threads);
		return -1;
	}
	pid = start_server(r.token, &r.port, &stop_fd);
	if (pid < 0) {
		fprintf(stderr, "store_scale: cannot start the store's process\n");
		free(threads);
		return -1;
	}
	rss0 = status_kib(pid, "VmRSS:");
	pthread_barrier_init(&r.go, NULL, (unsigned)n + 1);
	start_clients(&r, threads, n);
	t0 = lt_now_s();
	pthread_barrier_wait(&r.go);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	out->seconds = atomic_load(&r.last_done) - t0;
	hwm = status_kib(pid, "VmHWM:");
	out->overflows = listen_overflows() - overflows0;
	out->kib_per_conn = rss0 < 0 || hwm < 0 ? -1 : (double)(hwm - rss0) / n;
	if (atomic_load(&r.failures))
		fprintf(stderr, "store_scale: %d of %d clients failed; the first: %s\n",
			atomic_load(&r.failures), n, r.first_error.msg);
	else
		rc = 0;
	pthread_barrier_destroy(&r.go);
	close(stop_fd);
	waitpid(pid, NULL, 0);
	free(threads);
	return rc;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Runs reps rendezvous of n clients and prints the row.  Returns 0, or -1
 * when one failed. */
static int measure(long n, long reps, long fds)
{
	double t[1000], kib[1000];
	struct result res;
	long overflows = 0;

	if (n + SPARE_FDS > fds) {
		printf("%-8ld not run: needs %ld descriptors a side, and the limit is %ld (raise the hard limit: ulimit -Hn %ld, as root, or LimitNOFILE=)\n",
		       n, n + SPARE_FDS, fds, n + SPARE_FDS);
		return 0;
	}
	for (long i = 0; i < reps; i++) {
		if (rendezvous((int)n, &res))
			return -1;
		t[i] = res.seconds;
		kib[i] = res.kib_per_conn;
		overflows += res.overflows;
	}
	qsort(t, (size_t)reps, sizeof(t[0]), by_value);
	qsort(kib, (size_t)reps, sizeof(kib[0]), by_value);
	printf("%-8ld %.3f [%.3f-%.3f]      %-15.1f %ld\n", n, t[(reps - 1) / 2], t[0],
	       t[reps - 1], kib[(reps - 1) / 2], overflows);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const default_sizes[] = { "1024", "4096", "16384" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : default_sizes;
	int nsizes = argc > 1 ? argc - 1 : 3;
	const char *reps_text = getenv("BENCH_REPS"), *hosts_text = getenv("BENCH_STORE_HOSTS");
	long reps = 5, n, fds = raise_fd_limit();

	if (reps_text && lt_parse_long(reps_text, 1, 1000, &reps)) {
		fprintf(stderr, "store_scale: BENCH_REPS='%s' is not a number of runs from 1 to 1000\n",
			reps_text);
		return 2;
	}
	if (hosts_text && lt_parse_long(hosts_text, 1, 254, &hosts)) {
		fprintf(stderr,
			"store_scale: BENCH_STORE_HOSTS='%s' is not a number of loopback addresses from 1 to 254\n",
			hosts_text);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("clients meeting at the store (connect, add, wait): seconds, median [min-max] of %ld runs;\n"
	       "server memory per connection: its VmHWM less its VmRSS before the clients, / clients, median;\n"
	       "listen overflows: handshakes dropped by a full listen queue in all the runs (each costs its client 1 s or more);\n"
	       "the clients connect to %ld loopback address%s (BENCH_STORE_HOSTS)\n",
	       reps, hosts, hosts == 1 ? " (127.0.0.1)" : "es (127.0.0.1 on)");
	printf("%-8s %-24s %-15s %s\n", "clients", "rendezvous (s)", "KiB/connection",
	       "listen overflows");
	for (int s = 0; s < nsizes; s++) {
		if (lt_parse_long(sizes[s], 1, 65536, &n)) {
			fprintf(stderr, "store_scale: '%s' is not a number of clients from 1 to 65536\n",
				sizes[s]);
			return 2;
		}
		if (measure(n, reps, fds))
			return 1;
	}
	return 0;
}
