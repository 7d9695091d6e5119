/*
 * curl_lib.h - libcurl, loaded with dlopen on first use.  Every process
 * of a job (the launcher, each agent, each rank) is this one binary, and
 * linking libcurl cost each of them 3 ms of start-up (the dynamic linker
 * resolving the 25 libraries it pulls in: TLS, Kerberos, LDAP, SSH...), a
 * half of ltrun's whole start, for the two parts that use it: the http
 * checkpoint IO and the etcd rendezvous.  They call libcurl through
 * lt_curl, after lt_curl_load().
 */
#ifndef LT_CORE_CURL_LIB_H
#define LT_CORE_CURL_LIB_H

#include <curl/curl.h>

#include "core/error.h"

/* The libcurl functions ltrun calls. */
struct lt_curl_lib {
	void *handle; /* dlopen's */
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_reset)(CURL *curl);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
};

/* The process's libcurl, once lt_curl_load() succeeded. */
extern struct lt_curl_lib lt_curl;

/* Loads libcurl.so.4 and runs curl_global_init, once per process (thread
 * safe).  Returns 0, or -1 with err: "<what> needs libcurl: <why and the
 * package to install>" (what: the part of ltrun that asks). */
int lt_curl_load(const char *what, struct lt_err *err);

/* Opens the library soname into *lib (every function resolved).  Returns
 * 0, or -1 with err saying why and what to install.  For lt_curl_load
 * and the tests. */
int lt_curl_open(struct lt_curl_lib *lib, const char *soname, struct lt_err *err);

#endif
