/*
 * netns.h - two test "hosts": a network namespace each, joined by a veth
 * pair, with SUBNET.1 in the first and SUBNET.2 in the second (a private
 * /24 that only these namespaces use).  Needs root and iproute2.
 */
#ifndef LT_TEST_NETNS_H
#define LT_TEST_NETNS_H

#include <stdbool.h>
#include <stddef.h>

struct netns_pair {
	char name[2][32]; /* for `ip netns exec NAME` */
	bool made[2];
};

/* Makes the pair; tag (a few letters) tells the pairs of different tests
 * apart.  Returns 0, or -1 with why set (nothing is left behind). */
int netns_pair_make(struct netns_pair *p, const char *tag, const char *subnet,
		    char *why, size_t len);
/* Deletes what netns_pair_make made; safe to call twice. */
void netns_pair_delete(struct netns_pair *p);

#endif
