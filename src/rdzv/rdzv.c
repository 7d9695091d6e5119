/*
 * rdzv.c - the rendezvous backends in the registry (tcp, etcd, file, pmix,
 * and auto, which picks one of them per run), and the lookup of a name.
 * etcd and pmix are "not built" when ./configure left out libcurl
 * (--without-curl) or PMIx (--without-pmix); auto then never picks pmix.
 */
#include "rdzv/rdzv.h"
#include "core/built.h"
#include "core/pmix_client.h"

#include <stdlib.h>

static const struct lt_rdzv_ops *auto_pick(bool adopted)
{
#if LT_HAVE_PMIX
	char why[256];

	if (adopted && getenv("PMIX_RANK") && lt_pmix_client(why, sizeof(why)))
		return &lt_rdzv_pmix;
#else
	(void)adopted;
#endif
	return &lt_rdzv_tcp;
}

static const struct lt_rdzv_ops auto_ops = { .pick = auto_pick };

static const struct lt_plugin rdzvs[] = {
	{
		.kind = LT_KIND_RDZV,
		.name = "auto",
		.description = "pmix for ranks a PMIx launcher (mpirun, srun --mpi=pmix) created, else tcp.",
		.recommended_when = "always, unless testing one backend (the default)",
		.ops = &auto_ops,
	},
	{
		.kind = LT_KIND_RDZV,
		.name = "tcp",
		.description = "ltrun's own key-value store, hosted by node 0's agent (or rank 0 of adopted ranks), over TCP with a per-job token.",
		.recommended_when = "ltrun starts the ranks, on one node or several",
		.ops = &lt_rdzv_tcp,
	},
#if LT_HAVE_CURL
	{
		.kind = LT_KIND_RDZV,
		.name = "etcd",
		.description = "Elastic jobs' rendezvous rounds (--num-nodes MIN:MAX) in etcd v3 at --rdzv-endpoint, each joining agent on a lease; the ranks then meet through ltrun's store, as with tcp.",
		.recommended_when = "an etcd server is there and the job is elastic",
		.ops = &lt_rdzv_tcp,
	},
#endif
	{
		.kind = LT_KIND_RDZV,
		.name = "file",
		.description = "Files in a directory every node can reach (LTRUN_RDZV_DIR).",
		.recommended_when = "no TCP port can be opened between the nodes, but a shared filesystem exists",
		.ops = &lt_rdzv_file,
	},
#if LT_HAVE_PMIX
	{
		.kind = LT_KIND_RDZV,
		.name = "pmix",
		.description = "The PMIx server of the launcher that created the ranks (mpirun, srun --mpi=pmix).",
		.recommended_when = "the ranks were started by a PMIx launcher",
		.ops = &lt_rdzv_pmix,
	},
#endif
};

static const struct lt_absent absent[] = {
#if !LT_HAVE_CURL
	LT_ABSENT_LEFT_OUT("etcd", LT_DEP_CURL),
#endif
#if !LT_HAVE_PMIX
	LT_ABSENT_LEFT_OUT("pmix", LT_DEP_PMIX),
#endif
	{ .name = NULL },
};

int lt_rdzv_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, rdzvs, absent, err);
}

int lt_rdzv_lookup(const struct lt_registry *reg, const char *name, bool adopted,
		   const struct lt_rdzv_ops **out, struct lt_err *err)
{
	const struct lt_plugin *p;
	const struct lt_rdzv_ops *ops;

	if (lt_registry_lookup(reg, LT_KIND_RDZV, name, &p, err))
		return -1;
	ops = lt_registry_base(reg, p)->ops;
	*out = ops->pick ? ops->pick(adopted) : ops;
	return 0;
}

bool lt_rdzv_uses_store(const char *name, bool adopted)
{
	struct lt_err err = { 0 };
	struct lt_registry *reg = lt_registry_new(&err);
	const struct lt_rdzv_ops *ops = NULL;
	bool store = reg && !lt_rdzv_lookup(reg, name, adopted, &ops, &err) && ops->store;

	lt_registry_free(reg);
	return store;
}
