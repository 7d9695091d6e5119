/*
 * ltrun/plugin.h - the ABI for ltrun plugins.
 *
 * A plugin is a shared object loaded with `ltrun --plugin PATH.so`. It exports
 * two symbols, both made by the macros at the end of this file:
 *
 *   const unsigned ltrun_plugin_abi;      equal to LT_PLUGIN_ABI_VERSION
 *   int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err);
 *
 * ltrun refuses a plugin whose ltrun_plugin_abi differs from its own (naming
 * both numbers) or that lacks either symbol.  ltrun_plugin_register() adds its
 * plugins with lt_registry_add(); every descriptor and ops table it passes must
 * live as long as the process (static storage: ltrun never unloads plugins).
 *
 * This header holds what every kind shares: errors, the environment, the
 * parameter schema and struct lt_plugin.  Each kind a user may write has
 * its own header with its ops table: <ltrun/cluster.h>,
 * <ltrun/strategy.h>, <ltrun/precision.h>, <ltrun/ckpt_io.h>.  The
 * examples under examples/plugins/ show one complete plugin of each.
 */
#ifndef LTRUN_PLUGIN_H
#define LTRUN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct in this file or in a kind's header changes
 * layout or meaning (3: lt_strategy_ops gained grad_ready_range; 4: the
 * sharded strategies' ops and layout: unit, micro_done,
 * ready_every_micro, grads_sharded). */
#define LT_PLUGIN_ABI_VERSION 4u

#if defined(__GNUC__)
#define LT_API __attribute__((visibility("default")))
#define LT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LT_API
#define LT_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------- errors */

/* Exit statuses: LT_EXIT_USAGE for a bad flag, LTRUN_* variable or config
 * file value; LT_EXIT_FAILURE for everything else (the cluster's environment,
 * a plugin, a file that cannot be read); LT_EXIT_STOPPED when a preemption
 * signal (--preempt-signals: SIGUSR1, SIGTERM) made every rank save a
 * checkpoint and stop early: sysexits' EX_TEMPFAIL, "try again", far from
 * the statuses a model's own exit() or a signal (128 + N) gives. */
enum { LT_EXIT_FAILURE = 1, LT_EXIT_USAGE = 2, LT_EXIT_STOPPED = 75 };

/* One error: a single line naming the bad input and the fix, and the exit
 * status it deserves.  Functions that take a `struct lt_err *` fill it and
 * return -1 on failure; on success they leave it untouched. */
struct lt_err {
	int status;
	char msg[512];
};

/* Formats msg into err (no "ltrun:" prefix, no trailing newline) and
 * returns -1, so that `return lt_err_set(err, ...)` is a one-liner. */
LT_API int lt_err_set(struct lt_err *err, int status, const char *fmt, ...)
	LT_PRINTF(3, 4);

/* ---------------------------------------------------------- environment */

/* A read-only view of an environment: the process's own, or a list of
 * "NAME=value" strings (tests, dry runs for another node).  The hostname is
 * part of it because several cluster environments locate this node by name. */
struct lt_envsrc {
	const char *const *vars; /* NULL-terminated "NAME=value"; NULL: environ */
	const char *hostname;    /* NULL: gethostname() */
};

/* Returns the value of `name`, or NULL when it is unset.  An empty value is
 * returned as "" (set but empty). */
LT_API const char *lt_env_get(const struct lt_envsrc *src, const char *name);

/* Reads `name` as a decimal integer in [min, max].
 * Returns 1 and sets *out when it is set and valid, 0 when it is unset
 * (*out unchanged), -1 with err set (naming the variable and its value)
 * when it is set but not such a number. */
LT_API int lt_env_int(const struct lt_envsrc *src, const char *name,
		      long min, long max, long *out, struct lt_err *err);

/* Copies this node's short host name (up to the first '.'; a host name
 * that is an IP address is kept whole) into buf.  Returns 0, or -1 with
 * err set. */
LT_API int lt_env_hostname(const struct lt_envsrc *src, char *buf, size_t len,
			   struct lt_err *err);

/* "Say nothing, let ltrun decide" for a number (--devices, --num-nodes...). */
#define LT_AUTO (-1)

/* ------------------------------------------------------------ plugin kinds */

enum lt_kind {
	LT_KIND_STRATEGY,
	LT_KIND_PRECISION,
	LT_KIND_CKPT_IO,
	LT_KIND_CLUSTER,
	LT_KIND_COMM,
	LT_KIND_ACCELERATOR,
	LT_KIND_RDZV,
	LT_KIND_LOGGER, /* <ltrun/logger.h> */
	LT_KIND_COUNT
};

/* -------------------------------------------------------- parameters */

/* A plugin's parameters (its "init arguments", as in DDPStrategy(
 * bucket_cap_mb=...)): the schema a base plugin declares, and the values
 * a run gets from the schema's defaults, then each preset from the base
 * outwards, then the inline form `--strategy ddp:bucket_mb=100`.  Every
 * key is checked against the schema before anything starts: an unknown
 * key, a value of the wrong type or outside [min, max] is a one-line
 * error naming the parameter and the valid ones. */
enum lt_param_type {
	LT_PARAM_BOOL,   /* true/false, yes/no, on/off, 1/0 */
	LT_PARAM_INT,    /* decimal, in [min, max] when min < max */
	LT_PARAM_FLOAT,  /* in [min, max] when min < max */
	LT_PARAM_STRING, /* any text without ',' */
	LT_PARAM_CHOICE, /* one of choices, "a|b|c" */
};

struct lt_param_spec {
	const char *name;          /* [a-z0-9_]+ */
	enum lt_param_type type;
	const char *default_value; /* as text; NULL: unset unless given */
	double min, max;           /* INT and FLOAT: bounds when min < max */
	const char *choices;       /* CHOICE: "a|b|c" */
	const char *help;          /* one phrase, shown by --list */
};

/* The values of one plugin's parameters for this run (read-only). */
struct lt_params;

/* Reads parameter `name` (declared in the plugin's schema; asking for an
 * undeclared one, or for one of another type, is a bug that returns 0,
 * false or NULL).  CHOICE and STRING values are read with lt_params_str;
 * an unset parameter without default reads as 0, false or NULL. */
LT_API bool lt_params_bool(const struct lt_params *p, const char *name);
LT_API long long lt_params_int(const struct lt_params *p, const char *name);
LT_API double lt_params_float(const struct lt_params *p, const char *name);
LT_API const char *lt_params_str(const struct lt_params *p, const char *name);
/* Whether `name` was given by a preset or inline (not only defaulted). */
LT_API bool lt_params_given(const struct lt_params *p, const char *name);

/* -------------------------------------------------------- one plugin */

/* One named plugin, the only description of it anywhere: its identity, its
 * parameter schema and its ops (struct lt_<kind>_ops, declared in the
 * kind's header: <ltrun/strategy.h>, <ltrun/precision.h>,
 * <ltrun/ckpt_io.h>, <ltrun/cluster.h>; ltrun's own kinds keep theirs
 * inside).  A preset names another plugin (or preset) of the same kind in
 * alias_of and sets some of its parameters ("bucket_mb=100"); it has no
 * ops and no schema of its own, and is listed beside its base. */
struct lt_plugin {
	enum lt_kind kind;
	const char *name;             /* [a-z0-9._-]+, unique within its kind */
	const char *description;      /* one sentence */
	const char *recommended_when; /* one phrase */
	const char *alias_of;         /* a preset's base; NULL for a plugin */
	const char *preset;           /* a preset's "key=value,...", or NULL */
	const struct lt_param_spec *params; /* a plugin's schema, ended by a
					     * {NULL} entry; NULL: none */
	const void *ops;              /* a plugin's ops; NULL for a preset */
};

struct lt_registry;

/* Adds p (which must outlive the registry).  Returns 0, or -1 with err set
 * when the name is invalid or taken, an alias names an unknown plugin, or
 * ops is missing; the registry is then unchanged. */
LT_API int lt_registry_add(struct lt_registry *reg, const struct lt_plugin *p,
			   struct lt_err *err);

/* ------------------------------------------------------------ entry points */

#define LT_PLUGIN_DECLARE_ABI() \
	LT_API const unsigned ltrun_plugin_abi = LT_PLUGIN_ABI_VERSION

typedef int lt_plugin_register_fn(struct lt_registry *reg, struct lt_err *err);

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_PLUGIN_H */
