/*
 * ltrun/strategy.h - the strategy plugin kind.
 */
#ifndef LTRUN_STRATEGY_H
#define LTRUN_STRATEGY_H

#include "ltrun/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Strategy: what the plan needs to know of it. */
struct lt_strategy_ops {
	const char *launcher; /* "exec" (fork + exec) or "fork" (fork, no exec) */
	bool multi_rank;      /* false: runs one rank only (single_device) */
};

#ifdef __cplusplus
}
#endif
#endif /* LTRUN_STRATEGY_H */
