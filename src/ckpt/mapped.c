/*
 * mapped.c - checked reads through a mapping (mapped.h).  The range is
 * mapped read-only with MAP_POPULATE (its page-table entries filled in one
 * call, and a cold range read ahead as a whole), copied and checksummed by
 * lt_crc32c_copy, and unmapped.
 *
 * The SIGBUS guard: each copying thread publishes, in a thread-local
 * pointer, the range it reads and a sigjmp_buf; the handler jumps back
 * when the faulting address is in that range.  Anything else (a fault
 * elsewhere, a SIGBUS sent by kill) restores the previous action: a
 * fault then happens again under it when the handler returns, a sent
 * signal is raised again.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt/crc32c.h"
#include "ckpt/mapped.h"

struct guard {
	sigjmp_buf back;
	const char *lo, *hi; /* the mapping being read */
};

static _Thread_local struct guard *volatile active;
static struct sigaction previous;
static bool installed;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	struct guard *g = active;
	const char *at = si->si_addr;

	(void)ctx;
	if (g && si->si_code > 0 && at >= g->lo && at < g->hi)
		siglongjmp(g->back, 1);
	sigaction(SIGBUS, &previous, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void install(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	installed = sigaction(SIGBUS, &sa, &previous) == 0;
}

enum lt_mapped_result lt_ckpt_mapped_read(int fd, uint64_t off, void *dst, size_t len,
					  uint32_t *crc)
{
	long page = sysconf(_SC_PAGESIZE);
	struct guard g;
	uint64_t base;
	size_t span;
	char *map;

	if (!len) {
		*crc = 0;
		return LT_MAPPED_OK;
	}
	pthread_once(&install_once, install);
	if (!installed) {
		errno = ENOTSUP;
		return LT_MAPPED_NO_MAP; /* unguarded, a shrinking file would kill us */
	}
	base = off - off % (uint64_t)page;
	span = (size_t)(off - base) + len;
	map = mmap(NULL, span, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)base);
	if (map == MAP_FAILED)
		return LT_MAPPED_NO_MAP;
	g.lo = map;
	g.hi = map + span;
	if (sigsetjmp(g.back, 1)) {
		active = NULL;
		munmap(map, span);
		return LT_MAPPED_FAULT;
	}
	active = &g;
	*crc = lt_crc32c_copy(0, dst, map + (off - base), len);
	active = NULL;
	munmap(map, span);
	return LT_MAPPED_OK;
}
