/*
 * failing_kinds.c - a test plugin whose ops fail on demand, for the
 * "a plugin whose ops fail" tests (tests/integration/test_plugins_kinds.c):
 *
 *   fail-prec   a precision like bf16-mixed whose to_compute fails from
 *               optimizer step `at_step` on
 *   fail-io     a checkpoint IO storing plain files in a directory (tmp +
 *               rename) whose open fails when `fail_open` is set, and whose
 *               `fail_save`-th write of a .safetensors file fails
 *
 * and presets of them (the parameters a plugin's presets set reach its
 * ops): fail-prec-3 (at_step=3), fail-io-open (fail_open=true),
 * fail-io-save2 (fail_save=2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ltrun/ckpt_io.h"
#include "ltrun/precision.h"

/* ------------------------------------------------------------ fail-prec */

static int prec_to_compute(const struct lt_precision_view *v, void *dst, const float *src,
			   size_t n, struct lt_err *err)
{
	uint16_t *out = dst;

	if (v->step >= lt_params_int(v->params, "at_step"))
		return lt_err_set(err, LT_EXIT_FAILURE, "injected failure at step %lld",
				  (long long)v->step);
	for (size_t i = 0; i < n; i++)
		out[i] = lt_f32_to_bf16(src[i]);
	return 0;
}

static const struct lt_precision_ops prec_ops = {
	.compute = LT_BF16,
	.state = LT_F32,
	.mixed = true,
	.to_compute = prec_to_compute,
};

static const struct lt_param_spec prec_params[] = {
	{ .name = "at_step", .type = LT_PARAM_INT, .default_value = "0", .min = 0, .max = 1e9,
	  .help = "the first optimizer step whose view fails" },
	{ .name = NULL },
};

static const struct lt_plugin prec_plugin = {
	.kind = LT_KIND_PRECISION,
	.name = "fail-prec",
	.description = "bf16-mixed whose view fails from step at_step on (a test).",
	.recommended_when = "testing",
	.params = prec_params,
	.ops = &prec_ops,
};

/* ------------------------------------------------------------ fail-io */

struct fio {
	char *base;
	long long fail_save; /* 0: never */
	long long saves;     /* .safetensors writes so far */
};

static char *path_of(const struct fio *f, const char *rel)
{
	char *p;

	return asprintf(&p, "%s/%s", f->base, rel) < 0 ? NULL : p;
}

static int fio_open(const struct lt_ckpt_io_args *a, void **state, struct lt_err *err)
{
	struct fio *f;

	if (lt_params_bool(a->params, "fail_open"))
		return lt_err_set(err, LT_EXIT_FAILURE, "injected open failure for '%s'", a->base);
	f = calloc(1, sizeof(*f));
	if (!f || !(f->base = strdup(a->base))) {
		free(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	f->fail_save = lt_params_int(a->params, "fail_save");
	mkdir(f->base, 0755);
	*state = f;
	return 0;
}

static int fio_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		     struct lt_err *err)
{
	struct fio *f = state;
	size_t n = strlen(rel);
	char *path, *tmp = NULL, *slash;
	FILE *out;
	int rc = -1;

	if (n > 12 && !strcmp(rel + n - 12, ".safetensors") && ++f->saves == f->fail_save)
		return lt_err_set(err, LT_EXIT_FAILURE, "injected write failure for '%s'", rel);
	path = path_of(f, rel);
	if (!path || asprintf(&tmp, "%s.tmp", path) < 0) {
		free(path);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	out = fopen(tmp, "wb");
	if (!out) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot create '%s': %s", tmp, strerror(errno));
		goto done;
	}
	for (int i = 0; i < iovcnt; i++)
		fwrite(iov[i].iov_base, 1, iov[i].iov_len, out);
	if (fclose(out) || rename(tmp, path)) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot write '%s'", path);
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	free(path);
	return rc;
}

static int fio_size(void *state, const char *rel, uint64_t *size, struct lt_err *err)
{
	char *path = path_of(state, rel);
	struct stat st;
	int rc = path && !stat(path, &st) ? 0 : -1;

	if (rc)
		lt_err_set(err, LT_EXIT_FAILURE, "cannot stat '%s'", rel);
	else
		*size = (uint64_t)st.st_size;
	free(path);
	return rc;
}

static int fio_read(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		    struct lt_err *err)
{
	char *path = path_of(state, rel);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	int rc = fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;

	if (rc)
		lt_err_set(err, LT_EXIT_FAILURE, "cannot read %zu bytes of '%s'", len, rel);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int fio_remove(void *state, const char *rel, struct lt_err *err)
{
	char *path = path_of(state, rel);
	struct stat st;

	(void)err;
	if (path && !lstat(path, &st))
		nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
	return 0;
}

static void fio_close(void *state)
{
	struct fio *f = state;

	free(f->base);
	free(f);
}

static const struct lt_ckpt_io_ops fio_ops = {
	.open = fio_open,
	.write = fio_write,
	.size = fio_size,
	.read = fio_read,
	.remove = fio_remove,
	.close = fio_close,
};

static const struct lt_param_spec fio_params[] = {
	{ .name = "fail_open", .type = LT_PARAM_BOOL, .default_value = "false",
	  .help = "open fails" },
	{ .name = "fail_save", .type = LT_PARAM_INT, .default_value = "0", .min = 0, .max = 1e9,
	  .help = "the write of this .safetensors file (1: the first) fails; 0: none" },
	{ .name = NULL },
};

static const struct lt_plugin fio_plugin = {
	.kind = LT_KIND_CKPT_IO,
	.name = "fail-io",
	.description = "Plain files whose open or n-th model write fails (a test).",
	.recommended_when = "testing",
	.params = fio_params,
	.ops = &fio_ops,
};

#define PRESET(k, n, base, p) \
	{ .kind = k, .name = n, .description = base " with " p " (a test).", \
	  .recommended_when = "testing", .alias_of = base, .preset = p }

static const struct lt_plugin presets[] = {
	PRESET(LT_KIND_PRECISION, "fail-prec-3", "fail-prec", "at_step=3"),
	PRESET(LT_KIND_CKPT_IO, "fail-io-open", "fail-io", "fail_open=true"),
	PRESET(LT_KIND_CKPT_IO, "fail-io-save2", "fail-io", "fail_save=2"),
};

LT_PLUGIN_DECLARE_ABI();

LT_API int ltrun_plugin_register(struct lt_registry *reg, struct lt_err *err)
{
	if (lt_registry_add(reg, &prec_plugin, err) || lt_registry_add(reg, &fio_plugin, err))
		return -1;
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (lt_registry_add(reg, &presets[i], err))
			return -1;
	return 0;
}
