/*
 * bind.c - --cpu-bind (bind.h): the parser, the plan on an hwloc topology,
 * and the one call a rank's child makes.
 *
 * hwloc stays in the agent, off the ranks' path: lt_bind_plan() loads the
 * topology once (no I/O devices, no caches), reduces it to the allowed
 * cores and NUMA nodes (struct view), plans, and destroys it; the children
 * only get cpu_set_t.  A core's CPUs are its PUs (hyperthreads) that this
 * process may use; a machine without Core objects counts each PU as one.
 */
#include "launch/bind.h"
#include "core/error.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPU numbers above this in a list are typos, not CPUs. */
#define BIND_MAX_CPU (1L << 22)
/* Above this many states the even split of the cores skips the search
 * for NUMA-aligned blocks (split_cores). */
#define SPLIT_MAX_STATES (1L << 22)

static const char *const mode_names[] = {
	[LT_BIND_NONE] = "none", [LT_BIND_CORES] = "cores",
	[LT_BIND_NUMA] = "numa", [LT_BIND_LIST] = "list",
};

const char *lt_bind_mode_name(enum lt_bind_mode mode)
{
	return mode_names[mode];
}

/* ------------------------------------------------------------- cpulists */

char *lt_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++) {
		char piece[32];
		int e = c, k;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		if (e == c)
			k = snprintf(piece, sizeof(piece), "%s%d", n ? "," : "", c);
		else
			k = snprintf(piece, sizeof(piece), "%s%d-%d", n ? "," : "", c, e);
		if (n + (size_t)k + 1 > len) {
			if (len >= 4)
				snprintf(buf + (n + 4 > len ? len - 4 : n), 4, "...");
			break;
		}
		memcpy(buf + n, piece, (size_t)k + 1);
		n += (size_t)k;
		c = e;
	}
	return buf;
}

static int parse_num(const char **p, const char *end, long *out)
{
	const char *s = *p;
	long v = 0;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > BIND_MAX_CPU)
			return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

/* Parses the cpulist [p, end) ("0-3,8,10-11") into set; the first CPU
 * named at or above CPU_SETSIZE goes to *beyond (else -1).  Returns 0, or
 * -1 if it is not a cpulist. */
static int parse_cpulist(const char *p, const char *end, cpu_set_t *set, int *beyond)
{
	CPU_ZERO(set);
	*beyond = -1;
	for (;;) {
		long lo, hi;

		if (parse_num(&p, end, &lo))
			return -1;
		hi = lo;
		if (p < end && *p == '-' && (++p, parse_num(&p, end, &hi) || hi < lo))
			return -1;
		for (long c = lo; c <= hi && c < CPU_SETSIZE; c++)
			CPU_SET((int)c, set);
		if (hi >= CPU_SETSIZE && *beyond < 0)
			*beyond = (int)(lo >= CPU_SETSIZE ? lo : CPU_SETSIZE);
		if (p == end)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

static int parse_list(struct lt_bind_spec *spec, const char *sets, const char *source,
		      const char *q, struct lt_err *err)
{
	const char *p = sets;
	int n = 1;

	for (const char *c = sets; *c; c++)
		n += *c == ':';
	spec->set = calloc((size_t)n, sizeof(*spec->set));
	spec->beyond = calloc((size_t)n, sizeof(*spec->beyond));
	if (!spec->set || !spec->beyond)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *end = strchr(p, ':');

		if (!end)
			end = p + strlen(p);
		if (parse_cpulist(p, end, &spec->set[i], &spec->beyond[i])) {
			char set[32], qset[LT_QUOTE_MAX];
			/* quoted: the user's text may hold any byte */
			snprintf(set, sizeof(set), "%.*s", (int)(end - p > 24 ? 24 : end - p), p);
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': SET %d '%s' is not a CPU list: write each SET like 0-3,8,10-11, one per local rank, separated by ':'",
					  source, q, i + 1, lt_quote(qset, sizeof(qset), set));
		}
		p = end + 1;
	}
	spec->nsets = n;
	return 0;
}

int lt_bind_parse(struct lt_bind_spec *spec, const char *text, const char *source,
		  struct lt_err *err)
{
	char q[LT_QUOTE_MAX];

	memset(spec, 0, sizeof(*spec));
	lt_quote(q, sizeof(q), text);
	if (!strcmp(text, "none"))
		spec->mode = LT_BIND_NONE;
	else if (!strcmp(text, "cores"))
		spec->mode = LT_BIND_CORES;
	else if (!strcmp(text, "numa"))
		spec->mode = LT_BIND_NUMA;
	else if (!strncmp(text, "list:", 5)) {
		spec->mode = LT_BIND_LIST;
		if (parse_list(spec, text + 5, source, q, err))
			goto fail;
	} else
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': use none, cores, numa or list:SET:SET... (list:0-3:4-7 gives local rank 0 CPUs 0-3 and local rank 1 CPUs 4-7)",
				  source, q);
	spec->text = strdup(text);
	if (!spec->text) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		goto fail;
	}
	return 0;
fail:
	lt_bind_spec_free(spec);
	return -1;
}

void lt_bind_spec_free(struct lt_bind_spec *spec)
{
	free(spec->text);
	free(spec->set);
	free(spec->beyond);
	memset(spec, 0, sizeof(*spec));
}

/* ------------------------------------------------------------ topology */

struct core {
	hwloc_bitmap_t cpus; /* its PUs this process may use */
	int numa;            /* index in view.numa, or -1 */
	int pkg;             /* its package's logical index, or -1 */
};

/* The part of a topology the plan uses: the cores and NUMA nodes with a
 * CPU in the allowed set, in topology order. */
struct view {
	hwloc_topology_t topo;
	hwloc_bitmap_t allowed;
	int ncores, nnuma;
	struct core *core;
	hwloc_obj_t *numa;
};

static void to_cpuset(hwloc_const_bitmap_t b, cpu_set_t *set)
{
	int i;

	CPU_ZERO(set);
	hwloc_bitmap_foreach_begin(i, b) {
		if (i < CPU_SETSIZE)
			CPU_SET(i, set);
	} hwloc_bitmap_foreach_end();
}

/* Returns 0, or -1 when hwloc runs out of memory. */
static int from_cpuset(hwloc_bitmap_t b, const cpu_set_t *set)
{
	hwloc_bitmap_zero(b);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, set) && hwloc_bitmap_set(b, (unsigned)i))
			return -1;
	return 0;
}

static void view_free(struct view *v)
{
	for (int i = 0; i < v->ncores; i++)
		hwloc_bitmap_free(v->core[i].cpus);
	free(v->core);
	free(v->numa);
	hwloc_bitmap_free(v->allowed);
}

static int numa_of(const struct view *v, hwloc_const_bitmap_t cpus)
{
	for (int j = 0; j < v->nnuma; j++)
		if (hwloc_bitmap_intersects(cpus, v->numa[j]->cpuset))
			return j;
	return -1;
}

/* Returns 0, or -1 with errno (ENOMEM) and v freed. */
static int view_make(struct view *v, hwloc_topology_t topo, const cpu_set_t *allowed)
{
	hwloc_obj_type_t type = hwloc_get_type_depth(topo, HWLOC_OBJ_CORE) < 0 ? HWLOC_OBJ_PU
										: HWLOC_OBJ_CORE;
	int total = hwloc_get_nbobjs_by_type(topo, type);
	int nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);

	memset(v, 0, sizeof(*v));
	v->topo = topo;
	v->allowed = hwloc_bitmap_alloc();
	v->core = calloc((size_t)(total > 0 ? total : 1), sizeof(*v->core));
	v->numa = calloc((size_t)(nodes > 0 ? nodes : 1), sizeof(*v->numa));
	if (!v->allowed || !v->core || !v->numa || from_cpuset(v->allowed, allowed))
		goto fail;
	for (int i = 0; i < nodes; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
		if (o && o->cpuset && hwloc_bitmap_intersects(o->cpuset, v->allowed))
			v->numa[v->nnuma++] = o;
	}
	for (int i = 0; i < total; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i), pkg;
		struct core *c;

		if (!o || !o->cpuset || !hwloc_bitmap_intersects(o->cpuset, v->allowed))
			continue;
		c = &v->core[v->ncores];
		c->cpus = hwloc_bitmap_alloc();
		if (!c->cpus || hwloc_bitmap_and(c->cpus, o->cpuset, v->allowed))
			goto fail;
		v->ncores++;
		c->numa = numa_of(v, c->cpus);
		pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, o);
		c->pkg = pkg ? (int)pkg->logical_index : -1;
	}
	return 0;
fail:
	view_free(v);
	errno = ENOMEM;
	return -1;
}

/* ---------------------------------------------------------------- plan */

/* How badly cores [s, s + n) straddle: 2 for a NUMA boundary, 1 more for
 * a package's (a node's cores are contiguous in topology order). */
static int straddle(const struct core *c, int s, int n)
{
	return 2 * (c[s].numa != c[s + n - 1].numa) + (c[s].pkg != c[s + n - 1].pkg);
}

/* Splits ncores cores into nranks <= ncores contiguous blocks of q or q+1
 * cores (q = ncores / nranks: as even as can be), placing the bigger ones
 * so that the fewest blocks straddle a NUMA node or package (dynamic
 * programming over blocks placed and bigger ones among them).  first[]
 * gets nranks + 1 entries: rank i has cores first[i] to first[i+1] - 1. */
static void split_cores(const struct core *c, int ncores, int nranks, int *first)
{
	int q = ncores / nranks, m = ncores % nranks, w = m + 1;
	int *cost;
	unsigned char *big;

	first[0] = 0;
	cost = (long)(nranks + 1) * w <= SPLIT_MAX_STATES ?
	       malloc(sizeof(*cost) * (size_t)(nranks + 1) * (size_t)w) : NULL;
	big = cost ? malloc((size_t)(nranks + 1) * (size_t)w) : NULL;
	if (!big) { /* a plain even split */
		for (int i = 1; i <= nranks; i++)
			first[i] = (int)((long)i * ncores / nranks);
		free(cost);
		return;
	}
	/* cost[k * w + b]: least straddling for k blocks, b of them big */
	for (int i = 0; i < (nranks + 1) * w; i++)
		cost[i] = -1;
	cost[0] = 0;
	for (int k = 0; k < nranks; k++)
		for (int b = 0; b <= m && b <= k; b++) {
			int at = k * q + b, here = cost[k * w + b], *to;
			if (here < 0)
				continue;
			if (k - b < nranks - m) {
				to = &cost[(k + 1) * w + b];
				if (*to < 0 || here + straddle(c, at, q) < *to) {
					*to = here + straddle(c, at, q);
					big[(k + 1) * w + b] = 0;
				}
			}
			if (b < m) {
				to = &cost[(k + 1) * w + b + 1];
				if (*to < 0 || here + straddle(c, at, q + 1) < *to) {
					*to = here + straddle(c, at, q + 1);
					big[(k + 1) * w + b + 1] = 1;
				}
			}
		}
	for (int k = nranks, b = m; k > 0; k--) {
		first[k] = k * q + b;
		b -= big[k * w + b];
	}
	free(cost);
	free(big);
}

/* "1 rank", "2 ranks" */
static void plural(char *buf, size_t len, int n, const char *one, const char *many)
{
	snprintf(buf, len, "%d %s", n, n == 1 ? one : many);
}

static int plan_cores(struct lt_binding *b, const struct view *v, int nranks,
		      const char *source)
{
	const int nc = v->ncores;
	char r[32], c[32];
	hwloc_bitmap_t set;
	int *first;

	plural(r, sizeof(r), nranks, "rank", "ranks");
	plural(c, sizeof(c), nc, "core", "cores");
	if (nranks > nc) {
		int most = (nranks + nc - 1) / nc;
		for (int i = 0; i < nranks; i++)
			to_cpuset(v->core[i % nc].cpus, &b->rank[i].cpus);
		snprintf(b->what, sizeof(b->what), "cores: %s on %s, %s%d ranks a core", r, c,
			 nranks % nc ? "up to " : "", most);
		snprintf(b->warning, sizeof(b->warning), "%s cores: %s on %s, %s%d ranks a core",
			 source, r, c, nranks % nc ? "up to " : "", most);
		return 0;
	}
	first = malloc(sizeof(*first) * (size_t)(nranks + 1));
	set = hwloc_bitmap_alloc();
	if (!first || !set) {
		free(first);
		hwloc_bitmap_free(set);
		return -1;
	}
	split_cores(v->core, nc, nranks, first);
	for (int i = 0; i < nranks; i++) {
		hwloc_bitmap_zero(set);
		for (int k = first[i]; k < first[i + 1]; k++)
			if (hwloc_bitmap_or(set, set, v->core[k].cpus))
				goto nomem;
		to_cpuset(set, &b->rank[i].cpus);
	}
	if (nc % nranks)
		snprintf(b->what, sizeof(b->what), "cores: %s on %s, %d or %d cores each", r, c,
			 nc / nranks, nc / nranks + 1);
	else
		snprintf(b->what, sizeof(b->what), "cores: %s on %s, %d core%s each", r, c,
			 nc / nranks, nc / nranks == 1 ? "" : "s");
	free(first);
	hwloc_bitmap_free(set);
	return 0;
nomem:
	free(first);
	hwloc_bitmap_free(set);
	return -1;
}

static int plan_numa(struct lt_binding *b, const struct view *v, int nranks)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char r[32], n[32];

	if (!set)
		return -1;
	for (int i = 0; i < nranks; i++) {
		hwloc_obj_t node = v->numa[(long)i * v->nnuma / nranks];
		if (hwloc_bitmap_and(set, node->cpuset, v->allowed)) {
			hwloc_bitmap_free(set);
			return -1;
		}
		to_cpuset(set, &b->rank[i].cpus);
	}
	hwloc_bitmap_free(set);
	plural(r, sizeof(r), nranks, "rank", "ranks");
	plural(n, sizeof(n), v->nnuma, "NUMA node", "NUMA nodes");
	if (nranks > v->nnuma)
		snprintf(b->what, sizeof(b->what), "numa: %s on %s, %s%d ranks a node", r, n,
			 nranks % v->nnuma ? "up to " : "", (nranks + v->nnuma - 1) / v->nnuma);
	else
		snprintf(b->what, sizeof(b->what), "numa: %s on %s, a node each", r, n);
	return 0;
}

/* Checks that every CPU of the list exists and is allowed. */
static int check_list(const struct lt_bind_spec *spec, hwloc_topology_t topo,
		      const cpu_set_t *allowed, const char *source, struct lt_err *err)
{
	hwloc_const_bitmap_t all = topo ? hwloc_topology_get_complete_cpuset(topo) : NULL;
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	char q[LT_QUOTE_MAX], mine[256];

	lt_quote(q, sizeof(q), spec->text);
	lt_cpulist(allowed, mine, sizeof(mine));
	for (int i = 0; i < spec->nsets; i++) {
		int bad = spec->beyond[i];
		for (int c = 0; bad < 0 && c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &spec->set[i]) && !CPU_ISSET(c, allowed))
				bad = c;
		if (bad < 0)
			continue;
		if (bad >= CPU_SETSIZE || (all ? !hwloc_bitmap_isset(all, (unsigned)bad) : bad >= conf))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': CPU %d does not exist on this machine: name CPUs this process may use (%s)",
					  source, q, bad, mine);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': CPU %d is outside this process's CPUs (%s, its affinity mask): name CPUs among those, or widen the mask (taskset, the job's allocation)",
				  source, q, bad, mine);
	}
	return 0;
}

static void plan_list(struct lt_binding *b, const struct lt_bind_spec *spec, int nranks)
{
	char r[32], s[32];

	for (int i = 0; i < nranks; i++)
		b->rank[i].cpus = spec->set[i % spec->nsets];
	plural(r, sizeof(r), nranks, "rank", "ranks");
	plural(s, sizeof(s), spec->nsets, "CPU list", "CPU lists");
	snprintf(b->what, sizeof(b->what), "list: %s for %s", s, r);
}

/* Each rank's cores, threads and NUMA node, from its cpus. */
static int finish_ranks(struct lt_binding *b, const struct view *v)
{
	hwloc_bitmap_t set = v ? hwloc_bitmap_alloc() : NULL;

	if (v && !set)
		return -1;
	for (int i = 0; i < b->n; i++) {
		struct lt_bind_rank *r = &b->rank[i];
		int sharing = 0;

		r->numa = -1;
		r->cores = CPU_COUNT(&r->cpus);
		if (v) {
			if (from_cpuset(set, &r->cpus)) {
				hwloc_bitmap_free(set);
				return -1;
			}
			r->cores = 0;
			for (int k = 0; k < v->ncores; k++)
				r->cores += hwloc_bitmap_intersects(set, v->core[k].cpus);
			for (int j = 0; j < v->nnuma && r->numa < 0; j++)
				if (hwloc_bitmap_isincluded(set, v->numa[j]->cpuset))
					r->numa = (int)v->numa[j]->os_index;
		}
		if (r->cores < 1)
			r->cores = 1;
		for (int k = 0; k < b->n; k++)
			sharing += CPU_EQUAL(&r->cpus, &b->rank[k].cpus);
		r->threads = r->cores / sharing > 1 ? r->cores / sharing : 1;
	}
	hwloc_bitmap_free(set);
	return 0;
}

int lt_bind_plan_topology(struct lt_binding *b, const struct lt_bind_spec *spec,
			  struct hwloc_topology *topo, const cpu_set_t *allowed, int nranks,
			  const char *source, struct lt_err *err)
{
	struct lt_binding out = { .mode = spec->mode };
	struct view v = { 0 };
	bool have_view = false;
	char mine[256];

	if (spec->mode == LT_BIND_NONE || nranks < 1) {
		memset(b, 0, sizeof(*b));
		snprintf(b->what, sizeof(b->what), "none (--cpu-bind cores or numa to bind)");
		return 0;
	}
	if (spec->mode == LT_BIND_LIST && check_list(spec, topo, allowed, source, err))
		return -1;
	if (!topo && spec->mode != LT_BIND_LIST)
		LT_BUG("--cpu-bind %s planned without a topology", spec->text);
	out.n = nranks;
	out.rank = calloc((size_t)nranks, sizeof(*out.rank));
	if (!out.rank || (topo && view_make(&v, topo, allowed)))
		goto nomem;
	have_view = topo != NULL;
	if (spec->mode != LT_BIND_LIST && (!v.ncores || !v.nnuma)) {
		view_free(&v);
		free(out.rank);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s %s: none of this process's CPUs (%s) is in the machine's topology (hwloc): use --cpu-bind list:SET:... or none",
				  source, spec->text, lt_cpulist(allowed, mine, sizeof(mine)));
	}
	if (spec->mode == LT_BIND_LIST)
		plan_list(&out, spec, nranks);
	else if ((spec->mode == LT_BIND_CORES ? plan_cores(&out, &v, nranks, source)
					      : plan_numa(&out, &v, nranks)))
		goto nomem;
	if (finish_ranks(&out, have_view ? &v : NULL))
		goto nomem;
	if (have_view)
		view_free(&v);
	*b = out;
	return 0;
nomem:
	if (have_view)
		view_free(&v);
	free(out.rank);
	return lt_err_set(err, LT_EXIT_FAILURE, "out of memory planning %s %s", source, spec->text);
}

/* This machine's topology without I/O devices or caches (fast to load),
 * or NULL with errno set. */
static hwloc_topology_t load_topology(void)
{
	hwloc_topology_t t;
	int e;

	if (hwloc_topology_init(&t))
		return NULL;
	if (hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE) ||
	    hwloc_topology_set_cache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE) ||
	    hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE) ||
	    hwloc_topology_load(t)) {
		e = errno;
		hwloc_topology_destroy(t);
		errno = e ? e : EINVAL;
		return NULL;
	}
	return t;
}

int lt_bind_plan(struct lt_binding *b, const struct lt_bind_spec *spec, int nranks,
		 const char *source, struct lt_err *err)
{
	hwloc_topology_t topo;
	cpu_set_t allowed;
	int rc;

	if (spec->mode == LT_BIND_NONE)
		return lt_bind_plan_topology(b, spec, NULL, NULL, nranks, source, err);
	topo = load_topology();
	if (!topo && spec->mode != LT_BIND_LIST)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s %s: cannot read this machine's CPU topology (hwloc): %s: use --cpu-bind list:SET:... or none",
				  source, spec->text, strerror(errno));
	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		CPU_ZERO(&allowed);
		if (topo)
			to_cpuset(hwloc_topology_get_allowed_cpuset(topo), &allowed);
		for (long c = 0; !topo && c < sysconf(_SC_NPROCESSORS_CONF) && c < CPU_SETSIZE; c++)
			CPU_SET((int)c, &allowed);
	}
	rc = lt_bind_plan_topology(b, spec, topo, &allowed, nranks, source, err);
	if (topo)
		hwloc_topology_destroy(topo);
	return rc;
}

void lt_bind_external(struct lt_binding *b, const struct lt_bind_spec *spec,
		      const char *launcher, const char *source)
{
	int n;

	memset(b, 0, sizeof(*b));
	n = snprintf(b->what, sizeof(b->what), "left to %s (it binds its tasks itself)",
		     launcher && *launcher ? launcher : "the launcher");
	if (spec->mode != LT_BIND_NONE && n > 0 && (size_t)n < sizeof(b->what))
		snprintf(b->what + n, sizeof(b->what) - (size_t)n, "; %s %s is not applied",
			 source, spec->text);
}

void lt_bind_free(struct lt_binding *b)
{
	free(b->rank);
	b->rank = NULL;
	b->n = 0;
}

const struct lt_bind_rank *lt_bind_rank_of(const struct lt_binding *b, int local)
{
	if (b->mode == LT_BIND_NONE || !b->rank || local < 0 || local >= b->n)
		return NULL;
	return &b->rank[local];
}

int lt_bind_apply(const struct lt_binding *b, int local)
{
	const struct lt_bind_rank *r = lt_bind_rank_of(b, local);

	return r ? sched_setaffinity(0, sizeof(r->cpus), &r->cpus) : 0;
}
