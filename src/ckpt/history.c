/*
 * history.c - the list of a checkpoint directory's checkpoints: saving a
 * step (lt_ckpt_save: step-<N>/model.safetensors through safetensors.c,
 * then step-<N>/index.json, which marks the step complete), then
 * checkpoints.json (the complete steps), `last`, and pruning the
 * checkpoints beyond keep.  A save that fails before its step is complete
 * removes the step's directory.  Plugins that cannot list a directory
 * (http) find the old checkpoints through checkpoints.json.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ckpt/ckpt.h"
#include "ckpt/file.h"
#include "ckpt/format.h"
#include "ckpt/safetensors.h"
#include "ckpt/shards.h"
#include "core/buf.h"

#define BAD(...) (lt_err_set(err, LT_EXIT_FAILURE, __VA_ARGS__), -1)

static int cmp_i64_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Adds v to the set (*s, *n) unless it is there; false without memory. */
static bool add_step(int64_t **s, size_t *n, int64_t v)
{
	int64_t *ns;

	for (size_t i = 0; i < *n; i++)
		if ((*s)[i] == v)
			return true;
	if (!(ns = realloc(*s, (*n + 1) * sizeof(*ns))))
		return false;
	ns[(*n)++] = v;
	*s = ns;
	return true;
}

/* The steps checkpoints.json lists; none when it is missing or unreadable
 * (the worst that does is leave old checkpoints unremoved). */
static void read_history(const struct lt_ckpt_io_ops *io, void *st, int64_t **steps, size_t *n)
{
	struct lt_err ignored;
	const cJSON *s, *v;
	uint64_t size, u;
	cJSON *root;
	char *buf;

	if (io->size(st, LT_CKPT_HISTORY, &size, &ignored) || size > (16u << 20))
		return;
	if (!(buf = malloc(size + 1)))
		return;
	if (io->read(st, LT_CKPT_HISTORY, 0, buf, (size_t)size, &ignored)) {
		free(buf);
		return;
	}
	root = cJSON_ParseWithLength(buf, (size_t)size);
	free(buf);
	s = cJSON_GetObjectItemCaseSensitive(root, "steps");
	if (!cJSON_IsArray(s))
		s = NULL;
	cJSON_ArrayForEach(v, s)
		if (lt_ckpt_json_uint(v, &u) && u <= INT64_MAX && !add_step(steps, n, (int64_t)u))
			break;
	cJSON_Delete(root);
}

static int write_history(const struct lt_ckpt_io_ops *io, void *st, int64_t *steps, size_t n,
			 struct lt_err *err)
{
	struct lt_buf b = LT_BUF_INIT;
	struct iovec iov;
	int rc = lt_buf_puts(&b, "{\"format\":\"" LT_CKPT_FORMAT "\",\"steps\":[");

	qsort(steps, n, sizeof(*steps), cmp_i64_desc);
	for (size_t i = n; i-- > 0 && !rc;)
		rc = lt_buf_printf(&b, "%" PRId64 "%s", steps[i], i ? "," : "");
	if (rc || lt_buf_puts(&b, "]}\n")) {
		lt_buf_free(&b);
		return BAD("cannot write " LT_CKPT_HISTORY ": out of memory");
	}
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	rc = io->write(st, LT_CKPT_HISTORY, &iov, 1, err);
	lt_buf_free(&b);
	return rc;
}

/* After step's checkpoint is complete: checkpoints.json, `last`, then
 * the checkpoints beyond keep go. */
int lt_ckpt_finish_save(const struct lt_ckpt_io_ops *io, void *st, int64_t step, int keep,
			struct lt_err *err)
{
	int64_t *done = NULL, *stale = NULL, *kept = NULL;
	size_t ndone = 0, nstale = 0, nkept = 0, others = 0, i;
	struct lt_ckpt_step_dir *dirs = NULL;
	struct lt_err first = { 0, "" };
	char name[32], last[40];
	struct iovec iov;
	int rc = -1;

	if (io == &lt_ckpt_io_file) {
		size_t nd;

		if (lt_ckpt_io_file_steps(st, &dirs, &nd, err))
			return -1;
		for (i = 0; i < nd; i++)
			if (!add_step(dirs[i].complete ? &done : &stale, dirs[i].complete ? &ndone : &nstale,
				      dirs[i].step))
				goto out_nomem;
	} else {
		read_history(io, st, &done, &ndone);
	}
	if (!add_step(&done, &ndone, step))
		goto out_nomem;
	if (write_history(io, st, done, ndone, err))
		goto out_free;
	iov.iov_base = last;
	iov.iov_len = (size_t)snprintf(last, sizeof(last), "step-%" PRId64 "\n", step);
	if (io->write(st, "last", &iov, 1, err))
		goto out_free;
	rc = 0;
	if (keep <= 0)
		goto out_free;
	/* write_history sorted done newest first: keep step and the keep - 1
	 * newest others */
	for (i = 0; i < ndone; i++) {
		if (done[i] == step || others < (size_t)keep - 1) {
			others += done[i] != step;
			if (!add_step(&kept, &nkept, done[i]))
				goto out_nomem;
			continue;
		}
		snprintf(name, sizeof(name), "step-%" PRId64, done[i]);
		if (io->remove(st, name, first.msg[0] ? err : &first) && !add_step(&kept, &nkept, done[i]))
			goto out_nomem;
	}
	for (i = 0; i < nstale; i++) {
		if (stale[i] >= step)
			continue;
		snprintf(name, sizeof(name), "step-%" PRId64, stale[i]);
		io->remove(st, name, first.msg[0] ? err : &first);
	}
	if (nkept != ndone && write_history(io, st, kept, nkept, err))
		rc = -1;
	if (first.msg[0]) {
		*err = first;
		rc = -1;
	}
	goto out_free;
out_nomem:
	rc = BAD("cannot finish checkpoint step-%" PRId64 ": out of memory", step);
out_free:
	free(dirs);
	free(done);
	free(stale);
	free(kept);
	return rc;
}

/* Whether step-<step>/index.json exists (the step is a complete checkpoint). */
static bool step_complete(const struct lt_ckpt_io_ops *io, void *st, int64_t step)
{
	struct lt_err ignored;
	char rel[64];
	uint64_t size;

	snprintf(rel, sizeof(rel), "step-%" PRId64 "/index.json", step);
	return !io->size(st, rel, &size, &ignored);
}

int lt_ckpt_save(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step,
		 const struct lt_ckpt_tensor *t, size_t n, const struct cJSON *meta, int keep,
		 struct lt_err *err)
{
	char rel[64], index[160];
	struct iovec iov;

	if (lt_safetensors_check(step, t, n, meta, err))
		return -1;
	snprintf(rel, sizeof(rel), "step-%" PRId64 "/" LT_CKPT_MODEL_FILE, step);
	if (lt_safetensors_write(io, io_state, rel, step, t, n, meta, err))
		goto out_partial;
	iov.iov_base = index;
	iov.iov_len = (size_t)snprintf(index, sizeof(index),
				       "{\"files\":[\"" LT_CKPT_MODEL_FILE "\"],\"step\":%" PRId64 ",\"tensors\":%zu}\n",
				       step, n);
	snprintf(rel, sizeof(rel), "step-%" PRId64 "/index.json", step);
	if (io->write(io_state, rel, &iov, 1, err))
		goto out_partial;
	return lt_ckpt_finish_save(io, io_state, step, keep, err);
out_partial:
	lt_ckpt_step_discard(io, io_state, step);
	return -1;
}

/* A failed save (no space, say) takes its files with it, so that the
 * next attempt finds the space it had; a step that was complete before
 * is left as it is (a failed write never replaces a file, so its
 * index.json is still there). */
void lt_ckpt_step_discard(const struct lt_ckpt_io_ops *io, void *io_state, int64_t step)
{
	struct lt_err ignored;
	char rel[64];

	if (step_complete(io, io_state, step))
		return;
	snprintf(rel, sizeof(rel), "step-%" PRId64, step);
	io->remove(io_state, rel, &ignored);
}
