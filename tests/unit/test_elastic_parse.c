/*
 * test_elastic_parse.c - the parts of elastic membership that need no
 * hosts: --num-nodes MIN:MAX, the sampler's position at another world
 * size, the rendezvous rounds (rdzv/round.c) over an in-memory
 * compare-and-set store, and Kubeflow's elastic PET_NNODES.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/parse.h"
#include "env/env.h"
#include "rdzv/round.h"
#include "trainer/sampler.h"

Test(elastic_parse, num_nodes_forms)
{
	long lo = -1, hi = -1;

	cr_expect_eq(lt_parse_nodes("1:4", 100, &lo, &hi), 0);
	cr_expect(lo == 1 && hi == 4);
	cr_expect_eq(lt_parse_nodes("3", 100, &lo, &hi), 0);
	cr_expect(lo == 3 && hi == 3);
	cr_expect_eq(lt_parse_nodes("2:2", 100, &lo, &hi), 0);
	static const char *const bad[] = { "3:2", "0:2", "1:", ":2", "1:2:3", "a:b", "1:101",
					   " 1:2", "1 :2", "", ":", "-1:2",
					   "123456789012345678901234567890:1", NULL };
	for (int i = 0; bad[i]; i++) {
		lo = hi = 42;
		cr_expect_eq(lt_parse_nodes(bad[i], 100, &lo, &hi), -1, "'%s' accepted", bad[i]);
		cr_expect(lo == 42 && hi == 42, "'%s' changed the outputs", bad[i]);
	}
}

Test(elastic_parse, config_num_nodes_range)
{
	const struct lt_option *o = lt_option_find("num-nodes");
	struct lt_config cfg;
	struct lt_err err = { 0 };
	char buf[64];

	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(&cfg, o, "1:4", LT_SRC_FLAG, "--num-nodes", &err), 0, "%s",
		     err.msg);
	cr_expect_eq(cfg.min_nodes, 1);
	cr_expect_eq(cfg.num_nodes, 4);
	cr_expect_str_eq(lt_config_value(&cfg, o, buf, sizeof(buf)), "1:4",
			 "the value the ranks read back");
	cr_expect_eq(lt_config_set(&cfg, o, "3:2", LT_SRC_FLAG, "--num-nodes", &err), -1);
	cr_expect(strstr(err.msg, "invalid --num-nodes '3:2': MIN 3 is above MAX 2"), "%s",
		  err.msg);
	cr_expect_eq(cfg.num_nodes, 4, "a refused value changes nothing");
	cr_assert_eq(lt_config_set(&cfg, o, "2", LT_SRC_FLAG, "--num-nodes", &err), 0);
	cr_expect(cfg.min_nodes == 2 && cfg.num_nodes == 2, "a fixed count is not elastic");
	cr_expect_str_eq(lt_config_value(&cfg, o, buf, sizeof(buf)), "2");
	cr_expect_eq(cfg.rdzv_last_call, 30, "--rdzv-last-call defaults to torch's 30 s");
	cr_assert_eq(lt_config_set(&cfg, o, "1:3", LT_SRC_FLAG, "--num-nodes", &err), 0);
	cr_assert_eq(lt_config_set(&cfg, lt_option_find("rdzv"), "file", LT_SRC_FLAG, "--rdzv",
				   &err), 0);
	cr_expect_eq(lt_config_check(&cfg, &err), -1);
	cr_expect(strstr(err.msg, "use --rdzv tcp or etcd, not file"), "%s", err.msg);
	lt_config_free(&cfg);
}

Test(elastic_parse, sampler_goes_on_from_the_same_sample)
{
	/* 6 steps of 2 ranks = 12 rank-batches = 4 steps of 3 ranks */
	cr_expect_eq(lt_sampler_rescale_step(6, 2, 3), 4);
	cr_expect_eq(lt_sampler_rescale_step(5, 2, 3), 3, "rounded down: nothing skipped");
	cr_expect_eq(lt_sampler_rescale_step(4, 2, 1), 8);
	cr_expect_eq(lt_sampler_rescale_step(7, 3, 3), 7);
	cr_expect_eq(lt_sampler_rescale_step(7, 0, 3), 7);
	cr_expect_eq(lt_sampler_rescale_step(INT64_MAX, 2, 1), INT64_MAX, "no overflow");
}

/* ---------------------------------------------- rounds over memory */

#define KEYS 8

struct memkv {
	char *key[KEYS], *value[KEYS];
	const char *dead; /* an id alive() says is gone */
};

static char **slot(struct memkv *m, const char *key)
{
	for (int i = 0; i < KEYS; i++)
		if (!m->key[i] || !strcmp(m->key[i], key)) {
			if (!m->key[i])
				m->key[i] = strdup(key);
			return &m->value[i];
		}
	cr_assert_fail("more than %d keys", KEYS);
	return NULL;
}

static int mem_cas(void *ctx, const char *key, const char *expected, const char *desired,
		   bool *swapped, char **actual, struct lt_err *err)
{
	char **v = slot(ctx, key);

	(void)err;
	*swapped = !strcmp(*v ? *v : "", expected);
	if (*swapped) {
		free(*v);
		*v = strdup(desired);
	}
	*actual = strdup(*v ? *v : "");
	return 0;
}

static bool mem_alive(void *ctx, const char *id)
{
	const struct memkv *m = ctx;

	return !m->dead || strcmp(m->dead, id);
}

/* present(): every agent but the one m->dead names still holds its key. */
static bool mem_present(void *ctx, const char *id)
{
	return mem_alive(ctx, id);
}

static void mem_free(struct memkv *m)
{
	for (int i = 0; i < KEYS; i++) {
		free(m->key[i]);
		free(m->value[i]);
	}
}

Test(elastic_parse, a_closed_round_sends_a_joiner_to_the_next)
{
	struct memkv m = { 0 };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas };
	struct lt_round_spec spec = { .min = 1, .max = 3, .last_call_ms = 0, .timeout_ms = 5000,
				      .id = "c" };
	struct lt_round r;
	struct lt_err err = { 0 };

	*slot(&m, "elastic/0") = strdup("c;a,b");
	cr_assert_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect_eq(r.number, 1);
	cr_expect_eq(r.node_rank, 0);
	cr_expect_eq(r.num_nodes, 1);
	cr_expect_str_eq(*slot(&m, "elastic/1"), "c;c");
	mem_free(&m);
}

Test(elastic_parse, join_order_gives_node_ranks_and_max_closes_at_once)
{
	struct memkv m = { 0 };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas };
	struct lt_round_spec spec = { .min = 2, .max = 3, .last_call_ms = 60000,
				      .timeout_ms = 5000, .id = "third" };
	struct lt_round r;
	struct lt_err err = { 0 };

	*slot(&m, "elastic/0") = strdup("o;first,second");
	cr_assert_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect(r.number == 0 && r.node_rank == 2 && r.num_nodes == 3);
	cr_expect_str_eq(*slot(&m, "elastic/0"), "c;first,second,third",
			 "the MAXth joiner closes it without the last call");
	mem_free(&m);
}

Test(elastic_parse, a_dead_joiner_is_left_out)
{
	struct memkv m = { .dead = "gone" };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas, .alive = mem_alive };
	struct lt_round_spec spec = { .min = 1, .max = 3, .last_call_ms = 0, .timeout_ms = 5000,
				      .id = "me" };
	struct lt_round r;
	struct lt_err err = { 0 };

	*slot(&m, "elastic/0") = strdup("o;gone");
	cr_assert_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect(r.node_rank == 0 && r.num_nodes == 1, "rank %d of %d", r.node_rank, r.num_nodes);
	cr_expect_str_eq(*slot(&m, "elastic/0"), "c;me");
	mem_free(&m);
}

/* Round 0 was a, b and gone; gone's process ended (its presence went):
 * once a and b are back in round 1 it closes, without the minute's last
 * call. */
Test(elastic_parse, a_round_after_a_loss_closes_when_the_survivors_are_back)
{
	struct memkv m = { .dead = "gone" };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas, .present = mem_present,
				  .present_ctx = &m };
	struct lt_round_spec spec = { .min = 1, .max = 3, .last_call_ms = 60000,
				      .timeout_ms = 5000, .first = 1, .id = "b" };
	struct lt_round r;
	struct lt_err err = { 0 };
	double t0 = lt_now_s();

	*slot(&m, "elastic/0") = strdup("c;a,b,gone");
	*slot(&m, "elastic/1") = strdup("o;a");
	cr_assert_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect(r.number == 1 && r.node_rank == 1 && r.num_nodes == 2, "round %d: %d of %d",
		  r.number, r.node_rank, r.num_nodes);
	cr_expect_str_eq(*slot(&m, "elastic/1"), "c;a,b");
	cr_expect_lt(lt_now_s() - t0, 5.0, "it waited for the last call");
	mem_free(&m);
}

/* The same, but b is alive and not back yet: a waits for the last call
 * (here 0.3 s), and the round closes without b. */
Test(elastic_parse, a_survivor_on_its_way_holds_the_round_until_the_last_call)
{
	struct memkv m = { .dead = "gone" };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas, .present = mem_present,
				  .present_ctx = &m };
	struct lt_round_spec spec = { .min = 1, .max = 3, .last_call_ms = 300,
				      .timeout_ms = 5000, .first = 1, .id = "a" };
	struct lt_round r;
	struct lt_err err = { 0 };
	double t0 = lt_now_s();

	*slot(&m, "elastic/0") = strdup("c;a,b,gone");
	cr_assert_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect_geq(lt_now_s() - t0, 0.3, "it closed before b came and before the last call");
	cr_expect_str_eq(*slot(&m, "elastic/1"), "c;a");
	mem_free(&m);
}

/* A new node asked to join (want_two): the round keeps its last call
 * for others, even once the survivors are back. */
static int want_two(void *arg, int round)
{
	(void)arg;
	return round == 1 ? 2 : 0;
}

Test(elastic_parse, a_round_a_node_asked_for_keeps_its_last_call)
{
	struct memkv m = { 0 };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas, .present = mem_present,
				  .present_ctx = &m };
	struct lt_round_spec spec = { .min = 1, .max = 3, .last_call_ms = 300,
				      .timeout_ms = 5000, .first = 1, .id = "new" };
	struct lt_round r;
	struct lt_err err = { 0 };
	double t0 = lt_now_s();

	*slot(&m, "elastic/0") = strdup("c;a");
	*slot(&m, "elastic/1") = strdup("o;a");
	cr_assert_eq(lt_round_join(&kv, &spec, want_two, NULL, &r, &err), 0, "%s", err.msg);
	cr_expect_geq(lt_now_s() - t0, 0.3, "a round that was asked for closed before its last call");
	cr_expect_str_eq(*slot(&m, "elastic/1"), "c;a,new");
	mem_free(&m);
}

static int want_three(void *arg, int round)
{
	(void)arg;
	return round == 1 ? 3 : 0;
}

static int no_room(void *arg, int round)
{
	(void)arg;
	(void)round;
	return -1;
}

Test(elastic_parse, a_joiner_waits_for_the_running_nodes)
{
	struct memkv m = { 0 };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas };
	struct lt_round_spec spec = { .min = 1, .max = 4, .last_call_ms = 0, .timeout_ms = 300,
				      .id = "late" };
	struct lt_round r;
	struct lt_err err = { 0 };

	*slot(&m, "elastic/0") = strdup("c;a,b");
	cr_expect_eq(lt_round_join(&kv, &spec, want_three, NULL, &r, &err), -1,
		     "MIN 1 reached, but the running round's 2 nodes never came");
	cr_expect(strstr(err.msg, "rendezvous round 1: 1 of at least 3 nodes"), "%s", err.msg);
	cr_expect_str_eq(*slot(&m, "elastic/1"), "o;late", "the round stayed open");
	cr_expect_eq(lt_round_join(&kv, &spec, no_room, NULL, &r, &err), -1);
	cr_expect(strstr(err.msg, "no restarts left"), "%s", err.msg);
	mem_free(&m);
}

Test(elastic_parse, too_few_nodes_time_out_with_one_line)
{
	struct memkv m = { 0 };
	struct lt_round_kv kv = { .ctx = &m, .cas = mem_cas };
	struct lt_round_spec spec = { .min = 2, .max = 3, .last_call_ms = 0, .timeout_ms = 300,
				      .id = "alone" };
	struct lt_round r;
	struct lt_err err = { 0 };

	cr_expect_eq(lt_round_join(&kv, &spec, NULL, NULL, &r, &err), -1);
	cr_expect(strstr(err.msg, "rendezvous round 0: 1 of at least 2 nodes joined"), "%s",
		  err.msg);
	mem_free(&m);
}

Test(elastic_parse, kubeflow_elastic_pet_nnodes)
{
	const char *const vars[] = { "KUBERNETES_PORT=tcp://10.96.0.1:443",
				     "MASTER_ADDR=job-master-0", "MASTER_PORT=23456",
				     "WORLD_SIZE=4", "RANK=0", "PET_NNODES=1:4", NULL };
	struct lt_envsrc env = { .vars = vars, .hostname = "pod-0" };
	struct lt_request req = { .devices = LT_AUTO, .num_nodes = LT_AUTO,
				  .node_rank = LT_AUTO, .auto_devices = 1 };
	const struct lt_cluster_ops *ops = lt_env_kubeflow.ops;
	struct lt_topology t;
	struct lt_err err = { 0 };

	cr_assert_eq(ops->resolve(&env, NULL, &req, &t, &err), 0, "%s", err.msg);
	cr_expect_eq(t.min_nodes, 1, "PET_NNODES=1:4 makes the job elastic");
	cr_expect_eq(t.num_nodes, 4);
}

Test(elastic_parse, kubeflow_pet_rdzv_variables)
{
	const char *const etcd[] = { "PET_RDZV_BACKEND=etcd-v2",
				     "PET_RDZV_ENDPOINT=etcd.svc:2379", NULL };
	const char *const c10d[] = { "PET_RDZV_BACKEND=c10d",
				     "PET_RDZV_ENDPOINT=job-worker-0:29400", NULL };
	const char *const bad[] = { "PET_RDZV_BACKEND=zookeeper", NULL };
	struct lt_envsrc env = { .vars = etcd };
	struct lt_config cfg;
	struct lt_err err = { 0 };

	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_kubeflow_rdzv_vars(&cfg, &env, &err), 0, "%s", err.msg);
	cr_expect_str_eq(cfg.rdzv, "etcd");
	cr_expect_str_eq(cfg.rdzv_endpoint, "etcd.svc:2379");
	lt_config_free(&cfg);

	env.vars = c10d;
	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_config_set(&cfg, lt_option_find("main-port"), "1234", LT_SRC_FLAG,
				   "--main-port", &err), 0);
	cr_assert_eq(lt_kubeflow_rdzv_vars(&cfg, &env, &err), 0, "%s", err.msg);
	cr_expect_str_eq(cfg.rdzv, "tcp");
	cr_expect_str_eq(cfg.main_addr, "job-worker-0", "c10d's endpoint is the store's host");
	cr_expect_eq(cfg.main_port, 1234, "the user's --main-port wins");
	lt_config_free(&cfg);

	env.vars = bad;
	cr_assert_eq(lt_config_init(&cfg, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_kubeflow_rdzv_vars(&cfg, &env, &err), -1);
	cr_expect(strstr(err.msg, "invalid PET_RDZV_BACKEND 'zookeeper'"), "%s", err.msg);
	lt_config_free(&cfg);
}
