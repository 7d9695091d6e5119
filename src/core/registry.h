/*
 * registry.h - the one list of named plugins (ltrun's side).
 *
 * Holds every strategy, precision, checkpoint IO, cluster environment,
 * communicator and accelerator this build can select, in registration order,
 * plus the names this version knows of but does not build (so that
 * `--strategy fsdp` says "not built in this version" rather than "unknown").
 * Plugin authors see only lt_registry_add() (include/ltrun/plugin.h).
 */
#ifndef LT_CORE_REGISTRY_H
#define LT_CORE_REGISTRY_H

#include <stdio.h>

#include "ltrun/plugin.h"

struct cJSON;
struct lt_config;

/* Returns a registry holding the built-in plugins, or NULL with err set. */
struct lt_registry *lt_registry_new(struct lt_err *err);
void lt_registry_free(struct lt_registry *reg);

/* Records that plugins added from now on come from `origin` (a path,
 * copied); NULL means built-in.  Returns 0, or -1 when out of memory. */
int lt_registry_set_origin(struct lt_registry *reg, const char *origin);

/* A name this version knows but does not build: a plugin not written yet
 * (flag NULL), or one that ./configure left out of this build with
 * --without-<dependency> (lib, flag and package as core/built.h's LT_DEP_*
 * give them: write LT_ABSENT_LEFT_OUT("gloo", LT_DEP_GLOO)).  A catalog's
 * list ends with a NULL name. */
struct lt_absent {
	const char *name;
	const char *lib;     /* "libgloo": what the plugin needs */
	const char *flag;    /* "--without-gloo": what left it out */
	const char *package; /* "libgloo-dev": what brings it back */
};
#define LT_ABSENT_LEFT_OUT(name, dep) LT_ABSENT_LEFT_OUT_(name, dep)
#define LT_ABSENT_LEFT_OUT_(n, l, f, p) { .name = n, .lib = l, .flag = f, .package = p }

/* What every catalog does: adds the n plugins of one kind (an array of
 * structs), then records that kind's names known but not built (absent may
 * be NULL).  Returns 0, or -1 with err naming the plugin at fault. */
int lt_registry_add_all(struct lt_registry *reg, const struct lt_plugin *plugins, size_t n,
			const struct lt_absent *absent, struct lt_err *err);
#define LT_REGISTRY_ADD_ALL(reg, array, absent, err) \
	lt_registry_add_all(reg, array, sizeof(array) / sizeof((array)[0]), absent, err)

/* Adds a preset the registry copies (from a config file's "presets"
 * section): name = base with the parameters "key=value,...", checked
 * against the base's schema now.  Returns 0, or -1 with err set. */
int lt_registry_add_preset(struct lt_registry *reg, enum lt_kind kind, const char *name,
			   const char *base, const char *preset, const char *description,
			   struct lt_err *err);

/* Adds the presets of a config file's "presets" section, given as its JSON
 * text: {"KIND": {"NAME": {"base": "PLUGIN", "description": "...",
 * "KEY": VALUE, ...}}}.  origin names the file in --list and in errors.
 * Returns 0, or -1 with err (usage) naming the preset and the fault. */
int lt_registry_add_presets_json(struct lt_registry *reg, const char *json,
				 const char *origin, struct lt_err *err);

/* Records names of `kind` this version knows but does not build (the
 * list is kept, not copied: static storage). */
void lt_registry_mark_absent(struct lt_registry *reg, enum lt_kind kind,
			     const struct lt_absent *names);

/* Returns the plugin named `name` (an alias returns the alias), or NULL. */
const struct lt_plugin *lt_registry_find(const struct lt_registry *reg,
					 enum lt_kind kind, const char *name);

/* Like lt_registry_find(), but an unknown name is an error (usage status)
 * that names the kind, says "not built in this version" for a known absent
 * name (with the ./configure flag that left it out and the package that
 * brings it back, for one left out), or else offers the closest name and
 * lists the valid ones. */
int lt_registry_lookup(const struct lt_registry *reg, enum lt_kind kind,
		       const char *name, const struct lt_plugin **out,
		       struct lt_err *err);

/* A choice of one plugin for this run: what the user named ("ddp_spawn",
 * a preset, or a plugin), the base plugin whose ops run, and the values
 * of the base's parameters (defaults, then each preset from the base
 * outwards, then the inline "name:key=value,..." form). */
struct lt_choice {
	const struct lt_plugin *named;
	const struct lt_plugin *base;
	struct lt_params *params;
};

/* Resolves spec ("ddp", "ddp_spawn", "ddp:bucket_mb=100,launcher=fork")
 * of kind into *out.  Returns 0, or -1 with err (usage) for an unknown or
 * unbuilt name (as lt_registry_lookup) or a bad parameter; *out is then
 * empty.  Free with lt_choice_free(). */
int lt_registry_resolve(const struct lt_registry *reg, enum lt_kind kind, const char *spec,
			struct lt_choice *out, struct lt_err *err);
void lt_choice_free(struct lt_choice *c);

/* What `auto` names for kind in a job of world_size ranks: strategy:
 * single_device for one rank, ddp otherwise; accelerator: the first one
 * registered; any other name (and other kinds) is returned unchanged.
 * The launch plan and every rank resolve through this one rule. */
const char *lt_registry_auto(const struct lt_registry *reg, enum lt_kind kind,
			     const char *name, int world_size);

/* Follows an alias to its base plugin (a base returns itself). */
const struct lt_plugin *lt_registry_base(const struct lt_registry *reg,
					 const struct lt_plugin *p);

/* Iteration in registration order: for (i = 0; i < count; i++) at(i). */
size_t lt_registry_count(const struct lt_registry *reg, enum lt_kind kind);
const struct lt_plugin *lt_registry_at(const struct lt_registry *reg,
				       enum lt_kind kind, size_t i);
/* Where plugin i of kind came from: "built-in" or the .so's path. */
const char *lt_registry_origin_at(const struct lt_registry *reg,
				  enum lt_kind kind, size_t i);

/* The names of kind this version knows but does not build (ended by a
 * NULL name, or NULL). */
const struct lt_absent *lt_registry_absent(const struct lt_registry *reg, enum lt_kind kind);

/* Kind names as users type them ("strategy", "ckpt-io", "cluster", ...). */
const char *lt_kind_name(enum lt_kind kind);
/* Returns 0 and sets *out, or -1 with err set (usage) offering the closest. */
int lt_kind_parse(const char *text, enum lt_kind *out, struct lt_err *err);

/* `ltrun --list [KIND]`: kind < 0 lists every kind. */
void lt_registry_print(const struct lt_registry *reg, FILE *out, int kind);
/* The same as a JSON object {"strategy": [ {...}, ... ], ...}; caller
 * frees with cJSON_Delete().  NULL on allocation failure. */
struct cJSON *lt_registry_json(const struct lt_registry *reg, int kind);

/* The path to dlopen() for a .so the user named (the model, a --plugin):
 * a name without '/' is a file in the current directory ("model.so" is
 * "./model.so"), never a library that dlopen() would look for in
 * LD_LIBRARY_PATH and the system directories.  Writes it into buf and
 * returns buf, or NULL when it does not fit in len bytes. */
const char *lt_so_path(const char *name, char *buf, size_t len);

/* Loads a user plugin (see include/ltrun/plugin.h) into reg.  A name
 * without '/' is a file in the current directory (lt_so_path()).  Returns 0, or
 * -1 with err set naming the file and the fault; plugins it added before
 * failing stay registered. */
int lt_plugin_load(struct lt_registry *reg, const char *path,
		   struct lt_err *err);

/* The registry a run uses: the built-in plugins, then every *.so of the
 * plugin directories (lt_plugin_dirs()), then every --plugin file (in
 * order), then the presets of the config file (cfg->presets).  cmd/ltrun.c
 * and every rank make it the same way, so a rank resolves the names the
 * launcher checked.  Returns it, or NULL with err set naming the plugin,
 * file or directory at fault. */
struct lt_registry *lt_registry_load(const struct lt_config *cfg, struct lt_err *err);

/* The plugin directories, ':'-separated: LTRUN_PLUGIN_PATH's, then
 * $libdir/ltrun/plugins (LT_PLUGIN_DIR, from configure).  Returns 0, or
 * -1 with err naming a directory another user may write (a plugin there
 * is code anyone could make ltrun run).  A directory that does not exist
 * is skipped.  Each *.so found is loaded, in name order, as a --plugin. */
#ifndef LT_PLUGIN_DIR /* -D by the Makefile from configure's libdir */
#define LT_PLUGIN_DIR "/usr/local/lib/ltrun/plugins"
#endif
int lt_plugin_scan_dirs(struct lt_registry *reg, const char *path_list, struct lt_err *err);

/* Built-in catalogues, one per kind; each returns 0 or -1 with err set. */
int lt_strategy_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_precision_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_ckpt_io_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_cluster_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_comm_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_accelerator_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_rdzv_catalog(struct lt_registry *reg, struct lt_err *err);
int lt_logger_catalog(struct lt_registry *reg, struct lt_err *err);

#endif
