/*
 * rdzv_pmix.c - the `pmix` rendezvous: the PMIx server of the launcher
 * that created the ranks (mpirun, srun --mpi=pmix).  No port of ours: a
 * barrier is PMIx_Fence over the job's namespace, a value is PMIx_Put +
 * PMIx_Commit, read by the others with PMIx_Get (the server fetches it
 * from the publisher's node).  Keys are "ltrun.r<restart count>.<name>".
 */
#include "core/clock.h"
#include "rdzv/rdzv.h"
#include "core/contract.h"
#include "core/pmix_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void timeout_info(const struct lt_rdzv *rz, pmix_info_t *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->key, sizeof(info->key), "%s", PMIX_TIMEOUT);
	info->value.type = PMIX_INT;
	info->value.data.integer = rz->timeout_ms / 1000 > 0 ? rz->timeout_ms / 1000 : 1;
}

static void scoped(const struct lt_rdzv *rz, const char *name, char *key, size_t len)
{
	snprintf(key, len, "ltrun.r%d.%s", rz->info->restart_count, name);
}

static int pmix_rz_open(struct lt_rdzv *rz, const struct lt_rank_info *info,
			const char *who, struct lt_err *err)
{
	char why[256];
	const struct lt_pmix *lib;

	(void)who;
	if (!info->adopted)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "the pmix rendezvous needs ranks that a PMIx launcher created (mpirun, srun --mpi=pmix): use --rdzv tcp");
	lib = lt_pmix_client(why, sizeof(why));
	if (!lib)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "the pmix rendezvous needs the launcher's PMIx server, but %s: use --rdzv tcp",
				  why);
	rz->state = (void *)lib;
	return 0;
}

static int pmix_rz_barrier(struct lt_rdzv *rz, const char *name, struct lt_err *err)
{
	const struct lt_pmix *lib = rz->state;
	pmix_proc_t all = lib->me;
	pmix_info_t info;
	pmix_status_t st;

	all.rank = PMIX_RANK_WILDCARD;
	timeout_info(rz, &info);
	st = lib->fence(&all, 1, &info, 1);
	if (st == PMIX_ERR_TIMEOUT)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: timed out after %d s at %s (a PMIx fence of namespace '%s'): another rank did not arrive",
				  rz->who, info.value.data.integer, name, lib->me.nspace);
	if (st != PMIX_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: PMIx_Fence at %s failed: %s (status %d)",
				  rz->who, name, lt_pmix_status_name(lib, st), st);
	return 0;
}

static int pmix_rz_put(struct lt_rdzv *rz, const char *name, const void *value, size_t len,
		       struct lt_err *err)
{
	const struct lt_pmix *lib = rz->state;
	char key[PMIX_MAX_KEYLEN + 1];
	pmix_status_t st;

	scoped(rz, name, key, sizeof(key));
	st = lt_pmix_put_bytes(lib, key, value, len);
	if (st != PMIX_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: PMIx_Put of '%s' failed: %s (status %d)",
				  rz->who, key, lt_pmix_status_name(lib, st), st);
	return 0;
}

/* PMIx_Get, retried while the key is not there yet: once a peer has
 * committed anything, PMIx answers NOT-FOUND at once for a key it has not
 * put yet instead of waiting (Open MPI 4.1, PMIx 4.2), and rdzv.h's get
 * waits.  Polls with a backoff from 1 ms to 50 ms up to rz->timeout_ms. */
static pmix_status_t get_waiting(const struct lt_rdzv *rz, const struct lt_pmix *lib,
				 const pmix_proc_t *peer, const char *key, pmix_info_t *info,
				 pmix_value_t **v)
{
	double t0 = lt_now_ms();
	useconds_t pause = 1000;
	pmix_status_t st;

	while ((st = lib->get(peer, key, info, 1, v)) == PMIX_ERR_NOT_FOUND) {
		if (lt_now_ms() - t0 > rz->timeout_ms)
			return PMIX_ERR_TIMEOUT;
		usleep(pause);
		if (pause < 50000)
			pause *= 2;
	}
	return st;
}

static int pmix_rz_get(struct lt_rdzv *rz, const char *name, int from, void **value,
		       size_t *len, struct lt_err *err)
{
	const struct lt_pmix *lib = rz->state;
	char key[PMIX_MAX_KEYLEN + 1];
	pmix_proc_t peer = lib->me;
	pmix_value_t *v = NULL;
	pmix_info_t info;
	pmix_status_t st;
	char *copy;

	scoped(rz, name, key, sizeof(key));
	peer.rank = (pmix_rank_t)from;
	timeout_info(rz, &info);
	st = get_waiting(rz, lib, &peer, key, &info, &v);
	if (st == PMIX_ERR_TIMEOUT)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "%s: timed out after %d s waiting for key '%s' from rank %d (PMIx namespace '%s')",
				  rz->who, info.value.data.integer, name, from, lib->me.nspace);
	if (st != PMIX_SUCCESS || !v || v->type != PMIX_BYTE_OBJECT) {
		if (v)
			lt_pmix_value_release(lib, v);
		return lt_err_set(err, LT_EXIT_FAILURE, "%s: PMIx_Get of '%s' from rank %d failed: %s (status %d)",
				  rz->who, key, from, lt_pmix_status_name(lib, st), st);
	}
	copy = malloc(v->data.bo.size + 1);
	if (!copy) {
		lt_pmix_value_release(lib, v);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	memcpy(copy, v->data.bo.bytes, v->data.bo.size);
	copy[v->data.bo.size] = '\0';
	*len = v->data.bo.size;
	*value = copy;
	lt_pmix_value_release(lib, v);
	return 0;
}

static int pmix_rz_close(struct lt_rdzv *rz, struct lt_err *err)
{
	(void)err;
	rz->state = NULL; /* the client stays up until exit (pmix_client.c) */
	return 0;
}

const struct lt_rdzv_ops lt_rdzv_pmix = {
	.store = false,
	.open = pmix_rz_open,
	.barrier = pmix_rz_barrier,
	.put = pmix_rz_put,
	.get = pmix_rz_get,
	.close = pmix_rz_close,
};
