/*
 * nginx.h - a real WebDAV server for the checkpoint tests: nginx (Debian's
 * nginx-extras) in the foreground on 127.0.0.1 at a free port, everything
 * it writes under a temporary prefix directory, serving:
 *
 *   /          WebDAV (PUT DELETE MKCOL COPY MOVE, create_full_put_path)
 *   /refuse/   the same, but every PUT gets 500
 *   /auth/     the same, for "Authorization: Bearer s3cret" only (else 401)
 *
 * from <dir>/www.  It dies with the test process (PR_SET_PDEATHSIG).  In a
 * build without libcurl (./configure --without-curl: no http checkpoint
 * IO to serve) nginx_start() refuses, saying so, and its tests skip.
 */
#ifndef LT_TEST_NGINX_H
#define LT_TEST_NGINX_H

#include <stddef.h>
#include <sys/types.h>

#define NGINX_TOKEN "s3cret"

struct nginx {
	char dir[64];  /* the prefix: www/ (the files served), access.log, error.log */
	int port;
	pid_t pid;
	char url[64];  /* "http://127.0.0.1:PORT" */
};

/* Starts nginx and waits until it answers.  Returns 0, or -1 with why
 * (nginx not installed, or why it did not start; nothing left behind). */
int nginx_start(struct nginx *n, char *why, size_t len);
/* Stops it and removes its directory; safe to call twice. */
void nginx_stop(struct nginx *n);
/* The number of requests "METHOD <path prefix>..." in its access log. */
int nginx_count(const struct nginx *n, const char *method, const char *path);
/* A loopback port nothing listens on (for a stopped server). */
int nginx_free_port(void);

#endif
