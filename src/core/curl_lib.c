/*
 * curl_lib.c - libcurl.so.4 through dlopen (curl_lib.h).
 */
#include "core/curl_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define LT_CURL_SONAME "libcurl.so.4"

struct lt_curl_lib lt_curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_why[sizeof(((struct lt_err *)0)->msg)];

/* dlsym into a function pointer (POSIX allows the conversion). */
#define RESOLVE(lib, field, name)                                                  \
	do {                                                                       \
		*(void **)(&(lib)->field) = dlsym((lib)->handle, name);            \
		if (!(lib)->field) {                                               \
			missing = name;                                            \
			goto fail;                                                 \
		}                                                                  \
	} while (0)

int lt_curl_open(struct lt_curl_lib *lib, const char *soname, struct lt_err *err)
{
	const char *missing = NULL;

	memset(lib, 0, sizeof(*lib));
	lib->handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot load it (%s); install it (Debian: apt-get install libcurl4)",
				  dlerror());
	RESOLVE(lib, easy_init, "curl_easy_init");
	RESOLVE(lib, easy_setopt, "curl_easy_setopt");
	RESOLVE(lib, easy_perform, "curl_easy_perform");
	RESOLVE(lib, easy_getinfo, "curl_easy_getinfo");
	RESOLVE(lib, easy_reset, "curl_easy_reset");
	RESOLVE(lib, easy_cleanup, "curl_easy_cleanup");
	RESOLVE(lib, easy_strerror, "curl_easy_strerror");
	RESOLVE(lib, slist_append, "curl_slist_append");
	RESOLVE(lib, slist_free_all, "curl_slist_free_all");
	return 0;
fail:
	dlclose(lib->handle);
	memset(lib, 0, sizeof(*lib));
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "'%s' has no %s; install libcurl4 7.85 or later", soname, missing);
}

static void load(void)
{
	struct lt_err err = { 0 };
	CURLcode (*global_init)(long flags);

	load_rc = lt_curl_open(&lt_curl, LT_CURL_SONAME, &err);
	if (load_rc) {
		snprintf(load_why, sizeof(load_why), "%s", err.msg);
		return;
	}
	/* before any thread uses it: libcurl's global set-up is not
	 * thread-safe */
	*(void **)(&global_init) = dlsym(lt_curl.handle, "curl_global_init");
	if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_why, sizeof(load_why), "its global set-up (curl_global_init) failed");
		load_rc = -1;
	}
}

int lt_curl_load(const char *what, struct lt_err *err)
{
	pthread_once(&load_once, load);
	return load_rc ? lt_err_set(err, LT_EXIT_FAILURE, "%s needs libcurl: %s", what, load_why)
		       : 0;
}
