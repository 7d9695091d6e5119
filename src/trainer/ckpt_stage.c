/*
 * ckpt_stage.c - a checkpoint's tensors between an accelerator's memory
 * and a host stage (ckpt_stage.h).
 */
#include "trainer/ckpt_stage.h"

#include <stdint.h>
#include <stdlib.h>

#define SLOT_ALIGN 64

struct lt_ckpt_stage {
	const struct lt_accelerator_ops *a;
	char *host;
	size_t cap;
	bool queued; /* a stage_out whose copies may still run */
	bool fenced; /* the device waits for them already */
};

struct lt_ckpt_stage *lt_ckpt_stage_new(const struct lt_accelerator_ops *a)
{
	struct lt_ckpt_stage *s = calloc(1, sizeof(*s));

	if (s)
		s->a = a;
	return s;
}

void lt_ckpt_stage_free(struct lt_ckpt_stage *s)
{
	struct lt_err err = { 0 };

	if (!s)
		return;
	if (s->queued)
		lt_ckpt_stage_ready(s, &err);
	s->a->host_free(s->host, s->cap);
	free(s);
}

static size_t slot_bytes(size_t bytes)
{
	return (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
}

/* Room for `need` bytes: a bigger stage replaces the old one (whose
 * copies have landed: every caller waited for them). */
static int grow(struct lt_ckpt_stage *s, size_t need, struct lt_err *err)
{
	char *p;

	if (need <= s->cap)
		return 0;
	if (s->queued && lt_ckpt_stage_ready(s, err))
		return -1;
	if (!(p = s->a->host_alloc(need, err)))
		return -1;
	s->a->host_free(s->host, s->cap);
	s->host = p;
	s->cap = need;
	return 0;
}

int lt_ckpt_stage_map(struct lt_ckpt_stage *s, struct lt_ckpt_tensor *t, size_t n,
		      const void **dev, struct lt_err *err)
{
	size_t need = 0, at = 0;

	for (size_t i = 0; i < n; i++) {
		if (t[i].bytes > SIZE_MAX - SLOT_ALIGN - need)
			return lt_err_set(err, LT_EXIT_FAILURE,
					  "a checkpoint of more than %zu bytes cannot be staged", SIZE_MAX);
		need += slot_bytes(t[i].bytes);
	}
	if (grow(s, need, err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		dev[i] = t[i].data;
		t[i].data = s->host + at;
		at += slot_bytes(t[i].bytes);
	}
	return 0;
}

int lt_ckpt_stage_out(struct lt_ckpt_stage *s, struct lt_ckpt_tensor *t, size_t n,
		      struct lt_err *err)
{
	const void **src = calloc(n ? n : 1, sizeof(*src));
	void **dst = calloc(n ? n : 1, sizeof(*dst));
	size_t *bytes = calloc(n ? n : 1, sizeof(*bytes));
	int rc = -1;

	if (!src || !dst || !bytes) {
		lt_err_set(err, LT_EXIT_FAILURE, "out of memory staging a checkpoint");
		goto out;
	}
	if (lt_ckpt_stage_map(s, t, n, src, err))
		goto out;
	for (size_t i = 0; i < n; i++) {
		dst[i] = (void *)(uintptr_t)t[i].data;
		bytes[i] = t[i].bytes;
	}
	s->queued = true;
	s->fenced = false;
	rc = s->a->stage_out(dst, src, bytes, n, err);
out:
	free(src);
	free(dst);
	free(bytes);
	return rc;
}

int lt_ckpt_stage_ready(void *arg, struct lt_err *err)
{
	struct lt_ckpt_stage *s = arg;

	return s->queued ? s->a->stage_wait(err) : 0;
}

int lt_ckpt_stage_fence(struct lt_ckpt_stage *s, struct lt_err *err)
{
	if (!s || !s->queued || s->fenced)
		return 0;
	s->fenced = true;
	return s->a->stage_fence(err);
}

int lt_ckpt_stage_copy_in(struct lt_ckpt_stage *s, const struct lt_ckpt_tensor *t, size_t n,
			  const void *const *dev, struct lt_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].bytes)
			s->a->copy((void *)(uintptr_t)dev[i], t[i].data, t[i].bytes);
	return s->a->sync(err); /* and says what a copy met */
}
