/*
 * params.c - a plugin's parameters: the values of its schema
 * (struct lt_param_spec, ltrun/plugin.h) for one run, parsed from
 * "key=value,key=value" texts (presets, the inline form
 * `--strategy ddp:bucket_mb=100`) and read by the plugin with
 * lt_params_int() and its siblings.
 *
 * Every value is checked when it is set: an unknown key offers the closest
 * one and lists the valid ones, a bad value names the parameter, its type
 * and its range or choices.
 */
#include "core/params.h"
#include "core/error.h"
#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct value {
	bool set, given;
	char text[128];
	long long i;
	double f;
	bool b;
};

struct lt_params {
	const struct lt_param_spec *schema;
	size_t n;
	char owner[96]; /* "strategy 'ddp'": who the parameters are of */
	struct value v[];
};

static size_t schema_len(const struct lt_param_spec *s)
{
	size_t n = 0;

	while (s && s[n].name)
		n++;
	return n;
}

static const char *type_name(enum lt_param_type t)
{
	switch (t) {
	case LT_PARAM_BOOL: return "true or false";
	case LT_PARAM_INT: return "an integer";
	case LT_PARAM_FLOAT: return "a number";
	case LT_PARAM_STRING: return "text";
	case LT_PARAM_CHOICE: return "one of";
	}
	return "?";
}

/* Whether word is one of choices ("a|b|c"). */
static bool in_choices(const char *choices, const char *word)
{
	size_t n = strlen(word);
	const char *p = choices;

	while (p && *p) {
		size_t len = strcspn(p, "|");
		if (len == n && !strncmp(p, word, n))
			return true;
		p += len + (p[len] == '|');
	}
	return false;
}

static void range_text(const struct lt_param_spec *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (s->type == LT_PARAM_CHOICE)
		snprintf(buf, len, " %s", s->choices ? s->choices : "");
	else if ((s->type == LT_PARAM_INT || s->type == LT_PARAM_FLOAT) && s->min < s->max)
		snprintf(buf, len, " in [%g, %g]", s->min, s->max);
}

/* Parses text as s's value into v.  Returns 0, or -1 with err naming
 * where (the preset or flag the text came from). */
static int set_value(const struct lt_params *p, const struct lt_param_spec *s, struct value *v,
		     const char *text, const char *where, struct lt_err *err)
{
	char q[LT_QUOTE_MAX], range[160];
	struct value nv = { .set = true };
	bool ok = true;

	lt_quote(q, sizeof(q), text);
	if (strlen(text) >= sizeof(nv.text) || strchr(text, ','))
		ok = false;
	switch (s->type) {
	case LT_PARAM_BOOL:
		ok = ok && lt_parse_bool(text, &nv.b) == 0;
		nv.i = nv.b;
		nv.f = nv.b;
		break;
	case LT_PARAM_INT: {
		char *end;
		errno = 0;
		nv.i = strtoll(text, &end, 10);
		ok = ok && *text && !*end && !errno;
		if (ok && s->min < s->max && ((double)nv.i < s->min || (double)nv.i > s->max))
			ok = false;
		nv.f = (double)nv.i;
		break;
	}
	case LT_PARAM_FLOAT: {
		char *end;
		errno = 0;
		nv.f = strtod(text, &end);
		ok = ok && *text && !*end && !errno && isfinite(nv.f);
		if (ok && s->min < s->max && (nv.f < s->min || nv.f > s->max))
			ok = false;
		break;
	}
	case LT_PARAM_STRING:
		break;
	case LT_PARAM_CHOICE:
		ok = ok && in_choices(s->choices, text);
		break;
	}
	if (!ok) {
		range_text(s, range, sizeof(range));
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s: parameter %s=%s%s%s is not valid: give %s%s",
				  p->owner, s->name, q, where ? " in " : "", where ? where : "",
				  type_name(s->type), range);
	}
	snprintf(nv.text, sizeof(nv.text), "%s", text);
	*v = nv;
	return 0;
}

void lt_params_free(struct lt_params *p)
{
	free(p);
}

struct lt_params *lt_params_new(const struct lt_param_spec *schema, const char *owner,
				struct lt_err *err)
{
	size_t n = schema_len(schema), i;
	struct lt_params *p = calloc(1, sizeof(*p) + n * sizeof(p->v[0]));

	if (!p) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the parameters of %s", owner);
		return NULL;
	}
	p->schema = schema;
	p->n = n;
	snprintf(p->owner, sizeof(p->owner), "%s", owner);
	for (i = 0; i < n; i++) {
		if (!schema[i].default_value)
			continue;
		if (set_value(p, &schema[i], &p->v[i], schema[i].default_value, "its schema's default",
			      err)) {
			free(p);
			return NULL;
		}
	}
	return p;
}

/* Writes "a, b, c" (the schema's names) into buf. */
static void names_text(const struct lt_params *p, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < p->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", p->schema[i].name);
	if (!p->n)
		snprintf(buf, len, "none");
}

static int set_one(struct lt_params *p, const char *key, const char *val, const char *where,
		   struct lt_err *err)
{
	char q[LT_QUOTE_MAX], names[400];
	const char *best = NULL;
	int best_d = 255;
	size_t i;

	for (i = 0; i < p->n; i++) {
		int d;
		if (!strcmp(p->schema[i].name, key)) {
			if (set_value(p, &p->schema[i], &p->v[i], val, where, err))
				return -1;
			p->v[i].given = true;
			return 0;
		}
		d = lt_edit_distance(key, p->schema[i].name);
		if (d < best_d) {
			best_d = d;
			best = p->schema[i].name;
		}
	}
	names_text(p, names, sizeof(names));
	lt_quote(q, sizeof(q), key);
	if (best && best_d <= 3 && (size_t)best_d < strlen(best))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s has no parameter '%s'%s%s; did you mean '%s'? (parameters: %s)",
				  p->owner, q, where ? " in " : "", where ? where : "", best, names);
	return lt_err_set(err, LT_EXIT_USAGE, "%s has no parameter '%s'%s%s (parameters: %s)",
			  p->owner, q, where ? " in " : "", where ? where : "", names);
}

int lt_params_apply(struct lt_params *p, const char *text, const char *where,
		    struct lt_err *err)
{
	char key[64], val[160], q[LT_QUOTE_MAX];
	const char *s = text;

	while (s && *s) {
		size_t item = strcspn(s, ","), klen = strcspn(s, "=,");
		size_t vlen;

		if (klen == item || klen == 0 || klen >= sizeof(key))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "%s: '%s'%s%s is not key=value: write name=value pairs separated by ','",
					  p->owner, lt_quote(q, sizeof(q), text), where ? " in " : "",
					  where ? where : "");
		memcpy(key, s, klen);
		key[klen] = '\0';
		vlen = item - klen - 1;
		if (vlen >= sizeof(val))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "%s: the value of '%s' is longer than %zu bytes",
					  p->owner, lt_quote(q, sizeof(q), key), sizeof(val) - 1);
		memcpy(val, s + klen + 1, vlen);
		val[vlen] = '\0';
		if (set_one(p, key, val, where, err))
			return -1;
		s += item + (s[item] == ',');
	}
	return 0;
}

static const struct value *find(const struct lt_params *p, const char *name,
				enum lt_param_type t1, enum lt_param_type t2)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (!strcmp(p->schema[i].name, name))
			return p->v[i].set && (p->schema[i].type == t1 || p->schema[i].type == t2)
				       ? &p->v[i]
				       : NULL;
	return NULL;
}

LT_API bool lt_params_bool(const struct lt_params *p, const char *name)
{
	const struct value *v = find(p, name, LT_PARAM_BOOL, LT_PARAM_BOOL);

	return v && v->b;
}

LT_API long long lt_params_int(const struct lt_params *p, const char *name)
{
	const struct value *v = find(p, name, LT_PARAM_INT, LT_PARAM_BOOL);

	return v ? v->i : 0;
}

LT_API double lt_params_float(const struct lt_params *p, const char *name)
{
	const struct value *v = find(p, name, LT_PARAM_FLOAT, LT_PARAM_INT);

	return v ? v->f : 0.0;
}

LT_API const char *lt_params_str(const struct lt_params *p, const char *name)
{
	const struct value *v = find(p, name, LT_PARAM_STRING, LT_PARAM_CHOICE);

	return v ? v->text : NULL;
}

LT_API bool lt_params_given(const struct lt_params *p, const char *name)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (!strcmp(p->schema[i].name, name))
			return p->v[i].given;
	return false;
}

size_t lt_params_count(const struct lt_params *p)
{
	return p ? p->n : 0;
}

const struct lt_param_spec *lt_params_spec(const struct lt_params *p, size_t i)
{
	return p && i < p->n ? &p->schema[i] : NULL;
}

const char *lt_params_text(const struct lt_params *p, size_t i)
{
	return p && i < p->n && p->v[i].set ? p->v[i].text : NULL;
}
