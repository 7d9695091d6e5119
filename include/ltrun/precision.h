/*
 * ltrun/precision.h - the precision plugin kind.
 */
#ifndef LTRUN_PRECISION_H
#define LTRUN_PRECISION_H

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Precision: the dtypes it implies. */
struct lt_precision_ops {
	const char *param_dtype;   /* master weights and optimizer state */
	const char *compute_dtype; /* what the model reads and writes */
	bool loss_scaling;
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_PRECISION_H */
