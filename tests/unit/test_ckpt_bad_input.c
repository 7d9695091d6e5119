/*
 * test_ckpt_bad_input.c - checkpoints that are not what they claim:
 * truncated files, header lengths past the end, headers that are not a
 * JSON object, offsets out of range or overlapping, unknown dtypes,
 * shapes that disagree with their bytes or with the model, and data that
 * no longer matches its checksum.  Each is refused before anything is
 * loaded with one line naming the file and the tensor.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "params.h"
#include "ckpt_cases.h"
#include "ckpt/format.h"
#include "ckpt/inspect.h"

/* Writes step-1/model.safetensors: length (hlen, or strlen(json) when
 * hlen is 0), json, then data bytes of value 0x11. */
static void write_raw(const struct ckpt_dir *d, const char *json, uint64_t hlen, size_t data)
{
	size_t jl = strlen(json), n = 8 + jl + data;
	unsigned char *f = malloc(n);
	char path[160];

	if (!hlen)
		hlen = jl;
	for (int i = 0; i < 8; i++)
		f[i] = (unsigned char)(hlen >> (8 * i));
	memcpy(f + 8, json, jl);
	memset(f + 8 + jl, 0x11, data);
	snprintf(path, sizeof(path), "%s/step-1", d->path);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/step-1/model.safetensors", d->path);
	spit(path, f, n);
	free(f);
}

struct bad_header {
	const char *what;
	const char *json;
	size_t data;
	uint64_t hlen; /* 0: the JSON's length */
	const char *expect;
	const char *tensor; /* the tensor the message must name, or NULL */
};

static const struct bad_header bad_headers[] = {
	{ "not an object", "[1, 2]", 0, 0, "is not a JSON object", NULL },
	{ "a string", "\"x\"", 0, 0, "is not a JSON object", NULL },
	{ "not JSON", "{\"a\": ", 0, 0, "is not valid JSON", NULL },
	{ "empty header", "", 4, 0, "is not valid JSON", NULL },
	{ "garbage after the JSON", "{}  x", 0, 0, "bytes after the JSON", NULL },
	{ "header length past the end", "{}", 0, 1000, "header length 1000 runs past the end of the file (10 bytes)", NULL },
	{ "header over 100 MiB", "{}", 0, 200u << 20, "over the limit", NULL },
	{ "unknown dtype",
	  "{\"w\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2, 0,
	  "unknown dtype 'U8'", "w" },
	{ "no dtype", "{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, 0, "no \"dtype\"", "w" },
	{ "entry not an object", "{\"w\": 3}", 0, 0, "not a JSON object with dtype", "w" },
	{ "bytes disagree with the shape",
	  "{\"fc1.weight\": {\"dtype\": \"F32\", \"shape\": [5, 6], \"data_offsets\": [0, 100]}}", 120, 0,
	  "tensor 'fc1.weight': data_offsets [0, 100] hold 100 bytes, but shape [5, 6] of F32 needs 120", "fc1.weight" },
	{ "offsets past the data",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [100], \"data_offsets\": [0, 400]}}", 8, 0,
	  "data_offsets [0, 400] run past the data's 8 bytes", "w" },
	{ "end before begin",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8, 0,
	  "end before they begin", "w" },
	{ "overlapping tensors",
	  "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
	  " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 16, 0,
	  "overlap tensor 'a'", "b" },
	{ "negative dimension",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 0]}}", 0, 0,
	  "shape entry 0 is not a non-negative integer", "w" },
	{ "fractional dimension",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4, 0,
	  "shape entry 0 is not a non-negative integer", "w" },
	{ "nine dimensions",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4, 0,
	  "more than 8 dimensions", "w" },
	{ "shape overflowing 64 bits",
	  "{\"w\": {\"dtype\": \"F64\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 0]}}", 0, 0,
	  "overflows 64 bits", "w" },
	{ "offsets not a pair",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, 0,
	  "is not [begin, end]", "w" },
	{ "offset beyond 2^53",
	  "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [1e300, 4]}}", 4, 0,
	  "is not [begin, end]", "w" },
	{ "duplicate tensor",
	  "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
	  " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, 0,
	  "appears twice", "a" },
	{ "metadata not an object", "{\"__metadata__\": [1]}", 0, 0, "__metadata__ is not an object", NULL },
	{ "metadata value not a string", "{\"__metadata__\": {\"step\": 3}}", 0, 0,
	  "__metadata__ 'step' is not a string", NULL },
	{ "checksum malformed",
	  "{\"__metadata__\": {\"checksum/w\": \"md5:00\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, 0,
	  "checksum 'md5:00' is not crc32c", "w" },
	{ "checksum for no tensor",
	  "{\"__metadata__\": {\"checksum/v\": \"crc32c:00000000\"}}", 0, 0,
	  "'checksum/v' names no tensor", NULL },
	{ "empty name", "{\"\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, 0,
	  "empty name", NULL },
	{ "name with a newline",
	  "{\"a\\nb\": {\"dtype\": \"X\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, 0,
	  "tensor 'a?b': unknown dtype", NULL },
};

ParameterizedTestParameters(ckpt_bad_input, header)
{
	return LT_TABLE_PARAMS(bad_headers);
}

ParameterizedTest(size_t *i, ckpt_bad_input, header)
{
	const struct bad_header *c = &bad_headers[*i];
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct lt_ckpt_reader *r;
	char want[200];

	ckpt_dir_make(&d);
	write_raw(&d, c->json, c->hlen, c->data);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "step-1", &err);
	cr_assert_null(r, "%s: opened", c->what);
	cr_expect(strstr(err.msg, c->expect), "%s: '%s' lacks '%s'", c->what, err.msg, c->expect);
	snprintf(want, sizeof(want), "checkpoint '%s/step-1/model.safetensors'", d.path);
	cr_expect(strstr(err.msg, want), "%s: '%s' does not name the file", c->what, err.msg);
	if (c->tensor) {
		snprintf(want, sizeof(want), "tensor '%s'", c->tensor);
		cr_expect(strstr(err.msg, want), "%s: '%s' does not name the tensor", c->what, err.msg);
	}
	cr_expect(!strchr(err.msg, '\n'), "%s: more than one line: %s", c->what, err.msg);
	cr_expect_eq(err.status, 1);
	ckpt_dir_done(&d);
}

static void expect_one_line(const struct lt_err *err, const char *a, const char *b)
{
	cr_expect(strstr(err->msg, a), "'%s' lacks '%s'", err->msg, a);
	if (b)
		cr_expect(strstr(err->msg, b), "'%s' lacks '%s'", err->msg, b);
	cr_expect(!strchr(err->msg, '\n'), "more than one line: %s", err->msg);
}

static void save_model(struct ckpt_dir *d, struct model *m)
{
	struct lt_err err = { 0, "" };

	model_make(m, 42);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d->io, 1, m->t, MODEL_TENSORS, NULL, 0, &err), 0,
		     "%s", err.msg);
}


Test(ckpt_bad_input, truncated_files)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model m;
	char path[160];
	unsigned char *f;
	size_t len;

	ckpt_dir_make(&d);
	save_model(&d, &m);
	snprintf(path, sizeof(path), "%s/step-1/model.safetensors", d.path);
	f = slurp(path, &len);
	spit(path, f, len - 3); /* the last tensor's bytes cut short */
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "run past the data's", "model.safetensors");
	spit(path, f, 100); /* inside the header */
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "runs past the end of the file (100 bytes)", "model.safetensors");
	spit(path, f, 5);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "is 5 bytes, too short", "model.safetensors");
	spit(path, f, 0);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "is 0 bytes", NULL);
	free(f);
	model_free(&m);
	ckpt_dir_done(&d);
}

Test(ckpt_bad_input, missing_and_bad_last)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	char path[160];

	ckpt_dir_make(&d);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "last", "No such file");
	snprintf(path, sizeof(path), "%s/last", d.path);
	spit(path, "step-x\n", 7);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err));
	expect_one_line(&err, "holds 'step-x?', not step-<N>", NULL);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "newest", &err));
	expect_one_line(&err, "give last, step-<N> or the path of a .safetensors file", NULL);
	cr_expect_null(lt_ckpt_open(&lt_ckpt_io_file, d.io, "step-9", &err));
	expect_one_line(&err, "step-9/model.safetensors", NULL);
	ckpt_dir_done(&d);
}

Test(ckpt_bad_input, shape_or_dtype_mismatch_on_read)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model m;
	struct lt_ckpt_reader *r;
	float buf[64];
	int64_t wrong[2] = { 6, 5 };

	ckpt_dir_make(&d);
	save_model(&d, &m);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	memset(buf, 0, sizeof(buf));
	cr_expect_eq(lt_ckpt_read(r, "fc1.weight", LT_F32, 2, wrong, buf, &err), -1);
	expect_one_line(&err, "tensor 'fc1.weight' is F32 [5, 6], but the model expects F32 [6, 5]",
			"step-1/model.safetensors");
	cr_expect_eq(lt_ckpt_read(r, "fc1.weight", LT_BF16, 2, m.t[0].shape, buf, &err), -1);
	expect_one_line(&err, "is F32 [5, 6], but the model expects BF16 [5, 6]", NULL);
	cr_expect_eq(lt_ckpt_read(r, "fc1.weight", LT_F32, 1, m.t[0].shape, buf, &err), -1);
	expect_one_line(&err, "expects F32 [5]", NULL);
	cr_expect_eq(lt_ckpt_read(r, "fc2.weight", LT_F32, 2, m.t[0].shape, buf, &err), -1);
	expect_one_line(&err, "has no tensor 'fc2.weight'", NULL);
	for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
		cr_expect_eq(buf[i], 0.0f, "nothing was loaded");
	lt_ckpt_close(r);
	model_free(&m);
	ckpt_dir_done(&d);
}

Test(ckpt_bad_input, checksum_mismatch)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model m;
	struct lt_ckpt_reader *r;
	char path[160];
	unsigned char *f, buf[256];
	size_t len, n;
	const struct lt_ckpt_tensor *t;

	ckpt_dir_make(&d);
	save_model(&d, &m);
	snprintf(path, sizeof(path), "%s/step-1/model.safetensors", d.path);
	f = slurp(path, &len);
	/* "big" (I64 [2, 3]) is laid out first: flip a byte of it */
	{
		uint64_t hlen = 0;

		for (int i = 7; i >= 0; i--)
			hlen = hlen << 8 | f[i];
		cr_assert_eq(memcmp(f + 8 + hlen, m.t[1].data, 8), 0, "the F64 tensor comes first");
		f[8 + hlen + 3] ^= 0x40;
	}
	spit(path, f, len);
	free(f);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_eq(lt_ckpt_read(r, "fc1.bias", LT_F64, 1, m.t[1].shape, buf, &err), -1);
	expect_one_line(&err, "tensor 'fc1.bias': its data's crc32c:", "does not match the header's crc32c:");
	cr_expect(strstr(err.msg, "step-1/model.safetensors"), "%s", err.msg);
	cr_expect_eq(lt_ckpt_read(r, "fc1.weight", LT_F32, 2, m.t[0].shape, buf, &err), 0, "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify(r, &err), -1);
	expect_one_line(&err, "tensor 'fc1.bias'", "does not match");
	t = lt_ckpt_tensors(r, &n);
	cr_expect_eq(n, MODEL_TENSORS);
	(void)t;
	lt_ckpt_close(r);
	cr_expect_eq(lt_ckpt_verify_path(builtins(), NULL, d.path, stdout, &err), -1);
	expect_one_line(&err, "tensor 'fc1.bias'", "does not match");
	model_free(&m);
	ckpt_dir_done(&d);
}

/* A tensor of several of verify's 4 MB pieces (and of load's 8 MB ones):
 * checked whole, and a byte flipped at 9 MB found by both. */
Test(ckpt_bad_input, checksum_mismatch_in_a_large_tensor)
{
	const size_t bytes = ((size_t)10 << 20) + 4;
	float *data = malloc(bytes), *back = malloc(bytes);
	struct lt_ckpt_tensor t = { .name = "wide", .dtype = LT_F32, .ndim = 1,
				    .shape = { (int64_t)(bytes / 4) }, .data = data, .bytes = bytes };
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r;
	struct ckpt_dir d;
	char path[160];
	unsigned char *f;
	size_t len;

	cr_assert(data && back);
	for (size_t i = 0; i < bytes / 4; i++)
		data[i] = (float)(i % 4093) * 0.25f;
	ckpt_dir_make(&d);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 1, &t, 1, NULL, 0, &err), 0, "%s", err.msg);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
	lt_ckpt_close(r);

	snprintf(path, sizeof(path), "%s/step-1/model.safetensors", d.path);
	f = slurp(path, &len);
	f[len - bytes + ((size_t)9 << 20) + 5] ^= 0x01; /* the data ends the file */
	spit(path, f, len);
	free(f);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify(r, &err), -1);
	expect_one_line(&err, "tensor 'wide'", "does not match");
	cr_expect_eq(lt_ckpt_read(r, "wide", LT_F32, 1, t.shape, back, &err), -1);
	expect_one_line(&err, "tensor 'wide'", "does not match");
	lt_ckpt_close(r);
	free(data);
	free(back);
	ckpt_dir_done(&d);
}

Test(ckpt_bad_input, verify_without_checksums)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct lt_ckpt_reader *r;

	ckpt_dir_make(&d);
	write_raw(&d, "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
		      " \"b\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [8, 16]}}", 0, 16);
	r = lt_ckpt_open(&lt_ckpt_io_file, d.io, "step-1", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify(r, &err), -1);
	expect_one_line(&err, "2 of 2 tensors have no checksum (the first: 'a')", "model.safetensors");
	lt_ckpt_close(r);
	ckpt_dir_done(&d);
}

Test(ckpt_bad_input, save_refuses_bad_tensors)
{
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	struct model m;
	struct lt_ckpt_tensor t[2];

	ckpt_dir_make(&d);
	model_make(&m, 3);
	t[0] = m.t[0];
	t[1] = m.t[0];
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 1, t, 2, NULL, 0, &err), -1);
	expect_one_line(&err, "tensor 'fc1.weight' is given twice", NULL);
	t[1].name = "other";
	t[1].bytes = 7;
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 1, t, 2, NULL, 0, &err), -1);
	expect_one_line(&err, "tensor 'other': 7 bytes, but shape [5, 6] of F32", NULL);
	cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, -1, t, 1, NULL, 0, &err), -1);
	{
		cJSON *meta = cJSON_CreateObject();

		cJSON_AddNumberToObject(meta, "step", 3);
		cr_expect_eq(lt_ckpt_save(&lt_ckpt_io_file, d.io, 1, t, 1, meta, 0, &err), -1);
		expect_one_line(&err, "metadata 'step' is not a string", NULL);
		cJSON_Delete(meta);
	}
	cr_expect_eq(access(d.path, F_OK), 0);
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/last", d.path);
		cr_expect_neq(access(path, F_OK), 0, "nothing was saved");
	}
	model_free(&m);
	ckpt_dir_done(&d);
}
