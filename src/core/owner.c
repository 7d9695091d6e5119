/*
 * owner.c - owner tags ("<pid>.<pid namespace>") in the names of what
 * ltrun leaves in shared places, and the test that their owner is gone.
 */
#include "core/owner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The inode of this process's pid namespace: two containers sharing
 * /dev/shm may reuse each other's pids. */
static unsigned long pid_namespace(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) ? 0 : (unsigned long)st.st_ino;
}

void lt_owner_tag(char *buf, size_t len)
{
	snprintf(buf, len, "%ld.%lu", (long)getpid(), pid_namespace());
}

bool lt_owner_gone(const char *text, size_t n)
{
	char tag[LT_OWNER_TAG_MAX], *end;
	unsigned long ns;
	long pid;

	if (n == 0 || n >= sizeof(tag) || text[0] < '1' || text[0] > '9')
		return false;
	memcpy(tag, text, n);
	tag[n] = '\0';
	errno = 0;
	pid = strtol(tag, &end, 10);
	if (errno || *end != '.' || pid <= 0 || pid > 0x3fffffffL || end[1] < '0' || end[1] > '9')
		return false;
	ns = strtoul(end + 1, &end, 10);
	if (errno || *end || ns == 0 || ns != pid_namespace())
		return false;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}
