/*
 * metrics.c - the metrics table.  Columns are found by a linear search
 * (a run logs a handful).  Each committed row is kept as its CSV text for
 * the columns that existed then; columns added later are empty in it, so
 * rewriting the file is appending commas, not reformatting numbers.
 */
#include "core/buf.h"
#include "logger/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
	char *text;   /* "step,epoch,v1,,v3" */
	size_t ncols; /* metric columns when it was committed */
};

struct lt_metrics {
	char *path;             /* NULL: no file */
	char **names;           /* ncols column names */
	double *cur, *last;     /* current row's values; last committed */
	bool *cur_set;
	size_t ncols, cap;
	struct row *rows;
	size_t nrows, rows_cap;
	bool oom;               /* a set ran out of memory; the next commit says so */
};

/* Grows the column arrays to hold one more column.  Returns 0 or -1. */
static int grow_columns(struct lt_metrics *m)
{
	size_t cap = m->cap ? m->cap * 2 : 8;
	char **names = realloc(m->names, cap * sizeof(*names));
	double *cur, *last;
	bool *set;

	if (names)
		m->names = names;
	cur = names ? realloc(m->cur, cap * sizeof(*cur)) : NULL;
	if (cur)
		m->cur = cur;
	last = cur ? realloc(m->last, cap * sizeof(*last)) : NULL;
	if (last)
		m->last = last;
	set = last ? realloc(m->cur_set, cap * sizeof(*set)) : NULL;
	if (!set)
		return -1;
	m->cur_set = set;
	m->cap = cap;
	return 0;
}

/* Index of column name, added when new; -1 when out of memory. */
static long column(struct lt_metrics *m, const char *name, bool add)
{
	size_t i;

	for (i = 0; i < m->ncols; i++)
		if (!strcmp(m->names[i], name))
			return (long)i;
	if (!add || (m->ncols == m->cap && grow_columns(m)))
		return -1;
	m->names[m->ncols] = strdup(name);
	if (!m->names[m->ncols])
		return -1;
	m->cur_set[m->ncols] = false;
	m->last[m->ncols] = NAN;
	return (long)m->ncols++;
}

void lt_metrics_set(struct lt_metrics *m, const char *name, double value)
{
	long c = column(m, name, true);

	if (c < 0) {
		m->oom = true;
		return;
	}
	m->cur[c] = value;
	m->cur_set[c] = true;
}

double lt_metrics_last(const struct lt_metrics *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->ncols; i++)
		if (!strcmp(m->names[i], name))
			return m->last[i];
	return NAN;
}

/* Writes a CSV field, quoted when it holds a comma, a quote or a newline. */
static void put_field(FILE *f, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The current row as CSV text, malloc'd (NULL when out of memory). */
static char *format_row(const struct lt_metrics *m, int64_t step, int epoch)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "%lld,%d", (long long)step, epoch);
	for (i = 0; i < m->ncols; i++) {
		fputc(',', f);
		if (m->cur_set[i])
			fprintf(f, "%.9g", m->cur[i]);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* Writes the header and every row to f. */
static void write_csv(const struct lt_metrics *m, FILE *f)
{
	size_t i, j;

	fputs("step,epoch", f);
	for (i = 0; i < m->ncols; i++) {
		fputc(',', f);
		put_field(f, m->names[i]);
	}
	fputc('\n', f);
	for (i = 0; i < m->nrows; i++) {
		fputs(m->rows[i].text, f);
		for (j = m->rows[i].ncols; j < m->ncols; j++)
			fputc(',', f);
		fputc('\n', f);
	}
}

/* Rewrites m->path through a temporary file in the same directory.
 * Returns 0, or -1 with err naming the file; the old file stays then. */
static int rewrite(const struct lt_metrics *m, struct lt_err *err)
{
	char tmp[4200];
	FILE *f;
	int e;

	if (!m->path)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", m->path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot write metrics file '%s': %s (check --log-dir)", tmp,
				  strerror(errno));
	write_csv(m, f);
	e = ferror(f) ? EIO : 0;
	if (fflush(f) && !e)
		e = errno;
	if (fclose(f) && !e)
		e = errno;
	if (!e && rename(tmp, m->path))
		e = errno;
	if (e) {
		unlink(tmp);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot write metrics file '%s': %s",
				  m->path, strerror(e));
	}
	return 0;
}

/* Appends the current row; returns 0 or -1 (out of memory). */
static int add_row(struct lt_metrics *m, int64_t step, int epoch)
{
	char *text;
	size_t i;

	if (lt_array_reserve(&m->rows, &m->rows_cap, m->nrows + 1, sizeof(*m->rows), 64))
		return -1;
	text = format_row(m, step, epoch);
	if (!text)
		return -1;
	m->rows[m->nrows++] = (struct row){ text, m->ncols };
	for (i = 0; i < m->ncols; i++) {
		if (m->cur_set[i])
			m->last[i] = m->cur[i];
		m->cur_set[i] = false;
	}
	return 0;
}

int lt_metrics_commit(struct lt_metrics *m, int64_t step, int epoch,
		      struct lt_err *err)
{
	size_t i;
	bool any = false;

	for (i = 0; i < m->ncols; i++)
		any |= m->cur_set[i];
	if (m->oom || (any && add_row(m, step, epoch))) {
		m->oom = false;
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the metrics of '%s'",
				  m->path ? m->path : "(no file)");
	}
	return any ? rewrite(m, err) : 0;
}

/* Splits the header's names (after "step,epoch") into columns; a quoted
 * field is unquoted.  Returns 0, or -1 (not our header, or out of memory). */
static int load_header(struct lt_metrics *m, const char *line)
{
	const char *p = line;
	char name[1024];

	if (strncmp(p, "step,epoch", 10) || (p[10] && p[10] != ','))
		return -1;
	p += 10;
	while (*p == ',') {
		size_t n = 0;
		p++;
		if (*p == '"') {
			for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
				if (*p == '"')
					p++;
				if (n < sizeof(name) - 1)
					name[n++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			for (; *p && *p != ','; p++)
				if (n < sizeof(name) - 1)
					name[n++] = *p;
		}
		name[n] = '\0';
		if (column(m, name, true) < 0)
			return -1;
	}
	return *p ? -1 : 0;
}

/* Keeps the rows of the file at m->path up to step keep (a resumed run
 * goes on from there: the rows after it are the steps it will log again).
 * A missing or foreign file keeps nothing. */
static void load_rows(struct lt_metrics *m, int64_t keep)
{
	FILE *f = fopen(m->path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	if ((n = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		if (load_header(m, line))
			goto out;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		long long step;
		size_t commas = 0;
		char *text;

		line[strcspn(line, "\r\n")] = '\0';
		if (sscanf(line, "%lld,", &step) != 1 || step > keep)
			continue;
		for (const char *c = line; *c; c++)
			commas += *c == ',';
		if (commas < 1 || commas - 1 > m->ncols ||
		    lt_array_reserve(&m->rows, &m->rows_cap, m->nrows + 1, sizeof(*m->rows), 64) ||
		    !(text = strdup(line)))
			continue;
		m->rows[m->nrows++] = (struct row){ text, commas - 1 };
	}
out:
	free(line);
	fclose(f);
}

struct lt_metrics *lt_metrics_new(const char *path, int64_t keep, struct lt_err *err)
{
	struct lt_metrics *m = calloc(1, sizeof(*m));

	if (!m || (path && !(m->path = strdup(path)))) {
		free(m);
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory for the metrics");
		return NULL;
	}
	if (path && keep >= 0)
		load_rows(m, keep);
	if (rewrite(m, err)) {
		lt_metrics_free(m);
		return NULL;
	}
	return m;
}

void lt_metrics_free(struct lt_metrics *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->ncols; i++)
		free(m->names[i]);
	for (i = 0; i < m->nrows; i++)
		free(m->rows[i].text);
	free(m->names);
	free(m->cur);
	free(m->last);
	free(m->cur_set);
	free(m->rows);
	free(m->path);
	free(m);
}
