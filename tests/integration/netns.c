/*
 * netns.c - two network namespaces joined by a veth pair, for the tests
 * that need several hosts (netns.h).
 */
#include "netns.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* Runs `ip args...`; returns its status, with its stderr in why. */
static int ip(const char *const *args, char *why, size_t len)
{
	const char *argv[12] = { "ip" };
	struct run_result r;
	int status;

	for (int i = 0; i < 10 && args[i]; i++)
		argv[i + 1] = args[i];
	if (run_command(argv, NULL, 20, &r)) {
		snprintf(why, len, "cannot run ip (is iproute2 installed?)");
		return -1;
	}
	status = r.status;
	if (status)
		snprintf(why, len, "ip %s %s: %.*s", args[0], args[1],
			 (int)strcspn(r.err, "\n"), r.err);
	run_result_free(&r);
	return status;
}

void netns_pair_delete(struct netns_pair *p)
{
	char ignored[256];

	for (int i = 0; i < 2; i++)
		if (p->made[i])
			ip((const char *[]){ "netns", "del", p->name[i], NULL }, ignored,
			   sizeof(ignored));
	p->made[0] = p->made[1] = false;
}

int netns_pair_make(struct netns_pair *p, const char *tag, const char *subnet,
		    char *why, size_t len)
{
	char va[16], vb[16], a[32], b[32];
	int pid = (int)getpid();

	memset(p, 0, sizeof(*p));
	if (geteuid() != 0) {
		snprintf(why, len, "network namespaces need root");
		return -1;
	}
	snprintf(p->name[0], sizeof(p->name[0]), "lt%s-a-%d", tag, pid);
	snprintf(p->name[1], sizeof(p->name[1]), "lt%s-b-%d", tag, pid);
	snprintf(va, sizeof(va), "%sa%d", tag, pid);
	snprintf(vb, sizeof(vb), "%sb%d", tag, pid);
	snprintf(a, sizeof(a), "%s.1/24", subnet);
	snprintf(b, sizeof(b), "%s.2/24", subnet);
	for (int i = 0; i < 2; i++) {
		if (ip((const char *[]){ "netns", "add", p->name[i], NULL }, why, len))
			goto fail;
		p->made[i] = true;
	}
	if (ip((const char *[]){ "link", "add", va, "type", "veth", "peer", "name", vb, NULL }, why, len) ||
	    ip((const char *[]){ "link", "set", va, "netns", p->name[0], NULL }, why, len) ||
	    ip((const char *[]){ "link", "set", vb, "netns", p->name[1], NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[0], "addr", "add", a, "dev", va, NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[1], "addr", "add", b, "dev", vb, NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[0], "link", "set", va, "up", NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[1], "link", "set", vb, "up", NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[0], "link", "set", "lo", "up", NULL }, why, len) ||
	    ip((const char *[]){ "-n", p->name[1], "link", "set", "lo", "up", NULL }, why, len))
		goto fail;
	return 0;
fail:
	netns_pair_delete(p);
	return -1;
}
