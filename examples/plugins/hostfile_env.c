/*
 * hostfile_env.c - an example ltrun plugin: a cluster environment named
 * "hostfile" for machines listed in an mpirun-style hostfile.
 *
 * Build it on its own, against nothing but the public header:
 *
 *   cc -shared -fPIC -Iinclude examples/plugins/hostfile_env.c -o hostfile_env.so
 *
 * Then run the same command on every host of the file (by ssh, pdsh, ...):
 *
 *   ltrun --plugin ./hostfile_env.so --cluster hostfile:file=hosts.txt --dry-run
 *   HOSTFILE_ENV_FILE=hosts.txt ltrun --plugin ./hostfile_env.so --dry-run
 *
 * Each host finds its own line by name (or give it --node-rank) and ltrun
 * starts that node's ranks; they meet at the first host of the file
 * (--main-addr to change it), port --main-port, else MASTER_PORT, else the
 * parameter `port` (29500).  `ltrun --plugin ./hostfile_env.so --list`
 * shows the plugin and its parameters; --verbose shows it detect itself.
 *
 * The plugin is one struct (hf_plugin, at the end): its identity, its
 * parameter schema (hf_params: `file` and `port`, checked by ltrun before
 * anything starts) and its ops.  detect() and resolve() receive the values
 * for this run and read them with lt_params_str() and lt_params_int().
 *
 * The hostfile (see examples/plugins/hosts.txt) lists one host per line,
 * optionally followed by slots=N, the ranks to start there (default 1);
 * '#' starts a comment and blank lines are ignored.  Every host must have
 * the same slots, unless --devices says how many ranks each node runs.
 *
 * What a plugin may use: only <ltrun/cluster.h>.  Its functions
 * (lt_err_set, lt_env_get, lt_env_int, lt_env_hostname, lt_params_str,
 * lt_params_int, lt_registry_add) are exported by the ltrun executable, so the .so links against nothing
 * of ltrun's.  Everything the plugin hands to ltrun (the descriptor, the
 * ops table) is static: ltrun never unloads a plugin.
 */
#include <ltrun/cluster.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Above the built-in environments that the hostfile's machines might
 * also match (mpi 80, slurm 70...), below torchelastic (90): torchrun is
 * always the innermost launcher. */
#define HF_PRIORITY 85

#define HF_LINE_MAX 512          /* bytes per line, newline included */
#define HF_NAME_MAX 256          /* bytes per host name, NUL included */
#define HF_MAX_HOSTS 65536
#define HF_MAX_SLOTS (1L << 20)
#define HF_MAX_RANKS (1L << 24)  /* as ltrun's own limit */

struct hf_host {
	char name[HF_NAME_MAX];
	long slots; /* 0 when the line gives none (1 rank) */
	int line;   /* where it was listed, for messages */
};

/* The hosts of one hostfile, in order. */
struct hf_list {
	const char *path;
	const char *from; /* where path came from: "file=" or "HOSTFILE_ENV_FILE" */
	struct hf_host *hosts;
	size_t n, cap;
};

/* --------------------------------------------------------- parameters */

/* The schema: ltrun checks every value against it (type, range) and
 * --list shows it.  `file` has no default: unset, HOSTFILE_ENV_FILE names
 * the hostfile. */
static const struct lt_param_spec hf_params[] = {
	{ .name = "file", .type = LT_PARAM_STRING,
	  .help = "the hostfile (default: $HOSTFILE_ENV_FILE)" },
	{ .name = "port", .type = LT_PARAM_INT, .default_value = "29500", .min = 1, .max = 65535,
	  .help = "main port without --main-port or MASTER_PORT (torchrun's 29500)" },
	{ .name = NULL },
};

/* The hostfile's path: the parameter `file`, else HOSTFILE_ENV_FILE; NULL
 * when neither names one.  *from says which. */
static const char *hf_path(const struct lt_envsrc *env, const struct lt_params *params,
			   const char **from)
{
	const char *path = lt_params_str(params, "file");

	*from = "file=";
	if (path && *path)
		return path;
	*from = "HOSTFILE_ENV_FILE";
	path = lt_env_get(env, "HOSTFILE_ENV_FILE");
	return path && *path ? path : NULL;
}

/* ------------------------------------------------------------ detect */

static bool hf_detect(const struct lt_envsrc *env, const struct lt_params *params,
		      char *why, size_t whylen)
{
	const char *from, *path = hf_path(env, params, &from);

	if (!path) {
		snprintf(why, whylen, "no hostfile: neither file= nor HOSTFILE_ENV_FILE is set");
		return false;
	}
	if (!strcmp(from, "file="))
		snprintf(why, whylen, "file=%.200s is given", path);
	else
		snprintf(why, whylen, "HOSTFILE_ENV_FILE is set (%.200s)", path);
	return true;
}

/* ----------------------------------------------------------- parsing */

static bool hf_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= HF_NAME_MAX || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-_:") == n;
}

/* Parses "slots=N" into *slots.  Returns 0, or -1 with err naming the
 * file, the line and the bad word. */
static int hf_parse_slots(const struct hf_list *l, int line, const char *word,
			  long *slots, struct lt_err *err)
{
	const char *v;
	char *end;
	long n;

	if (strncmp(word, "slots=", 6))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s:%d: unexpected '%.64s' after the host name: expected slots=N",
				  l->path, line, word);
	v = word + 6;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < 1 || n > HF_MAX_SLOTS)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s:%d: invalid slots value '%.64s': expected a whole number from 1 to %ld",
				  l->path, line, v, HF_MAX_SLOTS);
	*slots = n;
	return 0;
}

/* Appends a host.  Returns 0, or -1 with err set (duplicate, too many,
 * out of memory); the list is then unchanged. */
static int hf_add(struct hf_list *l, const char *name, long slots, int line,
		  struct lt_err *err)
{
	struct hf_host *h;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->hosts[i].name, name))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "%s:%d: host '%s' is listed twice (first on line %d): list it once, with slots=N",
					  l->path, line, name, l->hosts[i].line);
	if (l->n == HF_MAX_HOSTS)
		return lt_err_set(err, LT_EXIT_USAGE, "%s:%d: more than %d hosts",
				  l->path, line, HF_MAX_HOSTS);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;

		h = realloc(l->hosts, cap * sizeof(*h));
		if (!h)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory reading %s",
					  l->path);
		l->hosts = h;
		l->cap = cap;
	}
	h = &l->hosts[l->n++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->slots = slots;
	h->line = line;
	return 0;
}

/* Parses one line (modified in place): "HOST [slots=N]  # comment". */
static int hf_parse_line(struct hf_list *l, char *text, int line,
			 struct lt_err *err)
{
	static const char blanks[] = " \t\r\n";
	char *save, *name, *word;
	long slots = 0;

	text[strcspn(text, "#")] = '\0';
	name = strtok_r(text, blanks, &save);
	if (!name)
		return 0; /* blank or comment */
	if (!hf_valid_name(name))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s:%d: invalid host name '%.64s': expected letters, digits, '.', '-', '_' or ':'",
				  l->path, line, name);
	while ((word = strtok_r(NULL, blanks, &save)))
		if (hf_parse_slots(l, line, word, &slots, err))
			return -1;
	return hf_add(l, name, slots, line, err);
}

/* Reads the line after `line` into buf.  Returns 1, 0 at end of file, or
 * -1 with err set when the line does not fit. */
static int hf_getline(FILE *f, const struct hf_list *l, char *buf, int line,
		      struct lt_err *err)
{
	size_t n;
	int c;

	if (!fgets(buf, HF_LINE_MAX, f))
		return 0;
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		return 1;
	c = getc(f); /* a full buffer is fine if the file ends there */
	if (c == EOF)
		return 1;
	return lt_err_set(err, LT_EXIT_USAGE,
			  "%s:%d: line longer than %d characters: one host per line",
			  l->path, line + 1, HF_LINE_MAX - 2);
}

/* Reads l->path into l.  Returns 0, or -1 with err naming the file (and
 * the line); l may then hold some hosts: free them all the same. */
static int hf_read(struct hf_list *l, struct lt_err *err)
{
	char buf[HF_LINE_MAX];
	int line = 0, rc = -1, got;
	FILE *f = fopen(l->path, "r");

	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read hostfile '%s' (%s): %s",
				  l->path, l->from, strerror(errno));
	while ((got = hf_getline(f, l, buf, line, err)) > 0)
		if (hf_parse_line(l, buf, ++line, err))
			goto out_close;
	if (got < 0)
		goto out_close;
	if (ferror(f)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot read hostfile '%s': read error",
			   l->path);
		goto out_close;
	}
	if (l->n == 0) {
		lt_err_set(err, LT_EXIT_USAGE,
			   "hostfile '%s' lists no hosts: add one host name per line", l->path);
		goto out_close;
	}
	rc = 0;
out_close:
	fclose(f);
	return rc;
}

/* ---------------------------------------------------------- topology */

/* True when `entry` from the file names this host: the same name, or a
 * fully qualified name whose first label is this host's short name. */
static bool hf_is_me(const char *entry, const char *me)
{
	size_t n = strlen(me);

	if (!strcmp(entry, me))
		return true;
	return !strncmp(entry, me, n) && entry[n] == '.' &&
	       !(entry[0] >= '0' && entry[0] <= '9'); /* not an IPv4 address */
}

/* --node-rank, else the index of this host in the file. */
static int hf_node_rank(const struct hf_list *l, const struct lt_envsrc *env,
			const struct lt_request *req, int *out, struct lt_err *err)
{
	char me[HF_NAME_MAX];
	size_t i;

	if (req->node_rank != LT_AUTO) {
		if (req->node_rank < 0 || (size_t)req->node_rank >= l->n)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "--node-rank %d is out of range for the %zu hosts in '%s': use 0 to %zu",
					  req->node_rank, l->n, l->path, l->n - 1);
		*out = req->node_rank;
		return 0;
	}
	if (lt_env_hostname(env, me, sizeof(me), err))
		return -1;
	for (i = 0; i < l->n; i++) {
		if (hf_is_me(l->hosts[i].name, me)) {
			*out = (int)i;
			return 0;
		}
	}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "this host '%s' is not in hostfile '%s': add it, or pass --node-rank",
			  me, l->path);
}

/* --devices, else the hosts' slots, which must all be equal. */
static int hf_per_node(const struct hf_list *l, const struct lt_request *req,
		       int *out, struct lt_err *err)
{
	const struct hf_host *a = &l->hosts[0], *b;
	long slots = a->slots ? a->slots : 1;
	size_t i;

	if (req->devices != LT_AUTO) {
		*out = req->devices;
		return 0;
	}
	for (i = 1; i < l->n; i++) {
		b = &l->hosts[i];
		if ((b->slots ? b->slots : 1) != slots)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "%s:%d: host '%s' has %ld slots but '%s' (line %d) has %ld: ltrun starts as many ranks on every node; make them equal or pass --devices",
					  l->path, b->line, b->name, b->slots ? b->slots : 1,
					  a->name, a->line, slots);
	}
	*out = (int)slots;
	return 0;
}

/* Fills where the ranks meet: --main-addr or the first host; --main-port,
 * MASTER_PORT or the parameter `port`. */
static int hf_main(struct lt_topology *t, const struct hf_list *l,
		   const struct lt_envsrc *env, const struct lt_params *params,
		   const struct lt_request *req, struct lt_err *err)
{
	long port;
	int rc;

	snprintf(t->main_addr, sizeof(t->main_addr), "%s",
		 req->main_addr ? req->main_addr : l->hosts[0].name);
	snprintf(t->addr_from, sizeof(t->addr_from), "%s%s",
		 req->main_addr ? "--main-addr" : "the first host in the hostfile, ",
		 req->main_addr ? "" : l->from);
	if (req->main_port > 0) {
		t->main_port = req->main_port;
		snprintf(t->port_from, sizeof(t->port_from), "--main-port");
		return 0;
	}
	rc = lt_env_int(env, "MASTER_PORT", 1, 65535, &port, err);
	if (rc < 0)
		return -1;
	t->main_port = rc ? (int)port : (int)lt_params_int(params, "port");
	snprintf(t->port_from, sizeof(t->port_from), "%s",
		 rc ? "MASTER_PORT" : "the parameter port (default 29500, torchrun's)");
	return 0;
}

static int hf_topology(struct lt_topology *t, const struct hf_list *l,
		       const struct lt_envsrc *env, const struct lt_params *params,
		       const struct lt_request *req, struct lt_err *err)
{
	int node = 0, per = 0;

	if (hf_node_rank(l, env, req, &node, err) || hf_per_node(l, req, &per, err))
		return -1;
	if ((long)per * (long)l->n > HF_MAX_RANKS)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%d ranks per node x %zu hosts in '%s' is more than %ld ranks",
				  per, l->n, l->path, HF_MAX_RANKS);
	memset(t, 0, sizeof(*t));
	t->num_nodes = (int)l->n;
	t->node_rank = node;
	t->local_world_size = per;
	t->world_size = per * (int)l->n;
	t->first_rank = node * per;
	t->external = false; /* ltrun starts this node's ranks */
	t->rank = -1;
	t->local_rank = -1;
	return hf_main(t, l, env, params, req, err);
}

static int hf_resolve(const struct lt_envsrc *env, const struct lt_params *params,
		      const struct lt_request *req, struct lt_topology *t, struct lt_err *err)
{
	struct hf_list l = { .path = NULL };
	int rc = -1;

	l.path = hf_path(env, params, &l.from);
	if (!l.path)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "no hostfile: use --cluster hostfile:file=PATH or set HOSTFILE_ENV_FILE (one host per line)");
	if (hf_read(&l, err))
		goto out_free;
	rc = hf_topology(t, &l, env, params, req, err);
out_free:
	free(l.hosts);
	return rc;
}

/* ------------------------------------------------------ registration */

static const struct lt_cluster_ops hf_ops = {
	.priority = HF_PRIORITY,
	.detect = hf_detect,
	.resolve = hf_resolve,
};

/* The plugin: identity, parameter schema and ops, in one struct. */
static const struct lt_plugin hf_plugin = {
	.kind = LT_KIND_CLUSTER,
	.name = "hostfile",
	.description = "machines listed in an mpirun-style hostfile (file= or HOSTFILE_ENV_FILE), one node per line",
	.recommended_when = "a few machines without a scheduler, started by ssh",
	.params = hf_params,
	.ops = &hf_ops,
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add(reg, &hf_plugin, err);
}
