/*
 * plugin_loader.c - `--plugin PATH.so`: dlopen a user plugin, check its ABI
 * version and let it add its plugins to the registry.  Also what a name
 * the user gives for a .so means (lt_so_path(): a file, never a search).
 *
 * Each refusal has its own sentence naming the file (Slurm's plugin_strerror
 * habit): cannot be opened, not an ltrun plugin (no ltrun_plugin_abi),
 * built for another ABI (both numbers), no ltrun_plugin_register, or the
 * plugin's own registration error.  Plugins are never unloaded.
 *
 * Discovery (Slurm's PluginDir, Open MPI's component path): every *.so in
 * the directories of LTRUN_PLUGIN_PATH, then in $libdir/ltrun/plugins, is
 * loaded as a --plugin, in name order.  A directory (or file) another user
 * may write is refused: on a shared cluster it would let them run code as
 * you.
 */
#include "core/registry.h"
#include "core/config.h"
#include "core/error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	if (lt_registry_set_origin(reg, path))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	rc = reg_fn(reg, &inner);
	lt_registry_set_origin(reg, NULL);
	if (rc)
		return lt_err_set(err, LT_EXIT_FAILURE, "plugin '%s' failed to register: %s",
				  q, inner.msg[0] ? inner.msg : "it returned an error without a message");
	return 0;
}

/* Whether st (a plugin directory or file) may be written by a user other
 * than this one and root.  Writes why into buf. */
static bool others_may_write(const struct stat *st, char *why, size_t len)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		snprintf(why, len, "it belongs to uid %u", (unsigned)st->st_uid);
	else if (st->st_mode & S_IWOTH)
		snprintf(why, len, "every user may write it (mode %03o)", (unsigned)st->st_mode & 0777);
	else if (st->st_mode & S_IWGRP)
		snprintf(why, len, "its group may write it (mode %03o)", (unsigned)st->st_mode & 0777);
	else
		return false;
	return true;
}

static int refuse(const char *what, const char *path, const char *why, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];

	return lt_err_set(err, LT_EXIT_FAILURE,
			  "refusing plugin %s '%s': %s, so another user could make ltrun run their code; hint: chmod go-w it or drop it from LTRUN_PLUGIN_PATH",
			  what, lt_quote(q, sizeof(q), path), why);
}

static int is_so(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 3 && !strcmp(d->d_name + n - 3, ".so");
}

/* Loads every *.so of dir; a directory that does not exist is skipped. */
static int scan_dir(struct lt_registry *reg, const char *dir, struct lt_err *err)
{
	struct dirent **names = NULL;
	char why[96], file[PATH_MAX];
	struct stat st;
	int n, i, rc = 0;

	if (stat(dir, &st))
		return 0;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (others_may_write(&st, why, sizeof(why)))
		return refuse("directory", dir, why, err);
	n = scandir(dir, &names, is_so, alphasort);
	for (i = 0; i < n; i++) {
		if (!rc && snprintf(file, sizeof(file), "%s/%s", dir, names[i]->d_name) >= (int)sizeof(file))
			rc = lt_err_set(err, LT_EXIT_FAILURE, "plugin path '%s/%s' is too long", dir,
					names[i]->d_name);
		else if (!rc && !stat(file, &st) && others_may_write(&st, why, sizeof(why)))
			rc = refuse("file", file, why, err);
		else if (!rc && S_ISREG(st.st_mode))
			rc = lt_plugin_load(reg, file, err);
		free(names[i]);
	}
	free(names);
	return rc;
}

int lt_plugin_scan_dirs(struct lt_registry *reg, const char *path_list, struct lt_err *err)
{
	char dir[PATH_MAX];
	const char *p = path_list;

	while (p && *p) {
		size_t n = strcspn(p, ":");
		if (n && n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			if (scan_dir(reg, dir, err))
				return -1;
		}
		p += n + (p[n] == ':');
	}
	return 0;
}

struct lt_registry *lt_registry_load(const struct lt_config *cfg, struct lt_err *err)
{
	struct lt_registry *reg = lt_registry_new(err);
	const char *user = getenv("LTRUN_PLUGIN_PATH");

	if (reg && (lt_plugin_scan_dirs(reg, user, err) ||
		    lt_plugin_scan_dirs(reg, LT_PLUGIN_DIR, err)))
		goto fail;
	for (size_t i = 0; reg && i < cfg->num_plugins; i++)
		if (lt_plugin_load(reg, cfg->plugins[i], err))
			goto fail;
	if (reg && cfg->presets &&
	    lt_registry_add_presets_json(reg, cfg->presets, cfg->presets_origin, err))
		goto fail;
	return reg;
fail:
	lt_registry_free(reg);
	return NULL;
}
