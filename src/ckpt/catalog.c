/*
 * catalog.c - the checkpoint IO plugins.
 */
#include "core/registry.h"
#include "ltrun/ckpt_io.h"

static const struct lt_ckpt_io_ops direct_ops = { .wraps_another = false };
static const struct lt_ckpt_io_ops wrapping_ops = { .wraps_another = true };

static const struct lt_plugin ckpt_ios[] = {
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "file",
		.description = "Writes to a temporary name, fsyncs and renames: a crash never replaces the last good checkpoint.",
		.recommended_when = "checkpoints go to a local or shared filesystem (the default)",
		.ops = &direct_ops,
	},
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "async",
		.description = "Hands a snapshot to a background thread that writes it through another IO plugin (file by default).",
		.recommended_when = "saving takes long enough to stall training",
		.ops = &wrapping_ops,
	},
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "http",
		.description = "PUT/GET of each file to a base URL (WebDAV or S3-style), uploaded under a temporary name and then moved.",
		.recommended_when = "checkpoints live on an object store or WebDAV server",
		.ops = &direct_ops,
	},
};

int lt_ckpt_io_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, ckpt_ios, NULL, err);
}
