/*
 * store_table.c - the embedded store's keys, values and parked requests
 * (store_table.h).
 *
 * Keys live in a chained hash table of entries.  An entry exists while it
 * has a value or while a parked request pins it, so a request can hold
 * pointers to the entries of all its keys, existing or not.  Each request
 * is listed on the entry of the first key it misses; deadlines are kept in
 * a binary min-heap.
 */
#include "core/buf.h"
#include "rdzv/store_table.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 256

struct lt_store_entry {
	struct lt_store_entry *next; /* in its bucket */
	uint64_t hash;
	uint8_t *value;
	uint32_t value_len;
	bool has_value;
	size_t pins;
	struct lt_store_waiter *waiters; /* waiting for this key first */
	uint32_t key_len;
	uint8_t key[];
};

struct lt_store_table {
	struct lt_store_entry **buckets;
	size_t nbuckets, nentries, nvalues;
	size_t bytes, max_bytes; /* of values with their keys, as counted */
	struct lt_store_waiter *ready_head, *ready_tail;
	struct lt_store_waiter **heap;
	size_t heap_len, heap_cap;
};

/* ------------------------------------------------------------- entries */

static uint64_t hash_key(const struct lt_store_field *key)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (uint32_t i = 0; i < key->len; i++)
		h = (h ^ key->p[i]) * 1099511628211ull;
	return h;
}

static struct lt_store_entry **slot_of(const struct lt_store_table *t,
				       const struct lt_store_field *key, uint64_t h)
{
	struct lt_store_entry **e = &t->buckets[h & (t->nbuckets - 1)];

	while (*e && ((*e)->hash != h || (*e)->key_len != key->len ||
		      memcmp((*e)->key, key->p, key->len)))
		e = &(*e)->next;
	return e;
}

static struct lt_store_entry *find(const struct lt_store_table *t,
				   const struct lt_store_field *key)
{
	return *slot_of(t, key, hash_key(key));
}

/* Doubles the buckets; on failure keeps the old ones (longer chains). */
static void grow_buckets(struct lt_store_table *t)
{
	size_t n = t->nbuckets * 2;
	struct lt_store_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct lt_store_entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static struct lt_store_entry *find_or_add(struct lt_store_table *t,
					  const struct lt_store_field *key)
{
	uint64_t h = hash_key(key);
	struct lt_store_entry **slot = slot_of(t, key, h), *e = *slot;

	if (e)
		return e;
	e = calloc(1, sizeof(*e) + key->len);
	if (!e)
		return NULL;
	e->hash = h;
	e->key_len = key->len;
	memcpy(e->key, key->p, key->len);
	*slot = e;
	if (++t->nentries > t->nbuckets)
		grow_buckets(t);
	return e;
}

/* Frees e if nothing needs it any more: no value, no request pinning it. */
static void release(struct lt_store_table *t, struct lt_store_entry *e)
{
	struct lt_store_field key = { e->key, e->key_len };
	struct lt_store_entry **slot;

	if (e->has_value || e->pins)
		return;
	slot = slot_of(t, &key, e->hash);
	*slot = e->next;
	t->nentries--;
	free(e->value);
	free(e);
}

/* -------------------------------------------------------- deadline heap */

static void heap_place(struct lt_store_table *t, size_t i, struct lt_store_waiter *w)
{
	t->heap[i] = w;
	w->heap_at = i;
}

static void sift_up(struct lt_store_table *t, size_t i)
{
	struct lt_store_waiter *w = t->heap[i];

	while (i > 0 && t->heap[(i - 1) / 2]->deadline > w->deadline) {
		heap_place(t, i, t->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(t, i, w);
}

static void sift_down(struct lt_store_table *t, size_t i)
{
	struct lt_store_waiter *w = t->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= t->heap_len)
			break;
		if (child + 1 < t->heap_len && t->heap[child + 1]->deadline < t->heap[child]->deadline)
			child++;
		if (t->heap[child]->deadline >= w->deadline)
			break;
		heap_place(t, i, t->heap[child]);
		i = child;
	}
	heap_place(t, i, w);
}

static int heap_push(struct lt_store_table *t, struct lt_store_waiter *w)
{
	if (lt_array_reserve(&t->heap, &t->heap_cap, t->heap_len + 1, sizeof(*t->heap), 64))
		return -1;
	t->heap[t->heap_len++] = w;
	sift_up(t, t->heap_len - 1);
	return 0;
}

static void heap_remove(struct lt_store_table *t, struct lt_store_waiter *w)
{
	size_t i = w->heap_at;
	struct lt_store_waiter *last = t->heap[--t->heap_len];

	w->heap_at = SIZE_MAX;
	if (i == t->heap_len)
		return;
	heap_place(t, i, last);
	sift_up(t, i);
	sift_down(t, last->heap_at);
}

/* --------------------------------------------------------------- lists */

static void list_push(struct lt_store_waiter **head, struct lt_store_waiter *w)
{
	w->prev = NULL;
	w->next = *head;
	if (*head)
		(*head)->prev = w;
	*head = w;
}

static void list_unlink(struct lt_store_waiter **head, struct lt_store_waiter **tail,
			struct lt_store_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else if (tail)
		*tail = w->prev;
	w->prev = w->next = NULL;
}

static void make_ready(struct lt_store_table *t, struct lt_store_waiter *w)
{
	heap_remove(t, w);
	w->state = LT_STORE_READY;
	w->next = NULL;
	w->prev = t->ready_tail;
	if (t->ready_tail)
		t->ready_tail->next = w;
	else
		t->ready_head = w;
	t->ready_tail = w;
}

static size_t next_missing(const struct lt_store_waiter *w, size_t from)
{
	while (from < w->nkeys && w->keys[from]->has_value)
		from++;
	return from;
}

/* Moves w on to the next key it misses, or to the ready list.  A key seen
 * earlier may have been deleted since: the last step checks them all. */
static void advance(struct lt_store_table *t, struct lt_store_waiter *w)
{
	w->first_missing = next_missing(w, w->first_missing);
	if (w->first_missing == w->nkeys)
		w->first_missing = next_missing(w, 0);
	if (w->first_missing == w->nkeys)
		make_ready(t, w);
	else
		list_push(&w->keys[w->first_missing]->waiters, w);
}

/* Moves on every request that was waiting for e first. */
static void wake(struct lt_store_table *t, struct lt_store_entry *e)
{
	struct lt_store_waiter *w = e->waiters, *next;

	e->waiters = NULL;
	for (; w; w = next) {
		next = w->next;
		advance(t, w);
	}
}

/* --------------------------------------------------------------- table */

struct lt_store_table *lt_store_table_new(size_t max_bytes)
{
	struct lt_store_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max_bytes = max_bytes;
	t->nbuckets = INITIAL_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	return t;
}

void lt_store_table_free(struct lt_store_table *t)
{
	if (!t)
		return;
	while (t->heap_len)
		lt_store_table_unpark(t, t->heap[0]);
	while (t->ready_head)
		lt_store_table_unpark(t, t->ready_head);
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct lt_store_entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e->value);
			free(e);
		}
	}
	free(t->buckets);
	free(t->heap);
	free(t);
}

bool lt_store_table_get(const struct lt_store_table *t, const struct lt_store_field *key,
			struct lt_store_field *value)
{
	const struct lt_store_entry *e = find(t, key);

	if (!e || !e->has_value)
		return false;
	*value = (struct lt_store_field){ e->value, e->value_len };
	return true;
}

/* What a value under key costs, as max_bytes counts it. */
static size_t cost(size_t key_len, size_t value_len)
{
	return key_len + value_len + LT_STORE_ENTRY_OVERHEAD;
}

int lt_store_table_set(struct lt_store_table *t, const struct lt_store_field *key,
		       const struct lt_store_field *value)
{
	const struct lt_store_entry *old = find(t, key);
	size_t freed = old && old->has_value ? cost(key->len, old->value_len) : 0;
	size_t after = t->bytes - freed + cost(key->len, value->len);
	struct lt_store_entry *e;
	uint8_t *copy;

	if (after > t->max_bytes)
		return LT_STORE_TABLE_FULL;
	e = find_or_add(t, key);
	if (!e)
		return -1;
	copy = malloc(value->len ? value->len : 1);
	if (!copy) {
		release(t, e);
		return -1;
	}
	if (value->len)
		memcpy(copy, value->p, value->len);
	free(e->value);
	e->value = copy;
	e->value_len = value->len;
	t->bytes = after;
	if (!e->has_value) {
		e->has_value = true;
		t->nvalues++;
	}
	wake(t, e);
	return 0;
}

bool lt_store_table_delete(struct lt_store_table *t, const struct lt_store_field *key)
{
	struct lt_store_entry *e = find(t, key);

	if (!e || !e->has_value)
		return false;
	t->bytes -= cost(e->key_len, e->value_len);
	free(e->value);
	e->value = NULL;
	e->value_len = 0;
	e->has_value = false;
	t->nvalues--;
	release(t, e);
	return true;
}

size_t lt_store_table_count(const struct lt_store_table *t)
{
	return t->nvalues;
}

size_t lt_store_table_bytes(const struct lt_store_table *t)
{
	return t->bytes;
}

/* ------------------------------------------------------------- waiters */

struct lt_store_waiter *lt_store_table_park(struct lt_store_table *t,
					    const struct lt_store_field *keys, size_t n,
					    double deadline, void *owner)
{
	struct lt_store_waiter *w = calloc(1, sizeof(*w));

	if (!w || !(w->keys = calloc(n, sizeof(*w->keys))))
		goto out_free_waiter;
	for (; w->nkeys < n; w->nkeys++) {
		w->keys[w->nkeys] = find_or_add(t, &keys[w->nkeys]);
		if (!w->keys[w->nkeys])
			goto out_unpin;
		w->keys[w->nkeys]->pins++;
	}
	w->owner = owner;
	w->deadline = deadline;
	w->state = LT_STORE_WAITING;
	if (heap_push(t, w))
		goto out_unpin;
	advance(t, w);
	return w;
out_unpin:
	for (size_t i = 0; i < w->nkeys; i++) {
		w->keys[i]->pins--;
		release(t, w->keys[i]);
	}
out_free_waiter:
	if (w)
		free(w->keys);
	free(w);
	return NULL;
}

void lt_store_table_unpark(struct lt_store_table *t, struct lt_store_waiter *w)
{
	if (w->state == LT_STORE_WAITING) {
		list_unlink(&w->keys[w->first_missing]->waiters, NULL, w);
		heap_remove(t, w);
	} else if (w->state == LT_STORE_READY) {
		list_unlink(&t->ready_head, &t->ready_tail, w);
	}
	for (size_t i = 0; i < w->nkeys; i++) {
		w->keys[i]->pins--;
		release(t, w->keys[i]);
	}
	free(w->keys);
	free(w);
}

struct lt_store_waiter *lt_store_table_take_ready(struct lt_store_table *t)
{
	struct lt_store_waiter *w = t->ready_head;

	if (!w)
		return NULL;
	list_unlink(&t->ready_head, &t->ready_tail, w);
	w->state = LT_STORE_TAKEN;
	return w;
}

struct lt_store_waiter *lt_store_table_take_expired(struct lt_store_table *t, double now)
{
	struct lt_store_waiter *w;

	if (!t->heap_len || t->heap[0]->deadline > now)
		return NULL;
	w = t->heap[0];
	list_unlink(&w->keys[w->first_missing]->waiters, NULL, w);
	heap_remove(t, w);
	w->state = LT_STORE_TAKEN;
	return w;
}

double lt_store_table_next_deadline(const struct lt_store_table *t)
{
	return t->heap_len ? t->heap[0]->deadline : -1;
}

struct lt_store_field lt_store_waiter_value(const struct lt_store_waiter *w, size_t i)
{
	const struct lt_store_entry *e = w->keys[i];

	return (struct lt_store_field){ e->value, e->value_len };
}

size_t lt_store_waiter_missing(const struct lt_store_waiter *w, size_t *first)
{
	size_t missing = 0;

	*first = next_missing(w, 0);
	for (size_t i = *first; i < w->nkeys; i++)
		missing += !w->keys[i]->has_value;
	return missing;
}
