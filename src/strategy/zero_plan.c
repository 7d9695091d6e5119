/*
 * zero_plan.c - the `zero` strategy's partition and memory accounting
 * (zero_plan.h): pure arithmetic, no context.
 */
#include "strategy/zero_plan.h"

struct zero_part zero_part_of(size_t n, int ranks, int rank)
{
	struct zero_part p = { 0 };
	size_t w = ranks > 0 ? (size_t)ranks : 1;

	p.shard = (n + w - 1) / w;
	p.padded = p.shard * w;
	p.offset = (size_t)rank * p.shard;
	if (p.offset > n)
		p.offset = n;
	p.numel = n - p.offset < p.shard ? n - p.offset : p.shard;
	return p;
}

struct zero_bytes zero_plan_bytes(const struct zero_model *m)
{
	struct zero_part p = zero_part_of(m->n, m->ranks, 0);
	size_t whole = m->stage >= 1 ? p.padded : m->n; /* the arenas hold the padding */
	size_t shard = m->stage >= 1 ? p.shard : m->n;  /* what a rank's optimizer holds */
	size_t state = (size_t)m->slots * 4 + (m->master ? 4 : 0);
	struct zero_bytes b = { 0 };

	b.params = (m->stage >= 3 ? shard : whole) * m->elem;
	b.grads = (m->stage >= 2 ? shard : whole) * m->elem + (m->master ? shard * 4 : 0);
	b.optim = shard * state;
	if (m->stage >= 3) {
		size_t ahead = m->largest_unit * (size_t)(1 + m->prefetch);

		b.gathered = (m->keep_forward || ahead > m->units_total ? m->units_total : ahead) *
			     m->elem;
	}
	return b;
}
