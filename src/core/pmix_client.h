/*
 * pmix_client.h - this process's PMIx client, for the `mpi` cluster
 * environment and the `pmix` rendezvous.  libpmix is loaded with dlopen()
 * on first use, never linked (linking it costs every ltrun start about
 * 6 ms), and the client, once up, stays up until exit.  In a build that
 * left PMIx out (./configure --without-pmix: no pmix.h either) only
 * lt_pmix_client() is declared, and it always says why there is none.
 */
#ifndef LT_CORE_PMIX_CLIENT_H
#define LT_CORE_PMIX_CLIENT_H

#include <stddef.h>

#include "core/built.h"

#if LT_HAVE_PMIX
#include <pmix.h> /* types and constants only */

#ifndef LT_PMIX_SONAME /* -D by the Makefile, from configure */
#define LT_PMIX_SONAME "libpmix.so.2"
#endif

struct lt_pmix {
	__typeof__(PMIx_Init) *init;
	__typeof__(PMIx_Get) *get;
	__typeof__(PMIx_Finalize) *finalize;
	/* PMIx_Value_free is absent from PMIx 4 and frees the struct itself
	 * only in some later releases; destruct + free() is right in all. */
	__typeof__(PMIx_Value_destruct) *value_destruct;
	__typeof__(PMIx_Put) *put;
	__typeof__(PMIx_Commit) *commit;
	__typeof__(PMIx_Fence) *fence;
	__typeof__(PMIx_Error_string) *error_string; /* optional */
	pmix_proc_t me;                                /* from PMIx_Init */
};

#else
struct lt_pmix; /* never made: PMIx is left out of this build */
#endif

/* The client, started on the first call.  Returns NULL with why set when
 * libpmix cannot be loaded or PMIx_Init fails (then and ever after), or
 * when PMIx is left out of this build. */
const struct lt_pmix *lt_pmix_client(char *why, size_t whylen);

#if LT_HAVE_PMIX

/* PMIx's name for a status, or "an error". */
const char *lt_pmix_status_name(const struct lt_pmix *lib, pmix_status_t st);

/* Publishes len bytes under key to the job (PMIx_Put, PMIX_GLOBAL), then
 * PMIx_Commit.  Returns PMIX_SUCCESS, or the status of the call that
 * failed. */
pmix_status_t lt_pmix_put_bytes(const struct lt_pmix *lib, const char *key, const void *bytes,
				size_t len);

/* Frees a value PMIx_Get returned. */
void lt_pmix_value_release(const struct lt_pmix *lib, pmix_value_t *v);
#endif

#endif
