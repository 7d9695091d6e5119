/*
 * fuzz_bind.c - libFuzzer target for the --cpu-bind parser and plan
 * (src/launch/bind.c): the first byte is the number of local ranks (1 to
 * 64), the rest the option's text.  Every input must give either a
 * one-line usage error naming the option, or a plan whose every rank has
 * CPUs inside the allowed set, at least one core and thread, and a NUMA
 * node of the topology or -1.  The topology is synthetic: 2 packages x 2
 * NUMA nodes x 4 cores x 2 hardware threads, CPUs 0-31, all allowed but
 * 30-31.  Seed corpus: corpus/bind/.
 */
#include "core/error.h"
#include "launch/bind.h"

#include <hwloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hwloc_topology_t topo;
static cpu_set_t allowed;

static void setup(void)
{
	if (hwloc_topology_init(&topo) ||
	    hwloc_topology_set_synthetic(topo, "pack:2 numa:2 core:4 pu:2") ||
	    hwloc_topology_load(topo))
		abort();
	CPU_ZERO(&allowed);
	for (int c = 0; c < 30; c++)
		CPU_SET(c, &allowed);
}

static void check_error(const struct lt_err *err)
{
	if (err->status != LT_EXIT_USAGE || strchr(err->msg, '\n') ||
	    strncmp(err->msg, "invalid --cpu-bind '", 20))
		abort();
}

static void check_plan(const struct lt_binding *b, int nranks)
{
	if (b->mode == LT_BIND_NONE)
		return;
	if (b->n != nranks || !b->rank)
		abort();
	for (int i = 0; i < b->n; i++) {
		const struct lt_bind_rank *r = &b->rank[i];
		cpu_set_t outside;

		CPU_AND(&outside, &r->cpus, &allowed);
		if (!CPU_COUNT(&r->cpus) || !CPU_EQUAL(&outside, &r->cpus))
			abort();
		if (r->cores < 1 || r->threads < 1 || r->numa < -1 || r->numa > 3)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_bind_spec spec;
	struct lt_binding b;
	struct lt_err err = { 0 };
	char *text;
	int nranks;

	if (!topo)
		setup();
	if (size < 1)
		return 0;
	nranks = 1 + data[0] % 64;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (lt_bind_parse(&spec, text, "--cpu-bind", &err)) {
		check_error(&err);
		free(text);
		return 0;
	}
	memset(&err, 0, sizeof(err));
	if (lt_bind_plan_topology(&b, &spec, topo, &allowed, nranks, "--cpu-bind", &err)) {
		check_error(&err);
	} else {
		check_plan(&b, nranks);
		lt_bind_free(&b);
	}
	lt_bind_spec_free(&spec);
	free(text);
	return 0;
}
