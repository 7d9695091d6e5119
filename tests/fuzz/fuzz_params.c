/*
 * fuzz_params.c - libFuzzer target for plugin parameters: the inline form
 * "name:key=value,..." through lt_registry_resolve() with the built-in
 * registry, and "key=value,..." through lt_params_apply() over a schema of
 * every type.  Any bytes must either resolve or fail with a one-line usage
 * error, never crash or leak; values read back must respect the schema.
 *
 * The first byte picks the kind; the rest is the text.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/registry.h"

static const struct lt_param_spec schema[] = {
	{ .name = "flag", .type = LT_PARAM_BOOL, .default_value = "false" },
	{ .name = "count", .type = LT_PARAM_INT, .default_value = "4", .min = 1, .max = 1000 },
	{ .name = "big", .type = LT_PARAM_INT },
	{ .name = "ratio", .type = LT_PARAM_FLOAT, .default_value = "0.5", .min = 0, .max = 1 },
	{ .name = "label", .type = LT_PARAM_STRING },
	{ .name = "mode", .type = LT_PARAM_CHOICE, .default_value = "a", .choices = "a|bb|ccc" },
	{ .name = NULL },
};

static struct lt_registry *registry(void)
{
	static struct lt_registry *reg;
	struct lt_err err = { 0, "" };

	if (!reg && !(reg = lt_registry_new(&err)))
		abort();
	return reg;
}

/* A failure must say something, on one line, with the usage status. */
static void check_error(const struct lt_err *err)
{
	if (!err->msg[0] || strchr(err->msg, '\n') || err->status != LT_EXIT_USAGE)
		abort();
}

static void fuzz_apply(const char *text)
{
	struct lt_err err = { 0, "" };
	struct lt_params *p = lt_params_new(schema, "fuzz 'schema'", &err);
	const char *s;
	long long n;
	double f;

	if (!p)
		abort();
	if (lt_params_apply(p, text, "fuzz", &err))
		check_error(&err);
	n = lt_params_int(p, "count");
	f = lt_params_float(p, "ratio");
	s = lt_params_str(p, "mode");
	if (n < 1 || n > 1000 || !(f >= 0 && f <= 1) || !s ||
	    (strcmp(s, "a") && strcmp(s, "bb") && strcmp(s, "ccc")))
		abort(); /* a value outside the schema was stored */
	(void)lt_params_bool(p, "flag");
	(void)lt_params_int(p, "big");
	s = lt_params_str(p, "label");
	if (s && strchr(s, ','))
		abort();
	lt_params_free(p);
}

static void fuzz_resolve(enum lt_kind kind, const char *spec)
{
	struct lt_err err = { 0, "" };
	struct lt_choice c;
	size_t i;

	if (lt_registry_resolve(registry(), kind, spec, &c, &err)) {
		check_error(&err);
		return;
	}
	if (!c.named || !c.base || c.base->alias_of)
		abort();
	for (i = 0; i < lt_params_count(c.params); i++)
		(void)lt_params_text(c.params, i);
	lt_choice_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] == 0xff)
		fuzz_apply(text);
	else
		fuzz_resolve((enum lt_kind)(data[0] % LT_KIND_COUNT), text);
	free(text);
	return 0;
}
