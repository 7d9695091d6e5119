/*
 * loggers.c - the set of loggers a run writes to (logger.h): --logger's
 * list, resolved through the registry like every plugin kind.
 */
#include "logger/logger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct one {
	struct lt_choice choice;
	const struct lt_logger_ops *ops;
	void *self;
	char name[64];
	unsigned long failures;
};

struct lt_loggers {
	struct one l[LT_MAX_LOGGERS];
	int n;
	FILE *warn;
};

int lt_logger_split(const char *text, const char *where, char *specs[LT_MAX_LOGGERS],
		    struct lt_err *err)
{
	const char *p = text;
	int n = 0;

	if (!strcmp(text, "none"))
		return 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		bool param = memchr(p, '=', len) && !memchr(p, ':', len);

		if (!len)
			goto bad;
		if (param && n) {
			/* key=value of the logger before: join it back */
			char *joined;
			size_t had = strlen(specs[n - 1]);
			joined = realloc(specs[n - 1], had + len + 2);
			if (!joined)
				goto oom;
			joined[had] = ',';
			memcpy(joined + had + 1, p, len);
			joined[had + 1 + len] = '\0';
			specs[n - 1] = joined;
		} else {
			if (param)
				goto bad;
			if (n == LT_MAX_LOGGERS) {
				for (int i = 0; i < n; i++)
					free(specs[i]);
				return lt_err_set(err, LT_EXIT_USAGE, "%s: more than %d loggers", where,
						  LT_MAX_LOGGERS);
			}
			specs[n] = strndup(p, len);
			if (!specs[n])
				goto oom;
			n++;
		}
		p += len;
		if (*p == ',' && !*++p)
			goto bad;
	}
	if (!n)
		goto bad;
	return n;
bad:
	for (int i = 0; i < n; i++)
		free(specs[i]);
	{
		char q[LT_QUOTE_MAX];
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s '%s': give logger names separated by commas, each with its parameters after a ':', as csv,tensorboard:flush_secs=5 (or none)",
				  where, lt_quote(q, sizeof(q), text));
	}
oom:
	for (int i = 0; i < n; i++)
		free(specs[i]);
	return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
}

int lt_loggers_check(const struct lt_registry *reg, const char *text, const char *where,
		     struct lt_err *err)
{
	char *specs[LT_MAX_LOGGERS];
	int n = lt_logger_split(text, where, specs, err), rc = 0;

	for (int i = 0; i < n; i++) {
		struct lt_choice c;

		for (int k = 0; k < i && !rc; k++) {
			size_t a = strcspn(specs[i], ":"), b = strcspn(specs[k], ":");
			if (a == b && !strncmp(specs[i], specs[k], a))
				rc = lt_err_set(err, LT_EXIT_USAGE, "%s names logger '%.*s' twice", where,
						(int)a, specs[i]);
		}
		if (!rc && lt_registry_resolve(reg, LT_KIND_LOGGER, specs[i], &c, err))
			rc = -1;
		else if (!rc)
			lt_choice_free(&c);
	}
	for (int i = 0; i < n; i++)
		free(specs[i]);
	return n < 0 ? -1 : rc;
}

static void warn_line(FILE *warn, const char *name, const char *what, const char *msg)
{
	if (warn) {
		fprintf(warn, "ltrun: warning: logger '%s': %s%s; training goes on without it\n", name,
			what, msg);
		fflush(warn);
	}
}

struct lt_loggers *lt_loggers_open(const struct lt_registry *reg, const char *text,
				   const struct lt_logger_run *run, FILE *warn)
{
	struct lt_loggers *set = calloc(1, sizeof(*set));
	char *specs[LT_MAX_LOGGERS];
	struct lt_err err = { 0 };
	int n;

	if (!set)
		return NULL;
	set->warn = warn;
	n = lt_logger_split(text, "--logger", specs, &err);
	if (n < 0)
		warn_line(warn, text, "", err.msg);
	for (int i = 0; i < n; i++) {
		struct one *o = &set->l[set->n];

		snprintf(o->name, sizeof(o->name), "%.*s", (int)strcspn(specs[i], ":"), specs[i]);
		memset(&err, 0, sizeof(err));
		if (lt_registry_resolve(reg, LT_KIND_LOGGER, specs[i], &o->choice, &err)) {
			warn_line(warn, o->name, "", err.msg);
		} else {
			o->ops = o->choice.base->ops;
			if (o->ops->open(run, o->choice.params, &o->self, &err)) {
				warn_line(warn, o->name, "", err.msg);
				lt_choice_free(&o->choice);
			} else {
				set->n++;
			}
		}
		free(specs[i]);
	}
	return set;
}

void lt_loggers_log(struct lt_loggers *set, int64_t step, int epoch, double wall_time,
		    const char *const *names, const double *values, int n)
{
	for (int i = 0; set && i < set->n; i++) {
		struct one *o = &set->l[i];
		struct lt_err err = { 0 };

		if (!o->ops->log_metrics(o->self, step, epoch, wall_time, names, values, n, &err))
			continue;
		if (!o->failures++ && set->warn) {
			fprintf(set->warn,
				"ltrun: warning: logger '%s': %s; training goes on, and this logger tries again at each row\n",
				o->name, err.msg);
			fflush(set->warn);
		}
	}
}

void lt_loggers_close(struct lt_loggers *set)
{
	if (!set)
		return;
	for (int i = 0; i < set->n; i++) {
		struct one *o = &set->l[i];
		struct lt_err err = { 0 };

		if (o->ops->close(o->self, &err) && set->warn)
			fprintf(set->warn, "ltrun: warning: logger '%s': %s\n", o->name, err.msg);
		else if (o->failures > 1 && set->warn)
			fprintf(set->warn, "ltrun: warning: logger '%s' failed %lu times in this run\n",
				o->name, o->failures);
		lt_choice_free(&o->choice);
	}
	free(set);
}
