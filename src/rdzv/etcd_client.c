/*
 * etcd_client.c - etcd v3 through its JSON gateway, with libcurl and
 * cJSON (etcd_client.h).
 */
#include "rdzv/etcd_client.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/curl_lib.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request's whole time: etcd answers these in milliseconds. */
#define REQUEST_S 10

struct lt_etcd {
	CURL *curl;
	char endpoint[256];
	char curl_msg[CURL_ERROR_SIZE];
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	return lt_buf_append(arg, p, size * n) ? 0 : size * n;
}

/* POSTs body to /v3/<path>; *reply gets the parsed answer. */
static int call(struct lt_etcd *e, const char *path, cJSON *body, cJSON **reply,
		struct lt_err *err)
{
	char url[320], *text = cJSON_PrintUnformatted(body);
	struct lt_buf got = LT_BUF_INIT;
	long status = 0;
	CURLcode rc;

	cJSON_Delete(body);
	if (!text)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	snprintf(url, sizeof(url), "http://%s/v3/%s", e->endpoint, path);
	lt_curl.easy_setopt(e->curl, CURLOPT_URL, url);
	lt_curl.easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
	lt_curl.easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, collect);
	lt_curl.easy_setopt(e->curl, CURLOPT_WRITEDATA, &got);
	e->curl_msg[0] = '\0';
	rc = lt_curl.easy_perform(e->curl);
	free(text);
	lt_curl.easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		lt_buf_free(&got);
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot reach etcd at %s: %s: start etcd there or fix --rdzv-endpoint",
				  e->endpoint, e->curl_msg[0] ? e->curl_msg : lt_curl.easy_strerror(rc));
	}
	*reply = got.data ? cJSON_Parse(got.data) : NULL;
	if (status != 200 || !*reply) {
		lt_err_set(err, LT_EXIT_FAILURE,
			   "etcd at %s answered HTTP %ld to /v3/%s: %.200s: is it etcd 3.4 or later?",
			   e->endpoint, status, path, got.data ? got.data : "(nothing)");
		cJSON_Delete(*reply);
		lt_buf_free(&got);
		return -1;
	}
	lt_buf_free(&got);
	return 0;
}

int lt_etcd_open(const char *endpoint, struct lt_etcd **out, struct lt_err *err)
{
	struct lt_etcd *e = calloc(1, sizeof(*e));
	char *v = NULL;
	bool found;

	if (lt_curl_load("the etcd rendezvous", err)) {
		free(e);
		return -1;
	}
	if (!e || !(e->curl = lt_curl.easy_init())) {
		free(e);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	snprintf(e->endpoint, sizeof(e->endpoint), "%s", endpoint);
	lt_curl.easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curl_msg);
	lt_curl.easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	lt_curl.easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT, (long)LT_ETCD_CONNECT_S);
	lt_curl.easy_setopt(e->curl, CURLOPT_TIMEOUT, (long)REQUEST_S);
	lt_curl.easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http");
	/* One read proves that etcd's gateway answers there. */
	if (lt_etcd_get(e, "/ltrun/ping", &v, &found, err)) {
		lt_etcd_close(e);
		return -1;
	}
	free(v);
	*out = e;
	return 0;
}

void lt_etcd_close(struct lt_etcd *e)
{
	if (!e)
		return;
	lt_curl.easy_cleanup(e->curl);
	free(e);
}

/* Adds name: base64(text) to o; false when out of memory. */
static bool add_b64(cJSON *o, const char *name, const char *text)
{
	char *b = lt_base64_encode(text, strlen(text));
	bool ok = b && cJSON_AddStringToObject(o, name, b);

	free(b);
	return ok;
}

/* The value of the first of kvs (a range's answer), "" when none. */
static int first_value(const struct lt_etcd *e, const cJSON *kvs, char **value, bool *found,
		       struct lt_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(kvs, 0), "value");
	size_t len;

	*found = v != NULL;
	if (!v) /* absent key, or an empty value (left out) */
		*found = cJSON_GetArrayItem(kvs, 0) != NULL;
	*value = cJSON_IsString(v) ? lt_base64_decode(v->valuestring, &len) : strdup("");
	if (!*value)
		return lt_err_set(err, LT_EXIT_FAILURE, "etcd at %s: a value that is not base64",
				  e->endpoint);
	return 0;
}

int lt_etcd_get(struct lt_etcd *e, const char *key, char **value, bool *found,
		struct lt_err *err)
{
	cJSON *body = cJSON_CreateObject(), *reply;
	int rc;

	if (!body || !add_b64(body, "key", key)) {
		cJSON_Delete(body);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	if (call(e, "kv/range", body, &reply, err))
		return -1;
	rc = first_value(e, cJSON_GetObjectItemCaseSensitive(reply, "kvs"), value, found, err);
	cJSON_Delete(reply);
	return rc;
}

int lt_etcd_put(struct lt_etcd *e, const char *key, const char *value, int64_t lease,
		struct lt_err *err)
{
	cJSON *body = cJSON_CreateObject(), *reply;
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, lease);
	if (!body || !add_b64(body, "key", key) || !add_b64(body, "value", value) ||
	    (lease && !cJSON_AddStringToObject(body, "lease", id))) {
		cJSON_Delete(body);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	if (call(e, "kv/put", body, &reply, err))
		return -1;
	cJSON_Delete(reply);
	return 0;
}

/* The transaction of lt_etcd_cas: compare, put on success, range on
 * failure. */
static cJSON *cas_body(const char *key, const char *expected, const char *desired)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *cmp = cJSON_AddArrayToObject(body, "compare");
	cJSON *ok = cJSON_AddArrayToObject(body, "success");
	cJSON *no = cJSON_AddArrayToObject(body, "failure");
	cJSON *c = cJSON_CreateObject(), *put = cJSON_CreateObject(), *range = cJSON_CreateObject();
	cJSON *op_put = cJSON_CreateObject(), *op_range = cJSON_CreateObject();
	bool good = cmp && ok && no && c && put && range && op_put && op_range;

	good = good && add_b64(c, "key", key) && cJSON_AddStringToObject(c, "result", "EQUAL") &&
	       (expected[0] ? cJSON_AddStringToObject(c, "target", "VALUE") && add_b64(c, "value", expected)
			    : cJSON_AddStringToObject(c, "target", "CREATE") &&
				      cJSON_AddStringToObject(c, "create_revision", "0")) &&
	       add_b64(put, "key", key) && add_b64(put, "value", desired) && add_b64(range, "key", key);
	if (good) {
		cJSON_AddItemToArray(cmp, c);
		cJSON_AddItemToObject(op_put, "requestPut", put);
		cJSON_AddItemToArray(ok, op_put);
		cJSON_AddItemToObject(op_range, "requestRange", range);
		cJSON_AddItemToArray(no, op_range);
		return body;
	}
	cJSON_Delete(c);
	cJSON_Delete(put);
	cJSON_Delete(range);
	cJSON_Delete(op_put);
	cJSON_Delete(op_range);
	cJSON_Delete(body);
	return NULL;
}

int lt_etcd_cas(struct lt_etcd *e, const char *key, const char *expected, const char *desired,
		bool *swapped, char **actual, struct lt_err *err)
{
	cJSON *body = cas_body(key, expected, desired), *reply, *resp, *range;
	bool found;
	int rc;

	if (!body)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	if (call(e, "kv/txn", body, &reply, err))
		return -1;
	/* A failed transaction has no "succeeded" key. */
	*swapped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "succeeded"));
	if (*swapped) {
		cJSON_Delete(reply);
		*actual = strdup(desired);
		return *actual ? 0 : lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	resp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(reply, "responses"), 0);
	range = cJSON_GetObjectItemCaseSensitive(resp, "response_range");
	rc = first_value(e, cJSON_GetObjectItemCaseSensitive(range, "kvs"), actual, &found, err);
	cJSON_Delete(reply);
	return rc;
}

/* An int64 field of a reply, which etcd writes as a string. */
static int64_t int_field(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

int lt_etcd_lease_grant(struct lt_etcd *e, int ttl_s, int64_t *id, struct lt_err *err)
{
	cJSON *body = cJSON_CreateObject(), *reply;

	if (!body || !cJSON_AddNumberToObject(body, "TTL", ttl_s)) {
		cJSON_Delete(body);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	if (call(e, "lease/grant", body, &reply, err))
		return -1;
	*id = int_field(reply, "ID");
	cJSON_Delete(reply);
	if (!*id)
		return lt_err_set(err, LT_EXIT_FAILURE, "etcd at %s granted no lease", e->endpoint);
	return 0;
}

/* lease/keepalive or lease/revoke of id. */
static int lease_call(struct lt_etcd *e, const char *path, int64_t id, cJSON **reply,
		      struct lt_err *err)
{
	cJSON *body = cJSON_CreateObject();
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, id);
	if (!body || !cJSON_AddStringToObject(body, "ID", text)) {
		cJSON_Delete(body);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	return call(e, path, body, reply, err);
}

int lt_etcd_lease_keepalive(struct lt_etcd *e, int64_t id, struct lt_err *err)
{
	cJSON *reply;
	int64_t ttl;

	if (lease_call(e, "lease/keepalive", id, &reply, err))
		return -1;
	/* {"result":{"ID":..,"TTL":..}}; a lease that expired has no TTL */
	ttl = int_field(cJSON_GetObjectItemCaseSensitive(reply, "result"), "TTL");
	cJSON_Delete(reply);
	if (ttl <= 0)
		return lt_err_set(err, LT_EXIT_FAILURE, "etcd at %s: lease %" PRId64 " expired",
				  e->endpoint, id);
	return 0;
}

int lt_etcd_lease_revoke(struct lt_etcd *e, int64_t id, struct lt_err *err)
{
	cJSON *reply;

	if (lease_call(e, "lease/revoke", id, &reply, err))
		return -1;
	cJSON_Delete(reply);
	return 0;
}
