/*
 * ssh_hosts.c - network-namespace hosts with a real sshd each, for the
 * tests of the --hostfile launch (ssh_hosts.h).
 */
#include "ssh_hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

#define SSHD "/usr/sbin/sshd"

/* Runs argv; returns its status, with its stderr's first line in why. */
static int cmd(const char *const *argv, char *why, size_t len)
{
	struct run_result r;
	int status;

	if (run_command(argv, NULL, 30, &r)) {
		snprintf(why, len, "cannot run %s", argv[0]);
		return -1;
	}
	status = r.status;
	if (status)
		snprintf(why, len, "%s %s: %.*s", argv[0], argv[1] ? argv[1] : "",
			 (int)strcspn(r.err, "\n"), r.err);
	run_result_free(&r);
	return status;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Waits until addr:22 accepts a connection (sshd is up). */
static bool port_open(const char *addr, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(22) };

	inet_pton(AF_INET, addr, &sa.sin_addr);
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

static pid_t start_sshd(const struct ssh_hosts *h, int i, const char *conf)
{
	char log[128];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/sshd-%d.log", h->dir, i);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("ip", "ip", "netns", "exec", h->ns[i], SSHD, "-D", "-e", "-f", conf,
		       (char *)NULL);
		_exit(127);
	}
	return pid;
}

void ssh_hosts_delete(struct ssh_hosts *h)
{
	char ignored[256];

	for (int i = 0; i < h->n; i++)
		if (h->sshd[i] > 0) {
			kill(h->sshd[i], SIGTERM);
			waitpid(h->sshd[i], NULL, 0);
			h->sshd[i] = 0;
		}
	for (int i = 0; i < h->n; i++)
		if (h->made[i]) {
			cmd((const char *[]){ "ip", "netns", "del", h->ns[i], NULL }, ignored,
			    sizeof(ignored));
			h->made[i] = false;
		}
	if (h->bridge_made) {
		cmd((const char *[]){ "ip", "link", "del", h->bridge, NULL }, ignored, sizeof(ignored));
		h->bridge_made = false;
	}
	if (h->dir[0]) {
		char rm[128];
		snprintf(rm, sizeof(rm), "rm -rf '%s'", h->dir);
		if (system(rm)) {
			/* a leftover temporary directory only */
		}
		h->dir[0] = '\0';
	}
}

static int make_keys(struct ssh_hosts *h, char *why, size_t len)
{
	char key[128], host_key[128], pub[160], auth[128], text[1024];
	FILE *f;
	size_t n;

	snprintf(key, sizeof(key), "%s/id_ed25519", h->dir);
	snprintf(host_key, sizeof(host_key), "%s/host_ed25519", h->dir);
	if (cmd((const char *[]){ "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key, NULL },
		why, len) ||
	    cmd((const char *[]){ "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key, NULL },
		why, len))
		return -1;
	snprintf(pub, sizeof(pub), "%s.pub", key);
	snprintf(auth, sizeof(auth), "%s/authorized_keys", h->dir);
	f = fopen(pub, "r");
	n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	if (!n || write_file(auth, text)) {
		snprintf(why, len, "cannot write %s", auth);
		return -1;
	}
	snprintf(h->launcher_cmd, sizeof(h->launcher_cmd),
		 "ssh -i %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
		 key);
	return 0;
}

static int make_net(struct ssh_hosts *h, const char *tag, const char *subnet, char *why,
		    size_t len)
{
	char gw[48];
	int pid = (int)getpid();

	snprintf(h->bridge, sizeof(h->bridge), "lb%s%d", tag, pid % 100000);
	snprintf(gw, sizeof(gw), "%s.254/24", subnet);
	if (cmd((const char *[]){ "ip", "link", "add", h->bridge, "type", "bridge", NULL }, why, len))
		return -1;
	h->bridge_made = true;
	if (cmd((const char *[]){ "ip", "addr", "add", gw, "dev", h->bridge, NULL }, why, len) ||
	    cmd((const char *[]){ "ip", "link", "set", h->bridge, "up", NULL }, why, len))
		return -1;
	for (int i = 0; i < h->n; i++) {
		/* interface names: at most 15 bytes ("so1" and 4 digits here) */
		char out[64], in[64], a[48];
		snprintf(h->ns[i], sizeof(h->ns[i]), "lt%.4s-%d-%d", tag, i, pid);
		snprintf(out, sizeof(out), "%.4so%d%d", tag, i, pid % 10000);
		snprintf(in, sizeof(in), "%.4si%d%d", tag, i, pid % 10000);
		snprintf(h->addr[i], sizeof(h->addr[i]), "%s.%d", subnet, i + 1);
		snprintf(a, sizeof(a), "%s/24", h->addr[i]);
		if (cmd((const char *[]){ "ip", "netns", "add", h->ns[i], NULL }, why, len))
			return -1;
		h->made[i] = true;
		if (cmd((const char *[]){ "ip", "link", "add", out, "type", "veth", "peer", "name", in, NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "link", "set", in, "netns", h->ns[i], NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "link", "set", out, "master", h->bridge, NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "link", "set", out, "up", NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "-n", h->ns[i], "addr", "add", a, "dev", in, NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "-n", h->ns[i], "link", "set", in, "up", NULL }, why, len) ||
		    cmd((const char *[]){ "ip", "-n", h->ns[i], "link", "set", "lo", "up", NULL }, why, len))
			return -1;
	}
	return 0;
}

int ssh_hosts_make(struct ssh_hosts *h, int n, const char *tag, const char *subnet,
		   const bool *sshd_up, char *why, size_t len)
{
	char dir[] = "/tmp/ltrun-sshd-XXXXXX";

	memset(h, 0, sizeof(*h));
	if (geteuid() != 0) {
		snprintf(why, len, "network namespaces and sshd need root");
		return -1;
	}
	if (access(SSHD, X_OK) || access("/usr/bin/ssh", X_OK)) {
		snprintf(why, len, "no OpenSSH here (%s, /usr/bin/ssh): apt-get install -y openssh-server openssh-client",
			 SSHD);
		return -1;
	}
	if (n > SSH_HOSTS_MAX || !mkdtemp(dir)) {
		snprintf(why, len, "cannot make a temporary directory: %s", strerror(errno));
		return -1;
	}
	h->n = n;
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	/* sshd's privilege separation directory */
	mkdir("/run/sshd", 0755);
	if (make_keys(h, why, len) || make_net(h, tag, subnet, why, len))
		goto fail;
	for (int i = 0; i < n; i++) {
		char conf[128], text[1024];
		if (sshd_up && !sshd_up[i])
			continue;
		snprintf(conf, sizeof(conf), "%s/sshd-%d.conf", h->dir, i);
		snprintf(text, sizeof(text),
			 "ListenAddress %s\nPort 22\nHostKey %s/host_ed25519\nPidFile %s/sshd-%d.pid\n"
			 "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
			 "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
			 "KbdInteractiveAuthentication no\nPrintMotd no\nPrintLastLog no\n"
			 "MaxStartups 100\nMaxSessions 100\n",
			 h->addr[i], h->dir, h->dir, i, h->dir);
		if (write_file(conf, text)) {
			snprintf(why, len, "cannot write %s", conf);
			goto fail;
		}
		h->sshd[i] = start_sshd(h, i, conf);
		if (h->sshd[i] < 0 || !port_open(h->addr[i], 10000)) {
			snprintf(why, len, "sshd did not start on %s (see %s/sshd-%d.log)", h->addr[i],
				 h->dir, i);
			goto fail;
		}
	}
	return 0;
fail:
	ssh_hosts_delete(h);
	return -1;
}
