/*
 * unit_fault.h - naming a parameter used outside its unit (unit_fault.c).
 *
 * Under the fully sharded strategies a rank keeps only its shard of each
 * unit's values resident between lt_unit_begin and lt_unit_end; the pages
 * it does not hold are guarded (accelerator guard op: PROT_NONE), so a
 * model reading a parameter outside its unit's brackets faults.  The
 * handler installed here turns that SIGSEGV into the rank's one-line
 * fatal message, naming the parameter, its unit and the strategy:
 *
 *   parameter 'NAME' (unit 'U') was used outside lt_unit_begin/lt_unit_end
 *   under strategy 'S': bracket every use of a unit's parameters
 *
 * written like lt_fatal() writes it (the error file the agent reads,
 * then "ltrun: rank N: ..." on stderr; exit status 1).  A fault anywhere
 * else goes to the handler that was there before (rank/fatal.c's, or the
 * default action), as if this one were not installed.
 */
#ifndef LT_RUNTIME_UNIT_FAULT_H
#define LT_RUNTIME_UNIT_FAULT_H

#include "runtime/ctx.h"

/* Installs the handler for ctx (the strategy's setup calls it, after the
 * parameters are registered: it reads ctx->params, ctx->units,
 * ctx->strategy_name and ctx->info when a fault comes).  Installing again
 * replaces the context.  Returns 0, or -1 with err when the handler
 * cannot be installed. */
int lt_unit_fault_install(struct lt_ctx *ctx, struct lt_err *err);
/* Puts back the handler that was there before (the strategy's teardown);
 * nothing when none is installed. */
void lt_unit_fault_remove(void);
/* An alternate signal stack for a SIGSEGV handler (a stack overflow
 * faults too), unless one is set already (rank/fatal.c's); this one's and
 * lazy_fill.c's handlers run on it.  Returns 0, or -1 with err. */
int lt_fault_altstack(struct lt_err *err);

#endif
