/*
 * fuzz_config.c - libFuzzer target for the --config JSON parser: any bytes
 * must either load or fail with a one-line message, never crash or leak.
 * What loads is then checked as ltrun does: its "presets" registered and
 * every plugin name, inline parameters included, resolved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_config cfg;
	struct lt_err err = { 0, "" };
	int rc;

	if (lt_config_init(&cfg, &err))
		abort();
	rc = lt_config_load_text(&cfg, "fuzz.json", (const char *)data, size, &err);
	if (rc && (!err.msg[0] || strchr(err.msg, '\n') || (err.status != 1 && err.status != 2)))
		abort(); /* a failure must say something, on one line, with a status */
	if (!rc && cfg.num_plugins > 64)
		abort();
	if (!rc) {
		struct lt_registry *reg = lt_registry_new(&err);
		if (!reg)
			abort();
		if (cfg.presets)
			rc = lt_registry_add_presets_json(reg, cfg.presets, "fuzz.json", &err);
		if (!rc)
			rc = lt_config_check_names(&cfg, reg, &err);
		if (rc && (!err.msg[0] || strchr(err.msg, '\n') || err.status != 2))
			abort(); /* a bad preset or name is a usage error, on one line */
		lt_registry_free(reg);
	}
	lt_config_free(&cfg);
	return 0;
}
