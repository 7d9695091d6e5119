/*
 * ckpt_cases.c - the checkpoint tests' helpers (ckpt_cases.h).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_cases.h"

void ckpt_dir_make(struct ckpt_dir *d)
{
	struct lt_err err = { 0, "" };

	snprintf(d->path, sizeof(d->path), "/tmp/ltrun-ckpt-XXXXXX");
	cr_assert_not_null(mkdtemp(d->path));
	cr_assert_eq(lt_ckpt_io_file.open(&(struct lt_ckpt_io_args){ .base = d->path }, &d->io, &err), 0, "%s", err.msg);
}

void ckpt_dir_done(struct ckpt_dir *d)
{
	char cmd[200];

	lt_ckpt_io_file.close(d->io);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", d->path, d->path);
	cr_expect_eq(system(cmd), 0);
}

void model_make(struct model *m, unsigned seed)
{
	static const struct {
		const char *name;
		enum lt_dtype dt;
		int ndim;
		int64_t shape[3];
	} spec[MODEL_TENSORS] = {
		{ "fc1.weight", LT_F32, 2, { 5, 6 } },
		{ "fc1.bias", LT_F64, 1, { 7 } },
		{ "half", LT_F16, 3, { 3, 1, 3 } },
		{ "brain", LT_BF16, 1, { 5 } },
		{ "count", LT_I32, 0, { 0 } },
		{ "big", LT_I64, 2, { 2, 3 } },
		{ "empty", LT_F32, 2, { 4, 0 } },
		{ "scalar64", LT_F64, 0, { 0 } },
		{ "odd \"name\"/with\\slash", LT_I32, 1, { 3 } },
	};
	static const size_t es[] = { 4, 8, 2, 2, 4, 8 };

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < MODEL_TENSORS; i++) {
		struct lt_ckpt_tensor *t = &m->t[i];
		size_t n = 1;
		unsigned char *p;

		t->name = spec[i].name;
		t->dtype = spec[i].dt;
		t->ndim = spec[i].ndim;
		for (int k = 0; k < t->ndim; k++) {
			t->shape[k] = spec[i].shape[k];
			n *= (size_t)spec[i].shape[k];
		}
		t->bytes = n * es[t->dtype];
		p = malloc(t->bytes + 1);
		cr_assert_not_null(p);
		for (size_t b = 0; b < t->bytes; b++)
			p[b] = (unsigned char)(seed * 131 + i * 17 + b * 7 + (b >> 8));
		m->buf[i] = p;
		t->data = p;
	}
}

void model_free(struct model *m)
{
	for (int i = 0; i < MODEL_TENSORS; i++)
		free(m->buf[i]);
}

unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

void spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

bool exists_in(const char *dir, const char *rel, off_t *size)
{
	char path[700];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (lstat(path, &st))
		return false;
	if (size)
		*size = st.st_size;
	return true;
}

const struct lt_registry *builtins(void)
{
	static struct lt_registry *reg;
	struct lt_err err = { 0 };

	if (!reg)
		reg = lt_registry_new(&err);
	cr_assert_not_null(reg, "%s", err.msg);
	return reg;
}

void fill_bytes(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}
