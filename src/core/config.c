/*
 * config.c - the option table and the three ways to set an option: the
 * command line (cmd/ltrun.c calls lt_config_set), LTRUN_* variables and a
 * JSON config file.  Every value is validated here, once, whatever its
 * source, and every message names the source it came from.
 */
#include "core/config.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/registry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1 << 20)
#define MAX_PLUGINS 64

#define OFF(field) offsetof(struct lt_config, field)

const struct lt_option lt_options[LT_OPT_COUNT] = {
	[LT_OPT_STRATEGY] = { LT_OPT_STRATEGY, "strategy", "LTRUN_STRATEGY", "NAME",
		LT_OPT_NAME, LT_KIND_STRATEGY, true, 0, 0, OFF(strategy), "auto",
		"how the model is distributed: auto (single_device for one rank, ddp otherwise) or a name from --list strategy" },
	[LT_OPT_ACCELERATOR] = { LT_OPT_ACCELERATOR, "accelerator", "LTRUN_ACCELERATOR", "NAME",
		LT_OPT_NAME, LT_KIND_ACCELERATOR, true, 0, 0, OFF(accelerator), "auto",
		"where tensors live: auto, or a name from --list accelerator" },
	[LT_OPT_DEVICES] = { LT_OPT_DEVICES, "devices", "LTRUN_DEVICES", "N|auto",
		LT_OPT_COUNT_AUTO, -1, false, 1, 1 << 20, OFF(devices), "auto",
		"ranks per node; auto: what the launcher started, else the accelerator's default (1 on cpu)" },
	[LT_OPT_NUM_NODES] = { LT_OPT_NUM_NODES, "num-nodes", "LTRUN_NUM_NODES", "N|auto",
		LT_OPT_COUNT_AUTO, -1, false, 1, 1 << 20, OFF(num_nodes), "auto",
		"nodes in the job; auto: what the cluster says, else 1" },
	[LT_OPT_NODE_RANK] = { LT_OPT_NODE_RANK, "node-rank", "LTRUN_NODE_RANK", "K",
		LT_OPT_INT, -1, false, 0, (1 << 20) - 1, OFF(node_rank), "auto",
		"this node's index, 0 to nodes-1; default: what the cluster says, else 0" },
	[LT_OPT_MAIN_ADDR] = { LT_OPT_MAIN_ADDR, "main-addr", "LTRUN_MAIN_ADDR", "HOST",
		LT_OPT_HOST, -1, false, 0, 0, OFF(main_addr), NULL,
		"address of node 0, where the rendezvous store runs; default: from the cluster, MASTER_ADDR or this host" },
	[LT_OPT_MAIN_PORT] = { LT_OPT_MAIN_PORT, "main-port", "LTRUN_MAIN_PORT", "PORT",
		LT_OPT_INT, -1, false, 1, 65535, OFF(main_port), NULL,
		"port of the rendezvous store on node 0; default: MASTER_PORT, derived from the job id, or a free port" },
	[LT_OPT_PRECISION] = { LT_OPT_PRECISION, "precision", "LTRUN_PRECISION", "NAME",
		LT_OPT_NAME, LT_KIND_PRECISION, false, 0, 0, OFF(precision), "32-true",
		"compute dtype, master weights and loss scaling: a name from --list precision" },
	[LT_OPT_CLUSTER] = { LT_OPT_CLUSTER, "cluster", "LTRUN_CLUSTER", "NAME",
		LT_OPT_NAME, LT_KIND_CLUSTER, true, 0, 0, OFF(cluster), "auto",
		"cluster environment: auto (detect) or a name from --list cluster" },
	[LT_OPT_COMM] = { LT_OPT_COMM, "comm", "LTRUN_COMM", "NAME",
		LT_OPT_NAME, LT_KIND_COMM, false, 0, 0, OFF(comm), "auto",
		"communicator for collectives: a name from --list comm" },
	[LT_OPT_CKPT_IO] = { LT_OPT_CKPT_IO, "ckpt-io", "LTRUN_CKPT_IO", "NAME",
		LT_OPT_NAME, LT_KIND_CKPT_IO, false, 0, 0, OFF(ckpt_io), "file",
		"how checkpoints are written and read: a name from --list ckpt-io" },
	[LT_OPT_PLUGIN] = { LT_OPT_PLUGIN, "plugin", "LTRUN_PLUGIN", "PATH.so",
		LT_OPT_LIST, -1, false, 0, 0, OFF(plugins), NULL,
		"load a plugin shared object (repeatable; ':'-separated in LTRUN_PLUGIN)" },
	[LT_OPT_MAX_RESTARTS] = { LT_OPT_MAX_RESTARTS, "max-restarts", "LTRUN_MAX_RESTARTS", "N",
		LT_OPT_INT, -1, false, 0, 10000, OFF(max_restarts), "0",
		"restart every rank up to N times after a failure" },
	[LT_OPT_LOG_DIR] = { LT_OPT_LOG_DIR, "log-dir", "LTRUN_LOG_DIR", "DIR",
		LT_OPT_PATH, -1, false, 0, 0, OFF(log_dir), NULL,
		"write each rank's output to DIR/rank-N.{out,err}" },
	[LT_OPT_TEE] = { LT_OPT_TEE, "tee", "LTRUN_TEE", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(tee), "false",
		"with --log-dir, also print the ranks' output on the terminal" },
	[LT_OPT_CONFIG] = { LT_OPT_CONFIG, "config", "LTRUN_CONFIG", "FILE.json",
		LT_OPT_PATH, -1, false, 0, 0, OFF(config_path), NULL,
		"read settings from a JSON object whose keys are these long option names" },
	[LT_OPT_DRY_RUN] = { LT_OPT_DRY_RUN, "dry-run", "LTRUN_DRY_RUN", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(dry_run), "false",
		"print the resolved plan and exit without starting anything" },
	[LT_OPT_JSON] = { LT_OPT_JSON, "json", "LTRUN_JSON", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(json), "false",
		"with --list or --dry-run, print JSON" },
	[LT_OPT_VERBOSE] = { LT_OPT_VERBOSE, "verbose", "LTRUN_VERBOSE", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(verbose), "false",
		"say which cluster environments were probed and why each was taken or skipped" },
	[LT_OPT_TERM_TIMEOUT] = { LT_OPT_TERM_TIMEOUT, "term-timeout", "LTRUN_TERM_TIMEOUT", "SECONDS",
		LT_OPT_INT, -1, false, 0, 86400, OFF(term_timeout), "30",
		"after forwarding a stop signal, wait this long for the ranks (to checkpoint) before SIGKILL" },
	[LT_OPT_SIGNALS] = { LT_OPT_SIGNALS, "signals", "LTRUN_SIGNALS", "LIST",
		LT_OPT_PATH, -1, false, 0, 0, OFF(signals), "INT,TERM,HUP,QUIT,USR1,USR2",
		"signals forwarded to every rank, ','-separated names or numbers" },
	[LT_OPT_NO_SRUN] = { LT_OPT_NO_SRUN, "no-srun", "LTRUN_NO_SRUN", NULL,
		LT_OPT_BOOL, -1, false, 0, 0, OFF(no_srun), "false",
		"in a multi-node sbatch script, fail instead of starting one ltrun per node with srun" },
	[LT_OPT_RDZV] = { LT_OPT_RDZV, "rdzv", "LTRUN_RDZV", "NAME",
		LT_OPT_PATH, -1, false, 0, 0, OFF(rdzv), "auto",
		"how ranks meet: tcp (a store hosted by node 0's agent, or by rank 0 of adopted ranks), file (a shared directory, LTRUN_RDZV_DIR), pmix (the launcher's PMIx server); auto: pmix for ranks a PMIx launcher made, else tcp" },
	[LT_OPT_RDZV_TIMEOUT] = { LT_OPT_RDZV_TIMEOUT, "rdzv-timeout", "LTRUN_RDZV_TIMEOUT", "SECONDS",
		LT_OPT_INT, -1, false, 1, 86400, OFF(rdzv_timeout), "300",
		"how long a rank waits for the others at the rendezvous and at barriers" },
};

const struct lt_option *lt_option_find(const char *name)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++)
		if (!strcmp(lt_options[i].name, name))
			return &lt_options[i];
	return NULL;
}

const char *lt_option_suggest(const char *name)
{
	const char *best = NULL;
	int i, best_d = 4;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		int d = lt_edit_distance(name, lt_options[i].name);
		if (d < best_d) {
			best_d = d;
			best = lt_options[i].name;
		}
	}
	return best;
}

const char *lt_source_name(enum lt_source src)
{
	switch (src) {
	case LT_SRC_DEFAULT: return "default";
	case LT_SRC_CONFIG: return "config file";
	case LT_SRC_ENV: return "environment";
	case LT_SRC_FLAG: return "command line";
	}
	return "?";
}

static void *field(struct lt_config *cfg, const struct lt_option *o)
{
	return (char *)cfg + o->offset;
}

static const void *cfield(const struct lt_config *cfg, const struct lt_option *o)
{
	return (const char *)cfg + o->offset;
}

static void free_plugins(struct lt_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->num_plugins; i++)
		free(cfg->plugins[i]);
	free(cfg->plugins);
	cfg->plugins = NULL;
	cfg->num_plugins = 0;
}

/* Appends each ':'-separated path of text (a single path when split is
 * false) to cfg->plugins.  On failure cfg->plugins is unchanged. */
static int add_plugins(struct lt_config *cfg, const char *text, bool split,
		       const char *where, struct lt_err *err)
{
	size_t old = cfg->num_plugins, n = old;
	const char *p = text;
	bool too_many = false;
	char **grown;

	grown = realloc(cfg->plugins, MAX_PLUGINS * sizeof(*grown));
	if (!grown)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	cfg->plugins = grown;
	for (;;) {
		size_t len = split ? strcspn(p, ":") : strlen(p);

		too_many = n == MAX_PLUGINS;
		if (len == 0 || too_many)
			goto out_undo;
		grown[n] = strndup(p, len);
		if (!grown[n])
			goto out_undo;
		n++;
		p += len;
		if (!*p)
			break;
		p++; /* the ':' */
	}
	cfg->num_plugins = n;
	return 0;
out_undo:
	while (n > old)
		free(grown[--n]);
	if (too_many)
		return lt_err_set(err, LT_EXIT_USAGE, "too many plugins in %s: at most %d",
				  where, MAX_PLUGINS);
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: an empty plugin path; give PATH.so%s",
			  where, split ? " (several separated by ':')" : "");
}

/* Parses text for option o into *val (int options) or checks it (strings).
 * Returns 0, or -1 with err naming where. */
static int parse_value(const struct lt_option *o, const char *text,
		       const char *where, long *val, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	bool b;

	lt_quote(q, sizeof(q), text);
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
		if (!strcmp(text, "auto")) {
			*val = LT_AUTO;
			return 0;
		}
		if (lt_parse_long(text, o->min, o->max, val))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld, or 'auto'",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_INT:
		if (lt_parse_long(text, o->min, o->max, val))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_BOOL:
		if (lt_parse_bool(text, &b))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected 1, 0, true, false, yes, no, on or off",
					  where, q);
		*val = b;
		return 0;
	case LT_OPT_NAME:
	case LT_OPT_HOST:
	case LT_OPT_PATH:
	case LT_OPT_LIST:
		if (!*text)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: the value is empty", where);
		if (strlen(text) > 4096)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': longer than 4096 bytes",
					  where, q);
		if (o->type == LT_OPT_NAME && strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(text))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': a %s name has only a-z 0-9 . _ - (see 'ltrun --list %s')",
					  where, q, lt_kind_name(o->kind), lt_kind_name(o->kind));
		if (o->type == LT_OPT_HOST && !lt_valid_host(text))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a host name or IP address", where, q);
		return 0;
	}
	return 0;
}

int lt_config_set(struct lt_config *cfg, const struct lt_option *o,
		  const char *text, enum lt_source src, const char *where,
		  struct lt_err *err)
{
	long val = 0;
	char *copy;

	if (!text)
		text = "";
	if (src < cfg->source[o->id])
		return 0;
	if (parse_value(o, text, where, &val, err))
		return -1;
	if (o->type == LT_OPT_LIST) {
		/* Lists accumulate within one source; a stronger source
		 * replaces.  Only an LTRUN_* variable packs several, with ':'. */
		size_t kept = cfg->num_plugins, i;

		if (add_plugins(cfg, text, src == LT_SRC_ENV, where, err))
			return -1;
		if (src > cfg->source[o->id] && kept) {
			for (i = 0; i < kept; i++)
				free(cfg->plugins[i]);
			cfg->num_plugins -= kept;
			memmove(cfg->plugins, cfg->plugins + kept,
				cfg->num_plugins * sizeof(*cfg->plugins));
		}
	} else if (o->type == LT_OPT_BOOL) {
		*(bool *)field(cfg, o) = val;
	} else if (o->type == LT_OPT_INT || o->type == LT_OPT_COUNT_AUTO) {
		*(int *)field(cfg, o) = (int)val;
	} else {
		copy = strdup(text);
		if (!copy)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		free(*(char **)field(cfg, o));
		*(char **)field(cfg, o) = copy;
	}
	cfg->source[o->id] = src;
	snprintf(cfg->source_name[o->id], sizeof(cfg->source_name[o->id]), "%s", where);
	return 0;
}

int lt_config_init(struct lt_config *cfg, struct lt_err *err)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->devices = cfg->num_nodes = cfg->node_rank = LT_AUTO;
	cfg->main_port = 0;
	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		bool numeric_default = o->type == LT_OPT_COUNT_AUTO ||
				       (o->type == LT_OPT_INT && o->def && !strcmp(o->def, "auto"));
		if (o->def && !numeric_default &&
		    lt_config_set(cfg, o, o->def, LT_SRC_DEFAULT, "default", err))
			goto out_free;
		snprintf(cfg->source_name[i], sizeof(cfg->source_name[i]), "default");
	}
	return 0;
out_free:
	lt_config_free(cfg);
	return -1;
}

void lt_config_free(struct lt_config *cfg)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		if (o->type == LT_OPT_NAME || o->type == LT_OPT_HOST || o->type == LT_OPT_PATH) {
			free(*(char **)field(cfg, o));
			*(char **)field(cfg, o) = NULL;
		}
	}
	free_plugins(cfg);
}

int lt_config_load_env(struct lt_config *cfg, const struct lt_envsrc *env,
		       struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *v = lt_env_get(env, o->env);
		char where[80];

		if (!v)
			continue;
		snprintf(where, sizeof(where), "%s", o->env);
		if (lt_config_set(cfg, o, v, LT_SRC_ENV, where, err))
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- config file */

/* Line number of position pos in text (1-based). */
static int line_of(const char *text, size_t len, size_t pos)
{
	int line = 1;
	size_t i;

	for (i = 0; i < pos && i < len; i++)
		line += text[i] == '\n';
	return line;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "something else";
}

static const char *expected_json(const struct lt_option *o)
{
	switch (o->type) {
	case LT_OPT_COUNT_AUTO: return "a whole number or \"auto\"";
	case LT_OPT_INT: return "a whole number";
	case LT_OPT_BOOL: return "true or false";
	case LT_OPT_LIST: return "an array of paths";
	default: return "a string";
	}
}

/* Converts one JSON value to option text in buf, or fails with a message
 * saying which type was expected. */
static int json_to_text(const struct lt_option *o, const cJSON *v,
			const char *where, char *buf, size_t len,
			struct lt_err *err)
{
	bool numeric = o->type == LT_OPT_COUNT_AUTO || o->type == LT_OPT_INT;

	if (numeric && cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (!(d >= -1e9 && d <= 1e9) || d != (double)(long)d)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s %g: expected %s",
					  where, d, expected_json(o));
		snprintf(buf, len, "%ld", (long)d);
		return 0;
	}
	if (o->type == LT_OPT_BOOL && cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return 0;
	}
	if (cJSON_IsString(v) && (o->type == LT_OPT_COUNT_AUTO ? !strcmp(v->valuestring, "auto")
				  : !numeric && o->type != LT_OPT_BOOL)) {
		snprintf(buf, len, "%s", v->valuestring);
		if (strlen(v->valuestring) >= len)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: longer than %zu bytes",
					  where, len - 1);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s", where,
			  expected_json(o), json_type_name(v));
}

static int load_key(struct lt_config *cfg, const char *path, const cJSON *item,
		    struct lt_err *err)
{
	const struct lt_option *o = lt_option_find(item->string);
	char where[160], q[LT_QUOTE_MAX], pq[LT_QUOTE_MAX], text[4097];
	const cJSON *el;

	lt_quote(pq, sizeof(pq), path);
	if (!o || o->id == LT_OPT_CONFIG) {
		const char *hint = o ? NULL : lt_option_suggest(item->string);
		lt_quote(q, sizeof(q), item->string);
		if (hint)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "unknown key '%s' in config file '%s'; did you mean '%s'?",
					  q, pq, hint);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "unknown key '%s' in config file '%s' (keys are the long option names: see ltrun --help)",
				  q, pq);
	}
	snprintf(where, sizeof(where), "'%s' in config file '%s'", o->name, pq);
	if (o->type != LT_OPT_LIST || !cJSON_IsArray(item)) {
		if (o->type == LT_OPT_LIST && !cJSON_IsString(item))
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s",
					  where, expected_json(o), json_type_name(item));
		if (json_to_text(o, item, where, text, sizeof(text), err))
			return -1;
		return lt_config_set(cfg, o, text, LT_SRC_CONFIG, where, err);
	}
	cJSON_ArrayForEach(el, item) {
		/* One element at a time: a ':' inside a JSON path is not a separator. */
		if (!cJSON_IsString(el))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s: every element must be a path string, got %s",
					  where, json_type_name(el));
		if (lt_config_set(cfg, o, el->valuestring, LT_SRC_CONFIG, where, err))
			return -1;
	}
	return 0;
}

int lt_config_load_text(struct lt_config *cfg, const char *path,
			const char *text, size_t len, struct lt_err *err)
{
	const char *end = NULL;
	char pq[LT_QUOTE_MAX];
	cJSON *root, *item;
	int rc = 0;

	lt_quote(pq, sizeof(pq), path);
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		const char *ep = cJSON_GetErrorPtr();
		end = ep && ep >= text && ep <= text + len ? ep : end;
	} else {
		/* Text after the object ("{...} x") is a mistake, not a comment. */
		while (end && end < text + len && *end && strchr(" \t\r\n", *end))
			end++;
		if (end && end < text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' is not valid JSON (line %d): fix the syntax there",
				  pq, line_of(text, len, end ? (size_t)(end - text) : 0));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' must hold a JSON object such as {\"devices\": 4}, not %s",
				  pq, json_type_name(root));
	}
	cJSON_ArrayForEach(item, root) {
		rc = load_key(cfg, path, item, err);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

int lt_config_load_file(struct lt_config *cfg, const char *path,
			struct lt_err *err)
{
	char pq[LT_QUOTE_MAX], *buf;
	size_t len;
	FILE *f;
	int rc;

	lt_quote(pq, sizeof(pq), path);
	f = fopen(path, "rb");
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				  pq, strerror(errno));
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				pq, strerror(errno));
	} else if (len > CONFIG_MAX_BYTES) {
		rc = lt_err_set(err, LT_EXIT_USAGE,
				"config file '%s' is larger than 1 MiB: is it the right file?", pq);
	} else {
		rc = lt_config_load_text(cfg, path, buf, len, err);
	}
	free(buf);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------ checking */

int lt_config_check_names(const struct lt_config *cfg,
			  const struct lt_registry *reg, struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *name;
		const struct lt_plugin *p;

		if (o->type != LT_OPT_NAME)
			continue;
		name = *(char *const *)cfield(cfg, o);
		if (o->auto_ok && !strcmp(name, "auto"))
			continue;
		if (lt_registry_lookup(reg, (enum lt_kind)o->kind, name, &p, err)) {
			if (cfg->source[i] != LT_SRC_FLAG) {
				size_t n = strlen(err->msg);
				snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)",
					 cfg->source_name[i]);
			}
			return -1;
		}
	}
	return 0;
}

const char *lt_config_value(const struct lt_config *cfg,
			    const struct lt_option *o, char *buf, size_t len)
{
	const void *f = cfield(cfg, o);
	size_t i, n = 0;

	buf[0] = '\0';
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
	case LT_OPT_INT:
		if (*(const int *)f == LT_AUTO || (o->id == LT_OPT_MAIN_PORT && !*(const int *)f))
			snprintf(buf, len, "%s", o->def ? o->def : "");
		else
			snprintf(buf, len, "%d", *(const int *)f);
		break;
	case LT_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
		break;
	case LT_OPT_LIST:
		for (i = 0; i < cfg->num_plugins && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ":" : "",
					      cfg->plugins[i]);
		break;
	default:
		snprintf(buf, len, "%s", *(char *const *)f ? *(char *const *)f : "");
	}
	return buf;
}
