/*
 * cuda_visible.h - which GPU a rank takes, decided without a GPU:
 * CUDA_VISIBLE_DEVICES read as the CUDA runtime reads it, the device of
 * each local rank, and two ranks on one device found by their UUIDs.
 * Pure functions (cuda_visible.c), unit-tested on any machine; the cuda
 * accelerator (cuda.c) and the nccl communicator (comm/nccl.c) use them.
 */
#ifndef LT_ACCEL_CUDA_VISIBLE_H
#define LT_ACCEL_CUDA_VISIBLE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define LT_CUDA_VISIBLE_MAX 64
#define LT_CUDA_ENTRY_MAX 96

/* CUDA_VISIBLE_DEVICES, parsed.  CUDA lists the devices it names, in
 * that order, as ordinals 0..n-1; a negative number ends the list (the
 * usual "-1" hides every device), as the runtime does. */
struct lt_cuda_visible {
	bool set;   /* the variable was set (even empty) */
	int n;      /* entries before the end of the list */
	char entry[LT_CUDA_VISIBLE_MAX][LT_CUDA_ENTRY_MAX]; /* "3", "GPU-8f1e...", "MIG-..." */
	char value[160]; /* the variable as given, quoted for messages */
};

/* Parses value (NULL: unset).  An entry that is neither a number nor a
 * GPU-/MIG- UUID, or a device named twice, is refused with a message
 * naming the entry: CUDA would silently hide every device after it. */
int lt_cuda_visible_parse(const char *value, struct lt_cuda_visible *out, struct lt_err *err);

/* The ordinal (among the count devices CUDA shows this process) of local
 * rank local_rank out of local_world: local_rank itself when there are
 * enough devices; 0 when each rank sees exactly one device of its own
 * (srun --gpus-per-task=1 and per-rank wrapper scripts set
 * CUDA_VISIBLE_DEVICES a rank; lt_cuda_find_shared catches two ranks
 * given the same one).  Fewer devices than ranks otherwise is refused:
 * two ranks on one device fail in NCCL with "Duplicate GPU detected". */
int lt_cuda_pick_device(int local_rank, int local_world, int count,
			const struct lt_cuda_visible *v, int *ordinal, struct lt_err *err);

/* Two ranks on one device: ids[i] is rank i's "host/device-uuid".
 * Returns true with *first < *second the lowest such pair. */
bool lt_cuda_find_shared(const char *const *ids, int n, int *first, int *second);

/* The 16 bytes of a device UUID as nvidia-smi -L prints them:
 * "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (out: at least 41 bytes). */
void lt_cuda_uuid_text(const unsigned char bytes[16], char *out, size_t len);

#endif
