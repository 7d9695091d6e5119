/*
 * state.c - lt_state's named blobs (state.h): a small array of owned
 * copies, and its broadcast from rank 0 (the count, then each key, size
 * and bytes).
 */
#include "trainer/state.h"
#include "comm/comm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct blob {
	char key[LT_STATE_KEY_MAX + 1];
	void *bytes;
	size_t size;
};

struct lt_state {
	struct blob *b;
	size_t n, cap;
};

lt_state *lt_state_create(void)
{
	return calloc(1, sizeof(struct lt_state));
}

static void clear(lt_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->b[i].bytes);
	st->n = 0;
}

void lt_state_destroy(lt_state *st)
{
	if (!st)
		return;
	clear(st);
	free(st->b);
	free(st);
}

bool lt_state_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	return n >= 1 && n <= LT_STATE_KEY_MAX &&
	       strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static struct blob *find(const lt_state *st, const char *key)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->b[i].key, key))
			return &st->b[i];
	return NULL;
}

int lt_state_set(lt_state *st, const char *key, const void *bytes, size_t size,
		 struct lt_err *err)
{
	struct blob *b;
	void *copy;

	if (!lt_state_key_ok(key))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "bad state key '%.80s': use 1 to %d of [A-Za-z0-9_.-]",
				  key ? key : "(null)", LT_STATE_KEY_MAX);
	copy = malloc(size ? size : 1);
	if (!copy)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for %zu bytes of state '%s'",
				  size, key);
	if (size)
		memcpy(copy, bytes, size);
	b = find(st, key);
	if (!b && st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 8;
		struct blob *nb = realloc(st->b, cap * sizeof(*nb));

		if (!nb) {
			free(copy);
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for state '%s'", key);
		}
		st->b = nb;
		st->cap = cap;
	}
	if (b) {
		free(b->bytes);
	} else {
		b = &st->b[st->n++];
		snprintf(b->key, sizeof(b->key), "%s", key);
	}
	b->bytes = copy;
	b->size = size;
	return 0;
}

const void *lt_state_find(const lt_state *st, const char *key, size_t *size)
{
	const struct blob *b = key ? find(st, key) : NULL;

	if (size)
		*size = b ? b->size : 0;
	return b ? b->bytes : NULL;
}

size_t lt_state_count(const lt_state *st)
{
	return st->n;
}

const char *lt_state_key_at(const lt_state *st, size_t i, const void **bytes, size_t *size)
{
	*bytes = st->b[i].bytes;
	*size = st->b[i].size;
	return st->b[i].key;
}

/* One blob from rank 0: its key and size, then its bytes. */
static int share_blob(struct lt_comm *comm, int rank, lt_state *st, size_t i,
		      struct lt_err *err)
{
	struct { char key[LT_STATE_KEY_MAX + 1]; int64_t size; } head = { { 0 }, 0 };
	void *bytes = NULL;
	int rc;

	if (rank == 0) {
		memcpy(head.key, st->b[i].key, sizeof(head.key));
		head.size = (int64_t)st->b[i].size;
	}
	if (lt_comm_broadcast(comm, &head, sizeof(head) / sizeof(int64_t), LT_I64, 0, err))
		return -1;
	if (rank == 0)
		bytes = st->b[i].bytes;
	else if (!(bytes = calloc(1, (size_t)head.size + 8)))
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory for state '%s'", head.key);
	/* whole I64 elements; rank 0 sends only its size's (the tail is padding) */
	rc = head.size < 8 ? 0 : lt_comm_broadcast(comm, bytes, (size_t)head.size / 8, LT_I64, 0, err);
	if (!rc && head.size % 8) {
		int64_t tail = 0;

		if (rank == 0)
			memcpy(&tail, (char *)bytes + head.size / 8 * 8, (size_t)head.size % 8);
		rc = lt_comm_broadcast(comm, &tail, 1, LT_I64, 0, err);
		if (!rc && rank != 0)
			memcpy((char *)bytes + head.size / 8 * 8, &tail, (size_t)head.size % 8);
	}
	if (!rc && rank != 0) {
		head.key[LT_STATE_KEY_MAX] = '\0';
		rc = lt_state_set(st, head.key, bytes, (size_t)head.size, err);
	}
	if (rank != 0)
		free(bytes);
	return rc;
}

int lt_state_share(struct lt_comm *comm, int rank, lt_state *st, struct lt_err *err)
{
	int64_t n = (int64_t)st->n;

	if (lt_comm_broadcast(comm, &n, 1, LT_I64, 0, err))
		return -1;
	if (rank != 0)
		clear(st);
	for (size_t i = 0; i < (size_t)n; i++)
		if (share_blob(comm, rank, st, i, err))
			return -1;
	return 0;
}
