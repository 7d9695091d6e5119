/*
 * store_table.h - what the embedded store holds: keys with their values,
 * and the requests (GET, WAIT) parked until their keys exist or their
 * deadline passes.  No I/O and no clock: store_server.c drives it.
 *
 * A parked request waits on one key at a time, the first of its keys that
 * is missing, so setting a key looks only at the requests waiting for that
 * key.  When every key of a request exists it becomes ready; the server
 * takes ready and expired requests, answers them and unparks them:
 *
 *	while ((w = lt_store_table_take_ready(t)) != NULL) {
 *		answer(w->owner, ...);
 *		lt_store_table_unpark(t, w);
 *	}
 */
#ifndef LT_RDZV_STORE_TABLE_H
#define LT_RDZV_STORE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rdzv/store_proto.h"

struct lt_store_table;
struct lt_store_entry;

struct lt_store_waiter {
	void *owner;    /* the caller's, given to park */
	double deadline;
	/* The table's bookkeeping. */
	struct lt_store_entry **keys; /* pinned, so never freed while parked */
	size_t nkeys, first_missing;
	struct lt_store_waiter *prev, *next; /* on its key's list, or the ready list */
	size_t heap_at;                      /* in the deadline heap; SIZE_MAX if not */
	enum { LT_STORE_WAITING, LT_STORE_READY, LT_STORE_TAKEN } state;
};

/* What one key with a value costs beyond its bytes, as the table counts. */
#define LT_STORE_ENTRY_OVERHEAD 64

/* Returns an empty table that holds at most max_bytes of keys and values
 * (each value's key and LT_STORE_ENTRY_OVERHEAD counted with it), or NULL
 * when out of memory. */
struct lt_store_table *lt_store_table_new(size_t max_bytes);
/* Frees the table, its keys and every waiter still parked. */
void lt_store_table_free(struct lt_store_table *t);

/* Finds key.  Returns true and points *value at its bytes (valid until
 * the key next changes), or false when it has no value. */
bool lt_store_table_get(const struct lt_store_table *t, const struct lt_store_field *key,
			struct lt_store_field *value);
/* Sets key to a copy of value, and makes ready the requests that were
 * waiting only for it.  Returns 0; -1 when out of memory, or
 * LT_STORE_TABLE_FULL when the value would take the table over its
 * max_bytes: nothing changed then. */
#define LT_STORE_TABLE_FULL (-2)
int lt_store_table_set(struct lt_store_table *t, const struct lt_store_field *key,
		       const struct lt_store_field *value);
/* Removes key's value.  Returns whether it had one. */
bool lt_store_table_delete(struct lt_store_table *t, const struct lt_store_field *key);
/* The number of keys with a value. */
size_t lt_store_table_count(const struct lt_store_table *t);
/* The bytes held, as max_bytes counts them. */
size_t lt_store_table_bytes(const struct lt_store_table *t);

/* Parks a request for keys[0..n) until deadline.  It is ready at once if
 * they all exist.  Returns the waiter, or NULL when out of memory. */
struct lt_store_waiter *lt_store_table_park(struct lt_store_table *t,
					    const struct lt_store_field *keys, size_t n,
					    double deadline, void *owner);
/* Forgets a waiter, in whatever state, and frees it. */
void lt_store_table_unpark(struct lt_store_table *t, struct lt_store_waiter *w);
/* The oldest ready waiter, taken off the ready list (still parked), or
 * NULL. */
struct lt_store_waiter *lt_store_table_take_ready(struct lt_store_table *t);
/* A waiter whose deadline is at or before now, taken off the deadline
 * heap and its key (still parked), or NULL. */
struct lt_store_waiter *lt_store_table_take_expired(struct lt_store_table *t, double now);
/* The earliest deadline of a waiting request, or a negative number when
 * none waits. */
double lt_store_table_next_deadline(const struct lt_store_table *t);
/* The value of a parked request's key i (which must exist). */
struct lt_store_field lt_store_waiter_value(const struct lt_store_waiter *w, size_t i);
/* How many of a parked request's keys are missing; *first gets the index
 * of the first of them. */
size_t lt_store_waiter_missing(const struct lt_store_waiter *w, size_t *first);

#endif
