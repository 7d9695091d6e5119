/*
 * catalog.c - the built-in checkpoint IO plugins in the registry, with
 * their parameters: file (`direct`), async (wraps another: `inner`), http
 * (`retries`).  Their ops are file.c's, async.c's and http.c's; http is
 * "not built" when ./configure left out libcurl (--without-curl).
 */
#include "ckpt/io.h"
#include "core/built.h"

static const struct lt_param_spec async_params[] = {
	{ .name = "inner", .type = LT_PARAM_STRING,
	  .help = "the checkpoint IO it wraps, with its parameters (default: http for a URL, else file)" },
	{ .name = NULL },
};

static const struct lt_param_spec file_params[] = {
	{ .name = "direct", .type = LT_PARAM_BOOL, .default_value = "true",
	  .help = "write files of 1 MB or more with O_DIRECT, past the page cache (buffered where the filesystem refuses it, or over a spare still cached)" },
	{ .name = NULL },
};

#if LT_HAVE_CURL
static const struct lt_param_spec http_params[] = {
	{ .name = "retries", .type = LT_PARAM_INT, .default_value = "4", .min = 0, .max = 100,
	  .help = "attempts after the first on a 5xx or a connection error" },
	{ .name = NULL },
};
#endif

static const struct lt_plugin ckpt_ios[] = {
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "file",
		.description = "Writes to a temporary name, fsyncs and renames: a crash never replaces the last good checkpoint.",
		.recommended_when = "checkpoints go to a local or shared filesystem (the default)",
		.params = file_params,
		.ops = &lt_ckpt_io_file,
	},
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "async",
		.description = "Hands a snapshot to a background thread that writes it through another IO plugin (file by default).",
		.recommended_when = "saving takes long enough to stall training",
		.params = async_params,
		.ops = &lt_ckpt_io_async,
	},
#if LT_HAVE_CURL
	{
		.kind = LT_KIND_CKPT_IO,
		.name = "http",
		.description = "PUT/GET of each file to a base URL (WebDAV or S3-style), uploaded under a temporary name and then moved.",
		.recommended_when = "checkpoints live on an object store or WebDAV server",
		.params = http_params,
		.ops = &lt_ckpt_io_http,
	},
#endif
};

static const struct lt_absent absent[] = {
#if !LT_HAVE_CURL
	LT_ABSENT_LEFT_OUT("http", LT_DEP_CURL),
#endif
	{ .name = NULL },
};

int lt_ckpt_io_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return LT_REGISTRY_ADD_ALL(reg, ckpt_ios, absent, err);
}
