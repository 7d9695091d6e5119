/*
 * ltrun/ckpt_io.h - the checkpoint IO plugin kind.
 */
#ifndef LTRUN_CKPT_IO_H
#define LTRUN_CKPT_IO_H

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checkpoint IO. */
struct lt_ckpt_io_ops {
	bool wraps_another; /* async: wraps the IO plugin named by its preset */
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_CKPT_IO_H */
