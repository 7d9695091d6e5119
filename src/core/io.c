/*
 * io.c - lt_write_all (io.h): only write(2), so async-signal-safe.
 */
#include "core/io.h"

#include <errno.h>
#include <unistd.h>

int lt_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
