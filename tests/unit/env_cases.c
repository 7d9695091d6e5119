/*
 * env_cases.c - runs one case of the cluster environments' table-driven
 * unit tests (env_cases.h).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env_cases.h"
#include "core/params.h"

void check_topology(const char *name, const struct lt_topology *t,
			   const struct lt_topology *w)
{
	cr_expect_eq(t->world_size, w->world_size, "%s: world_size %d", name, t->world_size);
	cr_expect_eq(t->num_nodes, w->num_nodes, "%s: num_nodes %d", name, t->num_nodes);
	cr_expect_eq(t->node_rank, w->node_rank, "%s: node_rank %d", name, t->node_rank);
	cr_expect_eq(t->local_world_size, w->local_world_size, "%s: local_world_size %d",
		     name, t->local_world_size);
	cr_expect_eq(t->first_rank, w->first_rank, "%s: first_rank %d", name, t->first_rank);
	cr_expect_eq(t->external, w->external, "%s: external %d", name, t->external);
	cr_expect_eq(t->rank, w->rank, "%s: rank %d", name, t->rank);
	cr_expect_eq(t->local_rank, w->local_rank, "%s: local_rank %d", name, t->local_rank);
	cr_expect_str_eq(t->launcher, w->launcher, "%s: launcher '%s'", name, t->launcher);
	cr_expect_str_eq(t->main_addr, w->main_addr, "%s: main_addr '%s'", name, t->main_addr);
	if (w->main_port == FREE_PORT)
		cr_expect(t->main_port > 0 && t->main_port < 65536, "%s: main_port %d", name,
			  t->main_port);
	else
		cr_expect_eq(t->main_port, w->main_port, "%s: main_port %d", name, t->main_port);
	cr_expect_str_eq(t->job_id, w->job_id, "%s: job_id '%s'", name, t->job_id);
	cr_expect_not_null(strstr(t->addr_from, w->addr_from), "%s: addr_from '%s'", name,
			   t->addr_from);
	cr_expect_not_null(strstr(t->port_from, w->port_from), "%s: port_from '%s'", name,
			   t->port_from);
	cr_expect(t->addr_from[0] && t->port_from[0],
		  "%s: addr_from '%s' and port_from '%s' must say where they came from", name,
		  t->addr_from, t->port_from);
}

#define MAX_FILES 4

/* The temporary files of one case's FILE_VAR entries. */
struct case_files {
	const char **vars; /* a copy of the case's, naming the files */
	char path[MAX_FILES][64], entry[MAX_FILES][160];
	int n;
};

/* Writes text to a new temporary file; its path goes into path. */
static void write_case_file(const char *text, char *path, size_t len)
{
	size_t n = strlen(text);
	int fd;

	snprintf(path, len, "/tmp/ltrun-env-case-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp failed");
	cr_assert_eq(write(fd, text, n), (ssize_t)n, "short write to %s", path);
	close(fd);
}

/* Copies vars into f->vars, each FILE_VAR entry replaced by NAME=<path of
 * a file holding its text>. */
static void make_files(struct case_files *f, const char *name, const char *const *vars)
{
	size_t i, n = 0;

	while (vars[n])
		n++;
	f->vars = calloc(n + 1, sizeof(*f->vars));
	cr_assert_not_null(f->vars);
	for (i = 0; i < n; i++) {
		const char *eq = strchr(vars[i], '=');
		char path[64];

		f->vars[i] = vars[i];
		if (!eq || eq[1] != '@')
			continue;
		cr_assert_lt(f->n, MAX_FILES, "%s: more than %d FILE_VAR entries", name, MAX_FILES);
		write_case_file(eq + 2, path, sizeof(path));
		memcpy(f->path[f->n], path, sizeof(path));
		snprintf(f->entry[f->n], sizeof(f->entry[f->n]), "%.*s%s", (int)(eq + 1 - vars[i]),
			 vars[i], path);
		f->vars[i] = f->entry[f->n++];
	}
}

static void remove_files(struct case_files *f)
{
	while (f->n > 0)
		unlink(f->path[--f->n]);
	free(f->vars);
}

/* The plugin's parameters at their defaults (NULL for no schema). */
static struct lt_params *default_params(const struct lt_plugin *p)
{
	struct lt_err err = { 0 };
	struct lt_params *params = lt_params_new(p->params, p->name, &err);

	cr_assert_not_null(params, "%s: %s", p->name, err.msg);
	return params;
}

void check_resolve(const struct lt_plugin *p, const struct resolve_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars,
				 .hostname = c->hostname ? c->hostname : "testhost" };
	struct lt_err err = { 0 };
	struct lt_topology t;
	struct case_files files = { .n = 0 };
	struct lt_params *params;
	int rc;

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	make_files(&files, c->name, c->vars);
	env.vars = files.vars;
	params = default_params(p);
	rc = ops->resolve(&env, params, &c->req, &t, &err);
	lt_params_free(params);
	remove_files(&files);
	if (c->error) {
		cr_assert_eq(rc, -1, "%s: resolved, but should fail with '%s'", c->name, c->error);
		cr_assert_not_null(strstr(err.msg, c->error), "%s: error '%s' lacks '%s'",
				   c->name, err.msg, c->error);
		cr_assert_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name, err.status);
		cr_assert_null(strchr(err.msg, '\n'), "%s: error is not one line", c->name);
		return;
	}
	cr_assert_eq(rc, 0, "%s: failed: %s", c->name, err.msg);
	check_topology(c->name, &t, &c->want);
}

void check_detect(const struct lt_plugin *p, const struct detect_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };
	struct lt_params *params = default_params(p);
	char why[256] = "";
	bool yes;

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	yes = ops->detect(&env, params, why, sizeof(why));
	lt_params_free(params);
	cr_assert_eq(yes, c->want, "%s: detect says %s (%s)", c->name, c->want ? "no" : "yes",
		     why);
	cr_assert_not_null(strstr(why, c->why), "%s: why '%s' lacks '%s'", c->name, why,
			   c->why);
}
