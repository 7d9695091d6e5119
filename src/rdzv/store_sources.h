/*
 * store_sources.h - how many of the store's connections waiting to log in
 * come from each source address, so that the server can cap them per
 * source in constant time (store_server.c).
 *
 * A source is an IPv4 or IPv6 address; an IPv4-mapped IPv6 address is its
 * IPv4 address, and every loopback address (127.0.0.0/8, ::1) is one
 * source: any local user may connect from any of them, so counting them
 * apart would only let one user take more.  No I/O, no clock.
 */
#ifndef LT_RDZV_STORE_SOURCES_H
#define LT_RDZV_STORE_SOURCES_H

#include <stdint.h>
#include <sys/socket.h>

struct lt_store_sources;

/* Returns an empty table, or NULL when out of memory. */
struct lt_store_sources *lt_store_sources_new(void);
/* Frees the table.  t may be NULL. */
void lt_store_sources_free(struct lt_store_sources *t);
/* How many connections from a's source the table counts now. */
uint32_t lt_store_sources_count(const struct lt_store_sources *t,
				const struct sockaddr_storage *a);
/* Counts one more connection from a's source.  Returns 0, or -1 when out
 * of memory (nothing counted). */
int lt_store_sources_add(struct lt_store_sources *t, const struct sockaddr_storage *a);
/* Counts one fewer from a's source, forgetting a source at 0.  a must
 * have been added. */
void lt_store_sources_remove(struct lt_store_sources *t, const struct sockaddr_storage *a);

#endif
