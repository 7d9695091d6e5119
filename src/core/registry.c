/*
 * registry.c - the table of named plugins, per kind, in registration order.
 *
 * Entries point at descriptors owned by their plugin (static storage in
 * ltrun or in a loaded .so); the registry owns only its arrays.  Names are
 * checked once, on the way in: valid characters, unique within a kind, an
 * alias's base registered first.
 */
#include "core/registry.h"
#include "core/error.h"
#include "core/params.h"
#include "core/parse.h"
#include "ltrun/cluster.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	const struct lt_plugin *plugin;
	const char *origin; /* NULL: built-in */
};

struct lt_registry {
	struct entry *entries[LT_KIND_COUNT];
	size_t count[LT_KIND_COUNT], cap[LT_KIND_COUNT];
	const struct lt_absent *absent[LT_KIND_COUNT];
	const char *origin;
	/* What the registry allocated: origin paths and the presets of a
	 * config file (lt_registry_add_preset), freed with it. */
	void **owned;
	size_t n_owned;
};

/* Keeps ptr until the registry is freed; returns ptr, or NULL (and frees
 * it) when out of memory. */
static void *own(struct lt_registry *reg, void *ptr)
{
	void **grown;

	if (!ptr)
		return NULL;
	grown = realloc(reg->owned, (reg->n_owned + 1) * sizeof(*grown));
	if (!grown) {
		free(ptr);
		return NULL;
	}
	reg->owned = grown;
	reg->owned[reg->n_owned++] = ptr;
	return ptr;
}

static const char *origin_text(const char *origin)
{
	return origin ? origin : "ltrun (built-in)";
}

static const char *const kind_names[LT_KIND_COUNT] = {
	[LT_KIND_STRATEGY] = "strategy",
	[LT_KIND_PRECISION] = "precision",
	[LT_KIND_CKPT_IO] = "ckpt-io",
	[LT_KIND_CLUSTER] = "cluster",
	[LT_KIND_COMM] = "comm",
	[LT_KIND_ACCELERATOR] = "accelerator",
	[LT_KIND_RDZV] = "rdzv",
	[LT_KIND_LOGGER] = "logger",
};

const char *lt_kind_name(enum lt_kind kind)
{
	return (unsigned)kind < LT_KIND_COUNT ? kind_names[kind] : "?";
}

int lt_kind_parse(const char *text, enum lt_kind *out, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	int k, best = -1, best_d = 255;

	for (k = 0; k < LT_KIND_COUNT; k++) {
		int d = lt_edit_distance(text, kind_names[k]);
		if (d == 0) {
			*out = (enum lt_kind)k;
			return 0;
		}
		if (d < best_d) {
			best_d = d;
			best = k;
		}
	}
	if (best >= 0 && best_d <= 3)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "unknown plugin kind '%s'; did you mean '%s'? (kinds: strategy, precision, ckpt-io, cluster, comm, accelerator, rdzv)",
				  lt_quote(q, sizeof(q), text), kind_names[best]);
	return lt_err_set(err, LT_EXIT_USAGE,
			  "unknown plugin kind '%s' (kinds: strategy, precision, ckpt-io, cluster, comm, accelerator, rdzv)",
			  lt_quote(q, sizeof(q), text));
}

static bool valid_name(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", name[i]))
			return false;
	return true;
}

/* The origin of the entry named name (NULL: built-in or none). */
static const char *origin_of(const struct lt_registry *reg, enum lt_kind k, const char *name)
{
	for (size_t i = 0; i < reg->count[k]; i++)
		if (!strcmp(reg->entries[k][i].plugin->name, name))
			return reg->entries[k][i].origin;
	return NULL;
}

/* A preset's keys and values, checked against its base's schema when it is
 * registered, so that a bad one is refused there, naming where it came
 * from, rather than when a run picks it. */
static int check_preset(const struct lt_registry *reg, const struct lt_plugin *p,
			struct lt_err *err)
{
	struct lt_choice c;
	struct lt_err inner = { 0, "" };

	if (!lt_registry_resolve(reg, p->kind, p->name, &c, &inner)) {
		lt_choice_free(&c);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_FAILURE, "%s preset '%s' from %s: %s", kind_names[p->kind],
			  p->name, origin_text(reg->origin), inner.msg);
}

int lt_registry_add(struct lt_registry *reg, const struct lt_plugin *p,
		    struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	struct entry *grown;
	enum lt_kind k;

	if (!reg || !p)
		return lt_err_set(err, LT_EXIT_FAILURE, "lt_registry_add: no registry or plugin given");
	k = p->kind;
	if ((unsigned)k >= LT_KIND_COUNT)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "plugin '%s' has unknown kind %d", lt_quote(q, sizeof(q), p->name), (int)k);
	if (!valid_name(p->name))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid %s name '%s': use 1 to 64 of a-z 0-9 . _ -",
				  kind_names[k], lt_quote(q, sizeof(q), p->name));
	if (lt_registry_find(reg, k, p->name))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s '%s' from %s is already registered by %s: rename one of them",
				  kind_names[k], p->name, origin_text(reg->origin),
				  origin_text(origin_of(reg, k, p->name)));
	if (p->alias_of && !lt_registry_find(reg, k, p->alias_of))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s alias '%s' names '%s', which is not registered",
				  kind_names[k], p->name, lt_quote(q, sizeof(q), p->alias_of));
	if (!p->alias_of && !p->ops)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s '%s' has no ops table", kind_names[k], p->name);
	if (!p->description || !p->recommended_when)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s '%s' needs a description and a recommended_when",
				  kind_names[k], p->name);
	if (reg->count[k] == reg->cap[k]) {
		size_t cap = reg->cap[k] ? 2 * reg->cap[k] : 8;
		grown = realloc(reg->entries[k], cap * sizeof(*grown));
		if (!grown)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		reg->entries[k] = grown;
		reg->cap[k] = cap;
	}
	reg->entries[k][reg->count[k]].plugin = p;
	reg->entries[k][reg->count[k]].origin = reg->origin;
	reg->count[k]++;
	if (p->alias_of && check_preset(reg, p, err)) {
		reg->count[k]--;
		return -1;
	}
	return 0;
}

int lt_registry_add_all(struct lt_registry *reg, const struct lt_plugin *plugins, size_t n,
			const struct lt_absent *absent, struct lt_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (lt_registry_add(reg, &plugins[i], err))
			return -1;
	if (absent && n)
		lt_registry_mark_absent(reg, plugins[0].kind, absent);
	return 0;
}

int lt_registry_add_preset(struct lt_registry *reg, enum lt_kind kind, const char *name,
			   const char *base, const char *preset, const char *description,
			   struct lt_err *err)
{
	struct lt_plugin *p = own(reg, calloc(1, sizeof(*p)));
	char *strs[4] = { NULL, NULL, NULL, NULL };
	const char *src[4] = { name, base, preset ? preset : "",
			       description ? description : "A preset of the config file." };

	for (int i = 0; p && i < 4; i++)
		if (!(strs[i] = own(reg, strdup(src[i]))))
			p = NULL;
	if (!p)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	*p = (struct lt_plugin){
		.kind = kind, .name = strs[0], .alias_of = strs[1], .preset = strs[2],
		.description = strs[3], .recommended_when = "its parameters suit the run",
	};
	return lt_registry_add(reg, p, err);
}

int lt_registry_set_origin(struct lt_registry *reg, const char *origin)
{
	reg->origin = NULL;
	if (origin && !(reg->origin = own(reg, strdup(origin))))
		return -1;
	return 0;
}

void lt_registry_mark_absent(struct lt_registry *reg, enum lt_kind kind,
			     const struct lt_absent *names)
{
	reg->absent[kind] = names;
}

struct lt_registry *lt_registry_new(struct lt_err *err)
{
	static int (*const catalogs[])(struct lt_registry *, struct lt_err *) = {
		lt_strategy_catalog, lt_precision_catalog, lt_ckpt_io_catalog,
		lt_cluster_catalog,  lt_comm_catalog,      lt_accelerator_catalog,
		lt_rdzv_catalog,     lt_logger_catalog,
	};
	struct lt_registry *reg = calloc(1, sizeof(*reg));
	size_t i;

	if (!reg) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof(catalogs) / sizeof(catalogs[0]); i++) {
		if (catalogs[i](reg, err)) {
			lt_registry_free(reg);
			return NULL;
		}
	}
	return reg;
}

void lt_registry_free(struct lt_registry *reg)
{
	int k;

	if (!reg)
		return;
	for (k = 0; k < LT_KIND_COUNT; k++)
		free(reg->entries[k]);
	for (size_t i = 0; i < reg->n_owned; i++)
		free(reg->owned[i]);
	free(reg->owned);
	free(reg);
}

const struct lt_plugin *lt_registry_find(const struct lt_registry *reg,
					 enum lt_kind kind, const char *name)
{
	size_t i;

	if ((unsigned)kind >= LT_KIND_COUNT || !name)
		return NULL;
	for (i = 0; i < reg->count[kind]; i++)
		if (!strcmp(reg->entries[kind][i].plugin->name, name))
			return reg->entries[kind][i].plugin;
	return NULL;
}

const struct lt_plugin *lt_registry_base(const struct lt_registry *reg,
					 const struct lt_plugin *p)
{
	int hops;

	for (hops = 0; p && p->alias_of && hops < 8; hops++)
		p = lt_registry_find(reg, p->kind, p->alias_of);
	return p;
}

const char *lt_registry_auto(const struct lt_registry *reg, enum lt_kind kind,
			     const char *name, int world_size)
{
	if (strcmp(name, "auto"))
		return name;
	if (kind == LT_KIND_STRATEGY)
		return world_size > 1 ? "ddp" : "single_device";
	if (kind == LT_KIND_ACCELERATOR && lt_registry_count(reg, kind))
		return lt_registry_at(reg, kind, 0)->name;
	return name;
}

void lt_choice_free(struct lt_choice *c)
{
	if (!c)
		return;
	lt_params_free(c->params);
	memset(c, 0, sizeof(*c));
}

int lt_registry_resolve(const struct lt_registry *reg, enum lt_kind kind, const char *spec,
			struct lt_choice *out, struct lt_err *err)
{
	const struct lt_plugin *chain[8], *p = NULL;
	char name[72], owner[96], where[96], q[LT_QUOTE_MAX];
	size_t nlen = strcspn(spec, ":");
	int depth = 0;

	memset(out, 0, sizeof(*out));
	if (nlen >= sizeof(name))
		return lt_err_set(err, LT_EXIT_USAGE, "unknown %s '%s': names are at most 64 characters",
				  lt_kind_name(kind), lt_quote(q, sizeof(q), spec));
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	if (lt_registry_lookup(reg, kind, name, &p, err))
		return -1;
	out->named = p;
	for (; p && p->alias_of && depth < 8; depth++) {
		chain[depth] = p;
		p = lt_registry_find(reg, kind, p->alias_of);
	}
	if (!p || p->alias_of)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s '%s': its presets do not lead to a plugin",
				  lt_kind_name(kind), name);
	out->base = p;
	snprintf(owner, sizeof(owner), "%s '%s'", lt_kind_name(kind), p->name);
	out->params = lt_params_new(p->params, owner, err);
	if (!out->params)
		return -1;
	while (depth-- > 0) {
		snprintf(where, sizeof(where), "preset '%s'", chain[depth]->name);
		if (chain[depth]->preset &&
		    lt_params_apply(out->params, chain[depth]->preset, where, err))
			goto fail;
	}
	if (spec[nlen] == ':') {
		snprintf(where, sizeof(where), "'%s'", lt_quote(q, sizeof(q), spec));
		if (lt_params_apply(out->params, spec + nlen + 1, where, err))
			goto fail;
	}
	return 0;
fail:
	lt_choice_free(out);
	return -1;
}

static const struct lt_absent *find_absent(const struct lt_registry *reg, enum lt_kind kind,
					   const char *name)
{
	const struct lt_absent *a;

	for (a = reg->absent[kind]; a && a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

/* Why a is not built, after "not built in this version": "" for a plugin
 * not written yet, else ": it needs LIB, left out of this build
 * (./configure FLAG); rebuild with PACKAGE installed". */
static const char *absent_why(const struct lt_absent *a, char *buf, size_t len)
{
	if (!a->flag)
		return "";
	snprintf(buf, len, ": it needs %s, left out of this build (./configure %s); rebuild with %s installed",
		 a->lib, a->flag, a->package);
	return buf;
}

/* Writes "a, b, c" (the valid names of kind) into buf. */
static void valid_names(const struct lt_registry *reg, enum lt_kind kind,
			char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < reg->count[kind] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
				      reg->entries[kind][i].plugin->name);
}

int lt_registry_lookup(const struct lt_registry *reg, enum lt_kind kind,
		       const char *name, const struct lt_plugin **out,
		       struct lt_err *err)
{
	const struct lt_plugin *p = lt_registry_find(reg, kind, name);
	const struct lt_absent *a;
	const char *best = NULL;
	char q[LT_QUOTE_MAX], valid[320], why[256];
	int best_d = 255;
	size_t i;

	if (p) {
		*out = p;
		return 0;
	}
	if ((a = find_absent(reg, kind, name)))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s '%s' is not built in this version%s (see 'ltrun --list %s')",
				  kind_names[kind], name, absent_why(a, why, sizeof(why)),
				  kind_names[kind]);
	for (i = 0; i < reg->count[kind]; i++) {
		const char *cand = reg->entries[kind][i].plugin->name;
		int d = lt_edit_distance(name, cand);
		if (d < best_d) {
			best_d = d;
			best = cand;
		}
	}
	valid_names(reg, kind, valid, sizeof(valid));
	lt_quote(q, sizeof(q), name);
	if (best && best_d <= 3 && (size_t)best_d < strlen(best))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "unknown %s '%s'; did you mean '%s'? (valid: %s)",
				  kind_names[kind], q, best, valid);
	return lt_err_set(err, LT_EXIT_USAGE, "unknown %s '%s' (valid: %s)",
			  kind_names[kind], q, valid);
}

size_t lt_registry_count(const struct lt_registry *reg, enum lt_kind kind)
{
	return (unsigned)kind < LT_KIND_COUNT ? reg->count[kind] : 0;
}

const struct lt_plugin *lt_registry_at(const struct lt_registry *reg,
				       enum lt_kind kind, size_t i)
{
	return i < lt_registry_count(reg, kind) ? reg->entries[kind][i].plugin : NULL;
}

const char *lt_registry_origin_at(const struct lt_registry *reg,
				  enum lt_kind kind, size_t i)
{
	if (i >= lt_registry_count(reg, kind))
		return NULL;
	return reg->entries[kind][i].origin ? reg->entries[kind][i].origin : "built-in";
}

const struct lt_absent *lt_registry_absent(const struct lt_registry *reg, enum lt_kind kind)
{
	return (unsigned)kind < LT_KIND_COUNT ? reg->absent[kind] : NULL;
}

/* ------------------------------------------------- config file presets */

/* Appends ",key=value" of one JSON member to buf (n bytes used).  Returns
 * the new length, or -1 with err set for a value that is not a string,
 * number or boolean. */
static int preset_item(const cJSON *v, const char *where, char *buf, size_t len, size_t n,
		       struct lt_err *err)
{
	char text[160], q[LT_QUOTE_MAX];

	lt_quote(q, sizeof(q), v->string);
	if (cJSON_IsString(v))
		snprintf(text, sizeof(text), "%s", v->valuestring);
	else if (cJSON_IsBool(v))
		snprintf(text, sizeof(text), "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v) && fabs(v->valuedouble) < 0x1p62 &&
		 v->valuedouble == (double)(long long)v->valuedouble)
		snprintf(text, sizeof(text), "%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(text, sizeof(text), "%.17g", v->valuedouble);
	else
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s: parameter '%s' must be a string, number or boolean", where, q);
	if (strchr(text, ',') || n + strlen(v->string) + strlen(text) + 3 > len)
		return lt_err_set(err, LT_EXIT_USAGE, "%s: the value of '%s' is too long or has a ','",
				  where, q);
	return n + (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "", v->string, text);
}

static int add_preset_json(struct lt_registry *reg, enum lt_kind k, const cJSON *def,
			   struct lt_err *err)
{
	const char *base = NULL, *desc = NULL;
	char where[160], preset[1024] = "", q[LT_QUOTE_MAX];
	const cJSON *v;
	int n = 0;

	snprintf(where, sizeof(where), "%s preset '%s' in %s", kind_names[k],
		 lt_quote(q, sizeof(q), def->string), reg->origin ? reg->origin : "the config");
	if (!cJSON_IsObject(def))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s must be an object such as {\"base\": \"ddp\", \"bucket_mb\": 100}",
				  where);
	cJSON_ArrayForEach(v, def) {
		if (!strcmp(v->string, "base") || !strcmp(v->string, "description")) {
			if (!cJSON_IsString(v))
				return lt_err_set(err, LT_EXIT_USAGE, "%s: '%s' must be a string",
						  where, v->string);
			*(!strcmp(v->string, "base") ? &base : &desc) = v->valuestring;
		} else if ((n = preset_item(v, where, preset, sizeof(preset), (size_t)n, err)) < 0) {
			return -1;
		}
	}
	if (!base)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s has no \"base\": name the %s it presets (see 'ltrun --list %s')",
				  where, kind_names[k], kind_names[k]);
	if (!lt_registry_find(reg, k, base)) {
		const struct lt_plugin *unused;
		struct lt_err inner = { 0, "" };
		lt_registry_lookup(reg, k, base, &unused, &inner);
		return lt_err_set(err, LT_EXIT_USAGE, "%s: base: %s", where, inner.msg);
	}
	if (lt_registry_add_preset(reg, k, def->string, base, preset, desc, err)) {
		err->status = LT_EXIT_USAGE;
		return -1;
	}
	return 0;
}

int lt_registry_add_presets_json(struct lt_registry *reg, const char *json,
				 const char *origin, struct lt_err *err)
{
	cJSON *root = cJSON_Parse(json), *kind, *def;
	enum lt_kind k;
	int rc = -1;

	if (!cJSON_IsObject(root)) {
		lt_err_set(err, LT_EXIT_USAGE,
			   "the presets of %s are not an object such as {\"strategy\": {\"NAME\": {\"base\": \"ddp\"}}}",
			   origin);
		goto out;
	}
	if (lt_registry_set_origin(reg, origin)) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(kind, root) {
		struct lt_err inner = { 0, "" };
		if (lt_kind_parse(kind->string, &k, &inner)) {
			lt_err_set(err, LT_EXIT_USAGE, "presets in %s: %s", origin, inner.msg);
			goto out;
		}
		if (!cJSON_IsObject(kind)) {
			lt_err_set(err, LT_EXIT_USAGE,
				   "presets in %s: '%s' must be an object of presets by name", origin,
				   kind->string);
			goto out;
		}
		cJSON_ArrayForEach(def, kind)
			if (add_preset_json(reg, k, def, err))
				goto out;
	}
	rc = 0;
out:
	lt_registry_set_origin(reg, NULL);
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------------- listing */

static const char *param_type_name(enum lt_param_type t)
{
	switch (t) {
	case LT_PARAM_BOOL: return "bool";
	case LT_PARAM_INT: return "int";
	case LT_PARAM_FLOAT: return "float";
	case LT_PARAM_STRING: return "string";
	case LT_PARAM_CHOICE: return "choice";
	}
	return "?";
}

/* "float in [0.001, 65536], default 25": a parameter's type, range and
 * default, as --list shows it. */
static void param_line(const struct lt_param_spec *s, char *buf, size_t len)
{
	int n;

	if (s->type == LT_PARAM_CHOICE)
		n = snprintf(buf, len, "%s", s->choices ? s->choices : "");
	else if ((s->type == LT_PARAM_INT || s->type == LT_PARAM_FLOAT) && s->min < s->max)
		n = snprintf(buf, len, "%s in [%g, %g]", param_type_name(s->type), s->min, s->max);
	else
		n = snprintf(buf, len, "%s", param_type_name(s->type));
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", default %s",
			 s->default_value ? s->default_value : "unset");
}

static void print_entry(FILE *out, const struct entry *e)
{
	const struct lt_plugin *p = e->plugin;
	char line[256];

	fprintf(out, "  %-26s %s\n", p->name, p->description);
	if (p->alias_of)
		fprintf(out, "  %-26s preset of %s%s%s\n", "", p->alias_of,
			p->preset && *p->preset ? " with " : "", p->preset ? p->preset : "");
	fprintf(out, "  %-26s recommended when %s\n", "", p->recommended_when);
	fprintf(out, "  %-26s from %s\n", "", e->origin ? e->origin : "built-in");
	for (const struct lt_param_spec *s = p->alias_of ? NULL : p->params; s && s->name; s++) {
		param_line(s, line, sizeof(line));
		fprintf(out, "  %-26s   %s=%s: %s\n", "", s->name, line, s->help ? s->help : "");
	}
}

static void print_kind(const struct lt_registry *reg, FILE *out, enum lt_kind k)
{
	const struct lt_absent *a;
	size_t i;

	fprintf(out, "%s:\n", kind_names[k]);
	for (i = 0; i < reg->count[k]; i++)
		print_entry(out, &reg->entries[k][i]);
	if (reg->absent[k] && reg->absent[k][0].name) {
		fprintf(out, "  not built in this version:");
		for (a = reg->absent[k]; a->name; a++) {
			fprintf(out, "%s %s", a == reg->absent[k] ? "" : ",", a->name);
			if (a->flag)
				fprintf(out, " (./configure %s)", a->flag);
		}
		fputc('\n', out);
	}
}

void lt_registry_print(const struct lt_registry *reg, FILE *out, int kind)
{
	int k;

	for (k = 0; k < LT_KIND_COUNT; k++) {
		if (kind >= 0 && k != kind)
			continue;
		if (kind < 0 && k)
			fputc('\n', out);
		print_kind(reg, out, (enum lt_kind)k);
	}
}

/* {"launcher":"fork"} from "launcher=fork"; NULL when out of memory. */
static cJSON *preset_json(const char *preset)
{
	cJSON *obj = cJSON_CreateObject();
	const char *p = preset;
	char key[64], val[160];

	while (obj && p && *p) {
		size_t klen = strcspn(p, "="), vlen;
		if (!p[klen] || klen >= sizeof(key))
			break;
		memcpy(key, p, klen);
		key[klen] = '\0';
		p += klen + 1;
		vlen = strcspn(p, ",");
		if (vlen >= sizeof(val))
			break;
		memcpy(val, p, vlen);
		val[vlen] = '\0';
		p += vlen + (p[vlen] == ',');
		if (!cJSON_AddStringToObject(obj, key, val)) {
			cJSON_Delete(obj);
			return NULL;
		}
	}
	return obj;
}

/* One schema entry: {"name", "type", "default", "min", "max", "choices", "help"}. */
static cJSON *param_json(const struct lt_param_spec *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *choices;

	if (!o || !cJSON_AddStringToObject(o, "name", s->name) ||
	    !cJSON_AddStringToObject(o, "type", param_type_name(s->type)) ||
	    !(s->default_value ? cJSON_AddStringToObject(o, "default", s->default_value)
			       : cJSON_AddNullToObject(o, "default")) ||
	    !cJSON_AddStringToObject(o, "help", s->help ? s->help : ""))
		goto out_free;
	if ((s->type == LT_PARAM_INT || s->type == LT_PARAM_FLOAT) && s->min < s->max &&
	    (!cJSON_AddNumberToObject(o, "min", s->min) || !cJSON_AddNumberToObject(o, "max", s->max)))
		goto out_free;
	if (s->type == LT_PARAM_CHOICE) {
		const char *c = s->choices ? s->choices : "";
		char word[64];

		if (!(choices = cJSON_AddArrayToObject(o, "choices")))
			goto out_free;
		while (*c) {
			size_t n = strcspn(c, "|");
			snprintf(word, sizeof(word), "%.*s", (int)n, c);
			if (!cJSON_AddItemToArray(choices, cJSON_CreateString(word)))
				goto out_free;
			c += n + (c[n] == '|');
		}
	}
	return o;
out_free:
	cJSON_Delete(o);
	return NULL;
}

static bool add_params_json(cJSON *o, const struct lt_param_spec *schema)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "params");

	for (const struct lt_param_spec *s = schema; arr && s && s->name; s++)
		if (!cJSON_AddItemToArray(arr, param_json(s)))
			return false;
	return arr != NULL;
}

static cJSON *plugin_json(const struct lt_registry *reg, const struct lt_plugin *p,
			  const char *origin)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "name", p->name) ||
	    !cJSON_AddTrueToObject(o, "built") ||
	    !cJSON_AddStringToObject(o, "description", p->description) ||
	    !cJSON_AddStringToObject(o, "recommended_when", p->recommended_when) ||
	    !cJSON_AddStringToObject(o, "origin", origin ? origin : "built-in"))
		goto out_free;
	if (p->alias_of) {
		const struct lt_plugin *base = lt_registry_base(reg, p);
		cJSON *preset;

		if (!cJSON_AddStringToObject(o, "alias_of", p->alias_of) ||
		    !cJSON_AddStringToObject(o, "base", base ? base->name : p->alias_of))
			goto out_free;
		preset = preset_json(p->preset);
		if (!preset)
			goto out_free;
		cJSON_AddItemToObject(o, "preset", preset);
	} else if (!add_params_json(o, p->params)) {
		goto out_free;
	}
	if (p->kind == LT_KIND_CLUSTER && p->ops) {
		const struct lt_cluster_ops *ops = p->ops;
		if (!cJSON_AddNumberToObject(o, "priority", ops->priority))
			goto out_free;
	}
	return o;
out_free:
	cJSON_Delete(o);
	return NULL;
}

/* A name this version knows but does not build: {"name", "built": false,
 * "reason"}, and "left_out_by" (the ./configure flag) for one left out. */
static cJSON *absent_json(enum lt_kind k, const struct lt_absent *a)
{
	cJSON *o = cJSON_CreateObject();
	char reason[512], why[256];

	snprintf(reason, sizeof(reason),
		 "not built in this version%s%s selecting %s '%s' is refused before anything starts",
		 absent_why(a, why, sizeof(why)), a->flag ? ";" : ":", kind_names[k], a->name);
	if (!o || !cJSON_AddStringToObject(o, "name", a->name) || !cJSON_AddFalseToObject(o, "built") ||
	    !cJSON_AddStringToObject(o, "reason", reason) ||
	    (a->flag && !cJSON_AddStringToObject(o, "left_out_by", a->flag))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *lt_registry_json(const struct lt_registry *reg, int kind)
{
	cJSON *root = cJSON_CreateObject();
	int k;

	if (!root)
		return NULL;
	for (k = 0; k < LT_KIND_COUNT; k++) {
		cJSON *arr;
		size_t i;

		if (kind >= 0 && k != kind)
			continue;
		arr = cJSON_AddArrayToObject(root, kind_names[k]);
		if (!arr)
			goto out_free;
		for (i = 0; i < reg->count[k]; i++)
			if (!cJSON_AddItemToArray(arr, plugin_json(reg, reg->entries[k][i].plugin,
								   reg->entries[k][i].origin)))
				goto out_free;
		for (const struct lt_absent *a = reg->absent[k]; a && a->name; a++)
			if (!cJSON_AddItemToArray(arr, absent_json((enum lt_kind)k, a)))
				goto out_free;
	}
	return root;
out_free:
	cJSON_Delete(root);
	return NULL;
}
