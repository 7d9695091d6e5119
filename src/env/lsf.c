/*
 * lsf.c - the `lsf` cluster environment (IBM Spectrum LSF, as on Summit).
 *
 * The job's hosts come from LSB_DJOB_RANKFILE (a file, one host per line,
 * repeated once per slot), else LSB_MCPU_HOSTS ("hostA 1 hostB 4": name and
 * slot count pairs), else LSB_HOSTS ("hostA hostB hostB": one name per
 * slot).  Two cases:
 *
 *  - under jsrun (JSM_NAMESPACE_RANK, _SIZE and _LOCAL_RANK set): jsrun
 *    created the ranks; ltrun adopts this one.
 *  - a bsub script: ltrun creates the ranks itself, one node per compute
 *    host, this node found by its host name: an entry equal to the whole
 *    name, else the one whose short name (up to the first '.') is this
 *    host's; IP addresses are compared whole.
 *
 * The main address is the first compute host, the main port is derived
 * from LSB_JOBID, so every node agrees without talking.
 */
#include "core/buf.h"
#include "env/env.h"
#include "core/error.h"
#include "core/parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LSF_MAX_FILE (1L << 20) /* bytes of LSB_DJOB_RANKFILE */
#define LSF_MAX_HOSTS 65536L    /* lines, names or pairs */
#define LSF_MAX_SLOTS 65536L    /* slots of one LSB_MCPU_HOSTS pair */
#define LSF_MAX_RANKS (1L << 24)

/* One host and its slots; after lsf_nodes() one node. */
struct lsf_host {
	const char *name; /* points into lsf_hosts.buf */
	long slots;
	size_t order;     /* position in the list, to keep first appearances */
};

/* The job's hosts, parsed from `source`, which is described in `from`. */
struct lsf_hosts {
	char *buf;              /* owned: the text, cut into names in place */
	struct lsf_host *v;     /* owned */
	size_t n, cap;
	const char *source;     /* the variable it came from */
	char from[320];         /* "LSB_MCPU_HOSTS='...'", for messages */
};

/* --- building the host list --- */

static void hosts_free(struct lsf_hosts *h)
{
	free(h->buf);
	free(h->v);
	h->buf = NULL;
	h->v = NULL;
	h->n = h->cap = 0;
}

/* Appends name with slots, merging it into the previous entry when that is
 * the same host (consecutive lines of a rankfile, names in LSB_HOSTS). */
static int hosts_push(struct lsf_hosts *h, const char *name, long slots,
		      struct lt_err *err)
{
	char q[LT_QUOTE_MAX];

	if (!lt_valid_host(name))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid host name '%s' in %s: expected a host name or address",
				  lt_quote(q, sizeof(q), name), h->from);
	if (h->n && !strcmp(h->v[h->n - 1].name, name)) {
		h->v[h->n - 1].slots += slots;
		return 0;
	}
	if (h->n == (size_t)LSF_MAX_HOSTS)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s lists more than %ld hosts",
				  h->from, LSF_MAX_HOSTS);
	if (LT_ARRAY_RESERVE(h->v, h->cap, h->n + 1))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading %s", h->from);
	h->v[h->n] = (struct lsf_host){ .name = name, .slots = slots, .order = h->n };
	h->n++;
	return 0;
}

/* Reads the rankfile into h->buf, at most LSF_MAX_FILE bytes. */
static int read_rankfile(struct lsf_hosts *h, const char *path, struct lt_err *err)
{
	FILE *f = fopen(path, "r");
	size_t len;
	int rc = -1;

	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot open %s: %s", h->from,
				  strerror(errno));
	h->buf = malloc(LSF_MAX_FILE + 1);
	if (!h->buf) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading %s", h->from);
		goto out_close;
	}
	len = fread(h->buf, 1, LSF_MAX_FILE + 1, f);
	if (ferror(f)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot read %s: %s", h->from,
			   strerror(errno));
		goto out_close;
	}
	if (len > LSF_MAX_FILE) {
		lt_err_set(err, LT_EXIT_FAILURE, "%s is larger than %ld bytes", h->from,
			   LSF_MAX_FILE);
		goto out_close;
	}
	h->buf[len] = '\0';
	if (strlen(h->buf) != len) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "%s holds a NUL byte: expected one host name per line",
			   h->from);
		goto out_close;
	}
	rc = 0;
out_close:
	fclose(f);
	return rc;
}

/* A rankfile: one host per line; blank lines and trailing blanks ignored. */
static int parse_lines(struct lsf_hosts *h, struct lt_err *err)
{
	char *line, *save = NULL, *end;
	long lines = 0;

	for (line = strtok_r(h->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (++lines > LSF_MAX_HOSTS)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "%s has more than %ld lines", h->from,
					  LSF_MAX_HOSTS);
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line && hosts_push(h, line, 1, err))
			return -1;
	}
	return 0;
}

/* LSB_HOSTS: one name per slot, separated by blanks. */
static int parse_words(struct lsf_hosts *h, struct lt_err *err)
{
	char *word, *save = NULL;

	for (word = strtok_r(h->buf, " \t\n", &save); word;
	     word = strtok_r(NULL, " \t\n", &save))
		if (hosts_push(h, word, 1, err))
			return -1;
	return 0;
}

/* LSB_MCPU_HOSTS: "name slots name slots ...". */
static int parse_pairs(struct lsf_hosts *h, struct lt_err *err)
{
	char *name, *count, *save = NULL, qn[LT_QUOTE_MAX], qc[LT_QUOTE_MAX];
	long slots;

	for (name = strtok_r(h->buf, " \t\n", &save); name;
	     name = strtok_r(NULL, " \t\n", &save)) {
		count = strtok_r(NULL, " \t\n", &save);
		if (!count)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "invalid %s: host '%s' has no slot count; expected pairs like 'hostA 1 hostB 4'",
					  h->from, lt_quote(qn, sizeof(qn), name));
		if (lt_parse_long(count, 1, LSF_MAX_SLOTS, &slots))
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "invalid %s: slot count '%s' of host '%s' is not a number from 1 to %ld",
					  h->from, lt_quote(qc, sizeof(qc), count),
					  lt_quote(qn, sizeof(qn), name), LSF_MAX_SLOTS);
		if (hosts_push(h, name, slots, err))
			return -1;
	}
	return 0;
}

/* Writes "VAR='PATH'" into buf, keeping up to 240 bytes of the path (more
 * than lt_quote() does: a path is useless cut short). */
static void quote_path(char *buf, size_t len, const char *var, const char *path)
{
	size_t n = (size_t)snprintf(buf, len, "%s='", var), i;

	for (i = 0; path[i] && i < 240 && n + 6 < len; i++)
		buf[n++] = (unsigned char)path[i] < 0x20 || path[i] == 0x7f ? '?' : path[i];
	snprintf(buf + n, len - n, "%s'", path[i] ? "..." : "");
}

/* Reads the first host list LSF set into h; 0 when it set none. */
static int read_hosts(const struct lt_envsrc *env, struct lsf_hosts *h,
		      struct lt_err *err)
{
	static const char *const vars[] = { "LSB_DJOB_RANKFILE", "LSB_MCPU_HOSTS",
					    "LSB_HOSTS" };
	const char *text = NULL;
	char q[LT_QUOTE_MAX];
	size_t i;

	for (i = 0; i < 3 && !text; i++)
		text = lt_env_get(env, vars[i]);
	if (!text)
		return 0;
	h->source = vars[i - 1];
	if (i == 1)
		quote_path(h->from, sizeof(h->from), h->source, text);
	else
		snprintf(h->from, sizeof(h->from), "%s='%s'", h->source,
			 lt_quote(q, sizeof(q), text));
	if (i == 1) {
		if (read_rankfile(h, text, err) || parse_lines(h, err))
			return -1;
	} else {
		h->buf = strdup(text);
		if (!h->buf)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading %s",
					  h->from);
		if ((i == 2 ? parse_pairs(h, err) : parse_words(h, err)))
			return -1;
	}
	if (h->n == 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s lists no hosts", h->from);
	return 1;
}

/* --- from hosts to nodes --- */

/*
 * The batch (launch) host: LSF lists it first.  On clusters with separate
 * launch nodes (Summit: "batch1 1 h1 42 h2 42") it holds one slot and runs
 * no ranks, so the first host is dropped when it has exactly one slot and
 * other hosts follow it.  A job of single-slot hosts therefore loses its
 * first host too, as in LSF's own jsrun view of the job.
 */
static void drop_batch_host(struct lsf_hosts *h)
{
	size_t i;

	if (h->n < 2 || h->v[0].slots != 1)
		return;
	for (i = 1; i < h->n; i++)
		h->v[i - 1] = h->v[i];
	h->n--;
}

static int cmp_name(const void *a, const void *b)
{
	const struct lsf_host *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int cmp_order(const void *a, const void *b)
{
	const struct lsf_host *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/* Merges repeated hosts into one node each, in order of first appearance,
 * summing their slots (sort by name, fold, sort back: n log n). */
static void to_nodes(struct lsf_hosts *h)
{
	size_t i, m = 0;

	for (i = 0; i < h->n; i++)
		h->v[i].order = i;
	qsort(h->v, h->n, sizeof(*h->v), cmp_name);
	for (i = 0; i < h->n; i++) {
		if (m && !strcmp(h->v[m - 1].name, h->v[i].name))
			h->v[m - 1].slots += h->v[i].slots;
		else
			h->v[m++] = h->v[i];
	}
	h->n = m;
	qsort(h->v, h->n, sizeof(*h->v), cmp_order);
}

/* True when entry and host have the same short name (lt_short_host_len:
 * an IP address is compared whole). */
static bool same_short_name(const char *entry, const char *host)
{
	size_t n = lt_short_host_len(host);

	return lt_short_host_len(entry) == n && !strncmp(entry, host, n);
}

/*
 * Finds host among the nodes: the entry equal to the whole name first,
 * else the one entry with the same short name ("h2" in the list for host
 * "h2.example.org", or "h2.example.org" for host "h2").  Returns 1 and
 * *index, 0 when none matches, -1 with err set when several entries share
 * this host's short name and none is the whole name.
 */
static int find_node(const struct lsf_hosts *h, const char *host, long *index,
		     struct lt_err *err)
{
	char q[LT_QUOTE_MAX], q1[LT_QUOTE_MAX], q2[LT_QUOTE_MAX];
	size_t i;

	*index = -1;
	for (i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].name, host)) {
			*index = (long)i;
			return 1;
		}
	for (i = 0; i < h->n; i++) {
		if (!same_short_name(h->v[i].name, host))
			continue;
		if (*index >= 0)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "this host '%s' matches both '%s' and '%s' of %s by its short name: pass --node-rank",
					  lt_quote(q, sizeof(q), host),
					  lt_quote(q1, sizeof(q1), h->v[*index].name),
					  lt_quote(q2, sizeof(q2), h->v[i].name), h->from);
		*index = (long)i;
	}
	return *index >= 0;
}

/* The job's compute nodes; an error when LSF named no hosts. */
static int read_nodes(const struct lt_envsrc *env, struct lsf_hosts *h,
		      struct lt_err *err)
{
	int rc = read_hosts(env, h, err);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "none of LSB_DJOB_RANKFILE, LSB_MCPU_HOSTS and LSB_HOSTS is set: cannot tell the job's hosts; run ltrun inside a bsub job, or pick another environment with --cluster");
	drop_batch_host(h);
	to_nodes(h);
	return 0;
}

/* This node's index in the node list, found by its whole host name:
 * 1 and *index, 0 when absent, -1 with err set. */
static int this_node(const struct lt_envsrc *env, const struct lsf_hosts *h,
		     long *index, char *host, size_t len, struct lt_err *err)
{
	if (lt_env_hostname_full(env, host, len, err))
		return -1;
	return find_node(h, host, index, err);
}

/* --- under jsrun --- */

static int jsm_int(const struct lt_envsrc *env, const char *name, long min,
		   long *out, struct lt_err *err)
{
	int rc = lt_env_int(env, name, min, LSF_MAX_RANKS, out, err);

	if (rc == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s is not set, but other JSM_NAMESPACE_* variables are: run ltrun under jsrun, or unset them",
				  name);
	return rc < 0 ? -1 : 0;
}

static bool under_jsrun(const struct lt_envsrc *env)
{
	return lt_env_get(env, "JSM_NAMESPACE_RANK") ||
	       lt_env_get(env, "JSM_NAMESPACE_SIZE") ||
	       lt_env_get(env, "JSM_NAMESPACE_LOCAL_RANK");
}

/* Ranks on this node: JSM_NAMESPACE_LOCAL_SIZE, else this host's slots. */
static int jsrun_local_size(const struct lt_envsrc *env, const struct lsf_hosts *h,
			    long node, const char *host, long *lws, char *from,
			    size_t len, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	int rc = lt_env_int(env, "JSM_NAMESPACE_LOCAL_SIZE", 1, LSF_MAX_RANKS,
			    lws, err);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		snprintf(from, len, "JSM_NAMESPACE_LOCAL_SIZE=%ld", *lws);
		return 0;
	}
	if (node < 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "this host '%s' is not in %s and JSM_NAMESPACE_LOCAL_SIZE is unset: cannot tell how many ranks run here",
				  lt_quote(q, sizeof(q), host), h->from);
	*lws = h->v[node].slots;
	snprintf(from, len, "%ld slots of '%s' in %s", *lws,
		 lt_quote(q, sizeof(q), host), h->source);
	return 0;
}

static int check_request_total(const struct lt_request *req, long world,
			       struct lt_err *err)
{
	long want;

	if (req->devices == LT_AUTO || req->num_nodes == LT_AUTO)
		return 0;
	want = (long)req->devices * req->num_nodes;
	if (want != world)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--devices %d x --num-nodes %d = %ld ranks, but jsrun started JSM_NAMESPACE_SIZE=%ld: make jsrun's task count match or change the flags",
				  req->devices, req->num_nodes, want, world);
	return 0;
}

static int resolve_jsrun(const struct lt_envsrc *env, const struct lt_request *req,
			 const struct lsf_hosts *h, struct lt_topology *t,
			 struct lt_err *err)
{
	long world, rank, local, lws, node;
	char host[256], lws_from[160], source[320];
	int found;

	if (jsm_int(env, "JSM_NAMESPACE_SIZE", 1, &world, err) ||
	    jsm_int(env, "JSM_NAMESPACE_RANK", 0, &rank, err) ||
	    jsm_int(env, "JSM_NAMESPACE_LOCAL_RANK", 0, &local, err))
		return -1;
	found = this_node(env, h, &node, host, sizeof(host), err);
	if (found < 0 || check_request_total(req, world, err) ||
	    jsrun_local_size(env, h, node, host, &lws, lws_from, sizeof(lws_from), err))
		return -1;
	t->external = true;
	snprintf(t->launcher, sizeof(t->launcher), "jsrun");
	t->world_size = (int)world;
	t->rank = (int)rank;
	t->local_rank = (int)local;
	t->local_world_size = (int)lws;
	t->num_nodes = (int)h->n;
	t->node_rank = (int)(found ? node : rank / lws);
	t->first_rank = (int)(rank - local);
	snprintf(source, sizeof(source), "JSM_NAMESPACE_SIZE=%ld, %s, %zu compute hosts in %s",
		 world, lws_from, h->n, h->source);
	return lt_topology_check_adopted(t, req, source, err);
}

/* --- a bsub script: ltrun creates the ranks --- */

static int resolve_bsub(const struct lt_envsrc *env, const struct lt_request *req,
			const struct lsf_hosts *h, struct lt_topology *t,
			struct lt_err *err)
{
	long node = req->node_rank;
	char host[256], q[LT_QUOTE_MAX];
	int found;

	if (req->num_nodes != LT_AUTO && (size_t)req->num_nodes != h->n)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "--num-nodes %d disagrees with %s, which has %zu compute host%s: drop --num-nodes or make them match",
				  req->num_nodes, h->from, h->n, h->n == 1 ? "" : "s");
	if (req->node_rank == LT_AUTO) {
		found = this_node(env, h, &node, host, sizeof(host), err);
		if (found < 0)
			return -1;
		if (!found)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "this host '%s' is not a compute host of %s: run ltrun on the job's compute hosts or pass --node-rank",
					  lt_quote(q, sizeof(q), host), h->from);
	}
	return lt_topology_own_ranks(t, req, (int)h->n, (int)node, err);
}

/* --- main address and port --- */

static int main_addr_port(const struct lt_envsrc *env, const struct lt_request *req,
			  const struct lsf_hosts *h, struct lt_topology *t,
			  struct lt_err *err)
{
	char from[96], derived[96];

	snprintf(from, sizeof(from), "first compute host of %s", h->source);
	if (lt_topology_main_addr(t, env, req, h->v[0].name, from, err))
		return -1;
	snprintf(derived, sizeof(derived), "derived from LSB_JOBID=%s", t->job_id);
	return lt_topology_main_port(t, env, req, lt_port_from_job_id(t->job_id),
				     derived, err);
}

/* --- the ops --- */

static bool lsf_detect(const struct lt_envsrc *env, const struct lt_params *params,
		       char *why, size_t whylen)
{
	const char *job = lt_env_get(env, "LSB_JOBID");
	char q[LT_QUOTE_MAX];

	(void)params; /* no parameters */
	if (!job)
		snprintf(why, whylen, "LSB_JOBID is not set");
	else if (under_jsrun(env))
		snprintf(why, whylen, "LSB_JOBID=%s and JSM_NAMESPACE_* are set: a task started by jsrun",
			 lt_quote(q, sizeof(q), job));
	else
		snprintf(why, whylen, "LSB_JOBID=%s is set: a bsub job",
			 lt_quote(q, sizeof(q), job));
	return job != NULL;
}

static int lsf_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		       const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	struct lsf_hosts h = { 0 };
	long id;
	int rc = -1;

	(void)params; /* no parameters */
	lt_topology_init(t);
	rc = lt_env_int(env, "LSB_JOBID", 0, 0x7fffffffL, &id, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "LSB_JOBID is not set: this is not an LSF job; run ltrun inside a bsub job, or pick another environment with --cluster");
	snprintf(t->job_id, sizeof(t->job_id), "%ld", id);
	rc = -1;
	if (read_nodes(env, &h, err))
		goto out_free;
	if (under_jsrun(env))
		rc = resolve_jsrun(env, req, &h, t, err);
	else
		rc = resolve_bsub(env, req, &h, t, err);
	if (rc == 0)
		rc = main_addr_port(env, req, &h, t, err);
out_free:
	hosts_free(&h);
	return rc;
}

static const struct lt_cluster_ops lsf_ops = {
	.priority = LT_PRIO_LSF,
	.detect = lsf_detect,
	.resolve = lsf_resolve,
};

const struct lt_plugin lt_env_lsf = {
	.kind = LT_KIND_CLUSTER,
	.name = "lsf",
	.description = "IBM Spectrum LSF: adopts the tasks jsrun started, or starts the ranks itself inside a bsub job",
	.recommended_when = "running under bsub or jsrun (e.g. Summit)",
	.ops = &lsf_ops,
};
