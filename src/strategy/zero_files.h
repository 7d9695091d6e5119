/*
 * zero_files.h - stage 3's parameters in files (offload_params=nvme,
 * ZeRO-Infinity's "offload_param: nvme"), zero.c's helper.  A rank's
 * owned values of the parameters in units (and, under mixed precision,
 * their f32 master weights) live in private files under offload_dir
 * (runtime/offload.h's file handling); in memory they are released
 * (discarded and guarded) like the values the rank does not own, and
 * made resident only while their unit is in use, while the optimizer
 * steps them, and around a checkpoint.  zero_files.c says how.
 *
 * Every call but zero_files_step takes NULL (parameters in memory) and
 * then does nothing.
 * `resident` is zero_units.c's per-unit flag: the unit's values are here.
 */
#ifndef LT_STRATEGY_ZERO_FILES_H
#define LT_STRATEGY_ZERO_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "ltrun/strategy.h"

struct zero_files; /* opaque */

/* Whether the strategy's parameters ask for files (offload_params=nvme). */
bool zero_files_wanted(const struct lt_params *p);

/* After setup's release of the units: makes the files for the owned
 * flat range [own_lo, own_lo + own_n), writes the owned values (and
 * master weights) of every unit's parameters there and releases them.
 * The directory: offload_dir, or <--log-dir or $TMPDIR or
 * /tmp>/ltrun-params-rank<R>.  Returns NULL with err (the directory, a
 * full disk, a failed write: each names what and the fix). */
struct zero_files *zero_files_open(struct lt_ctx *ctx, const struct lt_params *p,
				   size_t own_lo, size_t own_n, struct lt_err *err);

/* The descriptor of the owned values' file, whose byte 0 is byte *at of
 * the data arena (a page boundary): an owned element of a unit is at the
 * same offset from there as in the arena. */
int zero_files_values_fd(const struct zero_files *zf, size_t *at);
/* A unit's first begin (flat [lo, hi), its values outside the shard
 * already unguarded): reads the owned part from the file. */
int zero_files_begin(struct lt_ctx *ctx, struct zero_files *zf, size_t lo, size_t hi,
		     struct lt_err *err);
/* A unit's last end: the owned part goes again (unchanged since its
 * begin: nothing is written back). */
int zero_files_end(struct lt_ctx *ctx, struct zero_files *zf, size_t lo, size_t hi,
		   struct lt_err *err);

/* The optimizer step of every owned element (replaces zero.c's loop of
 * lt_update): the parameters in no unit in memory, each unit's owned
 * part read, stepped, written back and released, streamed (three
 * units' parts resident at most).  Returns 0, or -1 with err naming the
 * file of the first failed read or write. */
int zero_files_step(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		    const struct lt_update *u, struct lt_err *err);

/* ckpt_shard: every owned value (and master weight) is made resident for
 * a save to read or a resume to write, until zero_files_unpin. */
int zero_files_pin(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		   struct lt_err *err);
/* The next unit event or step after a pin: what the checkpoint left (a
 * resume's values) is written to the files and released again. */
int zero_files_unpin(struct lt_ctx *ctx, struct zero_files *zf, const bool *resident,
		     struct lt_err *err);

/* Closes the files (their space goes back). */
void zero_files_close(struct zero_files *zf);

#endif
