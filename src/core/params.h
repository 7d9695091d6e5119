/*
 * params.h - ltrun's side of plugin parameters (params.c): making the
 * values of a schema, applying "key=value,..." texts to them, and walking
 * them for --list and --dry-run.  Plugins read values with the accessors
 * of ltrun/plugin.h.
 */
#ifndef LT_CORE_PARAMS_H
#define LT_CORE_PARAMS_H

#include <stddef.h>

#include "ltrun/plugin.h"

/* The values of schema (NULL: no parameters) with its defaults set; owner
 * ("strategy 'ddp'") names the plugin in messages.  NULL with err set when
 * memory is short or a default is invalid (a plugin's bug). */
struct lt_params *lt_params_new(const struct lt_param_spec *schema, const char *owner,
				struct lt_err *err);
void lt_params_free(struct lt_params *p);

/* Sets the values "key=value,key=value" of text (may be ""); where ("preset
 * 'ddp_spawn'", "--strategy") is named in errors.  Returns 0, or -1 with
 * err (usage) naming the key and the valid ones; values set before the
 * bad one stay set. */
int lt_params_apply(struct lt_params *p, const char *text, const char *where,
		    struct lt_err *err);

/* Iteration: the schema's entry i and its value as text (NULL: unset). */
size_t lt_params_count(const struct lt_params *p);
const struct lt_param_spec *lt_params_spec(const struct lt_params *p, size_t i);
const char *lt_params_text(const struct lt_params *p, size_t i);

#endif
