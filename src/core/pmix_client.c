/*
 * pmix_client.c - this process's PMIx client, loaded on first use.
 *
 * Started once and finalized at exit, never before: with Open MPI 4.1 and
 * PMIx 4.2, a PMIx_Init/PMIx_Finalize pair before MPI_Init makes MPI_Init
 * fail ("getting local rank failed"), while a client left up is shared
 * with MPI (PMIx counts its inits).  The library is never unloaded: what
 * PMIx leaves at exit then stays attributable to it (a leak checker's
 * suppression "leak:libpmix.so" matches it).  Without PMIx in the build
 * (./configure --without-pmix), lt_pmix_client() only says so.
 */
#include "core/pmix_client.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !LT_HAVE_PMIX
const struct lt_pmix *lt_pmix_client(char *why, size_t whylen)
{
	snprintf(why, whylen, "%s", LT_IS_LEFT_OUT(LT_DEP_PMIX));
	return NULL;
}
#else

static struct lt_pmix pmix;
static int state;       /* 0: not tried, 1: up, -1: failed */
static char failure[256];

static void finalize_at_exit(void)
{
	pmix.finalize(NULL, 0);
}

/* Loads libpmix and its symbols.  Returns 0, or -1 with why set. */
static int load(char *why, size_t whylen)
{
	void *dl = dlopen(LT_PMIX_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!dl) {
		snprintf(why, whylen, "cannot load %s: %s", LT_PMIX_SONAME, dlerror());
		return -1;
	}
	*(void **)&pmix.init = dlsym(dl, "PMIx_Init");
	*(void **)&pmix.get = dlsym(dl, "PMIx_Get");
	*(void **)&pmix.finalize = dlsym(dl, "PMIx_Finalize");
	*(void **)&pmix.value_destruct = dlsym(dl, "PMIx_Value_destruct");
	*(void **)&pmix.put = dlsym(dl, "PMIx_Put");
	*(void **)&pmix.commit = dlsym(dl, "PMIx_Commit");
	*(void **)&pmix.fence = dlsym(dl, "PMIx_Fence");
	*(void **)&pmix.error_string = dlsym(dl, "PMIx_Error_string");
	if (!pmix.init || !pmix.get || !pmix.finalize || !pmix.value_destruct || !pmix.put ||
	    !pmix.commit || !pmix.fence) {
		snprintf(why, whylen,
			 "%s lacks one of PMIx_Init, PMIx_Get, PMIx_Finalize, PMIx_Value_destruct, PMIx_Put, PMIx_Commit, PMIx_Fence",
			 LT_PMIX_SONAME);
		dlclose(dl);
		return -1;
	}
	return 0;
}

static int start(char *why, size_t whylen)
{
	pmix_status_t st;

	if (load(why, whylen))
		return -1;
	st = pmix.init(&pmix.me, NULL, 0);
	if (st != PMIX_SUCCESS) {
		snprintf(why, whylen, "PMIx_Init failed: %s (status %d)",
			 lt_pmix_status_name(&pmix, st), st);
		return -1;
	}
	if (atexit(finalize_at_exit)) {
		snprintf(why, whylen, "cannot arrange PMIx_Finalize at exit");
		pmix.finalize(NULL, 0);
		return -1;
	}
	return 0;
}

const struct lt_pmix *lt_pmix_client(char *why, size_t whylen)
{
	if (state == 0)
		state = start(failure, sizeof(failure)) ? -1 : 1;
	if (state < 0) {
		snprintf(why, whylen, "%s", failure);
		return NULL;
	}
	return &pmix;
}

const char *lt_pmix_status_name(const struct lt_pmix *lib, pmix_status_t st)
{
	return lib->error_string ? lib->error_string(st) : "an error";
}

pmix_status_t lt_pmix_put_bytes(const struct lt_pmix *lib, const char *key, const void *bytes,
				size_t len)
{
	pmix_value_t v;
	pmix_status_t st;

	memset(&v, 0, sizeof(v));
	v.type = PMIX_BYTE_OBJECT;
	v.data.bo.bytes = (char *)bytes;
	v.data.bo.size = len;
	st = lib->put(PMIX_GLOBAL, key, &v);
	return st == PMIX_SUCCESS ? lib->commit() : st;
}

void lt_pmix_value_release(const struct lt_pmix *lib, pmix_value_t *v)
{
	lib->value_destruct(v);
	free(v);
}
#endif
