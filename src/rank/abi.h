/*
 * abi.h - what the files implementing ltrun.h share (abi.c, abi_*.c):
 * the checks of names, shapes and tensors every registration makes, and
 * Fabric mode's placing of the parameters at the first call needing it;
 * and Fabric mode's checkpoint setup around lt_main() (abi_state.c).
 * Each ends the rank through lt_fatal() on a misuse.
 */
#ifndef LT_RANK_ABI_H
#define LT_RANK_ABI_H

#include <stdbool.h>
#include <stdint.h>

#include "ltrun.h"

/* Whether name is 1 to 127 printable characters without spaces or quotes. */
bool lt_abi_valid_name(const char *name);
/* The elements of shape, checked; fn and name for the message. */
int64_t lt_abi_shape_numel(lt_ctx *ctx, const char *fn, const char *name, struct lt_shape shape);
/* t, which must be a parameter (not NULL, not a buffer). */
struct lt_tensor *lt_abi_check_param(const lt_tensor *t, const char *fn);
/* Places the parameters (the strategy's setup, the optimizer) unless done. */
void lt_abi_ensure_setup(lt_ctx *ctx, const char *fn);
/* Ends the run with "fn() ... is not built" when the accelerator's arenas
 * are device memory the host cannot touch (accel.h's host_access). */
void lt_abi_need_host(lt_ctx *ctx, const char *fn);

/* Fabric mode, around lt_main(): takes --ckpt-dir's lock before, and
 * after waits for saves in flight and releases it (warning when
 * --ckpt-dir or --resume was given but the model never called lt_save()
 * or lt_resume()). */
void lt_fabric_ckpt_begin(lt_ctx *ctx);
void lt_fabric_ckpt_end(lt_ctx *ctx);

#endif
