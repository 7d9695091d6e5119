/*
 * offload.h - optimizer state in files (offload_optimizer=nvme): each
 * state slot (SGD's momentum buffer, AdamW's exp_avg and exp_avg_sq) is
 * one preallocated file under the strategy's directory, and a step sees
 * it through a window of a few chunks in memory, read ahead and written
 * back by I/O threads while the optimizer computes (offload.c says why
 * threads).  optim.c is its only user: lt_optim_new_files() makes
 * one, lt_optim_step_group() asks it for spans, lt_optim_finish() ends
 * each step with it.
 *
 * Use, for one optimizer step (offsets increasing within the step is what
 * streams; any order is correct):
 *
 *	while (n) {
 *		if (lt_offload_span(f, off, n, slot, &got))
 *			break;               // I/O failed: lt_offload_flush says
 *		step(slot[0], slot[1], got); // elements [off, off + got)
 *		off += got, n -= got;
 *	}
 *	...
 *	if (lt_offload_flush(f, err))        // every change is in the files
 *		return -1;
 */
#ifndef LT_RUNTIME_OFFLOAD_H
#define LT_RUNTIME_OFFLOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ltrun.h"
#include "ltrun/plugin.h"

/* LTRUN_OFFLOAD_CHUNK (bytes of one slot's chunk) overrides this; tests
 * use a few bytes to put chunk boundaries inside tensors. */
#define LT_OFFLOAD_CHUNK_BYTES ((size_t)4 << 20)
#define LT_OFFLOAD_FRAMES 3 /* chunks in memory: stepped, read ahead, written back */
#define LT_OFFLOAD_THREADS 2 /* pread/pwrite threads: a read ahead and a write-back at once */

struct lt_offload; /* opaque */

/* Checks dir for state files, making it (mode 0700) when it is missing:
 * it must be a writable directory, this user's own or a shared one with
 * the sticky bit (as /tmp), and never world-writable without the sticky
 * bit.  Returns 0, or -1 with err naming dir and the fix. */
int lt_offload_check_dir(const char *dir, struct lt_err *err);

/* nslots files of numel elements of dt (zeros) in dir, checked as above,
 * named "ltrun-optim-r<rank>-<pid>.<pid ns>-<names[s]>-XXXXXX" (made
 * O_EXCL, mode 0600, and unlinked at once, so that no run, even a killed
 * one, leaves them behind), preallocated (a full disk is refused here,
 * naming dir, the bytes needed and those free), and mapped for
 * lt_offload_map().  numel > 0, 1 <= nslots <= 2.  Returns NULL with err
 * (usage status for the directory or LTRUN_OFFLOAD_CHUNK, failure status
 * for the disk or memory). */
struct lt_offload *lt_offload_open(const char *dir, int rank, const char *const names[],
				   int nslots, size_t numel, enum lt_dtype dt,
				   struct lt_err *err);

/* Puts the chunk holding element `offset` in memory (reading it, or
 * waiting for its read ahead, and starting the next one's) and sets
 * slot[s] to element `offset` of slot s there, *got to how many elements
 * from offset on that chunk holds (<= n).  The chunk is written back once
 * the step moves past it, or at lt_offload_flush.  Returns 0, or -1 after
 * an I/O failure (this one or an earlier write-back's): nothing more is
 * stepped until lt_offload_flush reports it. */
int lt_offload_span(struct lt_offload *f, size_t offset, size_t n, void *slot[2], size_t *got);

/* Ends a step: writes back what changed, waits for every read and write,
 * and forgets the chunks (the files may then change through the
 * mapping).  Returns 0, or -1 with err naming the file, the offset and
 * errno of the first failure since the files were made: once one failed,
 * every later flush fails the same way (the state is no longer whole). */
int lt_offload_flush(struct lt_offload *f, struct lt_err *err);

/* The files mapped MAP_SHARED, numel elements each (slot[s]), for
 * checkpoints: a save reads the state through it, a resume writes it.
 * They hold the state as of the last flush: between steps, all of it.
 * During a step a chunk reaches them once the step has moved past it, so
 * elements not yet stepped read as before the step (what an async save,
 * copying each tensor before lt_update changes it, needs); nothing may
 * write them then.  Pages the caller touches are the files' (page
 * cache); each flush drops them from this process's resident set. */
void lt_offload_map(const struct lt_offload *f, void *slot[2]);

/* Bytes of memory the chunks take (what a step keeps resident). */
size_t lt_offload_resident_bytes(const struct lt_offload *f);
/* What lt_offload_resident_bytes will say of nslots files of numel
 * elements of dt, before they are made (a strategy's accounting):
 * LTRUN_OFFLOAD_CHUNK as lt_offload_open reads it, the default where it
 * is not a valid size.  0 when numel or nslots is 0. */
size_t lt_offload_window_bytes(size_t numel, int nslots, enum lt_dtype dt);

/* --- the file handling, for other files in offload_dir (the strategy's
 * parameters in files, strategy/zero_files.c) --- */

/* Refuses a disk without room for nfiles of `each` bytes of `what` ("the
 * <what> needs ...") before any file is made.  Returns 0 or -1 with err. */
int lt_offload_check_room(const char *dir, const char *what, int nfiles, size_t each,
			  struct lt_err *err);

/* One private file in dir (checked by the caller): named
 * "<dir>/ltrun-<kind>-r<rank>-<pid>.<pid ns>-<name>-XXXXXX" (into path),
 * made O_EXCL, mode 0600, unlinked at once and preallocated to bytes; a
 * full disk is refused naming dir, what, and nfiles files of bytes. */
struct lt_offload_file_spec {
	const char *dir, *kind, *what, *name;
	int rank, nfiles;
	size_t bytes;
};
/* Returns the descriptor, or -1 with err. */
int lt_offload_file(const struct lt_offload_file_spec *sp, char path[PATH_MAX],
		    struct lt_err *err);

/* pread (!write) or pwrite of all len bytes at off, resuming short
 * transfers.  Returns 0 or an errno value (EIO for a read past the end). */
int lt_offload_transfer(int fd, bool write, void *buf, size_t len, off_t off);

/* Stops the I/O threads, unmaps and closes the files (their space goes
 * back to the file system); NULL is ignored. */
void lt_offload_close(struct lt_offload *f);

#endif
