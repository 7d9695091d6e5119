/*
 * nginx.c - starts and stops the WebDAV server of the checkpoint tests:
 * see nginx.h.  The configuration follows shared notes on nginx-extras:
 * client_max_body_size 0 (else a PUT over 1 MB gets 413), `user root` when
 * root (else the workers cannot create directories under a root-owned temp
 * dir and PUT fails with 500), every temp path under the prefix.
 */
#include "nginx.h"
#include "core/built.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm_job.h"

static const char *const nginx_bins[] = { "/usr/sbin/nginx", "/usr/local/sbin/nginx", NULL };

int nginx_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int answers(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int write_conf(const struct nginx *n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nginx.conf", n->dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f,
		"daemon off;\n"
		"master_process off;\n"
		"%1$s"
		"pid %2$s/nginx.pid;\n"
		"error_log %2$s/error.log;\n"
		"events { worker_connections 64; }\n"
		"http {\n"
		"  access_log %2$s/access.log;\n"
		"  client_body_temp_path %2$s/body;\n"
		"  proxy_temp_path %2$s/proxy;\n"
		"  fastcgi_temp_path %2$s/fastcgi;\n"
		"  uwsgi_temp_path %2$s/uwsgi;\n"
		"  scgi_temp_path %2$s/scgi;\n"
		"  server {\n"
		"    listen 127.0.0.1:%3$d;\n"
		"    root %2$s/www;\n"
		"    client_max_body_size 0;\n"
		"    location / {\n"
		"      dav_methods PUT DELETE MKCOL COPY MOVE;\n"
		"      create_full_put_path on;\n"
		"    }\n"
		"    location /refuse/ {\n"
		"      if ($request_method = PUT) { return 500; }\n"
		"      dav_methods PUT DELETE MKCOL COPY MOVE;\n"
		"      create_full_put_path on;\n"
		"    }\n"
		"    location /auth/ {\n"
		"      if ($http_authorization != \"Bearer " NGINX_TOKEN "\") { return 401; }\n"
		"      dav_methods PUT DELETE MKCOL COPY MOVE;\n"
		"      create_full_put_path on;\n"
		"    }\n"
		"  }\n"
		"}\n",
		geteuid() == 0 ? "user root;\n" : "", n->dir, n->port);
	return fclose(f);
}

/* Appends the last lines of error.log to why. */
static void tell_error_log(const struct nginx *n, char *why, size_t len)
{
	char path[128], buf[400];
	size_t got = 0, at = strlen(why);
	FILE *f;

	snprintf(path, sizeof(path), "%s/error.log", n->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
	got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	snprintf(why + at, len - at, ": %s", buf);
}

static int start_once(struct nginx *n, const char *bin, char *why, size_t len)
{
	char conf[128], errlog[128];
	int status;

	n->port = nginx_free_port();
	snprintf(n->url, sizeof(n->url), "http://127.0.0.1:%d", n->port);
	if (n->port < 0 || write_conf(n)) {
		snprintf(why, len, "cannot configure nginx in %s: %s", n->dir, strerror(errno));
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
	snprintf(errlog, sizeof(errlog), "%s/error.log", n->dir);
	n->pid = fork();
	if (n->pid < 0) {
		snprintf(why, len, "cannot fork: %s", strerror(errno));
		return -1;
	}
	if (n->pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 0);
		dup2(fd, 1);
		execl(bin, "nginx", "-p", n->dir, "-c", conf, "-e", errlog, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (answers(n->port))
			return 0;
		if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			n->pid = 0;
			snprintf(why, len, "nginx exited (status %d) on port %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				 n->port);
			tell_error_log(n, why, len);
			return -1;
		}
		usleep(10000);
	}
	snprintf(why, len, "nginx did not answer on port %d within 5 s", n->port);
	tell_error_log(n, why, len);
	kill(n->pid, SIGKILL);
	waitpid(n->pid, &status, 0);
	n->pid = 0;
	return -1;
}

int nginx_start(struct nginx *n, char *why, size_t len)
{
	const char *bin = NULL;
	char www[96];

	memset(n, 0, sizeof(*n));
	if (!LT_HAVE_CURL) {
		/* what the server is for: the http checkpoint IO */
		snprintf(why, len, "ckpt-io 'http' needs %s", LT_LEFT_OUT(LT_DEP_CURL));
		return -1;
	}
	for (const char *const *b = nginx_bins; *b && !bin; b++)
		if (!access(*b, X_OK))
			bin = *b;
	if (!bin) {
		snprintf(why, len, "nginx is not installed (apt-get install nginx-extras)");
		return -1;
	}
	snprintf(n->dir, sizeof(n->dir), "/tmp/ltrun-nginx-XXXXXX");
	if (!make_temp_dir(n->dir)) {
		snprintf(why, len, "cannot make a temp dir: %s", strerror(errno));
		return -1;
	}
	snprintf(www, sizeof(www), "%s/www", n->dir);
	mkdir(www, 0755);
	/* Another test may take the free port first: try a few. */
	for (int i = 0; i < 3; i++)
		if (!start_once(n, bin, why, len))
			return 0;
	remove_dir(n->dir);
	n->dir[0] = '\0';
	return -1;
}

void nginx_stop(struct nginx *n)
{
	int status;

	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		for (int i = 0; i < 300 && waitpid(n->pid, &status, WNOHANG) == 0; i++)
			usleep(10000);
		if (waitpid(n->pid, &status, WNOHANG) == 0) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, &status, 0);
		}
		n->pid = 0;
	}
	if (n->dir[0])
		remove_dir(n->dir);
	n->dir[0] = '\0';
}

int nginx_count(const struct nginx *n, const char *method, const char *path)
{
	char file[128], line[4096], pat[512];
	int count = 0;
	FILE *f;

	snprintf(file, sizeof(file), "%s/access.log", n->dir);
	snprintf(pat, sizeof(pat), "\"%s %s", method, path);
	f = fopen(file, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		count += strstr(line, pat) != NULL;
	fclose(f);
	return count;
}
