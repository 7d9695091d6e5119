/*
 * state.h - the model's own bytes in a checkpoint (ltrun.h's lt_state,
 * state.c): named blobs, keys of [A-Za-z0-9_.-] up to 63 characters; a
 * key put twice keeps the last bytes.  Trainer mode's on_save/on_load
 * and Fabric mode's lt_save/lt_resume hand one to the model;
 * checkpoint.c saves rank 0's and shares what it loaded with every rank.
 */
#ifndef LT_TRAINER_STATE_H
#define LT_TRAINER_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "ltrun.h"

struct lt_comm;

#define LT_STATE_KEY_MAX 63

/* An empty one, or NULL when memory is short. */
lt_state *lt_state_create(void);
void lt_state_destroy(lt_state *st);
/* Whether key is 1 to 63 of [A-Za-z0-9_.-]. */
bool lt_state_key_ok(const char *key);
/* Copies size bytes under key.  Returns 0, or -1 with err (a bad key,
 * memory). */
int lt_state_set(lt_state *st, const char *key, const void *bytes, size_t size,
		 struct lt_err *err);
/* The bytes under key and their size, or NULL. */
const void *lt_state_find(const lt_state *st, const char *key, size_t *size);
/* The blobs in the order they were first put: count, and blob i. */
size_t lt_state_count(const lt_state *st);
const char *lt_state_key_at(const lt_state *st, size_t i, const void **bytes, size_t *size);
/* Every rank's st becomes rank 0's (a collective).  Returns 0 or -1. */
int lt_state_share(struct lt_comm *comm, int rank, lt_state *st, struct lt_err *err);

#endif
