/*
 * ssh_hosts.h - test "hosts" that ssh reaches: a network namespace each,
 * SUBNET.1, SUBNET.2... on a bridge with SUBNET.254 in this namespace
 * (where the launcher runs), each with a real sshd (OpenSSH) that trusts
 * a key made for the test.  Needs root, iproute2 and openssh-server.
 */
#ifndef LT_TEST_SSH_HOSTS_H
#define LT_TEST_SSH_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SSH_HOSTS_MAX 4

struct ssh_hosts {
	int n;
	char ns[SSH_HOSTS_MAX][32];    /* for `ip netns exec` */
	char addr[SSH_HOSTS_MAX][32];  /* SUBNET.(i+1) */
	bool made[SSH_HOSTS_MAX];
	char bridge[16];
	bool bridge_made;
	pid_t sshd[SSH_HOSTS_MAX];     /* 0: not running */
	char dir[64];                  /* keys and configs */
	/* --launcher-cmd for these hosts: ssh with the test's key */
	char launcher_cmd[512];
};

/* Makes n hosts; sshd runs on those whose sshd_up[i] is true (NULL: all).
 * tag (a letter or two) tells the tests apart.  Returns 0, or -1 with why
 * set (a reason to skip: no root, no sshd) and nothing left behind. */
int ssh_hosts_make(struct ssh_hosts *h, int n, const char *tag, const char *subnet,
		   const bool *sshd_up, char *why, size_t len);
/* Stops the sshds and deletes what ssh_hosts_make made; safe twice. */
void ssh_hosts_delete(struct ssh_hosts *h);

#endif
