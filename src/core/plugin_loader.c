/*
 * plugin_loader.c - `--plugin PATH.so`: dlopen a user plugin, check its ABI
 * version and let it add its plugins to the registry.  Also what a name
 * the user gives for a .so means (lt_so_path(): a file, never a search).
 *
 * Each refusal has its own sentence naming the file (Slurm's plugin_strerror
 * habit): cannot be opened, not an ltrun plugin (no ltrun_plugin_abi),
 * built for another ABI (both numbers), no ltrun_plugin_register, or the
 * plugin's own registration error.  Plugins are never unloaded.
 */
#include "core/registry.h"
#include "core/error.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

const char *lt_so_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", strchr(name, '/') ? "" : "./", name);

	return n < 0 || (size_t)n >= len ? NULL : buf;
}

int lt_plugin_load(struct lt_registry *reg, const char *path,
		   struct lt_err *err)
{
	char q[LT_QUOTE_MAX], file[PATH_MAX];
	const unsigned *abi;
	lt_plugin_register_fn *reg_fn;
	struct lt_err inner = { 0, "" };
	void *handle;
	int rc;

	lt_quote(q, sizeof(q), path);
	/* A bare name would be searched in the library path; users mean a file. */
	if (!lt_so_path(path, file, sizeof(file)))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot load plugin '%s': the path is longer than %zu bytes",
				  q, sizeof(file) - 1);
	handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *why = dlerror();
		char wq[200];
		size_t n;

		snprintf(wq, sizeof(wq), "%s", why ? why : "unknown error");
		/* dlerror() repeats the path first: keep only the reason. */
		n = strlen(file);
		if (!strncmp(wq, file, n) && wq[n] == ':')
			memmove(wq, wq + n + 2, strlen(wq + n + 2) + 1);
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot load plugin '%s': %s", q, wq);
	}
	abi = dlsym(handle, "ltrun_plugin_abi");
	if (!abi)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "'%s' is not an ltrun plugin: it has no ltrun_plugin_abi symbol (use LT_PLUGIN_DECLARE_ABI() from <ltrun/plugin.h>)",
				  q);
	if (*abi != LT_PLUGIN_ABI_VERSION)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "plugin '%s' was built for plugin ABI %u but this ltrun has ABI %u: rebuild it against this ltrun's <ltrun/plugin.h>",
				  q, *abi, LT_PLUGIN_ABI_VERSION);
	*(void **)&reg_fn = dlsym(handle, "ltrun_plugin_register");
	if (!reg_fn)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "plugin '%s' has no ltrun_plugin_register function: export int ltrun_plugin_register(struct lt_registry *, struct lt_err *)",
				  q);
	lt_registry_set_origin(reg, path);
	rc = reg_fn(reg, &inner);
	lt_registry_set_origin(reg, NULL);
	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE, "plugin '%s' failed to register: %s",
				  q, inner.msg[0] ? inner.msg : "it returned an error without a message");
	return 0;
}

struct lt_registry *lt_registry_load(char *const *plugins, size_t n, struct lt_err *err)
{
	struct lt_registry *reg = lt_registry_new(err);

	for (size_t i = 0; reg && i < n; i++) {
		if (lt_plugin_load(reg, plugins[i], err)) {
			lt_registry_free(reg);
			return NULL;
		}
	}
	return reg;
}
