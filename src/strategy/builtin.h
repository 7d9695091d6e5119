/*
 * builtin.h - the ops tables of the built-in strategies, for their
 * catalog entries (catalog.c).  The replicated default is public:
 * lt_strategy_default() (ltrun/strategy.h, replicated.c).
 */
#ifndef LT_STRATEGY_BUILTIN_H
#define LT_STRATEGY_BUILTIN_H

#include "ltrun/strategy.h"

extern const struct lt_strategy_ops lt_strategy_ddp_ops; /* ddp.c */
extern const struct lt_strategy_ops lt_strategy_zero_ops; /* zero.c */

#endif
