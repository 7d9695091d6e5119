/*
 * test_fuzz.c - runs each libFuzzer target (tests/fuzz/) for a bounded time
 * from its committed seed corpus; a crash, leak or sanitizer report fails
 * the test and leaves the reproducer in the build directory.  Without
 * clang the targets are not built and the tests are skipped, saying so.
 * LTRUN_FUZZ_SECONDS sets the time per target (default 20).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

extern char **environ;

static void fuzz(const char *target)
{
	char bin[512], corpus[512], work[] = "/tmp/ltrun-fuzz-XXXXXX", time_arg[64],
	     artifact[600], log[600];
	const char *secs = getenv("LTRUN_FUZZ_SECONDS");
	struct stat st;
	pid_t pid;
	int status;

	snprintf(bin, sizeof(bin), "%s", build_path(target));
	if (stat(bin, &st) != 0)
		cr_skip_test("%s was not built: clang with libFuzzer (apt-get install clang libclang-rt-14-dev) is missing", bin);
	snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", target + strlen("fuzz/fuzz_"));
	cr_assert_not_null(mkdtemp(work));
	snprintf(time_arg, sizeof(time_arg), "-max_total_time=%s", secs && *secs ? secs : "20");
	snprintf(artifact, sizeof(artifact), "-artifact_prefix=%s-", bin);
	snprintf(log, sizeof(log), "%s.log", bin);
	{
		char *argv[] = { bin, time_arg, "-rss_limit_mb=2048", "-max_len=4096", artifact,
				 work, corpus, NULL };
		posix_spawn_file_actions_t fa;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
		cr_assert_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0, "cannot start %s", bin);
		posix_spawn_file_actions_destroy(&fa);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
		cr_expect_eq(system(cmd), 0);
	}
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s found a failure: see %s (reproducer beside it)", bin, log);
}

Test(fuzz, hostlist, .timeout = 300)
{
	fuzz("fuzz/fuzz_hostlist");
}

Test(fuzz, config, .timeout = 300)
{
	fuzz("fuzz/fuzz_config");
}

Test(fuzz, store_proto, .timeout = 300)
{
	fuzz("fuzz/fuzz_store_proto");
}

Test(fuzz, ckpt_header, .timeout = 300)
{
	fuzz("fuzz/fuzz_ckpt_header");
}

Test(fuzz, params, .timeout = 300)
{
	fuzz("fuzz/fuzz_params");
}

Test(fuzz, hostfile, .timeout = 300)
{
	fuzz("fuzz/fuzz_hostfile");
}

Test(fuzz, bind, .timeout = 300)
{
	fuzz("fuzz/fuzz_bind");
}

Test(fuzz, cuda_visible, .timeout = 300)
{
	fuzz("fuzz/fuzz_cuda_visible");
}
