/*
 * ssh.c - a job on the hosts of a --hostfile from one command (ssh.h).
 *
 * Each used host runs `ssh HOST 'cd DIR && exec env LTRUN_SSH_STDIN=1
 * ltrun ARGS...'`: the node's agent, with the job's environment written
 * on ssh's stdin (the store token never shows on a command line) and its
 * node's settings among it (--num-nodes, --node-rank, --main-addr,
 * --main-port, --devices as LTRUN_* variables).  The first used host is
 * node 0 and hosts the store, as in deepspeed --hostfile.
 *
 * While the job runs this process relays every host's output line by
 * line, writes each signal it gets on every ssh's stdin (remote.c passes
 * it on to the ranks), and on the first host that fails (ssh's own
 * failure, exit 255, or its agent's) closes the others' stdin, which
 * stops their ranks.  If this process dies, its pipes close the same way.
 */
#include "launch/ssh.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/contract.h"
#include "core/io.h"
#include "core/parse.h"
#include "core/signals.h"
#include "launch/hostfile.h"
#include "launch/remote.h"
#include "rdzv/store.h"

extern char **environ;

#define SSH_DEFAULT_PORT 29500  /* torchrun's, as the bare environment's */
#define SSH_LINE_MAX 8192       /* a longer line is relayed in pieces */
#define SSH_CONNECT_TIMEOUT_S 30
#define SSH_MAX_WORDS 64        /* in --launcher-cmd */
#define SSH_KEEP_ERR 3          /* stderr lines kept per host for the report */

/* The variables that are the launcher's alone, or set per host below. */
static const char *const not_sent[] = {
	"LTRUN_HOSTFILE", "LTRUN_INCLUDE", "LTRUN_EXCLUDE", "LTRUN_LAUNCHER_CMD", "LTRUN_EXPORT",
	"LTRUN_NUM_NODES", "LTRUN_NODE_RANK", "LTRUN_MAIN_ADDR", "LTRUN_MAIN_PORT",
	"LTRUN_DEVICES", LT_ENV_STORE_TOKEN, LT_ENV_SSH_STDIN, LT_ENV_SSH_HOST, LT_ENV_RANK_ENTRY,
};

struct stream {
	int fd;            /* -1 once at its end */
	int to;            /* 1 or 2 */
	char buf[SSH_LINE_MAX];
	size_t n;
};

struct node {
	const struct lt_host *host;
	int rank;          /* node rank */
	pid_t pid;         /* ssh; 0 once reaped */
	int in;            /* ssh's stdin; -1 once closed */
	struct stream out, err;
	char last_err[SSH_KEEP_ERR][256]; /* ring of stderr lines */
	int nerr;
	int status;        /* exit status, once reaped */
};

struct job {
	const struct lt_config *cfg;
	struct lt_hostfile hf;
	struct node *nodes;
	int n;               /* used hosts */
	int slots;           /* ranks a host */
	char main_addr[LT_HOST_NAME_MAX];
	int main_port;
	char token[LT_STORE_TOKEN_HEX];
	char *words[SSH_MAX_WORDS + 8]; /* the launcher command, split */
	int nwords;
	bool is_ssh;         /* the command is OpenSSH's client */
	char *wordbuf;
	char *remote;        /* the command line the host's shell runs */
	struct lt_buf env;   /* the records every host gets, less its own */
};

/* ----------------------------------------------------------- the hosts */

static int same_slots(struct job *j, struct lt_err *err)
{
	const struct lt_host *first = NULL;

	for (int i = 0; i < j->hf.n; i++) {
		const struct lt_host *h = &j->hf.hosts[i];
		if (!h->nused)
			continue;
		if (!first) {
			first = h;
			continue;
		}
		if (h->nused != first->nused)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "hostfile '%s': host %s (line %d) gets %d rank%s and %s (line %d) %d: ltrun runs the same number of ranks on every host; give them the same slots=, or pick slots with --include",
					  j->hf.path, first->name, first->line, first->nused,
					  first->nused == 1 ? "" : "s", h->name, h->line, h->nused);
	}
	j->slots = first->nused;
	return 0;
}

static int resolve_hosts(struct job *j, struct lt_err *err)
{
	for (int i = 0; i < j->n; i++) {
		const struct lt_host *h = j->nodes[i].host;
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
		int rc = getaddrinfo(h->name, NULL, &hints, &ai);

		if (rc)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "hostfile '%s' line %d: unknown host '%s': %s (fix the name, or give its address)",
					  j->hf.path, h->line, h->name, gai_strerror(rc));
		freeaddrinfo(ai);
	}
	return 0;
}

static int main_port(const struct lt_config *cfg, struct lt_err *err)
{
	const char *env = getenv("MASTER_PORT");
	long port;

	if (cfg->source[LT_OPT_MAIN_PORT] != LT_SRC_DEFAULT && cfg->main_port > 0)
		return cfg->main_port;
	if (env && *env) {
		if (lt_parse_long(env, 1, 65535, &port))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "MASTER_PORT '%.32s' is not a port from 1 to 65535", env);
		return (int)port;
	}
	return SSH_DEFAULT_PORT;
}

/* --num-nodes, --node-rank and --devices come from the hostfile. */
static int check_options(const struct lt_config *cfg, struct lt_err *err)
{
	static const struct {
		enum lt_opt_id id;
		const char *instead;
	} owned[] = {
		{ LT_OPT_NUM_NODES, "list the hosts in the hostfile, or leave some out with --exclude" },
		{ LT_OPT_NODE_RANK, "the hostfile's order gives every host its node rank" },
		{ LT_OPT_DEVICES, "give the ranks of a host with slots= in the hostfile, or pick slots with --include" },
	};

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (cfg->source[owned[i].id] != LT_SRC_DEFAULT)
			return lt_err_set(err, LT_EXIT_USAGE, "%s cannot go with --hostfile: %s",
					  cfg->source_name[owned[i].id], owned[i].instead);
	return 0;
}

/* ------------------------------------------------------ the command */

/* Splits --launcher-cmd on blanks; '...' and "..." group words. */
static int split_command(struct job *j, struct lt_err *err)
{
	const char *s = j->cfg->launcher_cmd;
	char *w, *base;

	j->wordbuf = w = malloc(strlen(s) + 1);
	if (!w)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	while (*s) {
		char quote = 0;
		if (*s == ' ' || *s == '\t') {
			s++;
			continue;
		}
		if (j->nwords == SSH_MAX_WORDS)
			return lt_err_set(err, LT_EXIT_USAGE, "%s has over %d words",
					  j->cfg->source_name[LT_OPT_LAUNCHER_CMD], SSH_MAX_WORDS);
		j->words[j->nwords++] = w;
		for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
			if (!quote && (*s == '\'' || *s == '"'))
				quote = *s;
			else if (quote && *s == quote)
				quote = 0;
			else
				*w++ = *s;
		}
		if (quote)
			return lt_err_set(err, LT_EXIT_USAGE, "%s: a %c quote is not closed",
					  j->cfg->source_name[LT_OPT_LAUNCHER_CMD], quote);
		*w++ = '\0';
	}
	if (!j->nwords)
		return lt_err_set(err, LT_EXIT_USAGE, "%s is empty: give the ssh command, as 'ssh -p 2222'",
				  j->cfg->source_name[LT_OPT_LAUNCHER_CMD]);
	base = strrchr(j->words[0], '/');
	j->is_ssh = !strcmp(base ? base + 1 : j->words[0], "ssh");
	if (j->is_ssh) {
		/* after the user's words: ssh keeps the first value of an option */
		static char batch[] = "BatchMode=yes", connect[32], o[] = "-o", o2[] = "-o";
		snprintf(connect, sizeof(connect), "ConnectTimeout=%d", SSH_CONNECT_TIMEOUT_S);
		j->words[j->nwords++] = o;
		j->words[j->nwords++] = batch;
		j->words[j->nwords++] = o2;
		j->words[j->nwords++] = connect;
	}
	return 0;
}

static int quote_into(struct lt_buf *b, const char *s)
{
	if (lt_buf_append(b, "'", 1))
		return -1;
	for (; *s; s++)
		if (*s == '\'' ? lt_buf_append(b, "'\\''", 4) : lt_buf_append(b, s, 1))
			return -1;
	return lt_buf_append(b, "'", 1);
}

/* "cd 'DIR' && exec env LTRUN_SSH_STDIN=1 'LTRUN' 'ARG'..." */
static int remote_command(struct job *j, int argc, char **argv, struct lt_err *err)
{
	char self[PATH_MAX], cwd[PATH_MAX];
	struct lt_buf b = { 0 };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int bad = 0;

	if (n <= 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot find ltrun's own path: %s", strerror(errno));
	self[n] = '\0';
	if (!getcwd(cwd, sizeof(cwd)))
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read the working directory: %s", strerror(errno));
	bad |= lt_buf_append(&b, "cd ", 3) || quote_into(&b, cwd);
	bad |= lt_buf_printf(&b, " && exec env %s=1 ", LT_ENV_SSH_STDIN) || quote_into(&b, self);
	for (int i = 1; i < argc && !bad; i++)
		bad |= lt_buf_append(&b, " ", 1) || quote_into(&b, argv[i]);
	if (bad) {
		lt_buf_free(&b);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	j->remote = lt_buf_detach(&b);
	return 0;
}

/* ------------------------------------------------------ the environment */

static int add_record(struct lt_buf *b, const char *name, size_t nlen, const char *value)
{
	return lt_buf_append(b, name, nlen) || lt_buf_append(b, "=", 1) ||
	       lt_buf_append(b, value, strlen(value) + 1);
}

static bool is_sent(const char *var, size_t nlen)
{
	if (nlen < 6 || strncmp(var, "LTRUN_", 6))
		return false;
	for (size_t i = 0; i < sizeof(not_sent) / sizeof(not_sent[0]); i++)
		if (strlen(not_sent[i]) == nlen && !strncmp(var, not_sent[i], nlen))
			return false;
	return true;
}

/* --export "NAME[=VALUE],...": this shell's value, or the one given. */
static int add_exports(struct job *j, struct lt_err *err)
{
	const char *s = j->cfg->export_vars;
	const char *where = j->cfg->source_name[LT_OPT_EXPORT];

	while (s && *s) {
		size_t len = strcspn(s, ","), nlen = strcspn(s, "=,");
		char name[256], q[LT_QUOTE_MAX];
		const char *value;
		char *given = NULL;

		snprintf(name, sizeof(name), "%.*s", (int)(nlen < 255 ? nlen : 255), s);
		if (!nlen || nlen > 255 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != nlen ||
		    (name[0] >= '0' && name[0] <= '9'))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "%s: '%s' is not a variable's name: give NAME or NAME=VALUE, separated by commas",
					  where, lt_quote(q, sizeof(q), name));
		if (nlen < len) {
			given = strndup(s + nlen + 1, len - nlen - 1);
			if (!given)
				return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
			value = given;
		} else {
			value = getenv(name);
			if (!value)
				return lt_err_set(err, LT_EXIT_USAGE,
						  "%s: %s is not set here: set it, or give %s=VALUE", where, name, name);
		}
		if (add_record(&j->env, name, nlen, value)) {
			free(given);
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		}
		free(given);
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int common_env(struct job *j, struct lt_err *err)
{
	const char *given = getenv(LT_ENV_STORE_TOKEN);

	for (char **e = environ; *e; e++) {
		size_t nlen = strcspn(*e, "=");
		if ((*e)[nlen] == '=' && is_sent(*e, nlen) && add_record(&j->env, *e, nlen, *e + nlen + 1))
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	if (add_exports(j, err))
		return -1;
	/* A fresh token for the job, unless the user gave one. */
	if (given && *given)
		snprintf(j->token, sizeof(j->token), "%s", given);
	else if (lt_store_token_new(j->token, err))
		return -1;
	if (j->cfg->source[LT_OPT_CLUSTER] == LT_SRC_DEFAULT &&
	    add_record(&j->env, "LTRUN_CLUSTER", 13, "lightning"))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	return 0;
}

/* The slots as CUDA_VISIBLE_DEVICES lists them, when they are not the
 * first nused (deepspeed --include does the same). */
static void slot_list(const struct lt_host *h, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < h->nused && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", h->used[i]);
}

static bool first_slots(const struct lt_host *h)
{
	for (int i = 0; i < h->nused; i++)
		if (h->used[i] != i)
			return false;
	return true;
}

/* The common records, then this node's, then the end. */
static int node_env(const struct job *j, const struct node *nd, struct lt_buf *b)
{
	char num[32], slots[LT_HOSTFILE_MAX_SLOTS * 6];
	int bad = lt_buf_append(b, j->env.data, j->env.len);

	bad |= add_record(b, LT_ENV_SSH_HOST, strlen(LT_ENV_SSH_HOST), nd->host->name);
	snprintf(num, sizeof(num), "%d", j->n);
	bad |= add_record(b, "LTRUN_NUM_NODES", 15, num);
	snprintf(num, sizeof(num), "%d", nd->rank);
	bad |= add_record(b, "LTRUN_NODE_RANK", 15, num);
	bad |= add_record(b, "LTRUN_MAIN_ADDR", 15, j->main_addr);
	snprintf(num, sizeof(num), "%d", j->main_port);
	bad |= add_record(b, "LTRUN_MAIN_PORT", 15, num);
	snprintf(num, sizeof(num), "%d", j->slots);
	bad |= add_record(b, "LTRUN_DEVICES", 13, num);
	bad |= add_record(b, LT_ENV_STORE_TOKEN, strlen(LT_ENV_STORE_TOKEN), j->token);
	if (!first_slots(nd->host)) {
		slot_list(nd->host, slots, sizeof(slots));
		bad |= add_record(b, "CUDA_VISIBLE_DEVICES", 20, slots);
	}
	bad |= lt_buf_append(b, "", 1);
	return bad ? -1 : 0;
}

/* ------------------------------------------------------------- setup */

static void job_free(struct job *j)
{
	for (int i = 0; i < j->n; i++) {
		struct node *nd = &j->nodes[i];
		if (nd->in >= 0)
			close(nd->in);
		if (nd->out.fd >= 0)
			close(nd->out.fd);
		if (nd->err.fd >= 0)
			close(nd->err.fd);
	}
	free(j->nodes);
	free(j->wordbuf);
	free(j->remote);
	lt_buf_free(&j->env);
	lt_hostfile_free(&j->hf);
}

static int job_make(struct job *j, const struct lt_config *cfg, int argc, char **argv,
		    struct lt_err *err)
{
	memset(j, 0, sizeof(*j));
	j->cfg = cfg;
	if (check_options(cfg, err) || lt_hostfile_load(cfg->hostfile, &j->hf, err) ||
	    lt_hostfile_filter(&j->hf, cfg->include, cfg->exclude, err) || same_slots(j, err))
		return -1;
	j->nodes = calloc((size_t)j->hf.n, sizeof(*j->nodes));
	if (!j->nodes)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < j->hf.n; i++) {
		struct node *nd;
		if (!j->hf.hosts[i].nused)
			continue;
		nd = &j->nodes[j->n];
		nd->host = &j->hf.hosts[i];
		nd->rank = j->n++;
		nd->in = nd->out.fd = nd->err.fd = -1;
		nd->out.to = 1;
		nd->err.to = 2;
	}
	if (resolve_hosts(j, err))
		return -1;
	snprintf(j->main_addr, sizeof(j->main_addr), "%s",
		 cfg->main_addr ? cfg->main_addr : j->nodes[0].host->name);
	j->main_port = main_port(cfg, err);
	if (j->main_port < 0 || split_command(j, err) || remote_command(j, argc, argv, err) ||
	    common_env(j, err))
		return -1;
	return 0;
}

/* ------------------------------------------------------------- output */

static void keep_err_line(struct node *nd, const char *line, size_t n)
{
	char *slot;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (!n)
		return;
	slot = nd->last_err[nd->nerr++ % SSH_KEEP_ERR];
	snprintf(slot, sizeof(nd->last_err[0]), "%.*s", (int)n, line);
}

/* One line to fd `to`, in one write: a rank's as it is ("[rank N] ..."),
 * anything else (ssh's, the host's agent's) after "[host NAME] ". */
static void emit(const struct node *nd, int to, const char *line, size_t n)
{
	char buf[SSH_LINE_MAX + LT_HOST_NAME_MAX + 16];
	size_t at = 0;

	if (n < 6 || memcmp(line, "[rank ", 6))
		at = (size_t)snprintf(buf, sizeof(buf), "[host %s] ", nd->host->name);
	memcpy(buf + at, line, n);
	at += n;
	if (buf[at - 1] != '\n')
		buf[at++] = '\n';
	(void)lt_write_all(to, buf, at);
}

static void relay(struct node *nd, struct stream *s)
{
	ssize_t got = read(s->fd, s->buf + s->n, sizeof(s->buf) - s->n);
	size_t start = 0;

	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) { /* the end: what is left, as a line */
		if (s->n) {
			if (s->to == 2)
				keep_err_line(nd, s->buf, s->n);
			emit(nd, s->to, s->buf, s->n);
		}
		s->n = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	s->n += (size_t)got;
	for (size_t i = 0; i < s->n; i++)
		if (s->buf[i] == '\n') {
			if (s->to == 2)
				keep_err_line(nd, s->buf + start, i + 1 - start);
			emit(nd, s->to, s->buf + start, i + 1 - start);
			start = i + 1;
		}
	if (start == 0 && s->n == sizeof(s->buf)) { /* a line too long: a piece */
		emit(nd, s->to, s->buf, s->n);
		start = s->n;
	}
	memmove(s->buf, s->buf + start, s->n - start);
	s->n -= start;
}

/* -------------------------------------------------------------- start */

static int start_node(struct job *j, struct node *nd, struct lt_err *err)
{
	int in[2], out[2], er[2];
	char *argv[SSH_MAX_WORDS + 12];
	struct lt_buf env = { 0 };
	int k = 0;

	for (int i = 0; i < j->nwords; i++)
		argv[k++] = j->words[i];
	argv[k++] = (char *)nd->host->name;
	argv[k++] = j->remote;
	argv[k] = NULL;
	if (node_env(j, nd, &env))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (pipe2(in, O_CLOEXEC)) {
		lt_buf_free(&env);
		return lt_err_set(err, LT_EXIT_FAILURE, "pipe: %s", strerror(errno));
	}
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		lt_buf_free(&env);
		return lt_err_set(err, LT_EXIT_FAILURE, "pipe: %s", strerror(errno));
	}
	if (pipe2(er, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		lt_buf_free(&env);
		return lt_err_set(err, LT_EXIT_FAILURE, "pipe: %s", strerror(errno));
	}
	nd->pid = fork();
	if (nd->pid == 0) {
		sigset_t none;
		/* Its own process group: a terminal's ctrl-C reaches this
		 * process, which passes it on, and not ssh, which would drop
		 * the connection. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(er[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(255);
	}
	close(in[0]);
	close(out[1]);
	close(er[1]);
	if (nd->pid < 0) {
		close(in[1]);
		close(out[0]);
		close(er[0]);
		lt_buf_free(&env);
		return lt_err_set(err, LT_EXIT_FAILURE, "fork: %s", strerror(errno));
	}
	nd->in = in[1];
	nd->out.fd = out[0];
	nd->err.fd = er[0];
	/* ssh may be gone already: its failure shows when it is reaped. */
	(void)lt_write_all(nd->in, env.data, env.len);
	lt_buf_free(&env);
	return 0;
}

/* ---------------------------------------------------------- supervise */

struct run {
	struct job *j;
	int sigfd;
	int live;            /* ssh processes not reaped */
	int failed;          /* the first node that failed, or -1 */
	int stop_signal;     /* the first stopping signal, or 0 */
	int stops;           /* stopping signals received */
	bool closing;        /* stdins closed: the hosts stop their ranks */
	double kill_at;      /* when to SIGKILL the ssh processes, or 0 */
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Closing a host's stdin stops its ranks (remote.c). */
static void close_all(struct run *r)
{
	if (!r->closing)
		r->kill_at = now_s() + r->j->cfg->term_timeout + 30;
	r->closing = true;
	for (int i = 0; i < r->j->n; i++)
		if (r->j->nodes[i].in >= 0) {
			close(r->j->nodes[i].in);
			r->j->nodes[i].in = -1;
		}
}

static void send_signal(struct run *r, int sig)
{
	unsigned char b = (unsigned char)sig;

	for (int i = 0; i < r->j->n; i++)
		if (r->j->nodes[i].in >= 0 && write(r->j->nodes[i].in, &b, 1) < 0) {
			/* the host's ssh is gone: reaped soon */
		}
}

static void report(struct run *r, int i)
{
	const struct node *nd = &r->j->nodes[i];
	int others = 0;

	for (int k = 0; k < r->j->n; k++)
		others += k != i && r->j->nodes[k].pid;
	if (nd->status == 255) {
		const char *msg = nd->nerr ? nd->last_err[(nd->nerr - 1) % SSH_KEEP_ERR]
					   : "no message";
		fprintf(stderr, "ltrun: host %s (hostfile '%s' line %d, node %d): %s failed: %s%s\n",
			nd->host->name, r->j->hf.path, nd->host->line, nd->rank, r->j->words[0], msg,
			others ? "; stopping the other hosts" : "");
	} else {
		fprintf(stderr, "ltrun: host %s (node %d) failed, exit %d%s\n", nd->host->name,
			nd->rank, nd->status, others ? "; stopping the other hosts" : "");
	}
	fflush(stderr);
}

static void reap(struct run *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < r->j->n; i++) {
			struct node *nd = &r->j->nodes[i];
			if (nd->pid != pid)
				continue;
			nd->pid = 0;
			r->live--;
			nd->status = WIFEXITED(status) ? WEXITSTATUS(status)
				     : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			/* its last output first */
			while (nd->out.fd >= 0)
				relay(nd, &nd->out);
			while (nd->err.fd >= 0)
				relay(nd, &nd->err);
			if (nd->in >= 0) {
				close(nd->in);
				nd->in = -1;
			}
			if (nd->status && r->failed < 0 && !r->stop_signal && !r->closing) {
				r->failed = i;
				report(r, i);
				close_all(r);
			}
		}
	}
}

static void on_signal(struct run *r)
{
	struct signalfd_siginfo si;
	int sig;

	if (read(r->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	sig = (int)si.ssi_signo;
	if (sig == SIGCHLD)
		return reap(r);
	if (sig == SIGUSR1 || sig == SIGUSR2)
		return send_signal(r, sig);
	/* INT, TERM, HUP, QUIT: pass the first on; a second stops the hosts
	 * now; a third kills ssh. */
	if (!r->stop_signal)
		r->stop_signal = sig;
	if (++r->stops == 1) {
		send_signal(r, sig);
	} else if (r->stops == 2) {
		fprintf(stderr, "ltrun: second signal: stopping every host now\n");
		close_all(r);
	} else {
		for (int i = 0; i < r->j->n; i++)
			if (r->j->nodes[i].pid)
				kill(r->j->nodes[i].pid, SIGKILL);
	}
}

static void supervise(struct run *r)
{
	struct pollfd *p = calloc((size_t)(2 * r->j->n + 1), sizeof(*p));

	while (r->live > 0) {
		int n = 0;

		if (!p) { /* no memory for poll: wait the hard way */
			pause();
			continue;
		}
		p[n++] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
		for (int i = 0; i < r->j->n; i++) {
			p[n++] = (struct pollfd){ .fd = r->j->nodes[i].out.fd, .events = POLLIN };
			p[n++] = (struct pollfd){ .fd = r->j->nodes[i].err.fd, .events = POLLIN };
		}
		if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < r->j->n; i++) {
			struct node *nd = &r->j->nodes[i];
			if (p[1 + 2 * i].revents && nd->out.fd >= 0)
				relay(nd, &nd->out);
			if (p[2 + 2 * i].revents && nd->err.fd >= 0)
				relay(nd, &nd->err);
		}
		if (p[0].revents & POLLIN)
			on_signal(r);
		reap(r);
		if (r->kill_at && now_s() >= r->kill_at) {
			fprintf(stderr, "ltrun: %d host%s did not stop in %d s: killing ssh\n", r->live,
				r->live == 1 ? "" : "s", r->j->cfg->term_timeout + 30);
			for (int i = 0; i < r->j->n; i++)
				if (r->j->nodes[i].pid)
					kill(r->j->nodes[i].pid, SIGKILL);
			r->kill_at = 0;
		}
	}
	free(p);
}

static int exit_status(const struct run *r)
{
	bool all_stopped = true;

	if (r->failed >= 0)
		return r->j->nodes[r->failed].status;
	for (int i = 0; i < r->j->n; i++)
		all_stopped &= r->j->nodes[i].status == LT_EXIT_STOPPED;
	if (r->stop_signal)
		return all_stopped ? LT_EXIT_STOPPED : 128 + r->stop_signal;
	for (int i = 0; i < r->j->n; i++)
		if (r->j->nodes[i].status)
			return r->j->nodes[i].status;
	return 0;
}

int lt_ssh_launch(const struct lt_config *cfg, int argc, char **argv, struct lt_err *err)
{
	struct job j;
	struct run r = { .j = &j, .failed = -1, .sigfd = -1 };
	sigset_t set, old;
	int status;

	if (job_make(&j, cfg, argc, argv, err)) {
		job_free(&j);
		return -1;
	}
	sigemptyset(&set);
	for (int s = 0, sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	     s < 7; s++)
		sigaddset(&set, sigs[s]);
	sigprocmask(SIG_BLOCK, &set, &old);
	r.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (r.sigfd < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		job_free(&j);
		return lt_err_set(err, LT_EXIT_FAILURE, "signalfd: %s", strerror(errno));
	}
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "ltrun: starting %d host%s of '%s' over %s: %d rank%s, node 0 at %s:%d\n",
		j.n, j.n == 1 ? "" : "s", j.hf.path, j.words[0], j.n * j.slots,
		j.n * j.slots == 1 ? "" : "s", j.main_addr, j.main_port);
	fflush(stderr);
	for (int i = 0; i < j.n; i++) {
		if (start_node(&j, &j.nodes[i], err)) {
			fprintf(stderr, "ltrun: %s\n", err->msg);
			close_all(&r);
			break;
		}
		r.live++;
	}
	supervise(&r);
	status = exit_status(&r);
	if (r.stop_signal && r.failed < 0) {
		char name[16];
		fprintf(stderr, "ltrun: stopped by %s: passed it on to every host\n",
			lt_signal_name(r.stop_signal, name));
	}
	close(r.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	job_free(&j);
	return status;
}

/* ------------------------------------------------------------ dry run */

int lt_ssh_dry_run(const struct lt_config *cfg, int argc, char **argv, FILE *out,
		   struct lt_err *err)
{
	struct job j;

	if (job_make(&j, cfg, argc, argv, err)) {
		job_free(&j);
		return -1;
	}
	if (cfg->json) {
		cJSON *root = cJSON_CreateObject(), *hosts = cJSON_AddArrayToObject(root, "hosts");
		cJSON *cmd = cJSON_AddArrayToObject(root, "command");
		char *text;

		cJSON_AddStringToObject(root, "hostfile", j.hf.path);
		cJSON_AddStringToObject(root, "main_addr", j.main_addr);
		cJSON_AddNumberToObject(root, "main_port", j.main_port);
		cJSON_AddNumberToObject(root, "num_nodes", j.n);
		cJSON_AddNumberToObject(root, "ranks_per_node", j.slots);
		cJSON_AddNumberToObject(root, "world_size", j.n * j.slots);
		for (int i = 0; i < j.nwords; i++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(j.words[i]));
		cJSON_AddStringToObject(root, "remote_command", j.remote);
		for (int i = 0; i < j.n; i++) {
			const struct node *nd = &j.nodes[i];
			cJSON *h = cJSON_CreateObject(), *slots = cJSON_AddArrayToObject(h, "slots");
			cJSON_AddStringToObject(h, "host", nd->host->name);
			cJSON_AddNumberToObject(h, "line", nd->host->line);
			cJSON_AddNumberToObject(h, "node_rank", nd->rank);
			cJSON_AddNumberToObject(h, "first_rank", nd->rank * j.slots);
			for (int s = 0; s < nd->host->nused; s++)
				cJSON_AddItemToArray(slots, cJSON_CreateNumber(nd->host->used[s]));
			cJSON_AddItemToArray(hosts, h);
		}
		text = cJSON_Print(root);
		if (text)
			fprintf(out, "%s\n", text);
		free(text);
		cJSON_Delete(root);
	} else {
		char slots[LT_HOSTFILE_MAX_SLOTS * 6];
		fprintf(out, "launch: over %s to %d host%s of hostfile '%s' (%d rank%s, %d a host); node 0 at %s:%d hosts the store\n",
			j.words[0], j.n, j.n == 1 ? "" : "s", j.hf.path, j.n * j.slots,
			j.n * j.slots == 1 ? "" : "s", j.slots, j.main_addr, j.main_port);
		for (int i = 0; i < j.n; i++) {
			const struct node *nd = &j.nodes[i];
			slot_list(nd->host, slots, sizeof(slots));
			fprintf(out, "  node %d: %s (line %d), ranks %d-%d, slots %s\n", nd->rank,
				nd->host->name, nd->host->line, nd->rank * j.slots,
				(nd->rank + 1) * j.slots - 1, slots);
		}
		fprintf(out, "command:");
		for (int i = 0; i < j.nwords; i++)
			fprintf(out, " %s", j.words[i]);
		fprintf(out, " HOST %s\n", j.remote);
		fprintf(out, "environment: on ssh's stdin, never on a command line: the job's store token, LTRUN_NUM_NODES, LTRUN_NODE_RANK, LTRUN_MAIN_ADDR, LTRUN_MAIN_PORT, LTRUN_DEVICES, this shell's LTRUN_* variables%s",
			cfg->export_vars ? ", and --export's" : "");
		/* the names only: a given VALUE may be a secret */
		for (const char *e = cfg->export_vars; e && *e;) {
			size_t len = strcspn(e, ","), nlen = strcspn(e, "=,");
			fprintf(out, " %.*s", (int)nlen, e);
			e += len + (e[len] == ',');
		}
		fputc('\n', out);
		fprintf(out, "cpu binding: planned by each host's agent on its own cores (--cpu-bind %s)\n",
			cfg->cpu_bind);
	}
	job_free(&j);
	return 0;
}
