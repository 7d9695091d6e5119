/*
 * env_cases.c - runs one case of the cluster environments' table-driven
 * unit tests (env_cases.h).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "env_cases.h"

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
}

void check_resolve(const struct lt_plugin *p, const struct resolve_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars,
				 .hostname = c->hostname ? c->hostname : "testhost" };
	struct lt_err err = { 0 };
	struct lt_topology t;
	int rc;

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	rc = ops->resolve(&env, &c->req, &t, &err);
	if (c->error) {
		cr_assert_eq(rc, -1, "%s: resolved, but should fail with '%s'", c->name, c->error);
		cr_assert_not_null(strstr(err.msg, c->error), "%s: error '%s' lacks '%s'",
				   c->name, err.msg, c->error);
		cr_assert_eq(err.status, LT_EXIT_FAILURE, "%s: status %d", c->name, err.status);
		return;
	}
	cr_assert_eq(rc, 0, "%s: failed: %s", c->name, err.msg);
	check_topology(c->name, &t, &c->want);
}

void check_detect(const struct lt_plugin *p, const struct detect_case *c)
{
	const struct lt_cluster_ops *ops = p->ops;
	struct lt_envsrc env = { .vars = c->vars, .hostname = "testhost" };
	char why[256] = "";

	cr_assert_not_null(c->vars, "%s: a NULL vars would read the real environment", c->name);
	cr_assert_eq(ops->detect(&env, why, sizeof(why)), c->want, "%s: detect says %s (%s)",
		     c->name, c->want ? "no" : "yes", why);
	cr_assert_not_null(strstr(why, c->why), "%s: why '%s' lacks '%s'", c->name, why,
			   c->why);
}
