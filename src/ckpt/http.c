/*
 * http.c - the `http` checkpoint IO plugin: a checkpoint's files on a
 * WebDAV server (nginx with dav_methods, Apache mod_dav...) under a base
 * URL, through libcurl (loaded on first use: core/curl_lib.h).
 *
 *   write   MKCOL of each missing collection above the file (201, or 405
 *           when it exists), PUT to "<url>.tmp-<random>" streamed from the
 *           caller's iov (no copy), then MOVE to the final URL with
 *           "Overwrite: T": a failed upload never replaces the last good
 *           file, and a reader never sees half of one
 *   size    HEAD, its Content-Length
 *   read    GET with a Range header, into the caller's buffer (206, or 200
 *           from a server that ignores ranges: the bytes before off are
 *           skipped); exactly len bytes or an error
 *   remove  DELETE of the collection "<url>/" (recursive in WebDAV); a
 *           404 counts as removed
 *
 * Every request is tried again on a connection error or a 5xx, after
 * 100 ms, then 200, 400... (the parameter `retries` more times, 4 by
 * default: --ckpt-io http:retries=0 tries once); a 4xx fails at once.
 * From the environment:
 * LTRUN_CKPT_TOKEN (sent as "Authorization: Bearer ..."), LTRUN_CKPT_CA
 * (a CA bundle), LTRUN_CKPT_INSECURE=1 (no TLS peer verification).
 * Errors name the URL, the HTTP status and the fix; never the token.
 *
 * A state holds one curl handle (its connection is kept alive from request
 * to request): one thread at a time per state.
 */
#include "ckpt/io.h"
#include "core/curl_lib.h"
#include "core/url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_RETRIES 4
#define FIRST_BACKOFF_MS 100

struct http {
	char *base;          /* without trailing '/' */
	int retries;         /* extra attempts on 5xx and connection errors */
	CURL *curl;
	struct curl_slist *auth; /* the Authorization header, or NULL */
	const char *ca;      /* LTRUN_CKPT_CA, or NULL */
	bool insecure;
	char *made_dir;      /* the last collection MKCOL made or found */
	char curl_msg[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------ requests */

/* The iov an upload streams from, and where it is. */
struct upload {
	const struct iovec *iov;
	int iovcnt;
	int i;
	size_t at; /* within iov[i] */
};

static size_t upload_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t room = size * nmemb, n = 0;

	while (room > 0 && u->i < u->iovcnt) {
		size_t left = u->iov[u->i].iov_len - u->at, k = left < room ? left : room;

		memcpy(dst + n, (const char *)u->iov[u->i].iov_base + u->at, k);
		n += k;
		room -= k;
		u->at += k;
		if (u->at == u->iov[u->i].iov_len) {
			u->i++;
			u->at = 0;
		}
	}
	return n;
}

static int upload_seek(void *arg, curl_off_t off, int origin)
{
	struct upload *u = arg;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	for (u->i = 0; u->i < u->iovcnt && (size_t)off >= u->iov[u->i].iov_len; u->i++)
		off -= (curl_off_t)u->iov[u->i].iov_len;
	u->at = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* Where a download goes: buf[0, len) receives the body's bytes from
 * off (a 206 starts there; a 200 is the whole file, whose first off bytes
 * are skipped); got counts what arrived.  Error bodies are discarded. */
struct download {
	CURL *curl;
	char *buf;
	size_t len, off, seen, got;
	long status; /* of the response being received, 0 before its body */
	bool overflow;
};

static size_t download_write(char *src, size_t size, size_t nmemb, void *arg)
{
	struct download *d = arg;
	size_t n = size * nmemb, from = 0, skip;

	if (!d->status)
		lt_curl.easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status != 200 && d->status != 206)
		return n;
	skip = d->status == 200 ? d->off : 0;
	if (d->seen < skip)
		from = skip - d->seen < n ? skip - d->seen : n;
	d->seen += n;
	if (from < n) {
		size_t k = n - from;

		if (d->got + k > d->len) {
			d->overflow = d->status == 206; /* a 200 sends all: fine */
			k = d->len - d->got;
		}
		memcpy(d->buf + d->got, src + from, k);
		d->got += k;
	}
	return n;
}

static size_t discard_write(char *src, size_t size, size_t nmemb, void *arg)
{
	(void)src;
	(void)arg;
	return size * nmemb;
}

/* One request: method on url, with extra headers, uploading up (or
 * nothing) and downloading into down (or discarding the body). */
struct request {
	const char *method;
	const char *url;
	struct curl_slist *headers;
	struct upload *up;
	size_t up_len;
	struct download *down;
	bool head;
};

/* Performs r once.  Returns the curl code; *status gets the HTTP status
 * (0 without a response). */
static CURLcode perform(struct http *h, const struct request *r, long *status)
{
	CURL *c = h->curl;
	struct curl_slist *hdr = NULL, *s;
	CURLcode rc;

	lt_curl.easy_reset(c);
	h->curl_msg[0] = '\0';
	lt_curl.easy_setopt(c, CURLOPT_URL, r->url);
	lt_curl.easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_msg);
	lt_curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lt_curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled transfer: under 1 byte/s for a minute. */
	lt_curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	lt_curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	if (h->ca)
		lt_curl.easy_setopt(c, CURLOPT_CAINFO, h->ca);
	if (h->insecure) {
		lt_curl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		lt_curl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	for (s = h->auth; s; s = s->next)
		hdr = lt_curl.slist_append(hdr, s->data);
	for (s = r->headers; s; s = s->next)
		hdr = lt_curl.slist_append(hdr, s->data);
	hdr = lt_curl.slist_append(hdr, "Expect:"); /* no 100-continue round trip */
	lt_curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	if (r->up) {
		lt_curl.easy_setopt(c, CURLOPT_UPLOAD, 1L);
		lt_curl.easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
		lt_curl.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->up_len);
		lt_curl.easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
		lt_curl.easy_setopt(c, CURLOPT_READDATA, r->up);
		lt_curl.easy_setopt(c, CURLOPT_SEEKFUNCTION, upload_seek);
		lt_curl.easy_setopt(c, CURLOPT_SEEKDATA, r->up);
		upload_seek(r->up, 0, SEEK_SET);
	} else if (r->head) {
		lt_curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	if (strcmp(r->method, r->up ? "PUT" : r->head ? "HEAD" : "GET"))
		lt_curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->down) {
		r->down->curl = c;
		r->down->seen = r->down->got = 0;
		r->down->status = 0;
		r->down->overflow = false;
		lt_curl.easy_setopt(c, CURLOPT_BUFFERSIZE, 1L << 20);
		lt_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, download_write);
		lt_curl.easy_setopt(c, CURLOPT_WRITEDATA, r->down);
	} else {
		lt_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_write);
	}
	rc = lt_curl.easy_perform(c);
	*status = 0;
	lt_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	lt_curl.slist_free_all(hdr);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Performs r, again after 100 ms, 200 ms... on connection errors and 5xx.
 * Returns the last curl code; *status and *attempts as they ended. */
static CURLcode perform_retrying(struct http *h, const struct request *r, long *status,
				 int *attempts)
{
	long backoff = FIRST_BACKOFF_MS;
	CURLcode rc;

	for (*attempts = 1;; (*attempts)++) {
		rc = perform(h, r, status);
		if (rc == CURLE_OK && *status < 500)
			return rc;
		/* TLS and URL mistakes do not heal by waiting. */
		if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
		    rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
		    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_WRITE_ERROR ||
		    rc == CURLE_ABORTED_BY_CALLBACK)
			return rc;
		if (*attempts > h->retries)
			return rc;
		sleep_ms(backoff);
		backoff *= 2;
	}
}

/* The fix for a failed request, by curl code and HTTP status. */
static const char *hint(CURLcode rc, long status)
{
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return "set LTRUN_CKPT_CA to the server's CA bundle (or LTRUN_CKPT_INSECURE=1 to skip verification)";
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "give an http:// or https:// base URL";
	default:
		return "check that the server is up and the URL is right";
	}
	switch (status) {
	case 401:
	case 403:
		return "set LTRUN_CKPT_TOKEN to a token the server accepts";
	case 404:
		return "check the checkpoint path under the base URL";
	case 405:
	case 501:
		return "enable WebDAV on the server (nginx: dav_methods PUT DELETE MKCOL COPY MOVE)";
	case 409:
		return "the parent collection is missing: enable MKCOL on the server (nginx: create_full_put_path on)";
	case 413:
		return "raise the server's upload limit (nginx: client_max_body_size 0)";
	case 416:
		return "the file is shorter than expected: the checkpoint is truncated";
	default:
		return status >= 500 ? "check the server's error log and free space"
				     : "check the server's WebDAV configuration";
	}
}

/* Fills err for request r that ended with rc and status: what failed,
 * the URL, the status (or curl's reason), the attempts and the fix. */
static int request_err(struct http *h, struct lt_err *err, const char *what,
		       const struct request *r, CURLcode rc, long status, int attempts)
{
	char tries[48] = "";

	if (attempts > 1)
		snprintf(tries, sizeof(tries), " (%d attempts)", attempts);
	if (rc != CURLE_OK)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot %s '%s': %s%s; hint: %s", what, r->url,
				  h->curl_msg[0] ? h->curl_msg : lt_curl.easy_strerror(rc), tries,
				  hint(rc, 0));
	return lt_err_set(err, LT_EXIT_FAILURE, "cannot %s '%s': %s answered HTTP %ld%s; hint: %s",
			  what, r->url, r->method, status, tries, hint(rc, status));
}

/* ------------------------------------------------------------ URLs */

/* "<base>/<rel><suffix>" with rel's bytes outside [A-Za-z0-9-._~/]
 * percent-encoded, or NULL (out of memory). */
static char *make_url(const struct http *h, const char *rel, const char *suffix)
{
	size_t b = strlen(h->base), n = strlen(rel), s = strlen(suffix);
	char *url = malloc(b + 1 + 3 * n + s + 1), *p;

	if (!url)
		return NULL;
	memcpy(url, h->base, b);
	p = url + b;
	*p++ = '/';
	for (const unsigned char *c = (const unsigned char *)rel; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    strchr("-._~/", *c))
			*p++ = (char)*c;
		else
			p += sprintf(p, "%%%02X", *c);
	}
	memcpy(p, suffix, s + 1);
	return url;
}

static int oom(struct lt_err *err, const char *rel)
{
	return lt_err_set(err, LT_EXIT_FAILURE, "out of memory building the URL of '%s'", rel);
}

/* ------------------------------------------------------------ the ops */

static int http_open(const struct lt_ckpt_io_args *args, void **state, struct lt_err *err)
{
	const char *base = args->base;
	const char *token = getenv("LTRUN_CKPT_TOKEN"), *insecure = getenv("LTRUN_CKPT_INSECURE");
	struct http *h;
	size_t n = strlen(base);

	if (!lt_is_url(base))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "checkpoint base '%s' is not a URL; hint: give an http:// or https:// URL",
				  base);
	if (lt_curl_load("checkpoint IO 'http'", err))
		return -1;
	h = calloc(1, sizeof(*h));
	if (!h)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening '%s'", base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	h->base = strndup(base, n);
	h->curl = lt_curl.easy_init();
	if (!h->base || !h->curl) {
		lt_err_set(err, LT_EXIT_FAILURE, "cannot set up libcurl for '%s'", base);
		goto out_free;
	}
	h->retries = args->params ? (int)lt_params_int(args->params, "retries") : DEFAULT_RETRIES;
	if (token && *token) {
		char *line;

		if (asprintf(&line, "Authorization: Bearer %s", token) < 0) {
			lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening '%s'", base);
			goto out_free;
		}
		h->auth = lt_curl.slist_append(NULL, line);
		free(line);
		if (!h->auth) {
			lt_err_set(err, LT_EXIT_FAILURE, "out of memory opening '%s'", base);
			goto out_free;
		}
	}
	h->ca = getenv("LTRUN_CKPT_CA");
	if (h->ca && !*h->ca)
		h->ca = NULL;
	h->insecure = insecure && !strcmp(insecure, "1");
	*state = h;
	return 0;

out_free:
	if (h->curl)
		lt_curl.easy_cleanup(h->curl);
	free(h->base);
	free(h);
	return -1;
}

/* Makes the collections above rel (MKCOL, 405 when one exists); a server
 * that creates them on PUT by itself may refuse MKCOL: the PUT decides. */
static int make_dirs(struct http *h, const char *rel, struct lt_err *err)
{
	const char *slash = strrchr(rel, '/');
	char *dir, *url;
	int rc = 0;

	if (!slash)
		return 0;
	dir = strndup(rel, (size_t)(slash - rel + 1));
	if (!dir)
		return oom(err, rel);
	if (h->made_dir && !strcmp(h->made_dir, dir)) {
		free(dir);
		return 0;
	}
	for (char *p = strchr(dir, '/'); p && !rc; p = strchr(p + 1, '/')) {
		struct request r = { .method = "MKCOL" };
		CURLcode cc;
		long status;
		int attempts;
		char save = p[1];

		p[1] = '\0';
		r.url = url = make_url(h, dir, "");
		p[1] = save;
		if (!url) {
			rc = oom(err, rel);
			break;
		}
		cc = perform_retrying(h, &r, &status, &attempts);
		if (cc != CURLE_OK || status >= 500 || status == 401 || status == 403)
			rc = request_err(h, err, "create the collection", &r, cc, status, attempts);
		free(url);
	}
	if (rc) {
		free(dir);
		return -1;
	}
	free(h->made_dir);
	h->made_dir = dir;
	return 0;
}

/* Removes a temporary upload, as well as can be. */
static void drop_temp(struct http *h, const char *url)
{
	struct request r = { .method = "DELETE", .url = url };
	long status;

	perform(h, &r, &status);
}

static int http_write(void *state, const char *rel, const struct iovec *iov, int iovcnt,
		      struct lt_err *err)
{
	struct http *h = state;
	struct upload up = { .iov = iov, .iovcnt = iovcnt };
	struct request put = { .method = "PUT", .up = &up };
	struct request move = { .method = "MOVE" }; /* its url: the upload's */
	unsigned char rnd[8];
	char suffix[32], *dest = NULL, *line = NULL;
	CURLcode cc;
	long status;
	int attempts, rc = -1;

	for (int i = 0; i < iovcnt; i++)
		put.up_len += iov[i].iov_len;
	if (make_dirs(h, rel, err))
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)rand();
	snprintf(suffix, sizeof(suffix), ".tmp-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	put.url = make_url(h, rel, suffix);
	dest = make_url(h, rel, "");
	if (!put.url || !dest || asprintf(&line, "Destination: %s", dest) < 0) {
		line = NULL;
		oom(err, rel);
		goto out;
	}

	cc = perform_retrying(h, &put, &status, &attempts);
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		request_err(h, err, "upload", &put, cc, status, attempts);
		if (cc == CURLE_OK || status)
			drop_temp(h, put.url);
		goto out;
	}
	move.url = put.url;
	move.headers = lt_curl.slist_append(NULL, line);
	if (move.headers)
		move.headers = lt_curl.slist_append(move.headers, "Overwrite: T");
	if (!move.headers) {
		oom(err, rel);
		goto out_drop;
	}
	cc = perform_retrying(h, &move, &status, &attempts);
	if (cc != CURLE_OK || status < 200 || status >= 300) {
		if (cc == CURLE_OK && (status == 409 || status == 412))
			lt_err_set(err, LT_EXIT_FAILURE,
				   "cannot move the upload '%s' into place at '%s': MOVE answered HTTP %ld; "
				   "hint: remove what is in the way there (a collection of that name?)",
				   put.url, dest, status);
		else {
			char what[300];

			snprintf(what, sizeof(what), "move the upload to '%.200s' from", dest);
			request_err(h, err, what, &move, cc, status, attempts);
		}
		goto out_drop;
	}
	rc = 0;
	goto out;

out_drop:
	drop_temp(h, put.url);
out:
	lt_curl.slist_free_all(move.headers);
	free(line);
	free(dest);
	free((char *)put.url);
	return rc;
}

static int http_size(void *state, const char *rel, uint64_t *size, struct lt_err *err)
{
	struct http *h = state;
	struct request r = { .method = "HEAD", .head = true };
	curl_off_t len = -1;
	CURLcode cc;
	long status;
	int attempts, rc = -1;

	r.url = make_url(h, rel, "");
	if (!r.url)
		return oom(err, rel);
	cc = perform_retrying(h, &r, &status, &attempts);
	if (cc != CURLE_OK || status != 200) {
		request_err(h, err, "find the size of", &r, cc, status, attempts);
		goto out;
	}
	lt_curl.easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (len < 0) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "cannot find the size of '%s': the server sent no Content-Length; "
			   "hint: serve checkpoints from a WebDAV server that does (nginx)", r.url);
		goto out;
	}
	*size = (uint64_t)len;
	rc = 0;
out:
	free((char *)r.url);
	return rc;
}

static int http_read(void *state, const char *rel, uint64_t off, void *buf, size_t len,
		     struct lt_err *err)
{
	struct http *h = state;
	struct download d = { .buf = buf, .len = len, .off = (size_t)off };
	struct request r = { .method = "GET", .down = &d };
	char range[80];
	CURLcode cc;
	long status;
	int attempts, rc = -1;

	if (len == 0)
		return 0;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	r.headers = lt_curl.slist_append(NULL, range);
	r.url = make_url(h, rel, "");
	if (!r.url || !r.headers) {
		oom(err, rel);
		goto out;
	}
	cc = perform_retrying(h, &r, &status, &attempts);
	if (cc != CURLE_OK || (status != 206 && status != 200)) {
		request_err(h, err, "download", &r, cc, status, attempts);
		goto out;
	}
	if (d.got != len || d.overflow) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "cannot download '%s': got %zu of the %zu bytes at offset %llu (HTTP %ld); "
			   "hint: the file is shorter than the checkpoint says: it is truncated",
			   r.url, d.got, len, (unsigned long long)off, status);
		goto out;
	}
	rc = 0;
out:
	lt_curl.slist_free_all(r.headers);
	free((char *)r.url);
	return rc;
}

static int http_remove(void *state, const char *rel, struct lt_err *err)
{
	struct http *h = state;
	struct request r = { .method = "DELETE" };
	CURLcode cc;
	long status;
	int attempts, rc = 0;

	r.headers = lt_curl.slist_append(NULL, "Depth: infinity");
	r.url = make_url(h, rel, rel[0] && rel[strlen(rel) - 1] == '/' ? "" : "/");
	if (!r.url || !r.headers) {
		rc = oom(err, rel);
		goto out;
	}
	cc = perform_retrying(h, &r, &status, &attempts);
	if (cc != CURLE_OK || ((status < 200 || status >= 300) && status != 404))
		rc = request_err(h, err, "remove", &r, cc, status, attempts);
	if (h->made_dir && !strncmp(h->made_dir, rel, strlen(rel))) {
		free(h->made_dir);
		h->made_dir = NULL;
	}
out:
	lt_curl.slist_free_all(r.headers);
	free((char *)r.url);
	return rc;
}

static int http_flush(void *state, struct lt_err *err)
{
	(void)state;
	(void)err;
	return 0;
}

static void http_close(void *state)
{
	struct http *h = state;

	if (!h)
		return;
	lt_curl.easy_cleanup(h->curl);
	lt_curl.slist_free_all(h->auth);
	free(h->made_dir);
	free(h->base);
	free(h);
}

const struct lt_ckpt_io_ops lt_ckpt_io_http = {
	.open = http_open,
	.write = http_write,
	.size = http_size,
	.read = http_read,
	.remove = http_remove,
	.flush = http_flush,
	.close = http_close,
};
