/*
 * test_curl_lib.c - libcurl loaded with dlopen (core/curl_lib.h): the
 * real library opens with every function; a missing library and one
 * without libcurl's functions are refused with the package to install;
 * lt_curl_load works once and stays loaded.  And ltrun itself is no
 * longer linked against libcurl (its start-up cost: curl_lib.h).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/curl_lib.h"

Test(curl_lib, the_real_library_opens_with_every_function)
{
	struct lt_curl_lib lib;
	struct lt_err err = { 0 };
	CURL *h;

	cr_assert_eq(lt_curl_open(&lib, "libcurl.so.4", &err), 0, "%s", err.msg);
	cr_expect(lib.easy_setopt && lib.easy_perform && lib.easy_getinfo && lib.easy_reset &&
		  lib.slist_append && lib.slist_free_all);
	h = lib.easy_init();
	cr_assert_not_null(h);
	cr_expect_eq(lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
	cr_expect_str_not_empty(lib.easy_strerror(CURLE_COULDNT_CONNECT));
	lib.easy_cleanup(h);
}

Test(curl_lib, a_missing_library_is_refused_with_the_package)
{
	struct lt_curl_lib lib;
	struct lt_err err = { 0 };

	cr_assert_neq(lt_curl_open(&lib, "libltrun-no-such-curl.so.9", &err), 0);
	cr_expect(strstr(err.msg, "libltrun-no-such-curl.so.9") &&
		  strstr(err.msg, "apt-get install libcurl4"), "%s", err.msg);
	cr_expect_null(lib.handle);
}

Test(curl_lib, a_library_without_curl_is_refused)
{
	struct lt_curl_lib lib;
	struct lt_err err = { 0 };

	cr_assert_neq(lt_curl_open(&lib, "libm.so.6", &err), 0);
	cr_expect(strstr(err.msg, "'libm.so.6' has no curl_easy_init"), "%s", err.msg);
}

Test(curl_lib, load_once_for_the_process)
{
	struct lt_err err = { 0 };

	cr_assert_eq(lt_curl_load("this test", &err), 0, "%s", err.msg);
	cr_assert_eq(lt_curl_load("this test", &err), 0, "%s", err.msg);
	cr_expect_not_null(lt_curl.easy_init);
}

Test(curl_lib, ltrun_is_not_linked_against_libcurl)
{
	char cmd[600], line[256], bin[512];
	const char *build = getenv("LTRUN_BUILD");
	FILE *p;
	int curl = 0, libc = 0;

	snprintf(bin, sizeof(bin), "%s/ltrun", build && *build ? build : "build/check");
	if (access(bin, X_OK))
		cr_skip_test("%s is not built (this build made the tests only)", bin);
	snprintf(cmd, sizeof(cmd), "ldd '%s' 2>&1", bin);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		curl |= strstr(line, "libcurl") != NULL;
		libc |= strstr(line, "libc.so") != NULL;
	}
	pclose(p);
	cr_assert(libc, "ldd %s did not list its libraries", bin);
	cr_expect_not(curl, "ltrun links libcurl: it should load it only when a run uses it");
}
