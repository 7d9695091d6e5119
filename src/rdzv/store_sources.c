/*
 * store_sources.c - per source address, the count of the store's
 * connections waiting to log in: a chained hash table of 16-byte keys
 * (IPv6 form; IPv4 as ::ffff:a.b.c.d; all loopback as ::1), grown to keep
 * its chains short.  See store_sources.h.
 */
#include "rdzv/store_sources.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_BUCKETS 64

struct source {
	struct source *next;
	uint8_t key[16];
	uint32_t count;
};

struct lt_store_sources {
	struct source **bucket;
	size_t nbuckets; /* a power of two */
	size_t nsources;
};

/* a's source as a 16-byte key. */
static void key_of(const struct sockaddr_storage *a, uint8_t key[16])
{
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(key, 0, 16);
	if (a->ss_family == AF_INET) {
		memcpy(key, v4_mapped, sizeof(v4_mapped));
		memcpy(key + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	} else if (a->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	}
	if ((!memcmp(key, v4_mapped, sizeof(v4_mapped)) && key[12] == 127) ||
	    !memcmp(key, &in6addr_loopback, 16)) {
		memset(key, 0, 16);
		key[15] = 1;
	}
}

/* FNV-1a over the key. */
static size_t hash(const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32));
}

static struct source **slot(const struct lt_store_sources *t, const uint8_t key[16])
{
	struct source **p = &t->bucket[hash(key) & (t->nbuckets - 1)];

	while (*p && memcmp((*p)->key, key, 16))
		p = &(*p)->next;
	return p;
}

struct lt_store_sources *lt_store_sources_new(void)
{
	struct lt_store_sources *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->bucket = calloc(FIRST_BUCKETS, sizeof(*t->bucket));
	if (!t->bucket) {
		free(t);
		return NULL;
	}
	t->nbuckets = FIRST_BUCKETS;
	return t;
}

void lt_store_sources_free(struct lt_store_sources *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->bucket[i]) {
			struct source *s = t->bucket[i];

			t->bucket[i] = s->next;
			free(s);
		}
	free(t->bucket);
	free(t);
}

uint32_t lt_store_sources_count(const struct lt_store_sources *t,
				const struct sockaddr_storage *a)
{
	uint8_t key[16];
	struct source *s;

	key_of(a, key);
	s = *slot(t, key);
	return s ? s->count : 0;
}

/* Doubles the buckets when there are more sources than buckets; staying
 * as it is when out of memory costs only longer chains. */
static void grow(struct lt_store_sources *t)
{
	size_t n = t->nbuckets * 2;
	struct source **b;

	if (t->nsources <= t->nbuckets || !(b = calloc(n, sizeof(*b))))
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->bucket[i]) {
			struct source *s = t->bucket[i];
			size_t at = hash(s->key) & (n - 1);

			t->bucket[i] = s->next;
			s->next = b[at];
			b[at] = s;
		}
	free(t->bucket);
	t->bucket = b;
	t->nbuckets = n;
}

int lt_store_sources_add(struct lt_store_sources *t, const struct sockaddr_storage *a)
{
	uint8_t key[16];
	struct source **p, *s;

	key_of(a, key);
	p = slot(t, key);
	if (*p) {
		(*p)->count++;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	memcpy(s->key, key, 16);
	s->count = 1;
	*p = s;
	t->nsources++;
	grow(t);
	return 0;
}

void lt_store_sources_remove(struct lt_store_sources *t, const struct sockaddr_storage *a)
{
	uint8_t key[16];
	struct source **p, *s;

	key_of(a, key);
	p = slot(t, key);
	s = *p;
	if (!s)
		return;
	if (--s->count)
		return;
	*p = s->next;
	free(s);
	t->nsources--;
}
