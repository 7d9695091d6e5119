/*
 * store_token.c - where a job's store token comes from (store.h).
 *
 * Every process of a job must hold the same token, and nobody else may be
 * able to compute it: what every process of a job knows alike (the job id,
 * the main address and port, the world size) is public, since squeue and
 * ps show it.  So the token comes from a secret, first found of:
 *
 *  1. LTRUN_STORE_TOKEN, given by the user, by the agent to its ranks, or
 *     by ltrun to the srun step it starts from a batch script;
 *  2. a fresh random token, when this process hands it to every other one
 *     (one node: the agent and its ranks);
 *  3. PMIx, for ranks a PMIx launcher made: PMIx rank 0 draws it and puts
 *     it, the others get it after a fence (the launcher's PMIx server
 *     serves only the job's own processes);
 *  4. the user's secret file, HMAC-SHA256(secret, the job's description):
 *     LTRUN_SECRET_FILE, else $XDG_CONFIG_HOME/ltrun/secret, else
 *     ~/.config/ltrun/secret, made on first use (mode 0600, 64 hex digits)
 *     and refused when others may read it or another user owns it.  Home
 *     directories are shared by a cluster's nodes, so every node reads the
 *     same secret.
 *
 * Without any, a job refuses to run, unless the user accepts, with
 * --insecure-store, a token derived from the job's description alone.
 */
#include "core/io.h"
#include "rdzv/store.h"
#include "core/pmix_client.h"
#include "core/contract.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PMIX_TOKEN_KEY "ltrun.store_token"

/* -------------------------------------------------------- secret file */

/* The secret file's path; *made_dirs says whether ltrun may create its
 * directories (the default path only).  Returns 0, or -1 with why and fix
 * set. */
static int secret_path(char *path, size_t len, bool *made_dirs, char *why, size_t whylen,
		       char *fix, size_t fixlen)
{
	const char *given = getenv(LT_ENV_SECRET_FILE), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	const struct passwd *pw;

	*made_dirs = !(given && *given);
	if (given && *given)
		return snprintf(path, len, "%s", given) < (int)len ? 0 : -1;
	if (xdg && *xdg == '/')
		return snprintf(path, len, "%s/ltrun/secret", xdg) < (int)len ? 0 : -1;
	if (!home || !*home) {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || !*home) {
		snprintf(why, whylen, "there is no home directory for a secret file (HOME is unset)");
		snprintf(fix, fixlen, "set HOME or %s", LT_ENV_SECRET_FILE);
		return -1;
	}
	return snprintf(path, len, "%s/.config/ltrun/secret", home) < (int)len ? 0 : -1;
}

/* Reads the secret at path.  Returns 0; 1 when the file does not exist;
 * or -1 with why and fix set. */
static int read_secret(const char *path, uint8_t secret[LT_STORE_TOKEN_BYTES], char *why,
		       size_t whylen, char *fix, size_t fixlen)
{
	char text[2 * LT_STORE_TOKEN_BYTES + 8];
	struct lt_err ignored;
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		snprintf(why, whylen, "the secret file '%s' cannot be read: %s", path, strerror(errno));
		snprintf(fix, fixlen, "make '%s' readable by you alone", path);
		return -1;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
		close(fd);
		snprintf(why, whylen, "the secret file '%s' is not a file of yours", path);
		snprintf(fix, fixlen, "remove '%s' (ltrun makes a new one)", path);
		return -1;
	}
	if (sb.st_mode & 077) {
		close(fd);
		snprintf(why, whylen, "the secret file '%s' may be read by other users (mode %03o)",
			 path, (unsigned)(sb.st_mode & 0777));
		snprintf(fix, fixlen, "chmod 600 '%s'", path);
		return -1;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n > 0 ? n : 0] = '\0';
	if (n < 0 || lt_store_token_parse(text, "secret", secret, &ignored)) {
		snprintf(why, whylen, "the secret file '%s' is not 64 hexadecimal digits", path);
		snprintf(fix, fixlen, "remove '%s' (ltrun makes a new one)", path);
		return -1;
	}
	return 0;
}

/* Creates path's directory and its parent with mode 0700 if missing. */
static void make_dirs(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (int level = 0; level < 2; level++) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return;
		*slash = '\0';
	}
	mkdir(dir, 0700); /* ~/.config */
	dir[strlen(dir)] = '/';
	mkdir(dir, 0700); /* ~/.config/ltrun */
}

/* Writes a new secret to path, atomically: a whole file under a temporary
 * name, linked to path unless another process (another node, on a shared
 * home) did so first.  Returns 0, or -1 with why and fix set. */
static int create_secret(const char *path, bool dirs, char *why, size_t whylen, char *fix,
			 size_t fixlen)
{
	char tmp[PATH_MAX], hex[LT_STORE_TOKEN_HEX + 1], nonce[LT_STORE_TOKEN_HEX];
	struct lt_err e;
	int fd, rc = 0;

	if (dirs)
		make_dirs(path);
	/* A random name: nodes sharing the home may have processes of one pid. */
	if (lt_store_token_new(hex, &e) || lt_store_token_new(nonce, &e) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp.%.16s", path, nonce) >= (int)sizeof(tmp))
		goto out_fail;
	strcat(hex, "\n");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out_fail;
	if (lt_write_all(fd, hex, strlen(hex)) || fsync(fd))
		rc = -1;
	if (close(fd) || rc || (link(tmp, path) && errno != EEXIST)) {
		int e2 = errno;
		unlink(tmp);
		errno = e2;
		goto out_fail;
	}
	unlink(tmp);
	return 0;
out_fail:
	snprintf(why, whylen, "the secret file '%s' cannot be made: %s", path, strerror(errno));
	snprintf(fix, fixlen, "make its directory writable, or set %s", LT_ENV_SECRET_FILE);
	return -1;
}

int lt_store_secret(uint8_t secret[LT_STORE_TOKEN_BYTES], char *path, size_t pathlen,
		    char *why, size_t whylen, char *fix, size_t fixlen)
{
	bool dirs;
	int rc;

	if (secret_path(path, pathlen, &dirs, why, whylen, fix, fixlen))
		return -1;
	rc = read_secret(path, secret, why, whylen, fix, fixlen);
	if (rc <= 0)
		return rc;
	if (create_secret(path, dirs, why, whylen, fix, fixlen))
		return -1;
	rc = read_secret(path, secret, why, whylen, fix, fixlen);
	if (rc > 0)
		snprintf(why, whylen, "the secret file '%s' went away as it was made", path);
	return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- PMIx */

#if LT_HAVE_PMIX
/* PMIx rank 0 draws the token and puts it; every rank fences (collecting
 * the data); the others get it from rank 0.  Returns 0; 1 when there is
 * no PMIx server (why set); or -1 with err set. */
static int token_from_pmix(uint8_t token[LT_STORE_TOKEN_BYTES], char *why, size_t whylen,
			   struct lt_err *err)
{
	const struct lt_pmix *lib = lt_pmix_client(why, whylen);
	pmix_proc_t all, root;
	pmix_value_t *got = NULL;
	pmix_info_t info;
	pmix_status_t st = PMIX_SUCCESS;

	if (!lib)
		return 1;
	all = root = lib->me;
	all.rank = PMIX_RANK_WILDCARD;
	root.rank = 0;
	if (lib->me.rank == 0) {
		if (getrandom(token, LT_STORE_TOKEN_BYTES, 0) != LT_STORE_TOKEN_BYTES)
			return lt_err_set(err, LT_EXIT_FAILURE, "cannot make a store token: getrandom: %s",
					  strerror(errno));
		st = lt_pmix_put_bytes(lib, PMIX_TOKEN_KEY, token, LT_STORE_TOKEN_BYTES);
	}
	memset(&info, 0, sizeof(info));
	snprintf(info.key, sizeof(info.key), "%s", PMIX_COLLECT_DATA);
	info.value.type = PMIX_BOOL;
	info.value.data.flag = true;
	if (st == PMIX_SUCCESS)
		st = lib->fence(&all, 1, &info, 1);
	if (st == PMIX_SUCCESS && lib->me.rank != 0) {
		st = lib->get(&root, PMIX_TOKEN_KEY, NULL, 0, &got);
		if (st == PMIX_SUCCESS && (!got || got->type != PMIX_BYTE_OBJECT ||
					   got->data.bo.size != LT_STORE_TOKEN_BYTES))
			st = PMIX_ERR_BAD_PARAM;
		if (st == PMIX_SUCCESS)
			memcpy(token, got->data.bo.bytes, LT_STORE_TOKEN_BYTES);
		if (got)
			lt_pmix_value_release(lib, got);
	}
	if (st != PMIX_SUCCESS)
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot share the store's token through PMIx (namespace '%s'): %s (status %d)",
				  lib->me.nspace, lt_pmix_status_name(lib, st), st);
	return 0;
}
#else
/* PMIx is left out of this build: 1, why saying so. */
static int token_from_pmix(uint8_t token[LT_STORE_TOKEN_BYTES], char *why, size_t whylen,
			   struct lt_err *err)
{
	(void)token;
	(void)err;
	lt_pmix_client(why, whylen);
	return 1;
}
#endif

/* ------------------------------------------------------------ the token */

static void derive(const uint8_t *secret, size_t secret_len, const char *identity,
		   uint8_t token[LT_STORE_TOKEN_BYTES])
{
	char seed[600];

	snprintf(seed, sizeof(seed), "ltrun-token:%s", identity);
	if (secret)
		lt_hmac_sha256(secret, secret_len, seed, strlen(seed), token);
	else
		lt_sha256(seed, strlen(seed), token);
}

int lt_store_job_token(const struct lt_token_job *job, uint8_t token[LT_STORE_TOKEN_BYTES],
		       struct lt_err *err)
{
	const char *given = getenv(LT_ENV_STORE_TOKEN);
	char hex[LT_STORE_TOKEN_HEX], path[PATH_MAX], why[PATH_MAX + 96], fix[PATH_MAX + 64];
	char pmix_why[256];
	uint8_t secret[LT_STORE_TOKEN_BYTES];
	int rc;

	if (given && *given)
		return lt_store_token_parse(given, LT_ENV_STORE_TOKEN, token, err);
	if (job->fresh_ok)
		return lt_store_token_new(hex, err) ||
		       lt_store_token_parse(hex, "a new token", token, err) ? -1 : 0;
	if (job->pmix && (rc = token_from_pmix(token, pmix_why, sizeof(pmix_why), err)) <= 0)
		return rc;
	if (!lt_store_secret(secret, path, sizeof(path), why, sizeof(why), fix, sizeof(fix))) {
		derive(secret, sizeof(secret), job->identity, token);
		return 0;
	}
	if (job->insecure) {
		if (job->warn)
			lt_warn("--insecure-store: %s, so the store's token is derived from the job's description: any user who can see the job can compute it, join the store and stop the job",
				why);
		derive(NULL, 0, job->identity, token);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_FAILURE,
			  "no secret to protect the store with: LTRUN_STORE_TOKEN is unset, no PMIx launcher made this process, and %s; fix one: export LTRUN_STORE_TOKEN (64 hex digits) to every node, run under srun --mpi=pmix or mpirun, or %s (--insecure-store runs with a token anyone who sees the job can compute; see SECURITY in ltrun(1))",
			  why, fix);
}
