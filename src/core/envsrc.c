/*
 * envsrc.c - reading an environment: the process's own or a given list of
 * "NAME=value" strings.  Cluster environments read only through here, so
 * tests can feed them exactly what srun, mpirun or torchrun would set.
 */
#include "core/error.h"
#include "core/parse.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

const char *lt_env_get(const struct lt_envsrc *src, const char *name)
{
	const char *const *v = (src && src->vars) ? src->vars
						  : (const char *const *)environ;
	size_t n = strlen(name);

	for (; v && *v; v++)
		if (!strncmp(*v, name, n) && (*v)[n] == '=')
			return *v + n + 1;
	return NULL;
}

int lt_env_int(const struct lt_envsrc *src, const char *name, long min,
	       long max, long *out, struct lt_err *err)
{
	const char *text = lt_env_get(src, name);
	char q[LT_QUOTE_MAX];

	if (!text)
		return 0;
	if (lt_parse_long(text, min, max, out))
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "invalid %s='%s': expected an integer from %ld to %ld",
				  name, lt_quote(q, sizeof(q), text), min, max);
	return 1;
}

int lt_env_hostname_full(const struct lt_envsrc *src, char *buf, size_t len,
			 struct lt_err *err)
{
	if (src && src->hostname) {
		snprintf(buf, len, "%s", src->hostname);
	} else if (gethostname(buf, len) != 0) {
		return lt_err_set(err, LT_EXIT_FAILURE,
				  "cannot read this host's name: gethostname failed");
	}
	buf[len - 1] = '\0';
	return 0;
}

int lt_env_hostname(const struct lt_envsrc *src, char *buf, size_t len,
		    struct lt_err *err)
{
	if (lt_env_hostname_full(src, buf, len, err))
		return -1;
	buf[lt_short_host_len(buf)] = '\0';
	return 0;
}
