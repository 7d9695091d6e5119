/*
 * test_ckpt_mapped.c - reads through a mapping (src/ckpt/mapped.c): bytes
 * and CRC at offsets inside a page, a file that shrinks under the mapping
 * (an error return, not a SIGBUS that kills), the SIGBUS guard leaving
 * other SIGBUSes fatal, and the file plugin's checked read of a file cut
 * short.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_cases.h"
#include "ckpt/crc32c.h"
#include "ckpt/file.h"
#include "ckpt/io.h"
#include "ckpt/mapped.h"

#define MB ((size_t)1 << 20)

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 23);
	}
}

/* A file of len bytes from fill(seed) in d: its fd (read-write). */
static int blob(struct ckpt_dir *d, const char *name, unsigned char *bytes, size_t len)
{
	char path[128];
	int fd;

	fill(bytes, len, 5);
	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	spit(path, bytes, len);
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	return fd;
}

Test(ckpt_mapped, bytes_and_crc_at_any_offset)
{
	const size_t len = 6 * MB + 123;
	unsigned char *src = malloc(len), *dst = malloc(len + 1);
	struct ckpt_dir d;
	int fd;

	cr_assert(src && dst);
	ckpt_dir_make(&d);
	fd = blob(&d, "blob", src, len);
	for (size_t off = 0; off < len; off = off * 3 + 4093) {
		size_t n = len - off;
		uint32_t crc = 0;

		memset(dst, 0x5a, len + 1);
		cr_assert_eq(lt_ckpt_mapped_read(fd, off, dst, n, &crc), LT_MAPPED_OK, "off %zu", off);
		cr_assert(!memcmp(dst, src + off, n), "bytes from offset %zu", off);
		cr_assert_eq(dst[n], 0x5a, "written past the end from offset %zu", off);
		cr_assert_eq(crc, lt_crc32c(0, src + off, n), "CRC from offset %zu", off);
	}
	{
		uint32_t crc = 1;

		cr_expect_eq(lt_ckpt_mapped_read(fd, 17, dst, 0, &crc), LT_MAPPED_OK);
		cr_expect_eq(crc, 0, "nothing read: CRC 0");
	}
	close(fd);
	free(src);
	free(dst);
	ckpt_dir_done(&d);
}

/* The file ends 1 MB into the range read: the copy faults, and the read
 * returns LT_MAPPED_FAULT instead of killing the process.  Twice, to see
 * the guard re-arm, then a read within the file. */
Test(ckpt_mapped, file_shrunk_under_the_mapping)
{
	const size_t len = 8 * MB;
	unsigned char *src = malloc(len), *dst = malloc(len);
	struct ckpt_dir d;
	uint32_t crc = 0;
	int fd;

	cr_assert(src && dst);
	ckpt_dir_make(&d);
	fd = blob(&d, "blob", src, len);
	cr_assert_eq(ftruncate(fd, (off_t)(3 * MB)), 0);
	for (int i = 0; i < 2; i++)
		cr_expect_eq(lt_ckpt_mapped_read(fd, 2 * MB, dst, 4 * MB, &crc), LT_MAPPED_FAULT,
			     "try %d", i);
	cr_expect(!memcmp(dst, src + 2 * MB, MB / 2), "what was there was copied");
	cr_expect_eq(lt_ckpt_mapped_read(fd, MB, dst, 2 * MB, &crc), LT_MAPPED_OK, "a read within the file still works");
	cr_expect_eq(crc, lt_crc32c(0, src + MB, 2 * MB));
	close(fd);
	free(src);
	free(dst);
	ckpt_dir_done(&d);
}

/* In a child: after the guard is installed, a SIGBUS outside a guarded
 * copy (how selects: 0 a fault on a mapping of our own, 1 a SIGBUS sent
 * with kill).  The child must die of it (or, under AddressSanitizer,
 * whose handler came before ours, exit with its report), not go on. */
static void other_sigbus_is_fatal(int how)
{
	struct ckpt_dir d;
	unsigned char *src = malloc(2 * MB), *dst = malloc(2 * MB);
	int fd, status;
	pid_t pid;

	cr_assert(src && dst);
	ckpt_dir_make(&d);
	fd = blob(&d, "blob", src, 2 * MB);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		uint32_t crc;
		volatile unsigned char *map;

		alarm(20); /* a handler that swallowed the fault would loop on it */
		if (lt_ckpt_mapped_read(fd, 0, dst, MB, &crc) != LT_MAPPED_OK)
			_exit(90);
		if (how == 1) {
			kill(getpid(), SIGBUS);
		} else {
			map = mmap(NULL, 2 * MB, PROT_READ, MAP_SHARED, fd, 0);
			if (map == MAP_FAILED || ftruncate(fd, 0))
				_exit(91);
			(void)map[MB + 7];
		}
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect((WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) ||
			  (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) < 90),
		  "the child went on or died otherwise (status 0x%x)", status);
	close(fd);
	free(src);
	free(dst);
	ckpt_dir_done(&d);
}

Test(ckpt_mapped, other_fault_stays_fatal)
{
	other_sigbus_is_fatal(0);
}

Test(ckpt_mapped, sent_sigbus_stays_fatal)
{
	other_sigbus_is_fatal(1);
}

/* The file plugin checks the size first: a file shorter than the range
 * gets the truncation message, naming the file. */
Test(ckpt_mapped, file_plugin_truncated_file)
{
	unsigned char *src = malloc(2 * MB), *dst = malloc(2 * MB);
	struct lt_err err = { 0, "" };
	struct ckpt_dir d;
	uint32_t crc;
	int fd;

	cr_assert(src && dst);
	ckpt_dir_make(&d);
	fd = blob(&d, "blob", src, 2 * MB);
	close(fd);
	cr_expect_eq(lt_ckpt_io_file.read_crc(d.io, "blob", MB, dst, MB + 1, &crc, &err), -1);
	cr_expect(strstr(err.msg, "blob' ends at byte 2097152, before the 1048577 bytes asked at offset 1048576: it is truncated"),
		  "%s", err.msg);
	cr_expect_eq(lt_ckpt_io_file.read_crc(d.io, "blob", 3 * MB, dst, 1, &crc, &err), -1);
	cr_expect(strstr(err.msg, "it is truncated"), "%s", err.msg);
	cr_expect_eq(lt_ckpt_io_file.read_crc(d.io, "missing", 0, dst, 1, &crc, &err), -1);
	cr_expect(strstr(err.msg, "cannot read checkpoint file"), "%s", err.msg);
	cr_assert_eq(lt_ckpt_io_file.read_crc(d.io, "blob", MB, dst, MB, &crc, &err), 0, "%s", err.msg);
	cr_expect_eq(crc, lt_crc32c(0, src + MB, MB));
	cr_expect(!memcmp(dst, src + MB, MB));
	free(src);
	free(dst);
	ckpt_dir_done(&d);
}
