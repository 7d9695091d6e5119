/*
 * test_ckpt_http.c - the http checkpoint IO against a real nginx WebDAV
 * server (tests/integration/nginx.h): round trips of small, 10 MB and
 * nested files; an overwrite; a server that refuses every PUT (retried
 * with backoff, then an error naming the URL and the status, the previous
 * file intact); a stopped server; a bearer token; missing files and bad
 * bases; whole checkpoints saved, kept and opened over http, directly and
 * through the async plugin.  Skipped when nginx is not installed.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ckpt_util.h"
#include "../unit/ckpt_cases.h"
#include "ckpt/ckpt.h"
#include "ckpt/io.h"
#include "nginx.h"
#include "run.h"

static struct nginx srv;

static void setup(void)
{
	char why[600];

	if (nginx_start(&srv, why, sizeof(why)))
		cr_skip_test("%s", why); /* nothing to tear down */
}

static void teardown(void)
{
	nginx_stop(&srv);
}

TestSuite(ckpt_http, .init = setup, .fini = teardown, .timeout = 60);

/* Opens the http IO on srv's url + path (retries as given; 0: the default). */
static void *open_at(const char *path, int retries)
{
	struct lt_err err = { 0 };
	char base[160], spec[32];
	void *st = NULL;

	snprintf(base, sizeof(base), "%s%s", srv.url, path);
	snprintf(spec, sizeof(spec), retries ? "http:retries=%d" : "http", retries);
	cr_assert_eq(io_open(spec, base, &st, &err), 0, "open %s: %s", base, err.msg);
	return st;
}

static int put(void *st, const char *rel, const void *p, size_t len, struct lt_err *err)
{
	return io_put(&lt_ckpt_io_http, st, rel, p, len, err);
}

/* Reads file (under srv's www) whole; *len gets its size. */
static char *disk_file(const char *rel, size_t *len)
{
	char path[256];
	struct stat sb;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "%s/www/%s", srv.dir, rel);
	if (stat(path, &sb) || !(f = fopen(path, "rb")))
		return NULL;
	p = malloc((size_t)sb.st_size + 1);
	cr_assert_not_null(p);
	*len = fread(p, 1, (size_t)sb.st_size, f);
	fclose(f);
	return p;
}

/* The number of entries in www/dir whose name contains ".tmp-". */
static int temp_leftovers(const char *dir)
{
	char cmd[300], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find '%s/www/%s' -name '*.tmp-*' | wc -l", srv.dir, dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, sizeof(out), p));
	pclose(p);
	return atoi(out);
}

Test(ckpt_http, small_file_round_trip_from_several_pieces)
{
	void *st = open_at("/ck/", 0);
	struct iovec v[3] = { { "hello ", 6 }, { "", 0 }, { "world", 5 } };
	struct lt_err err = { 0 };
	char buf[16] = "";
	uint64_t size = 0;
	size_t len;
	char *disk;

	cr_assert_eq(lt_ckpt_io_http.write(st, "last", v, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_http.size(st, "last", &size, &err), 0, "%s", err.msg);
	cr_expect_eq(size, 11);
	cr_assert_eq(lt_ckpt_io_http.read(st, "last", 0, buf, 11, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "hello world");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(lt_ckpt_io_http.read(st, "last", 6, buf, 5, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "world");
	disk = disk_file("ck/last", &len);
	cr_assert_not_null(disk, "the server has no ck/last");
	cr_expect(len == 11 && !memcmp(disk, "hello world", 11));
	cr_expect_eq(temp_leftovers("ck"), 0, "a temporary upload was left behind");
	cr_expect_eq(lt_ckpt_io_http.flush(st, &err), 0);
	free(disk);
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, ten_mb_nested_round_trip_and_remove)
{
	const size_t len = 10u << 20;
	void *st = open_at("/ck", 0);
	char *data = pattern(len, 7), *back = malloc(len), *disk;
	struct lt_err err = { 0 };
	uint64_t size = 0;
	size_t dlen = 0;

	cr_assert_not_null(back);
	cr_assert_eq(put(st, "step-1/sub/model.safetensors", data, len, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "step-1/index.json", "{}", 2, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_http.size(st, "step-1/sub/model.safetensors", &size, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(size, len);
	cr_assert_eq(lt_ckpt_io_http.read(st, "step-1/sub/model.safetensors", 0, back, len, &err), 0,
		     "%s", err.msg);
	cr_expect(!memcmp(back, data, len), "the 10 MB file came back different");
	memset(back, 0, len);
	cr_assert_eq(lt_ckpt_io_http.read(st, "step-1/sub/model.safetensors", 5u << 20, back, 1u << 20,
					  &err), 0, "%s", err.msg);
	cr_expect(!memcmp(back, data + (5u << 20), 1u << 20), "a ranged read came back different");
	disk = disk_file("ck/step-1/sub/model.safetensors", &dlen);
	cr_assert_not_null(disk);
	cr_expect(dlen == len && !memcmp(disk, data, len), "the file on the server differs");
	free(disk);
	cr_expect_eq(temp_leftovers("ck"), 0, "a temporary upload was left behind");

	cr_assert_eq(lt_ckpt_io_http.remove(st, "step-1", &err), 0, "%s", err.msg);
	cr_expect_null(disk_file("ck/step-1/index.json", &dlen), "step-1 survived its removal");
	cr_expect_neq(lt_ckpt_io_http.size(st, "step-1/index.json", &size, &err), 0);
	cr_expect(strstr(err.msg, "/ck/step-1/index.json") && strstr(err.msg, "HTTP 404"), "%s",
		  err.msg);
	/* Removing what is gone already is fine: a save may retry its cleanup. */
	cr_expect_eq(lt_ckpt_io_http.remove(st, "step-1", &err), 0, "%s", err.msg);
	/* The directory can be made again after its removal. */
	cr_expect_eq(put(st, "step-1/index.json", "{}", 2, &err), 0, "%s", err.msg);
	free(data);
	free(back);
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, overwrite_replaces_the_file)
{
	void *st = open_at("/ck", 0);
	struct lt_err err = { 0 };
	char buf[8] = "";

	cr_assert_eq(put(st, "last", "step-1", 6, &err), 0, "%s", err.msg);
	cr_assert_eq(put(st, "last", "step-2", 6, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_http.read(st, "last", 0, buf, 6, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "step-2");
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, refused_put_retries_then_fails_and_keeps_the_old_file)
{
	char path[200], want[200], buf[8] = "";
	struct lt_err err = { 0 };
	void *st;
	FILE *f;
	double t0;

	/* The last good file, put there by hand. */
	snprintf(path, sizeof(path), "%s/www/refuse", srv.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/www/refuse/last", srv.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("good", f);
	fclose(f);

	st = open_at("/refuse", 2);
	t0 = run_clock_s();
	cr_assert_neq(put(st, "last", "bad!", 4, &err), 0, "a PUT the server refused succeeded");
	cr_expect_geq(run_clock_s() - t0, 0.29, "no backoff between the attempts (100 + 200 ms)");
	snprintf(want, sizeof(want), "'%s/refuse/last.tmp-", srv.url);
	cr_expect(strstr(err.msg, want), "the error does not name the URL %s: %s", want, err.msg);
	cr_expect(strstr(err.msg, "HTTP 500") && strstr(err.msg, "(3 attempts)") &&
		  strstr(err.msg, "hint: "), "%s", err.msg);
	cr_expect_eq(nginx_count(&srv, "PUT", "/refuse/last.tmp-"), 3, "1 attempt + 2 retries");
	cr_expect_eq(nginx_count(&srv, "MOVE", "/refuse/"), 0, "a failed upload was moved");
	cr_assert_eq(lt_ckpt_io_http.read(st, "last", 0, buf, 4, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "good", "the previous file was replaced");
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, stopped_server_fails_naming_the_url)
{
	struct lt_err err = { 0 };
	char base[64];
	void *st = NULL;

	snprintf(base, sizeof(base), "http://127.0.0.1:%d/ck", nginx_free_port());
	cr_assert_eq(io_open("http:retries=1", base, &st, &err), 0, "%s", err.msg);
	cr_assert_neq(put(st, "step-3/model.safetensors", "x", 1, &err), 0);
	cr_expect(strstr(err.msg, base) && strstr(err.msg, "(2 attempts)") &&
		  strstr(err.msg, "check that the server is up"), "%s", err.msg);
	cr_assert_neq(lt_ckpt_io_http.read(st, "last", 0, base, 1, &err), 0);
	cr_expect(strstr(err.msg, "/ck/last"), "%s", err.msg);
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, bearer_token_is_sent_and_4xx_is_not_retried)
{
	struct lt_err err = { 0 };
	char buf[4] = "";
	void *st;

	unsetenv("LTRUN_CKPT_TOKEN");
	st = open_at("/auth", 3);
	cr_assert_neq(put(st, "last", "abc", 3, &err), 0, "an upload without the token succeeded");
	cr_expect(strstr(err.msg, "HTTP 401") && strstr(err.msg, "LTRUN_CKPT_TOKEN") &&
		  strstr(err.msg, "/auth/last"), "%s", err.msg);
	cr_expect_eq(nginx_count(&srv, "PUT", "/auth/"), 1, "a 401 was retried");
	lt_ckpt_io_http.close(st);

	setenv("LTRUN_CKPT_TOKEN", "wrong", 1);
	st = open_at("/auth", 0);
	cr_expect_neq(put(st, "last", "abc", 3, &err), 0, "a wrong token was accepted");
	cr_expect(strstr(err.msg, "wrong") == NULL, "the error shows the token: %s", err.msg);
	lt_ckpt_io_http.close(st);

	setenv("LTRUN_CKPT_TOKEN", NGINX_TOKEN, 1);
	st = open_at("/auth", 0);
	cr_assert_eq(put(st, "step-1/last", "abc", 3, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_http.read(st, "step-1/last", 0, buf, 3, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "abc");
	cr_expect_eq(lt_ckpt_io_http.remove(st, "step-1", &err), 0, "%s", err.msg);
	lt_ckpt_io_http.close(st);
	unsetenv("LTRUN_CKPT_TOKEN");
}

Test(ckpt_http, short_and_missing_files_are_errors)
{
	void *st = open_at("/ck", 0);
	struct lt_err err = { 0 };
	char buf[16];
	uint64_t size;

	cr_assert_eq(put(st, "a", "0123456789", 10, &err), 0, "%s", err.msg);
	cr_expect_neq(lt_ckpt_io_http.read(st, "a", 4, buf, 10, &err), 0, "read past the end");
	cr_expect(strstr(err.msg, "/ck/a") && strstr(err.msg, "6 of the 10 bytes"), "%s", err.msg);
	cr_expect_neq(lt_ckpt_io_http.read(st, "a", 20, buf, 1, &err), 0, "read after the end");
	cr_expect(strstr(err.msg, "HTTP 416"), "%s", err.msg);
	cr_expect_neq(lt_ckpt_io_http.size(st, "nope", &size, &err), 0);
	cr_expect(strstr(err.msg, "/ck/nope") && strstr(err.msg, "HTTP 404") &&
		  strstr(err.msg, "hint: "), "%s", err.msg);
	cr_expect_neq(lt_ckpt_io_http.read(st, "nope", 0, buf, 1, &err), 0);
	cr_expect(strstr(err.msg, "HTTP 404"), "%s", err.msg);
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, odd_names_are_escaped)
{
	void *st = open_at("/ck", 0);
	struct lt_err err = { 0 };
	char buf[4] = "", *disk;
	size_t len;

	cr_assert_eq(put(st, "step 1/a#b?c%d", "xyz", 3, &err), 0, "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_http.read(st, "step 1/a#b?c%d", 0, buf, 3, &err), 0, "%s", err.msg);
	cr_expect_str_eq(buf, "xyz");
	disk = disk_file("ck/step 1/a#b?c%d", &len);
	cr_expect_not_null(disk, "the file's name on the server is not the one given");
	free(disk);
	lt_ckpt_io_http.close(st);
}

Test(ckpt_http, a_base_that_is_not_a_url_is_refused)
{
	struct lt_err err = { 0 };
	void *st = NULL;

	cr_expect_neq(io_open("http", "/tmp/ckpt", &st, &err), 0);
	cr_expect(strstr(err.msg, "'/tmp/ckpt'") && strstr(err.msg, "http://"), "%s", err.msg);
}

static bool on_server(const char *rel)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/www/%s", srv.dir, rel);
	return stat(path, &sb) == 0;
}

/* Saves four steps of a model under /ck over io (http, or async over
 * http) keeping two, then opens `last` and step-30 and checks every byte. */
static void checkpoints_over(const struct lt_ckpt_io_ops *io, const char *spec)
{
	struct lt_err err = { 0 };
	struct lt_ckpt_reader *r;
	struct model m[4];
	char base[160], *h;
	void *st = NULL;
	size_t len;

	snprintf(base, sizeof(base), "%s/ck", srv.url);
	cr_assert_eq(io_open(spec, base, &st, &err), 0, "%s", err.msg);
	for (int s = 0; s < 4; s++) {
		cJSON *meta = cJSON_CreateObject();

		cJSON_AddStringToObject(meta, "strategy", "ddp");
		model_make(&m[s], 40 + (unsigned)s);
		cr_assert_eq(lt_ckpt_save(io, st, (s + 1) * 10, m[s].t, MODEL_TENSORS, meta, 2, &err),
			     0, "step %d: %s", (s + 1) * 10, err.msg);
		cJSON_Delete(meta);
	}
	cr_assert_eq(io->flush(st, &err), 0, "%s", err.msg);
	cr_expect(!on_server("ck/step-10") && !on_server("ck/step-20"), "keep 2 left old steps");
	cr_expect(on_server("ck/step-30/model.safetensors") && on_server("ck/step-40/index.json"));
	h = disk_file("ck/last", &len);
	cr_assert_not_null(h);
	cr_expect(len >= 7 && !memcmp(h, "step-40", 7), "last is %.*s", (int)len, h);
	free(h);
	cr_expect_eq(temp_leftovers("ck"), 0, "a temporary upload was left behind");

	r = lt_ckpt_open(io, st, "last", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_str_eq(lt_ckpt_path(r), "step-40/model.safetensors");
	cr_expect_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
	for (int i = 0; i < MODEL_TENSORS; i++) {
		const struct lt_ckpt_tensor *t = &m[3].t[i];
		void *dst = malloc(t->bytes ? t->bytes : 1);

		cr_assert_eq(lt_ckpt_read(r, t->name, t->dtype, t->ndim, t->shape, dst, &err), 0,
			     "%s", err.msg);
		cr_expect(!memcmp(dst, t->data, t->bytes), "tensor %s differs", t->name);
		free(dst);
	}
	lt_ckpt_close(r);
	r = lt_ckpt_open(io, st, "step-30", &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_expect_eq(lt_ckpt_verify(r, &err), 0, "%s", err.msg);
	lt_ckpt_close(r);
	cr_expect_null(lt_ckpt_open(io, st, "step-10", &err), "a removed step opened");
	io->close(st);
	for (int s = 0; s < 4; s++)
		model_free(&m[s]);
}

Test(ckpt_http, checkpoints_saved_kept_and_opened)
{
	checkpoints_over(&lt_ckpt_io_http, "http");
}

Test(ckpt_http, checkpoints_through_async_over_http)
{
	checkpoints_over(&lt_ckpt_io_async, "async:inner=http");
}

Test(ckpt_http, a_failed_save_leaves_last_on_the_previous_step)
{
	struct lt_err err = { 0 };
	struct model m;
	char base[160], path[200], *h;
	void *st = NULL;
	size_t len;
	cJSON *meta = cJSON_CreateObject();

	snprintf(base, sizeof(base), "%s/ck", srv.url);
	cr_assert_eq(io_open("http:retries=1", base, &st, &err), 0, "%s", err.msg);
	model_make(&m, 9);
	cr_assert_eq(lt_ckpt_save(&lt_ckpt_io_http, st, 1, m.t, MODEL_TENSORS, meta, 0, &err), 0,
		     "%s", err.msg);
	/* A directory where step-2's model should go: the server's MOVE fails. */
	snprintf(path, sizeof(path), "mkdir -p '%s/www/ck/step-2/model.safetensors/x'", srv.dir);
	cr_assert_eq(system(path), 0);
	cr_expect_neq(lt_ckpt_save(&lt_ckpt_io_http, st, 2, m.t, MODEL_TENSORS, meta, 0, &err), 0);
	cr_expect(strstr(err.msg, "/ck/step-2/model.safetensors") && strstr(err.msg, "HTTP "), "%s",
		  err.msg);
	h = disk_file("ck/last", &len);
	cr_assert_not_null(h);
	cr_expect(len >= 6 && !memcmp(h, "step-1", 6), "last moved to a failed step: %.*s", (int)len,
		  h);
	free(h);
	cJSON_Delete(meta);
	model_free(&m);
	lt_ckpt_io_http.close(st);
}
