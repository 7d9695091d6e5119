/*
 * test_offload.c - optimizer state in files (src/runtime/offload.c,
 * lt_optim_new_files): the same bits as the in-memory optimizer (SGD with
 * momentum and AdamW, f32/f64/f16/bf16 state, chunk boundaries inside
 * tensors, state smaller than a chunk, steps in any order), the state
 * read and written through lt_optim_buffers_typed (checkpoints), the
 * memory it keeps, the files (private, unlinked at once, gone after
 * free), a bad directory and a full disk refused at setup, a write that
 * fails mid-step reported with the file and errno, and the runtime's
 * setup and step through a strategy that sets ctx->optim_dir.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/dtype.h"
#include "runtime/ctx.h"
#include "runtime/offload.h"
#include "runtime/optim.h"
#include "runtime/runtime.h"

#define NT 5
static const size_t tensor_numel[NT] = { 7, 1, 13, 2, 9 };
#define N 32 /* their sum */
#define STEPS 4

static const struct lt_optim_cfg sgd = { .kind = LT_OPTIM_SGD, .momentum = 0.9,
					 .weight_decay = 0.01, .nesterov = true };
static const struct lt_optim_cfg adamw = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.1 };

/* A fresh directory under /tmp into buf. */
static void temp_dir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/lt-offload-XXXXXX");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

/* Deterministic values in [-1, 1) (exact in f16 and bf16 after rounding). */
static double value(unsigned seed, size_t i)
{
	unsigned x = seed * 2654435761u + (unsigned)i * 40503u + 12345u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (double)(x % 2000) / 1000.0 - 1.0;
}

static void fill(void *buf, enum lt_dtype dt, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		lt_dtype_store(buf, dt, i, value(seed, i));
}

static void set_chunk(const char *bytes)
{
	if (bytes)
		setenv("LTRUN_OFFLOAD_CHUNK", bytes, 1);
	else
		unsetenv("LTRUN_OFFLOAD_CHUNK");
}

/* One step of tensor t, each in a group of its own. */
static void step_tensor(struct lt_optim *o, enum lt_dtype pdt, void *p, const void *g, int step,
			int t)
{
	size_t es = lt_dtype_size(pdt), off = 0;
	struct lt_optim_group grp = { .lr_scale = t % 2 ? 0.5 : 1.0, .decay = t != 1 };

	for (int j = 0; j < t; j++)
		off += tensor_numel[j];
	lt_optim_step_group(o, &grp, pdt, (char *)p + off * es, (const char *)g + off * es, off,
			    tensor_numel[t], 0.01, step);
}

/* One step of every tensor, in increasing flat order or backwards. */
static void step_all(struct lt_optim *o, enum lt_dtype pdt, void *p, const void *g, int step,
		     bool backwards)
{
	for (int k = 0; k < NT; k++)
		step_tensor(o, pdt, p, g, step, backwards ? NT - 1 - k : k);
}

/* Both optimizers' state is the same bytes. */
static void expect_same_state(struct lt_optim *a, struct lt_optim *b, const char *what)
{
	const char *na[2], *nb[2];
	void *ba[2], *bb[2];
	int k = lt_optim_buffers_typed(a, na, ba);
	size_t bytes = N * lt_dtype_size(lt_optim_state_dtype(a));

	cr_assert_eq(lt_optim_buffers_typed(b, nb, bb), k);
	for (int s = 0; s < k; s++) {
		cr_expect_str_eq(na[s], nb[s]);
		cr_expect_eq(memcmp(ba[s], bb[s], bytes), 0, "%s: slot %s differs", what, na[s]);
	}
}

/* STEPS steps in memory and in files under dir: the same parameters and
 * state, bit for bit. */
static void compare(const char *dir, const struct lt_optim_cfg *cfg, enum lt_dtype dt,
		    const char *chunk, bool backwards)
{
	struct lt_err err = { 0 };
	size_t es = lt_dtype_size(dt);
	char pm[N * 8], pf[N * 8], p0[N * 8], g[N * 8], what[160];
	struct lt_optim *mem, *fil;

	snprintf(what, sizeof(what), "%s, %s, chunk %s bytes%s",
		 cfg->kind == LT_OPTIM_ADAMW ? "adamw" : "sgd", lt_dtype_name(dt),
		 chunk ? chunk : "default", backwards ? ", backwards" : "");
	set_chunk(chunk);
	mem = lt_optim_new_typed(cfg, N, dt, &err);
	cr_assert_not_null(mem, "%s", err.msg);
	fil = lt_optim_new_files(cfg, N, dt, dir, 0, &err);
	cr_assert_not_null(fil, "%s: %s", what, err.msg);
	fill(p0, dt, N, 1);
	memcpy(pm, p0, N * es);
	memcpy(pf, p0, N * es);
	for (int s = 1; s <= STEPS; s++) {
		fill(g, dt, N, 100 + (unsigned)s);
		step_all(mem, dt, pm, g, s, backwards);
		step_all(fil, dt, pf, g, s, backwards);
		cr_assert_eq(lt_optim_finish(fil, &err), 0, "%s: %s", what, err.msg);
		cr_assert_eq(memcmp(pm, pf, N * es), 0, "%s: parameters differ after step %d", what,
			     s);
	}
	cr_expect_neq(memcmp(pm, p0, N * es), 0, "%s: nothing moved", what);
	expect_same_state(mem, fil, what);
	lt_optim_free(mem);
	lt_optim_free(fil);
}

Test(offload, steps_the_same_bits_as_the_state_in_memory)
{
	static const enum lt_dtype dts[] = { LT_F32, LT_F64, LT_F16, LT_BF16 };
	/* 1-3 elements a chunk (boundaries inside every tensor), 40 bytes,
	 * and the default: state smaller than a chunk */
	static const char *chunks[] = { "4", "12", "40", NULL };
	const struct lt_optim_cfg *cfgs[] = { &sgd, &adamw };
	char dir[64];

	temp_dir(dir, sizeof(dir));
	for (size_t c = 0; c < 2; c++)
		for (size_t d = 0; d < sizeof(dts) / sizeof(dts[0]); d++)
			for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
				compare(dir, cfgs[c], dts[d], chunks[k], false);
	/* out of order: correct, if not streamed */
	compare(dir, &adamw, LT_F32, "12", true);
	compare(dir, &sgd, LT_F32, "12", true);
	cr_expect_eq(rmdir(dir), 0, "the files were not all removed: %s", strerror(errno));
}

Test(offload, state_written_through_the_buffers_is_what_steps)
{
	struct lt_err err = { 0 };
	struct lt_optim *mem, *fil;
	float pm[N], pf[N], g[N];
	const char *names[2];
	void *bm[2], *bf[2];
	char dir[64];

	temp_dir(dir, sizeof(dir));
	set_chunk("20");
	mem = lt_optim_new_typed(&adamw, N, LT_F32, &err);
	fil = lt_optim_new_files(&adamw, N, LT_F32, dir, 3, &err);
	cr_assert_not_null(fil, "%s", err.msg);
	/* a resume: the checkpoint writes the state where these point */
	cr_assert_eq(lt_optim_buffers_typed(mem, names, bm), 2);
	cr_assert_eq(lt_optim_buffers_typed(fil, names, bf), 2);
	for (int s = 0; s < 2; s++) {
		fill(bm[s], LT_F32, N, 7 + (unsigned)s);
		for (size_t i = 0; i < N; i++) /* exp_avg_sq >= 0 */
			((float *)bm[s])[i] = s ? ((float *)bm[s])[i] * ((float *)bm[s])[i]
						: ((float *)bm[s])[i];
		memcpy(bf[s], bm[s], sizeof(float) * N);
	}
	fill(pm, LT_F32, N, 1);
	memcpy(pf, pm, sizeof(pf));
	for (int s = 5; s < 8; s++) {
		size_t half = tensor_numel[0] + tensor_numel[1] + tensor_numel[2];
		float before[2][N];

		fill(g, LT_F32, N, (unsigned)s);
		step_all(mem, LT_F32, pm, g, s, false);
		/* an async save copies each tensor before its update: in the
		 * middle of a step, the state of the tensors not yet stepped
		 * reads as before the step */
		memcpy(before[0], bf[0], sizeof(before[0]));
		memcpy(before[1], bf[1], sizeof(before[1]));
		for (int t = 0; t < 3; t++)
			step_tensor(fil, LT_F32, pf, g, s, t);
		for (int k = 0; k < 2; k++)
			cr_expect_eq(memcmp(before[k] + half, (float *)bf[k] + half,
					    sizeof(float) * (N - half)), 0,
				     "slot %d changed ahead of the step", k);
		for (int t = 3; t < NT; t++)
			step_tensor(fil, LT_F32, pf, g, s, t);
		cr_assert_eq(lt_optim_finish(fil, &err), 0, "%s", err.msg);
		/* a save between steps reads them */
		expect_same_state(mem, fil, "after a resume");
	}
	cr_expect_eq(memcmp(pm, pf, sizeof(pm)), 0);
	lt_optim_free(mem);
	lt_optim_free(fil);
	rmdir(dir);
}

Test(offload, keeps_only_its_chunks_in_memory)
{
	struct lt_err err = { 0 };
	size_t big = 100000;
	struct lt_optim *o;
	char dir[64];

	temp_dir(dir, sizeof(dir));
	o = lt_optim_new_typed(&adamw, big, LT_F32, &err);
	cr_expect_eq(lt_optim_resident_bytes(o), 2 * big * sizeof(float));
	lt_optim_free(o);
	set_chunk("4096");
	o = lt_optim_new_files(&adamw, big, LT_F32, dir, 0, &err);
	cr_assert_not_null(o, "%s", err.msg);
	cr_expect_eq(lt_optim_resident_bytes(o), LT_OFFLOAD_FRAMES * 2 * 4096,
		     "three chunks of both slots");
	cr_expect_eq(lt_offload_window_bytes(big, 2, LT_F32), lt_optim_resident_bytes(o));
	lt_optim_free(o);
	set_chunk(NULL); /* state smaller than a chunk: one chunk of its size */
	o = lt_optim_new_files(&sgd, 1000, LT_BF16, dir, 0, &err);
	cr_assert_not_null(o, "%s", err.msg);
	cr_expect_eq(lt_optim_resident_bytes(o), 1000 * 2);
	cr_expect_eq(lt_offload_window_bytes(1000, 1, LT_BF16), lt_optim_resident_bytes(o));
	cr_expect_eq(lt_offload_window_bytes(0, 2, LT_F32), 0);
	lt_optim_free(o);
	rmdir(dir);
}

/* How many of this process's descriptors and mappings are files in dir
 * (their names end in " (deleted)" once unlinked); each descriptor's
 * mode into *mode. */
static int held_in(const char *dir, int rank, int *fds, unsigned *mode)
{
	char line[PATH_MAX + 256], path[300], target[PATH_MAX], named[32];
	FILE *maps = fopen("/proc/self/maps", "r");
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int nmaps = 0;

	cr_assert(maps && d);
	snprintf(named, sizeof(named), "/ltrun-optim-r%d-", rank);
	while (fgets(line, sizeof(line), maps))
		nmaps += strstr(line, dir) != NULL;
	fclose(maps);
	*fds = 0;
	while ((e = readdir(d))) {
		struct stat st;
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (!strstr(target, dir) || stat(path, &st))
			continue;
		(*fds)++;
		*mode = st.st_mode & 07777;
		cr_expect(strstr(target, "(deleted)"), "'%s' was not unlinked", target);
		cr_expect(strstr(target, named), "'%s': no rank in the name", target);
	}
	closedir(d);
	return nmaps;
}

Test(offload, files_are_private_unlinked_and_gone_after_free)
{
	struct lt_err err = { 0 };
	struct lt_optim *o;
	unsigned mode = 0;
	char dir[64];
	int fds;
	DIR *d;

	temp_dir(dir, sizeof(dir));
	o = lt_optim_new_files(&adamw, 5000, LT_F32, dir, 2, &err);
	cr_assert_not_null(o, "%s", err.msg);
	cr_expect_eq(held_in(dir, 2, &fds, &mode), 2, "one mapping a slot");
	cr_expect_eq(fds, 2, "one file a slot");
	cr_expect_eq(mode, 0600);
	d = opendir(dir);
	for (struct dirent *e; (e = readdir(d));)
		cr_expect(e->d_name[0] == '.', "'%s' left in the directory", e->d_name);
	closedir(d);
	lt_optim_free(o);
	cr_expect_eq(held_in(dir, 2, &fds, &mode), 0, "mappings left after free");
	cr_expect_eq(fds, 0, "descriptors left after free: the space is not given back");
	cr_expect_eq(rmdir(dir), 0);
}

/* lt_optim_new_files on dir fails with a message holding `want`. */
static void expect_refused(const char *dir, const char *want)
{
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_files(&adamw, 16, LT_F32, dir, 0, &err);

	cr_expect_null(o, "'%s' accepted", dir);
	lt_optim_free(o);
	cr_expect(strstr(err.msg, want) && strstr(err.msg, "offload_dir"),
		  "'%s': '%s' does not say '%s'", dir, err.msg, want);
	cr_expect_null(strchr(err.msg, '\n'));
}

static void expect_accepted(const char *dir)
{
	struct lt_err err = { 0 };
	struct lt_optim *o = lt_optim_new_files(&adamw, 16, LT_F32, dir, 0, &err);

	cr_expect_not_null(o, "'%s': %s", dir, err.msg);
	lt_optim_free(o);
}

Test(offload, directories_refused_and_made)
{
	char dir[64], sub[128], file[128], deep[192];
	struct stat st;
	int fd;

	temp_dir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	expect_accepted(sub); /* made */
	cr_assert_eq(stat(sub, &st), 0);
	cr_expect(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "made with mode %o",
		  st.st_mode & 0777);
	snprintf(deep, sizeof(deep), "%s/no/such", dir);
	expect_refused(deep, "cannot create");
	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	close(fd);
	expect_refused(file, "is not a directory");
	chmod(sub, 0777);
	expect_refused(sub, "world-writable without the sticky bit");
	chmod(sub, 01777);
	expect_accepted(sub); /* a shared scratch directory, as /tmp */
	if (geteuid() == 0) {
		cr_assert_eq(chown(sub, 65534, 65534), 0);
		expect_accepted(sub); /* shared, with the sticky bit */
		chmod(sub, 0755);
		expect_refused(sub, "belongs to uid 65534");
	}
	rmdir(sub);
	unlink(file);
	rmdir(dir);
}

Test(offload, an_unwritable_directory_is_refused)
{
	char dir[64], sub[128];
	pid_t pid;
	int status;

	temp_dir(dir, sizeof(dir));
	chmod(dir, 0755);
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	cr_assert_eq(mkdir(sub, 0500), 0);
	/* root writes anywhere: the check runs as nobody, in a child */
	if (geteuid() == 0)
		cr_assert_eq(chown(sub, 65534, 65534), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct lt_err err = { 0 };
		struct lt_optim *o;

		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(3);
		o = lt_optim_new_files(&adamw, 16, LT_F32, sub, 0, &err);
		_exit(!o && strstr(err.msg, "is not writable") && strstr(err.msg, sub) ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "an unwritable directory was accepted, or said otherwise (status %d)", status);
	rmdir(sub);
	rmdir(dir);
}

/* Writes text to a /proc/self file.  Returns 0 or -1. */
static int write_proc(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY), rc;

	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

/* Mounts a tmpfs of `size` on dir in a mount namespace of this test
 * process's own (in a user namespace too when not root, this user
 * mapped to itself).  Returns 0, or -1 (no namespaces here). */
static int tiny_tmpfs(const char *dir, const char *size)
{
	unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
	char map[64];

	if (unshare(CLONE_NEWNS | (uid ? CLONE_NEWUSER : 0)))
		return -1;
	if (uid) {
		snprintf(map, sizeof(map), "%u %u 1", uid, uid);
		if (write_proc("/proc/self/uid_map", map) ||
		    write_proc("/proc/self/setgroups", "deny"))
			return -1;
		snprintf(map, sizeof(map), "%u %u 1", gid, gid);
		if (write_proc("/proc/self/gid_map", map))
			return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -1;
	return mount("none", dir, "tmpfs", 0, size);
}

/* In a child (single-threaded, as a user namespace needs): state on a
 * 64 kB tmpfs at dir.  Exits 0, 77 when no tmpfs can be mounted, or 1
 * after saying what went wrong on stderr. */
static void full_disk_child(const char *dir)
{
	struct lt_err err = { 0 };
	struct lt_optim *o;
	char need[64];

	if (tiny_tmpfs(dir, "size=64k"))
		_exit(77);
	o = lt_optim_new_files(&adamw, 100000, LT_F32, dir, 0, &err);
	snprintf(need, sizeof(need), "needs %d", 2 * 100000 * 4);
	if (o || !strstr(err.msg, dir) || !strstr(err.msg, need) ||
	    !strstr(err.msg, "65536 bytes free")) {
		fprintf(stderr, "400 kB of state on a 64 kB disk: '%s' does not name the directory, the bytes needed and those free\n",
			err.msg);
		_exit(1);
	}
	/* what fits still works, and its space comes back */
	for (int i = 0; i < 2; i++) {
		o = lt_optim_new_files(&adamw, 4000, LT_F32, dir, 0, &err);
		if (!o) {
			fprintf(stderr, "32 kB of state, try %d: %s\n", i, err.msg);
			_exit(1);
		}
		lt_optim_free(o);
	}
	_exit(0);
}

Test(offload, a_full_disk_is_found_at_setup)
{
	char dir[64];
	int status;
	pid_t pid;

	temp_dir(dir, sizeof(dir));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		full_disk_child(dir);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	rmdir(dir);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("cannot mount a tmpfs in a user and mount namespace here");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "a full disk was not refused as it should be (status %d, see above)", status);
}

/* Files past `bytes` cannot be written any more (EFBIG): a disk that
 * fails under a running step.  The I/O thread takes no signals; the
 * test ignores SIGXFSZ too. */
static void limit_file_size(rlim_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = RLIM_INFINITY };

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0, "%s", strerror(errno));
}

Test(offload, a_write_that_fails_mid_step_is_reported)
{
	struct lt_err err = { 0 };
	enum { BIG = 4096 };
	static float p[BIG], g[BIG], before[BIG];
	struct lt_optim *o;
	char dir[64];

	temp_dir(dir, sizeof(dir));
	set_chunk("1024");
	o = lt_optim_new_files(&adamw, BIG, LT_F32, dir, 0, &err);
	cr_assert_not_null(o, "%s", err.msg);
	fill(p, LT_F32, BIG, 1);
	fill(g, LT_F32, BIG, 2);
	lt_optim_step(o, p, g, 0, BIG, 0.01, 1);
	cr_assert_eq(lt_optim_finish(o, &err), 0, "%s", err.msg);
	limit_file_size(8192);
	lt_optim_step(o, p, g, 0, BIG, 0.01, 2);
	cr_expect_eq(lt_optim_finish(o, &err), -1, "a failed write was not reported");
	cr_expect(strstr(err.msg, "cannot write") && strstr(err.msg, dir) &&
		  strstr(err.msg, "/ltrun-optim-r0-") && strstr(err.msg, strerror(EFBIG)),
		  "'%s' does not name the write, the file and the errno", err.msg);
	cr_expect_null(strchr(err.msg, '\n'));
	/* and the optimizer steps no more: the state is not whole */
	memcpy(before, p, sizeof(p));
	lt_optim_step(o, p, g, 0, BIG, 0.01, 3);
	cr_expect_eq(memcmp(before, p, sizeof(p)), 0, "stepped on broken state");
	memset(&err, 0, sizeof(err));
	cr_expect_eq(lt_optim_finish(o, &err), -1);
	cr_expect(strstr(err.msg, "cannot write"));
	lt_optim_free(o);
	rmdir(dir);
}

Test(offload, a_bad_chunk_size_is_refused)
{
	struct lt_err err = { 0 };
	struct lt_optim *o;
	char dir[64];

	temp_dir(dir, sizeof(dir));
	set_chunk("4M");
	o = lt_optim_new_files(&adamw, 16, LT_F32, dir, 0, &err);
	cr_expect_null(o);
	lt_optim_free(o);
	cr_expect(strstr(err.msg, "LTRUN_OFFLOAD_CHUNK='4M'"), "%s", err.msg);
	rmdir(dir);
}

/* --- through the runtime: make_optimizer and lt_runtime_optimizer_step --- */

static const struct lt_precision_ops f32_precision = { .compute = LT_F32, .state = LT_F32 };
static const char *strategy_dir; /* what the test strategy's setup sets */

static int files_setup(lt_ctx *ctx, void *state, const struct lt_params *p,
		       struct lt_strategy_layout *layout, struct lt_err *err)
{
	(void)state, (void)p, (void)layout, (void)err;
	ctx->optim_dir = strategy_dir;
	return 0;
}

/* A rank of one with the tensors of tensor_numel (f32, first values
 * fill(1)), the default strategy but its setup; returns what
 * lt_runtime_setup does. */
static int setup_ctx(struct lt_ctx *ctx, struct lt_config *cfg, float *data, float *grad,
		     struct lt_err *err)
{
	size_t off = 0;

	memset(ctx, 0, sizeof(*ctx));
	cr_assert_eq(lt_config_init(cfg, err), 0, "%s", err->msg);
	cr_assert_eq(lt_config_set(cfg, lt_option_find("optimizer"), "adamw", LT_SRC_FLAG,
				   "--optimizer", err), 0, "%s", err->msg);
	cr_assert_eq(lt_config_set(cfg, lt_option_find("weight-decay"), "0.1", LT_SRC_FLAG,
				   "--weight-decay", err), 0, "%s", err->msg);
	ctx->cfg = cfg;
	ctx->info.world_size = 1;
	ctx->precision = &f32_precision;
	ctx->dtype = LT_F32;
	ctx->strategy = *lt_strategy_default();
	ctx->strategy.setup = files_setup;
	ctx->strategy_name = "files_test";
	ctx->params = calloc(NT, sizeof(*ctx->params));
	for (size_t i = 0; i < NT; i++) {
		struct lt_tensor *t = calloc(1, sizeof(*t));

		snprintf(t->name, sizeof(t->name), "t%zu", i);
		t->numel = (int64_t)tensor_numel[i];
		t->shape.ndim = 1;
		t->shape.dim[0] = t->numel;
		t->index = i;
		t->offset = off;
		t->data = data + off;
		t->grad = grad + off;
		t->unit = -1;
		ctx->params[i] = t;
		off += tensor_numel[i];
	}
	ctx->nparams = NT;
	ctx->numel = N;
	fill(data, LT_F32, N, 1);
	return lt_runtime_setup(ctx, err);
}

static void make_ctx(struct lt_ctx *ctx, struct lt_config *cfg, float *data, float *grad)
{
	struct lt_err err = { 0 };

	cr_assert_eq(setup_ctx(ctx, cfg, data, grad, &err), 0, "%s", err.msg);
}

Test(offload, the_runtime_refuses_a_bad_directory_at_setup)
{
	struct lt_config cfg;
	struct lt_ctx ctx;
	struct lt_err err = { 0 };
	float d[N], g[N];

	strategy_dir = "/dev/null";
	cr_expect_eq(setup_ctx(&ctx, &cfg, d, g, &err), -1);
	cr_expect(strstr(err.msg, "offload_dir '/dev/null' is not a directory"), "%s", err.msg);
	lt_runtime_free(&ctx);
	lt_config_free(&cfg);
}

Test(offload, the_runtime_steps_state_in_the_strategys_directory)
{
	struct lt_config cm, cf;
	struct lt_ctx mem, fil;
	float dm[N], df[N], gm[N], gf[N];
	struct lt_err err = { 0 };
	unsigned mode;
	int fds;
	char dir[64];

	temp_dir(dir, sizeof(dir));
	set_chunk("12");
	strategy_dir = NULL;
	make_ctx(&mem, &cm, dm, gm);
	strategy_dir = dir;
	make_ctx(&fil, &cf, df, gf);
	cr_expect_eq(held_in(dir, 0, &fds, &mode), 2, "the state is not in '%s'", dir);
	for (int s = 1; s <= STEPS; s++) {
		fill(gm, LT_F32, N, 10 + (unsigned)s);
		memcpy(gf, gm, sizeof(gf));
		cr_assert_eq(lt_runtime_optimizer_step(&mem, 0.01, &err), 0, "%s", err.msg);
		cr_assert_eq(lt_runtime_optimizer_step(&fil, 0.01, &err), 0, "%s", err.msg);
	}
	cr_expect_eq(memcmp(dm, df, sizeof(dm)), 0, "the runtime's steps differ");
	expect_same_state(mem.optim, fil.optim, "the runtime's");
	/* a disk that fails under the next step fails the step */
	limit_file_size(16);
	fill(gf, LT_F32, N, 99);
	cr_expect_eq(lt_runtime_optimizer_step(&fil, 0.01, &err), -1,
		     "a failed write did not fail the step");
	cr_expect(strstr(err.msg, "cannot write") && strstr(err.msg, strerror(EFBIG)), "%s",
		  err.msg);
	lt_runtime_free(&mem);
	lt_runtime_free(&fil);
	lt_config_free(&cm);
	lt_config_free(&cf);
	cr_expect_eq(held_in(dir, 0, &fds, &mode), 0, "lt_runtime_free left the files");
	rmdir(dir);
}
